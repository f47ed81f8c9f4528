/**
 * QNAME minimisation (RFC 9156) as the authoritative servers see it: on, each server learns
 * one label more than it needs; off, every server sees the full name. And the relaxed handling
 * of broken servers: NXDOMAIN for an empty non-terminal, an error rcode or silence for the
 * minimised name make the iterator ask the full name instead.
 */

import { describe, expect, it } from 'vitest';
import { Rcode } from '../../host/core/dns/rr-types.js';
import { queryName, withRcode, type Hierarchy } from '../helpers/hierarchy.js';
import { answers, deadline, iteratorFor, q, seen, useWorld } from './world.js';

let h: Hierarchy;
const ok = useWorld((w) => (h = w));

const exSeen = () => h.queries().filter((x) => x.server === 'ex1' || x.server === 'ex2').map((x) => `${x.name} ${x.type}`);

/** Makes both example.test. servers answer queries for `name` with `rcode` (or drop them). */
function breakFor(name: string, rcode: number | 'drop'): void {
  for (const id of ['ex1', 'ex2'] as const) {
    h.servers[id]!.behaviour.mutate = (reply, query) =>
      queryName(query) !== name ? reply : rcode === 'drop' ? null : withRcode(reply, rcode);
  }
}

describe.runIf(ok)('QNAME minimisation', () => {
  it('on (the default): each server sees only one label below its zone', async () => {
    const { it: r } = iteratorFor(h);
    const res = await r.resolve(q('a.b.c.example.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['a.b.c.example.test. A 192.0.2.3']);
    expect(seen(h, 'root')).toEqual(['. NS', 'test. A']);
    expect([...seen(h, 'tld1'), ...seen(h, 'tld2')]).toEqual(['example.test. A']);
    expect(exSeen()).toEqual(['c.example.test. A', 'b.c.example.test. A', 'a.b.c.example.test. A']);
    // What the minimised answers said is kept: a new name under c. goes straight to the question.
    h.clearLogs();
    await r.resolve(q('x.b.c.example.test.'), { deadline: deadline() });
    expect(exSeen()).toEqual(['x.b.c.example.test. A']);
  });

  it('asks the real type only of the zone that holds the name', async () => {
    const { it: r } = iteratorFor(h);
    await r.resolve(q('mail.example.test.', 'MX'), { deadline: deadline() });
    expect(h.queries().filter((x) => x.type === 'MX').map((x) => x.server).sort()).toEqual([expect.stringMatching(/^ex[12]$/)]);
  });

  it('off: every server sees the full name and type', async () => {
    const { it: r } = iteratorFor(h, { qnameMinimisation: false });
    const res = await r.resolve(q('a.b.c.example.test.', 'AAAA'), { deadline: deadline() });
    expect(res.rcode).toBe(Rcode.NOERROR);
    expect(seen(h, 'root')).toEqual(['. NS', 'a.b.c.example.test. AAAA']);
    expect([...seen(h, 'tld1'), ...seen(h, 'tld2')]).toEqual(['a.b.c.example.test. AAAA']);
    expect(exSeen()).toEqual(['a.b.c.example.test. AAAA']);
  });

  it('asks the full name when a server denies an empty non-terminal (NXDOMAIN)', async () => {
    breakFor('c.example.test.', Rcode.NXDOMAIN);
    const { it: r, metrics } = iteratorFor(h);
    const res = await r.resolve(q('a.b.c.example.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['a.b.c.example.test. A 192.0.2.3']);
    expect(exSeen()).toEqual(['c.example.test. A', 'a.b.c.example.test. A']);
    expect(metrics.value('edge_recursion_qname_minimisation_fallback_total', { reason: 'nxdomain' })).toBe(1);
  });

  for (const [what, rcode] of [['REFUSED', Rcode.REFUSED], ['SERVFAIL', Rcode.SERVFAIL], ['FORMERR', Rcode.FORMERR], ['NOTIMP', Rcode.NOTIMP]] as const) {
    it(`asks the full name when a server answers the minimised name ${what}, and does not call it lame`, async () => {
      breakFor('c.example.test.', rcode);
      const { it: r, metrics } = iteratorFor(h);
      const res = await r.resolve(q('a.b.c.example.test.'), { deadline: deadline() });
      expect(answers(res.body)).toEqual(['a.b.c.example.test. A 192.0.2.3']);
      expect(exSeen()).toEqual(['c.example.test. A', 'a.b.c.example.test. A']);
      expect(metrics.value('edge_recursion_qname_minimisation_fallback_total', { reason: 'rcode' })).toBe(1);
      expect(metrics.value('edge_recursion_set_aside_total', { reason: 'lame' })).toBe(0);
    });
  }

  it('asks the full name when the minimised question gets no answer', async () => {
    breakFor('c.example.test.', 'drop');
    const { it: r, metrics } = iteratorFor(h, { selection: { unknownTimeoutMs: 150 } });
    const res = await r.resolve(q('a.b.c.example.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['a.b.c.example.test. A 192.0.2.3']);
    expect(exSeen()).toEqual(['c.example.test. A', 'a.b.c.example.test. A']);
    expect(metrics.value('edge_recursion_qname_minimisation_fallback_total', { reason: 'timeout' })).toBe(1);
  });

  it('believes NXDOMAIN for the full name', async () => {
    const { it: r } = iteratorFor(h);
    const res = await r.resolve(q('x.y.nothere.example.test.'), { deadline: deadline() });
    expect(res.rcode).toBe(Rcode.NXDOMAIN);
    expect(exSeen()).toEqual(['nothere.example.test. A', 'x.y.nothere.example.test. A']);
  });
});
