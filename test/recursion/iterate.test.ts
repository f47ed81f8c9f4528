/**
 * Iteration over real sockets against NSD: plain answers, CNAME and DNAME across zones,
 * negative answers and their caching, TCP after truncation, EDNS fallback, ANY, DS/DNSKEY for
 * the validator, and what comes back with DO.
 */

import { describe, expect, it } from 'vitest';
import { Rcode, RRType } from '../../host/core/dns/rr-types.js';
import { nameToText, textToName } from '../../host/core/dns/wire.js';
import { Rank } from '../../host/core/recursion/index.js';
import { insertRecords, queryName, wireRecords, type Hierarchy } from '../helpers/hierarchy.js';
import { answers, deadline, iteratorFor, lines, q, seen, useWorld } from './world.js';

let h: Hierarchy;
const ok = useWorld((w) => (h = w));

describe.runIf(ok)('iteration against a loopback hierarchy', () => {
  it('resolves a name from the root down, then from its cache', async () => {
    const { it: r, metrics } = iteratorFor(h);
    const res = await r.resolve(q('www.example.test.'), { deadline: deadline() });
    expect(res.rcode).toBe(Rcode.NOERROR);
    expect(answers(res.body)).toEqual(['www.example.test. A 192.0.2.1']);
    expect(res.failure).toBeNull();
    // root (test.), a test. server (example.test.), an example.test. server (the name).
    expect(res.queries).toBe(3);
    expect(res.rootSource).toBe('root_servers');
    expect(res.provenance).toEqual([
      expect.objectContaining({ section: 'answer', type: RRType.A, rank: Rank.ANSWER_AUTH, cached: false }),
    ]);
    expect(nameToText(res.provenance[0]!.zone)).toBe('example.test.');
    expect([h.ip.ex1, h.ip.ex2]).toContain(res.provenance[0]!.server);
    // RFC 8109 priming came first: `. NS` at the hints address.
    expect(seen(h, 'root')[0]).toBe('. NS');
    expect(metrics.value('edge_recursion_priming_total', { result: 'ok' })).toBe(1);

    h.clearLogs();
    const again = await r.resolve(q('www.example.test.'), { deadline: deadline() });
    expect(answers(again.body)).toEqual(['www.example.test. A 192.0.2.1']);
    expect(again.queries).toBe(0);
    expect(again.provenance[0]!.cached).toBe(true);
    expect(h.queries()).toEqual([]);
    // A sibling name needs only the example.test. servers now.
    const mail = await r.resolve(q('mail.example.test.'), { deadline: deadline() });
    expect(answers(mail.body)).toEqual(['mail.example.test. A 192.0.2.25']);
    expect(mail.queries).toBe(1);
    expect(seen(h, 'root')).toEqual([]);
  });

  it('follows a CNAME into another zone and says where each RRset came from', async () => {
    const { it: r } = iteratorFor(h);
    const res = await r.resolve(q('alias.example.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['alias.example.test. CNAME www.target.other.', 'www.target.other. A 192.0.2.10']);
    expect(res.provenance.map((p) => `${nameToText(p.zone)}@${p.server}`)).toEqual([
      expect.stringMatching(/^example\.test\.@/),
      `target.other.@${h.ip.tgt}`,
    ]);
    expect(seen(h, 'tgt')).toContain('www.target.other. A');
    expect(seen(h, 'trap')).toEqual([]);
  });

  it('takes an in-zone CNAME chain from one answer', async () => {
    const { it: r } = iteratorFor(h);
    await r.resolve(q('www.example.test.'), { deadline: deadline() });
    r.cache.clear();
    h.clearLogs();
    const res = await r.resolve(q('inzone.example.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['inzone.example.test. CNAME www.example.test.', 'www.example.test. A 192.0.2.1']);
  });

  it('follows a DNAME, synthesizing the CNAME itself, and reuses the cached DNAME for other names', async () => {
    const { it: r } = iteratorFor(h);
    const res = await r.resolve(q('www.legacy.example.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual([
      'legacy.example.test. DNAME target.other.',
      'www.legacy.example.test. CNAME www.target.other.',
      'www.target.other. A 192.0.2.10',
    ]);
    h.clearLogs();
    const deep = await r.resolve(q('deep.er.legacy.example.test.'), { deadline: deadline() });
    expect(answers(deep.body)).toEqual([
      'legacy.example.test. DNAME target.other.',
      'deep.er.legacy.example.test. CNAME deep.er.target.other.',
      'deep.er.target.other. A 192.0.2.11',
    ]);
    expect(seen(h, 'ex1')).toEqual([]);
    expect(seen(h, 'ex2')).toEqual([]);
    // QNAME minimisation: the empty non-terminal er.target.other. first.
    expect(seen(h, 'tgt')).toEqual(['er.target.other. A', 'deep.er.target.other. A']);
  });

  it('answers NXDOMAIN and NODATA with the SOA, and caches both for the negative TTL (RFC 2308)', async () => {
    const { it: r } = iteratorFor(h);
    const nx = await r.resolve(q('nothere.example.test.'), { deadline: deadline() });
    expect(nx.rcode).toBe(Rcode.NXDOMAIN);
    const soa = lines(nx.body).filter((l) => l.section === 'authority');
    expect(soa).toHaveLength(1);
    expect(soa[0]).toMatchObject({ name: 'example.test.', type: 'SOA' });
    // min(SOA TTL 3600, MINIMUM 300)
    expect(soa[0]!.ttl).toBe(300);
    const nodata = await r.resolve(q('mail.example.test.', 'AAAA'), { deadline: deadline() });
    expect(nodata.rcode).toBe(Rcode.NOERROR);
    expect(answers(nodata.body)).toEqual([]);
    expect(lines(nodata.body).map((l) => l.type)).toEqual(['SOA']);

    h.clearLogs();
    expect((await r.resolve(q('nothere.example.test.'), { deadline: deadline() })).rcode).toBe(Rcode.NXDOMAIN);
    expect((await r.resolve(q('mail.example.test.', 'AAAA'), { deadline: deadline() })).queries).toBe(0);
    expect(h.queries()).toEqual([]);
  });

  it('answers from a wildcard', async () => {
    const { it: r } = iteratorFor(h);
    const res = await r.resolve(q('anything.wild.example.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['anything.wild.example.test. A 192.0.2.99']);
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    const { it: r, metrics } = iteratorFor(h);
    const res = await r.resolve(q('big.example.test.', 'TXT'), { deadline: deadline() });
    expect(res.rcode).toBe(Rcode.NOERROR);
    expect(answers(res.body)).toHaveLength(40);
    const ex = [...h.servers.ex1!.queries, ...h.servers.ex2!.queries].filter((x) => x.name === 'big.example.test.');
    expect(ex.map((x) => x.transport)).toEqual(['udp', 'tcp']);
    expect(metrics.value('edge_recursion_tcp_retries_total')).toBe(1);
  });

  it('stops sending EDNS to a server that answers FORMERR to it, and asks again without', async () => {
    h.servers.noedns!.behaviour.formerrOnEdns = true;
    const { it: r, metrics } = iteratorFor(h);
    const res = await r.resolve(q('www.edns.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['www.edns.test. A 192.0.2.10']);
    expect(h.servers.noedns!.queries.map((x) => x.edns)).toEqual([true, false]);
    expect(metrics.value('edge_recursion_edns_fallback_total', { reason: 'formerr' })).toBe(1);
    // Remembered: the next question goes without EDNS at once.
    h.clearLogs();
    await r.resolve(q('other.edns.test.'), { deadline: deadline() });
    expect(h.servers.noedns!.queries.map((x) => x.edns)).toEqual([false]);
  });

  it('stops sending EDNS to a server that ignores it', async () => {
    h.servers.noedns!.behaviour.ignoreEdns = true;
    const { it: r, metrics } = iteratorFor(h);
    const res = await r.resolve(q('www.edns.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['www.edns.test. A 192.0.2.10']);
    expect(metrics.value('edge_recursion_edns_fallback_total', { reason: 'ignored' })).toBe(1);
    h.clearLogs();
    await r.resolve(q('again.edns.test.'), { deadline: deadline() });
    expect(h.servers.noedns!.queries.map((x) => x.edns)).toEqual([false]);
  });

  it('passes ANY to the authority every time, answers with what it gave and caches none of it (RFC 8482)', async () => {
    const { it: r } = iteratorFor(h);
    const res = await r.resolve(q('www.target.other.', 'ANY'), { deadline: deadline() });
    // NSD answers ANY with one RRset (RFC 8482 §4.1); that is what the client gets.
    expect(answers(res.body)).toEqual(['www.target.other. A 192.0.2.10']);
    expect(r.cache.get(textToName('www.target.other.'), RRType.A)).toBeNull();
    h.clearLogs();
    await r.resolve(q('www.target.other.', 'ANY'), { deadline: deadline() });
    expect(seen(h, 'tgt')).toEqual(['www.target.other. ANY']);
  });

  it('fetches DS from the parent and DNSKEY from the zone, with DO, for the validator', async () => {
    const { it: r } = iteratorFor(h);
    const ds = await r.fetch(textToName('example.test.'), RRType.DS, deadline());
    expect(ds[3]! & 0xf).toBe(Rcode.NOERROR);
    expect(lines(ds).map((l) => `${l.name} ${l.type}`)).toEqual(['test. SOA']);
    expect([...seen(h, 'tld1'), ...seen(h, 'tld2')]).toContain('example.test. DS');
    expect([...seen(h, 'ex1'), ...seen(h, 'ex2')]).not.toContain('example.test. DS');
    const keys = await r.fetch(textToName('example.test.'), RRType.DNSKEY, deadline());
    expect(lines(keys).map((l) => `${l.name} ${l.type}`)).toEqual(['example.test. SOA']);
    expect([...seen(h, 'ex1'), ...seen(h, 'ex2')]).toContain('example.test. DNSKEY');
    expect(h.queries().every((x) => x.do)).toBe(true);
  });

  it('keeps RRSIGs beside their RRset and serves them only with DO', async () => {
    const sig = await wireRecords('www.example.test. 3600 IN RRSIG A 13 3 3600 20300101000000 20200101000000 4711 example.test. 3q2+7w==');
    for (const id of ['ex1', 'ex2'] as const) {
      h.servers[id]!.behaviour.mutate = (reply, query) => (queryName(query) === 'www.example.test.' ? insertRecords(reply, 0, sig) : reply);
    }
    const { it: r } = iteratorFor(h);
    const plain = await r.resolve(q('www.example.test.'), { deadline: deadline() });
    expect(lines(plain.body).map((l) => l.type)).toEqual(['A']);
    const withDo = await r.resolve(q('www.example.test.'), { deadline: deadline(), do: true });
    expect(withDo.queries).toBe(0);
    expect(lines(withDo.body).map((l) => l.type)).toEqual(['A', 'RRSIG']);
    expect(lines(withDo.body)[1]!.data).toMatch(/^A 13 3 3600 20300101000000 20200101000000 4711 example\.test\. /);
  });

  it('ends a CNAME loop with SERVFAIL', async () => {
    const { it: r } = iteratorFor(h);
    const res = await r.resolve(q('loop1.example.test.'), { deadline: deadline() });
    expect(res.rcode).toBe(Rcode.SERVFAIL);
    expect(res.failure?.reason).toBe('cname_loop');
  });

  it('refuses other classes and answers NOTIMP for meta-types other than ANY', async () => {
    const { it: r } = iteratorFor(h);
    expect((await r.resolve({ ...q('www.example.test.'), class: 3 }, { deadline: deadline() })).rcode).toBe(Rcode.REFUSED);
    expect((await r.resolve(q('example.test.', 'AXFR'), { deadline: deadline() })).rcode).toBe(Rcode.NOTIMP);
    expect(h.queries()).toEqual([]);
  });
});
