/**
 * DNSSEC validation in recursive mode, over real sockets: the signed test hierarchy
 * (signer-hierarchy.ts) served by NSD on port 53 of a loopback address, iterated from its root
 * with the hierarchy's anchor. Every case comes out as the validator's own tests say (secure:
 * AD; insecure: no AD; bogus: SERVFAIL). And per nameserver: `secure.test.` has a second
 * server that serves the zone with expired signatures; its answers are judged bogus, it is set
 * aside for the zone, and the zone's good server answers, validated.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dig } from '../helpers/dig.js';
import { startEdge, type TestNode } from '../helpers/edge.js';
import { namedRoot } from '../helpers/hierarchy.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { signHierarchy, zonesWithResigned, type SignedHierarchy } from '../helpers/signer.js';
import { HIERARCHY_CASES, testHierarchy } from '../helpers/signer-hierarchy.js';
import { needTools } from '../helpers/tools.js';
import { loopbackOnly } from './world.js';

const prefix = `127.${20 + Math.floor(Math.random() * 230)}.${Math.floor(Math.random() * 250)}`;
const host = `${prefix}.1`;
const bad = `${prefix}.2`;
const DAY = 86_400;

async function metric(node: TestNode, name: string, match = ''): Promise<number> {
  const text = await node.node.metrics.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(match))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

describe.skipIf(!needTools('ldns-keygen', 'ldns-signzone', 'dnssec-keygen', 'dnssec-signzone', 'nsd', 'dig'))('validation in recursive mode (signed hierarchy on NSD, port 53)', () => {
  let h: SignedHierarchy;
  let good: Nsd;
  let badNsd: Nsd;
  let edge: TestNode;

  beforeAll(async () => {
    const spec = testHierarchy();
    // secure.test. gets a second nameserver, at another address.
    const test = spec.children!.find((c) => c.name === 'test.')!;
    test.records = `${test.records ?? ''}\nsecure.test. IN NS ns2.secure.test.\nns2.secure.test. IN A ${bad}\n`;
    h = signHierarchy(spec, { nsAddress: host });
    good = await startNsd(h.zones, { host, port: 53 });
    const now = Math.floor(Date.now() / 1000);
    const expired = zonesWithResigned(h, 'secure.test.', { inception: now - 20 * DAY, expiration: now - DAY })['secure.test.']!;
    badNsd = await startNsd({ 'secure.test.': expired }, { host: bad, port: 53 });
    const hints = join(h.dir, 'named.root');
    writeFileSync(hints, namedRoot({ 'ns.': host }));
    edge = await startEdge(`[resolver]\nmode = "recursive"\nroot_hints = "${hints}"\n[dnssec]\ntrust_anchor = "${h.anchorFile()}"\n`, { transport: loopbackOnly() });
  }, 120_000);

  afterAll(async () => {
    await edge?.stop();
    await good?.stop();
    await badNsd?.stop();
  });

  const ask = (name: string, type: string, ...flags: string[]) => dig(edge.dns, ['+tries=1', '+time=8', ...flags, name, type]);

  for (const c of HIERARCHY_CASES) {
    it(`${c.name} ${c.type}: ${c.verdict} (${c.what})`, async () => {
      const r = await ask(c.name, c.type, '+dnssec');
      if (c.verdict === 'bogus') {
        expect(r.status, r.raw).toBe('SERVFAIL');
        expect(r.flags).not.toContain('ad');
        return;
      }
      expect(['NOERROR', 'NXDOMAIN'], r.raw).toContain(r.status);
      if (c.verdict === 'secure') expect(r.flags, r.raw).toContain('ad');
      else expect(r.flags, r.raw).not.toContain('ad');
    }, 30_000);
  }

  it('leaves a nameserver whose answers are bogus for the zone’s other one, and validates what that one says', async () => {
    const judged = () => metric(edge, 'edge_recursion_judged_total', 'verdict="bogus"');
    const aside = () => metric(edge, 'edge_recursion_set_aside_total', 'reason="bogus"');
    const before = { judged: await judged(), aside: await aside() };
    for (let i = 0; i < 6; i++) {
      const r = await ask(`n${i}.wild.secure.test.`, 'TXT', '+dnssec');
      expect(r.status, r.raw).toBe('NOERROR');
      expect(r.flags, r.raw).toContain('ad');
    }
    // The bad server is asked about once (then it is set aside for secure.test. for a minute).
    expect((await judged()) - before.judged).toBeLessThanOrEqual(2);
    expect((await aside()) - before.aside).toBe((await judged()) - before.judged);
  }, 60_000);
});
