/**
 * The same validator on Workers: the Worker bundle in workerd (Miniflare), validating answers
 * from a loopback DoH upstream (a Node resolver with validation off, so it passes the records
 * on as NSD signed them) for the signed test hierarchy, with the hierarchy's root as its trust
 * anchor from KV. Secure answers get AD, insecure ones not, bogus ones SERVFAIL with their EDE,
 * as on Node (test/dnssec/resolver.test.ts).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Miniflare } from 'miniflare';
import { FLAG_AD, readHeader, u16, walkRecords } from '../../host/core/dns/wire.js';
import { startEdge, type TestNode } from '../helpers/edge.js';
import { freePort } from '../helpers/net.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { signHierarchy, type SignedHierarchy } from '../helpers/signer.js';
import { testHierarchy } from '../helpers/signer-hierarchy.js';
import { needTools } from '../helpers/tools.js';
import { UPSTREAM_HOST, body, kvOf, metricOf, outbound, startMiniflare, workerFromToml, workerOf, type Outbound } from '../helpers/workers.js';
import { query } from './support.js';

const host = `127.${20 + Math.floor(Math.random() * 230)}.${Math.floor(Math.random() * 250)}.1`;

const CONFIG = `node_id = "ingress"
[upstreams]
default = ["http://${UPSTREAM_HOST}/dns-query"]
[apps.forward.config.routes]
"." = "default"
[dnssec]
trust_anchor = "anchor"
[log]
level = "error"
`;

describe.skipIf(!needTools('ldns-keygen', 'ldns-signzone', 'dnssec-keygen', 'dnssec-signzone', 'nsd'))('validation on Workers (Miniflare, a signed hierarchy behind a loopback DoH upstream)', () => {
  let h: SignedHierarchy;
  let nsd: Nsd;
  let relay: TestNode;
  let mf: Miniflare;
  let out: Outbound;

  beforeAll(async () => {
    await freePort(host);
    h = signHierarchy(testHierarchy(), { nsAddress: host });
    nsd = await startNsd(h.zones, { host });
    // the loopback DoH upstream: validation off (startEdge's default), answers passed on with their records
    relay = await startEdge(`doh_http = ["127.0.0.1:0"]\n[upstreams]\ndefault = ["${host}:${nsd.port}"]\n[apps.forward.config.routes]\n"." = "default"\n`);
    const dohPort = relay.edge.listening.doh[0]!.port;
    out = outbound(() => dohPort);
    mf = startMiniflare([workerFromToml('edge', { vars: { EDGE_CONFIG: CONFIG, EDGE_REFRESH_SECONDS: '1' }, out })]);
    await mf.ready;
    await (await kvOf(mf, 'edge')).put('anchor', readFileSync(h.anchorFile(), 'utf8'));
  }, 180_000);

  afterAll(async () => {
    await mf?.dispose().catch(() => undefined);
    await relay?.stop();
    await nsd?.stop();
    expect(out?.refused ?? []).toEqual([]);
  });

  async function ask(name: string, type = 1): Promise<{ rcode: number; ad: boolean; answers: number; ede: number[] }> {
    const w = await workerOf(mf, 'edge');
    const res = await w.fetch('http://edge.test/dns-query', { method: 'POST', headers: { 'content-type': 'application/dns-message', accept: 'application/dns-message' }, body: body(query(name, type, { do: true })) });
    expect(res.status).toBe(200);
    const m = new Uint8Array(await res.arrayBuffer());
    const hd = readHeader(m);
    const { records } = walkRecords(m, hd);
    const ede: number[] = [];
    for (const r of records.filter((x) => x.type === 41)) {
      for (let p = r.rdataOffset; p + 4 <= r.end; p += 4 + u16(m, p + 2)) if (u16(m, p) === 15) ede.push(u16(m, p + 4));
    }
    return { rcode: hd.rcode, ad: (hd.flags & FLAG_AD) !== 0, answers: records.filter((x) => x.section === 0 && x.type === type).length, ede };
  }

  it('validates in workerd: AD on secure answers (NSEC and NSEC3, positive and negative), none on insecure ones', async () => {
    expect(await ask('www.secure.test.')).toMatchObject({ rcode: 0, ad: true, answers: 1 });
    expect(await ask('nope.secure.test.')).toMatchObject({ rcode: 3, ad: true });
    expect(await ask('www.nsec3.test.')).toMatchObject({ rcode: 0, ad: true, answers: 1 });
    expect(await ask('nope.nsec3.test.')).toMatchObject({ rcode: 3, ad: true });
    expect(await ask('www.p384.test.')).toMatchObject({ rcode: 0, ad: true });
    expect(await ask('www.insecure.test.')).toMatchObject({ rcode: 0, ad: false, answers: 1 });
    const st = (await (await (await workerOf(mf, 'edge')).fetch('http://edge.test/status')).json()) as { dnssec: { validate: boolean; trust_anchors: string[] } };
    expect(st.dnssec).toMatchObject({ validate: true, trust_anchors: ['.'] });
  });

  it('answers bogus data SERVFAIL with the EDE that says why, as on Node', async () => {
    expect(await ask('www.expired.test.')).toMatchObject({ rcode: 2, ad: false, ede: [7] });
    expect(await ask('www.notyet.test.')).toMatchObject({ rcode: 2, ede: [8] });
    expect(await ask('www.nosig.test.')).toMatchObject({ rcode: 2, ede: [10] });
    expect(await ask('www.dsmismatch.test.')).toMatchObject({ rcode: 2, ede: [9] });
    const metrics = (await (await (await workerOf(mf, 'edge')).fetch('http://edge.test/metrics')).json()) as Record<string, Record<string, number>>;
    expect(metricOf(metrics, 'edge_dnssec_validations_total', 'state=secure')).toBeGreaterThan(0);
    expect(metricOf(metrics, 'edge_dnssec_bogus_total', 'reason=signature-expired')).toBeGreaterThan(0);
  });
});
