/**
 * The 9 July 2023 replay: one site of a zone's servers serves it with expired signatures. Two
 * NSD instances serve the same signed zone (`net.` under a test root), one re-signed with the
 * same keys for a validity window that ended yesterday; both are in one upstream group, the
 * bad one first. Every one of 200 queries must get a validated answer with AD (a bogus answer
 * sends the query to the group's next server), the bad server must be counted
 * (`edge_dnssec_bogus_total{server,reason}`) and set aside for the zone after three bogus
 * answers, so it stops getting the zone's queries, listed in /status; when the set-aside
 * ends, the next query probes it and it is set aside again for twice as long. The negative
 * control: with the good server taken away, the same queries are SERVFAIL with EDE 7
 * (Signature Expired).
 */

import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nameFromText } from '../../host/core/dns/name.js';
import { FLAG_AD, buildQuery, readHeader, u16, walkRecords } from '../../host/core/dns/wire.js';
import { startEdge, type TestNode } from '../helpers/edge.js';
import { freePort } from '../helpers/net.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { signHierarchy, zonesWithResigned, type SignedHierarchy, type ZoneSpec } from '../helpers/signer.js';
import { needTools } from '../helpers/tools.js';

const NAMES = 200;
const DAY = 86_400;
const r1 = 20 + Math.floor(Math.random() * 230);
const r2 = Math.floor(Math.random() * 250);
const goodHost = `127.${r1}.${r2}.1`;
const badHost = `127.${r1}.${r2}.2`;

function spec(): ZoneSpec {
  const records = Array.from({ length: NAMES }, (_, i) => `h${i} IN A 192.0.2.${i % 250}`).join('\n');
  return { name: '.', children: [{ name: 'net.', records }] };
}

interface Answer {
  rcode: number;
  ad: boolean;
  answers: number;
  ede: number[];
}

/** One query with DO=1 over UDP, in process (200 dig processes would cost more than the test). */
function ask(port: number, name: string, type = 1): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const id = Math.floor(Math.random() * 65536);
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`${name}: no answer`));
    }, 5000);
    sock.on('message', (msg) => {
      const m = new Uint8Array(msg);
      if (u16(m, 0) !== id) return;
      clearTimeout(timer);
      sock.close();
      const h = readHeader(m);
      const { records } = walkRecords(m, h);
      const ede: number[] = [];
      for (const r of records.filter((x) => x.type === 41)) {
        for (let p = r.rdataOffset; p + 4 <= r.end; ) {
          const code = u16(m, p);
          const len = u16(m, p + 2);
          if (code === 15) ede.push(u16(m, p + 4));
          p += 4 + len;
        }
      }
      resolve({ rcode: h.rcode, ad: (h.flags & FLAG_AD) !== 0, answers: records.filter((x) => x.section === 0 && x.type === type).length, ede });
    });
    sock.send(buildQuery({ name: nameFromText(name), type, class: 1 }, { id, udpSize: 1232, do: true }), port, '127.0.0.1');
  });
}

async function metric(node: TestNode, name: string, labels: Record<string, string>): Promise<number> {
  const text = await node.node.metrics.text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe.skipIf(!needTools('ldns-keygen', 'ldns-signzone', 'nsd'))('the 9 July 2023 replay: one server of the group serves expired signatures', () => {
  let h: SignedHierarchy;
  let good: Nsd;
  let bad: Nsd;
  const nodes: TestNode[] = [];
  const bad_ = () => `${badHost}:${bad.port}`;
  const good_ = () => `${goodHost}:${good.port}`;

  beforeAll(async () => {
    await freePort(goodHost);
    await freePort(badHost);
    h = signHierarchy(spec(), { nsAddress: goodHost });
    const now = Math.floor(Date.now() / 1000);
    good = await startNsd(h.zones, { host: goodHost });
    bad = await startNsd(zonesWithResigned(h, 'net.', { inception: now - 20 * DAY, expiration: now - DAY }), { host: badHost });
  }, 120_000);

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await good?.stop();
    await bad?.stop();
  });

  async function node(servers: string[], offset: { ms: number } = { ms: 0 }): Promise<TestNode> {
    const n = await startEdge(
      `[admin]
listen = "127.0.0.1:0"
[upstreams]
default = [${servers.map((s) => `"${s}"`).join(', ')}]
[dnssec]
trust_anchor = "${h.anchorFile()}"
[apps.forward.config.routes]
"." = "default"
`,
      { now: () => Date.now() + offset.ms },
    );
    nodes.push(n);
    return n;
  }

  async function status(n: TestNode): Promise<{ dnssec: { set_aside: Array<{ server: string; zone: string; reason: string; until: string; bogus: number; times: number }> } }> {
    const admin = n.edge.listening.admin!;
    return (await (await fetch(`http://127.0.0.1:${admin.port}/status`)).json()) as never;
  }

  it('answers all 200 queries validated, with AD, and sets the bad server aside for net. after three bogus answers', async () => {
    const offset = { ms: 0 };
    const n = await node([bad_(), good_()], offset);
    const answers: Answer[] = [];
    for (let i = 0; i < NAMES; i++) answers.push(await ask(n.dns.port, `h${i}.net.`));
    expect(answers.filter((a) => a.rcode === 0 && a.ad && a.answers === 1)).toHaveLength(NAMES);

    const counted = await metric(n, 'edge_dnssec_bogus_total', { server: bad_(), reason: 'signature-expired' });
    expect(counted).toBeGreaterThanOrEqual(3);
    // set aside after three: the bad server saw a handful of the zone's queries, not 200
    expect(counted).toBeLessThan(10);
    expect(await metric(n, 'edge_upstream_queries_total', { server: bad_() })).toBeLessThan(10);
    expect(await metric(n, 'edge_upstream_queries_total', { server: good_(), result: 'ok' })).toBeGreaterThanOrEqual(NAMES);
    expect(await metric(n, 'edge_dnssec_servers_set_aside', {})).toBe(1);

    const st = await status(n);
    expect(st.dnssec.set_aside).toHaveLength(1);
    const entry = st.dnssec.set_aside[0]!;
    expect(entry).toMatchObject({ server: bad_(), zone: 'net.', reason: 'signature-expired', times: 1 });
    const until = Date.parse(entry.until);
    expect(until).toBeGreaterThan(Date.now());

    // After the set-aside, the next query for the zone probes the bad server: still bogus, so it
    // is set aside again, for twice as long; the client still gets its validated answer.
    offset.ms = until - Date.now() + 1000;
    const probe = await ask(n.dns.port, 'h0.net.', 16);
    expect(probe).toMatchObject({ rcode: 0, ad: true });
    expect(await metric(n, 'edge_dnssec_bogus_total', { server: bad_(), reason: 'signature-expired' })).toBe(counted + 1);
    const again = (await status(n)).dnssec.set_aside[0]!;
    expect(again).toMatchObject({ server: bad_(), zone: 'net.', times: 2 });
    expect(Date.parse(again.until) - (Date.now() + offset.ms)).toBeGreaterThan(100_000);
  }, 120_000);

  it('negative control: without the good server the same queries are SERVFAIL with EDE 7 (Signature Expired)', async () => {
    const n = await node([bad_()]);
    const answers: Answer[] = [];
    for (let i = 0; i < NAMES; i++) answers.push(await ask(n.dns.port, `h${i}.net.`));
    expect(answers.filter((a) => a.rcode === 2 && !a.ad && a.ede.includes(7))).toHaveLength(NAMES);
  }, 120_000);
});
