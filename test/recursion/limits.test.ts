/**
 * Every limit against abuse trips, with its metric and its reason, over real sockets: queries
 * per client question, NS address look-ups and NS names per delegation (NXNSAttack), referrals,
 * CNAME chain length, dependency depth, and the global, per-zone and per-server caps on
 * queries in flight.
 */

import { describe, expect, it } from 'vitest';
import { Rcode } from '../../host/core/dns/rr-types.js';
import type { Hierarchy } from '../helpers/hierarchy.js';
import type { RecursionLimits } from '../../host/core/recursion/index.js';
import { answers, deadline, iteratorFor, q, seen, useWorld } from './world.js';

let h: Hierarchy;
const ok = useWorld((w) => (h = w));

describe.runIf(ok)('limits', () => {
  it('queries per client question', async () => {
    const { it: r, metrics } = iteratorFor(h, { limits: { maxQueriesPerRequest: 2 } });
    const res = await r.resolve(q('www.example.test.'), { deadline: deadline() });
    expect(res.rcode).toBe(Rcode.SERVFAIL);
    expect(res.failure?.reason).toBe('limit:queries');
    expect(res.queries).toBe(3); // the third was refused before it went out
    expect(seen(h, 'ex1').length + seen(h, 'ex2').length).toBe(0);
    expect(metrics.value('edge_recursion_limit_total', { limit: 'queries' })).toBe(1);
  });

  it('NS address look-ups per question (NXNSAttack): 20 NS names that do not exist', async () => {
    const { it: r, metrics } = iteratorFor(h);
    const res = await r.resolve(q('victim.nxns.test.'), { deadline: deadline() });
    expect(res.rcode).toBe(Rcode.SERVFAIL);
    expect(res.failure?.reason).toBe('limit:ns_lookups');
    const asked = new Set(seen(h, 'other').filter((x) => x.includes('nowhere')).map((x) => x.split(' ')[0]!.replace(/^nowhere/, '')));
    // ten names looked up (plus the shared empty non-terminal nowhere.other.)
    expect([...asked].filter((n) => n.startsWith('ns')).length).toBe(10);
    expect(metrics.value('edge_recursion_limit_total', { limit: 'ns_lookups' })).toBe(1);
    expect(res.queries).toBeLessThanOrEqual(60);
  });

  it('NS names considered per delegation', async () => {
    const { it: r } = iteratorFor(h, { limits: { maxNsAddressLookups: 100, maxQueriesPerRequest: 500 } });
    const res = await r.resolve(q('victim.nxns.test.'), { deadline: deadline() });
    expect(res.rcode).toBe(Rcode.SERVFAIL);
    expect(res.failure?.reason).toBe('no_reachable_authority');
    const names = new Set(seen(h, 'other').map((x) => x.split(' ')[0]!).filter((n) => /^ns\d+\.nowhere\.other\.$/.test(n)));
    expect(names.size).toBe(13);
  });

  it('referrals followed for one name', async () => {
    const { it: r, metrics } = iteratorFor(h, { limits: { maxReferrals: 1 } });
    const res = await r.resolve(q('www.example.test.'), { deadline: deadline() });
    expect(res.failure?.reason).toBe('limit:referrals');
    expect(metrics.value('edge_recursion_limit_total', { limit: 'referrals' })).toBe(1);
  });

  it('CNAME chain length (11 links, as Unbound and BIND)', async () => {
    const { it: r, metrics } = iteratorFor(h);
    const fine = await r.resolve(q('chain3.example.test.'), { deadline: deadline() });
    expect(answers(fine.body)).toHaveLength(12); // 11 CNAMEs and the A
    const long = await r.resolve(q('chain2.example.test.'), { deadline: deadline() });
    expect(long.rcode).toBe(Rcode.SERVFAIL);
    expect(long.failure?.reason).toBe('limit:cname_chain');
    expect(metrics.value('edge_recursion_limit_total', { limit: 'cname_chain' })).toBe(1);
  });

  it('dependency depth (an NS name whose address needs another NS name’s address)', async () => {
    const deep = iteratorFor(h);
    expect(answers((await deep.it.resolve(q('www.d1.test.'), { deadline: deadline() })).body)).toEqual(['www.d1.test. A 192.0.2.8']);
    const { it: r, metrics } = iteratorFor(h, { limits: { maxDependencyDepth: 1 } });
    const res = await r.resolve(q('www.d1.test.'), { deadline: deadline() });
    expect(res.failure?.reason).toBe('limit:dependency_depth');
    expect(metrics.value('edge_recursion_limit_total', { limit: 'dependency_depth' })).toBe(1);
  });

  /** Warms the delegation, makes the servers slow, then asks `names` at once. */
  async function together(limits: Partial<RecursionLimits>, names: string[], warm: string[]) {
    // Timeouts well above the servers' delay: the queries stay in flight, none time out.
    const { it: r, metrics } = iteratorFor(h, { limits, selection: { minTimeoutMs: 2000 } });
    for (const w of warm) expect((await r.resolve(q(w), { deadline: deadline() })).rcode).toBe(Rcode.NOERROR);
    for (const s of Object.values(h.servers)) s.behaviour.delayMs = 150;
    const out = await Promise.all(names.map((n) => r.resolve(q(n), { deadline: deadline() })));
    return { out, metrics };
  }

  it('queries in flight, node-wide', async () => {
    const { out, metrics } = await together({ maxOutstanding: 1 }, ['a.slow.test.', 'b.d4.test.', 'c.example.test.'], ['www.slow.test.', 'www.d4.test.', 'www.example.test.']);
    expect(out.filter((r) => r.rcode === Rcode.NOERROR)).toHaveLength(1);
    expect(out.filter((r) => r.failure?.reason === 'limit:outstanding')).toHaveLength(2);
    expect(metrics.value('edge_recursion_limit_total', { limit: 'outstanding' })).toBe(2);
  });

  it('queries in flight to one zone', async () => {
    const { out, metrics } = await together({ maxOutstandingPerZone: 1 }, ['a.slow.test.', 'b.slow.test.', 'c.d4.test.'], ['www.slow.test.', 'www.d4.test.']);
    expect(out.map((r) => r.failure?.reason ?? 'ok')).toEqual(['ok', 'limit:zone_outstanding', 'ok']);
    expect(metrics.value('edge_recursion_limit_total', { limit: 'zone_outstanding' })).toBe(1);
  });

  it('queries in flight to one server', async () => {
    const { out, metrics } = await together({ maxOutstandingPerServer: 1 }, ['a.d4.test.', 'b.d3.test.'], ['www.d4.test.', 'www.d3.test.']);
    expect(out.map((r) => r.failure?.reason ?? 'ok')).toEqual(['ok', 'limit:server_outstanding']);
    expect(metrics.value('edge_recursion_limit_total', { limit: 'server_outstanding' })).toBe(1);
  });
});
