/**
 * What the iterator believes (RFC 2181 §5.4.1): glue outside the bailiwick of the server that
 * sent it is neither used nor cached, a forged record in the additional section is never
 * cached or served, lame servers are set aside for their zone, and a server whose answers the
 * judge calls bogus is left for the zone's other servers.
 */

import { describe, expect, it } from 'vitest';
import { Rcode, RRType } from '../../host/core/dns/rr-types.js';
import { nameToText, textToName } from '../../host/core/dns/wire.js';
import { type JudgedResponse } from '../../host/core/recursion/index.js';
import { insertRecords, queryName, wireRecords, type Hierarchy } from '../helpers/hierarchy.js';
import { answers, deadline, iteratorFor, q, seen, useWorld } from './world.js';

let h: Hierarchy;
const ok = useWorld((w) => (h = w));

const n = textToName;

describe.runIf(ok)('trust', () => {
  it('neither uses nor caches glue from outside the bailiwick of the server that sent it', async () => {
    // The test. servers add an address for oob.test.'s NS name (in other.) pointing at the trap,
    // and one for ns1.example.test. (inside test., but no NS name of oob.test.'s delegation).
    const forged = await wireRecords(`ns.oob.other. 3600 IN A ${h.ip.trap}\nns1.example.test. 3600 IN A ${h.ip.trap}`);
    for (const id of ['tld1', 'tld2'] as const) {
      h.servers[id]!.behaviour.mutate = (reply, query) => (queryName(query).endsWith('oob.test.') ? insertRecords(reply, 2, forged) : reply);
    }
    const { it: r, metrics } = iteratorFor(h);
    const res = await r.resolve(q('www.oob.test.'), { deadline: deadline() });
    // The real answer, through ns.oob.other. looked up in other.; the trap never asked.
    expect(answers(res.body)).toEqual(['www.oob.test. A 192.0.2.9']);
    expect(seen(h, 'other')).toContain('ns.oob.other. A');
    expect(seen(h, 'trap')).toEqual([]);
    expect(metrics.value('edge_recursion_scrubbed_total')).toBeGreaterThanOrEqual(2);
    expect(r.cache.getGlue(n('oob.test.'), n('ns.oob.other.'), RRType.A)).toBeNull();
    expect(r.cache.getGlue(n('oob.test.'), n('ns1.example.test.'), RRType.A)).toBeNull();
    expect(r.cache.get(n('ns.oob.other.'), RRType.A)!.entry.set.rdatas).toHaveLength(1);
    expect(answers((await r.resolve(q('ns.oob.other.'), { deadline: deadline() })).body)).toEqual([`ns.oob.other. A ${h.ip.multi}`]);
    // And example.test. is still reached at its real servers.
    const ex = await r.resolve(q('www.example.test.'), { deadline: deadline() });
    expect(answers(ex.body)).toEqual(['www.example.test. A 192.0.2.1']);
    expect(seen(h, 'trap')).toEqual([]);
  });

  it('never caches or serves a forged record from the additional section', async () => {
    // example.test.'s servers add an address for a name outside their zone, and one inside it
    // that nothing in the answer refers to.
    const forged = await wireRecords('www.target.other. 3600 IN A 198.51.100.66\nmail.example.test. 3600 IN A 198.51.100.67');
    for (const id of ['ex1', 'ex2'] as const) h.servers[id]!.behaviour.mutate = (reply) => insertRecords(reply, 2, forged);
    const { it: r } = iteratorFor(h);
    expect(answers((await r.resolve(q('www.example.test.'), { deadline: deadline() })).body)).toEqual(['www.example.test. A 192.0.2.1']);
    expect(r.cache.get(n('www.target.other.'), RRType.A, 0)).toBeNull();
    expect(r.cache.get(n('mail.example.test.'), RRType.A, 0)).toBeNull();
    expect(answers((await r.resolve(q('www.target.other.'), { deadline: deadline() })).body)).toEqual(['www.target.other. A 192.0.2.10']);
    expect(seen(h, 'tgt')).toContain('www.target.other. A');
    h.clearLogs();
    expect(answers((await r.resolve(q('mail.example.test.'), { deadline: deadline() })).body)).toEqual(['mail.example.test. A 192.0.2.25']);
    expect([...seen(h, 'ex1'), ...seen(h, 'ex2')]).toContain('mail.example.test. A');
  });

  it('drops answer records off the chain and records outside the bailiwick of the answer', async () => {
    const forged = await wireRecords('www.target.other. 3600 IN A 198.51.100.66\nother.example.test. 3600 IN A 198.51.100.68');
    for (const id of ['ex1', 'ex2'] as const) {
      h.servers[id]!.behaviour.mutate = (reply, query) => (queryName(query) === 'alias.example.test.' ? insertRecords(reply, 0, forged) : reply);
    }
    const { it: r } = iteratorFor(h);
    const res = await r.resolve(q('alias.example.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['alias.example.test. CNAME www.target.other.', 'www.target.other. A 192.0.2.10']);
    expect(seen(h, 'tgt')).toContain('www.target.other. A');
    expect(r.cache.get(n('other.example.test.'), RRType.A, 0)).toBeNull();
  });

  it('sets a lame server aside for its zone and uses the zone’s other server', async () => {
    const { it: r, metrics } = iteratorFor(h);
    for (let i = 0; i < 6; i++) {
      const res = await r.resolve(q(`host${i}.lame.test.`), { deadline: deadline() });
      expect(answers(res.body)).toEqual([`host${i}.lame.test. A 192.0.2.200`]);
    }
    // The lame server (not authoritative for lame.test.: REFUSED) was asked once at most.
    expect(seen(h, 'lamebox').filter((x) => x.endsWith('lame.test. A')).length).toBeLessThanOrEqual(1);
    expect(metrics.value('edge_recursion_set_aside_total', { reason: 'lame' })).toBeLessThanOrEqual(1);
    // ...for lame.test. only: it still serves its own zone.
    expect(answers((await r.resolve(q('www.dummy.'), { deadline: deadline() })).body)).toEqual(['www.dummy. A 192.0.2.6']);
  });

  it('answers SERVFAIL when every server of a zone is lame, without asking them again for a while', async () => {
    const { it: r } = iteratorFor(h);
    const res = await r.resolve(q('www.alllame.test.'), { deadline: deadline() });
    expect(res.rcode).toBe(Rcode.SERVFAIL);
    expect(res.failure?.reason).toBe('no_reachable_authority');
    h.clearLogs();
    const again = await r.resolve(q('www2.alllame.test.'), { deadline: deadline() });
    expect(again.rcode).toBe(Rcode.SERVFAIL);
    expect(seen(h, 'lamebox')).toEqual([]);
  });

  it('treats a referral that does not lead down as lame', async () => {
    // uplame.test. is delegated to a test. server, which refers back to uplame.test. itself.
    const { it: r, metrics } = iteratorFor(h);
    const res = await r.resolve(q('www.uplame.test.'), { deadline: deadline() });
    expect(res.rcode).toBe(Rcode.SERVFAIL);
    expect(metrics.value('edge_recursion_set_aside_total', { reason: 'lame' })).toBe(1);
  });

  it('asks another server of the zone when the judge calls an answer bogus, and sets that server aside', async () => {
    const judged: JudgedResponse[] = [];
    const judge = (j: JudgedResponse) => {
      judged.push(j);
      return j.server === h.ip.ex1 ? ('bogus' as const) : ('accept' as const);
    };
    const { it: r, metrics } = iteratorFor(h, { judge });
    for (let i = 0; i < 4; i++) {
      const res = await r.resolve(q(`h${i}.wild.example.test.`), { deadline: deadline() });
      expect(answers(res.body)).toEqual([`h${i}.wild.example.test. A 192.0.2.99`]);
      expect(res.provenance[0]!.server).toBe(h.ip.ex2);
    }
    expect(seen(h, 'ex1').filter((x) => x.includes('wild')).length).toBeLessThanOrEqual(1);
    expect(metrics.value('edge_recursion_judged_total', { verdict: 'bogus' })).toBeLessThanOrEqual(1);
    expect(judged.every((j) => j.message.length > 12)).toBe(true);
    expect(judged.some((j) => j.server === h.ip.root)).toBe(false); // referrals are not judged
  });

  it('takes a judge per request (the resolve step’s validator), beside or instead of the constructor’s', async () => {
    const { it: r } = iteratorFor(h);
    const mine: string[] = [];
    const judge = (j: JudgedResponse) => (mine.push(nameToText(j.question.name)), j.server === h.ip.ex1 ? ('bogus' as const) : ('accept' as const));
    for (let i = 0; i < 3; i++) {
      const res = await r.resolve(q(`j${i}.wild.example.test.`), { deadline: deadline(), judge });
      expect(res.provenance[0]!.server).toBe(h.ip.ex2);
    }
    expect(mine.some((n) => n.endsWith('wild.example.test.'))).toBe(true);
    // Without one, nothing is judged.
    mine.length = 0;
    await r.resolve(q('k.wild.example.test.'), { deadline: deadline() });
    expect(mine).toEqual([]);
  });

  it('answers SERVFAIL (bogus) when every server is judged bogus, and caches nothing of it', async () => {
    const { it: r } = iteratorFor(h, { judge: (j) => (nameToText(j.zone) === 'example.test.' ? 'bogus' : 'accept') });
    const res = await r.resolve(q('www.example.test.'), { deadline: deadline() });
    expect(res.rcode).toBe(Rcode.SERVFAIL);
    expect(res.failure?.reason).toBe('bogus');
    expect(r.cache.get(n('www.example.test.'), RRType.A, 0)).toBeNull();
  });
});
