/**
 * The validator against real signed zones over real sockets: a test hierarchy (test root, TLDs,
 * secure, insecure and broken children) signed at test time by ldns-signzone, served by one
 * NSD on a loopback address of its own, keys fetched through a socket KeyFetcher, and every
 * verdict checked against delv asking the same server with the same trust anchor.
 */

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typeFromName } from '../../host/core/dns/rr-types.js';
import { MemoryMetrics } from '../../host/core/metrics.js';
import { Validator, parseTrustAnchors, type ValidationResult } from '../../host/core/dnssec/index.js';
import { nameFromText } from '../../host/core/dns/name.js';
import { freePort } from '../helpers/net.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { signHierarchy, type SignedHierarchy } from '../helpers/signer.js';
import { HIERARCHY_CASES, testHierarchy } from '../helpers/signer-hierarchy.js';
import { needTools } from '../helpers/tools.js';
import { delv } from './support/delv.js';
import { startUnbound, type Unbound } from './support/unbound.js';
import { query, socketFetcher } from './support/socket-fetcher.js';

const host = `127.${20 + Math.floor(Math.random() * 230)}.${Math.floor(Math.random() * 250)}.1`;

describe.skipIf(!needTools('ldns-keygen', 'ldns-signzone', 'dnssec-keygen', 'dnssec-signzone', 'nsd', 'delv', 'unbound', 'dig'))('validator on a signed test hierarchy (NSD, checked by delv)', () => {
  let h: SignedHierarchy;
  let nsd: Nsd;
  let validator: Validator;
  let metrics: MemoryMetrics;
  let unbound: Unbound | undefined;
  const server = () => ({ host, port: nsd.port });

  beforeAll(async () => {
    await freePort(host); // the address binds (all of 127/8 is loopback on Linux)
    h = signHierarchy(testHierarchy(), { nsAddress: host });
    nsd = await startNsd(h.zones, { host });
    metrics = new MemoryMetrics();
    const anchors = await parseTrustAnchors(readFileSync(h.anchorFile()), { file: 'anchor.ds' });
    validator = new Validator({ anchors, fetcher: socketFetcher([server()]), metrics });
  }, 120_000);

  afterAll(async () => {
    await unbound?.stop();
    await nsd?.stop();
  });

  async function ask(name: string, type: string): Promise<ValidationResult> {
    const response = await query(server(), nameFromText(name), typeFromName(type)!);
    expect(response, `${name} ${type}: no answer from NSD`).not.toBeNull();
    return validator.validate(response!, { server: `${host}:${nsd.port}` });
  }

  for (const c of HIERARCHY_CASES) {
    it(`${c.name} ${c.type} is ${c.verdict}: ${c.what}`, async () => {
      const ours = await ask(c.name, c.type);
      expect(ours.state, `${ours.reason}: ${ours.text}`).toBe(c.verdict);
      if (c.ede !== undefined) expect(ours.ede?.code, ours.text).toBe(c.ede);
      if (c.verdict === 'bogus') {
        expect(ours.ede).toBeDefined();
        expect(ours.ede!.text).toContain(c.name.split('.').slice(-3).join('.'));
      }
      const ref = await delv(server(), h.delvAnchorFile(), c.name, c.type);
      expect(ref.verdict, ref.output).toBe(c.delv?.verdict ?? c.verdict);
      if (c.delv) {
        unbound ??= await startUnbound(host, server(), h.anchorFile());
        const second = await unbound.verdict(c.name, c.type);
        expect(second.verdict, `${c.delv.why}\n${second.output}`).toBe(c.verdict);
      }
    }, 60_000);
  }
});
