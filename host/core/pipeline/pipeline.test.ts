/**
 * The pipeline's steps on their own (the resolver over real sockets is in test/node/): what
 * screening refuses and with which rcode, how an answer is shaped for its client, coalescing,
 * and serve-stale's three ways of answering from an expired entry.
 */

import { describe, expect, it } from 'vitest';
import { AnswerCache, cacheKey, defaultCacheOptions } from '../cache.js';
import { newContext } from '../context.js';
import { Rcode, RRType } from '../dns/rr-types.js';
import {
  EDNS_FLAG_DO, FLAG_AA, FLAG_AD, FLAG_QR, FLAG_RA, FLAG_RD, HEADER_LEN, buildErrorResponse, buildQuery, concat, parseQuery, put16, put32, textToName, u16, u32,
  walkRecords,
} from '../dns/wire.js';
import { MemoryMetrics } from '../metrics.js';
import { finish, shape } from './answer-shape.js';
import { InFlight } from './in-flight.js';
import { PipelineMetrics } from './metrics.js';
import { errorReply, screen } from './screen.js';
import { serveStale, staleEntry } from './serve-stale.js';

const question = { name: textToName('www.Example.test.'), type: RRType.A, class: 1 };

function metrics() {
  const sink = new MemoryMetrics();
  return { sink, m: new PipelineMetrics(sink) };
}

/** An answer to `question` (spelt lower-case, as an upstream may) with one A record. */
function answer(ttl: number, flags = FLAG_QR | FLAG_RA | FLAG_AA | FLAG_AD, rcode = 0): Uint8Array {
  const q = { ...question, name: textToName('www.example.test.') };
  const head = buildErrorResponse(buildQuery(q, { id: 99 }), rcode, parseQuery(buildQuery(q, { id: 99 })));
  put16(head, 2, flags | rcode);
  put16(head, 6, 1);
  const rr = new Uint8Array([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1]);
  put32(rr, 6, ttl);
  return concat([head, rr]);
}

const ctx = (ttlCap = 0) => ({
  ...newContext({ qname: question.name, qtype: 1, qclass: 1, client: null, transport: 'udp', flags: 0, ingress: 'x', deadline: Date.now() + 1000, udpSize: 0 }),
  ttlCap,
});

describe('screening', () => {
  const refused = (msg: Uint8Array) => {
    const { sink, m } = metrics();
    const r = screen(msg, parseQuery(msg), 1232, m);
    return { r, reasons: sink.snapshot()['edge_malformed_queries_total'] ?? {} };
  };

  it('lets a plain query through', () => {
    expect(refused(buildQuery(question, { udpSize: 1232 })).r).toBeUndefined();
  });

  it('drops responses and refuses what a recursive service does not do, each with its rcode and reason', () => {
    const response = buildQuery(question);
    put16(response, 2, FLAG_QR);
    expect(refused(response)).toEqual({ r: null, reasons: { 'reason=response': 1 } });
    const notify = buildQuery(question);
    put16(notify, 2, 4 << 11);
    expect(refused(notify).r?.rcode).toBe(Rcode.NOTIMP);
    const two = buildQuery(question);
    put16(two, 4, 0);
    expect(refused(two)).toMatchObject({ r: { rcode: Rcode.FORMERR }, reasons: { 'reason=qdcount': 1 } });
    for (const [type, rcode] of [[RRType.OPT, Rcode.FORMERR], [0, Rcode.FORMERR], [RRType.AXFR, Rcode.NOTIMP], [RRType.IXFR, Rcode.NOTIMP]] as const) {
      expect(refused(buildQuery({ ...question, type })).r?.rcode, `type ${type}`).toBe(rcode);
    }
    expect(refused(buildQuery({ ...question, class: 3 })).r?.rcode).toBe(Rcode.REFUSED);
  });

  it('answers EDNS version 1 with BADVERS (extended rcode 16) and our payload size', () => {
    const q = buildQuery(question, { udpSize: 4096 });
    q[q.length - 11 + 6] = 1; // OPT TTL: version 1
    const { r } = refused(q);
    expect(r).toMatchObject({ rcode: Rcode.BADVERS, source: 'local', udpLimit: 512 });
    expect(u16(r!.opt!, 3)).toBe(1232);
    expect(r!.opt![5]).toBe(1); // upper rcode bits
  });

  it('makes error replies with the question, the client DO bit, and a UDP limit within ours', () => {
    const q = buildQuery(question, { id: 7, udpSize: 4096, do: true });
    const { sink, m } = metrics();
    const r = errorReply(q, Rcode.SERVFAIL, parseQuery(q), 1232, m);
    expect(u16(r.message, 0)).toBe(7);
    expect(r.message[3]! & 0xf).toBe(Rcode.SERVFAIL);
    expect(u16(r.opt!, 7) & EDNS_FLAG_DO).toBe(EDNS_FLAG_DO);
    expect(r.udpLimit).toBe(1232);
    expect(sink.value('edge_responses_total', { rcode: 'SERVFAIL', source: 'local' })).toBe(1);
    expect(errorReply(q, Rcode.SERVFAIL, null, 1232, m)).toMatchObject({ opt: null, udpLimit: 512, questionEnd: HEADER_LEN });
  });
});

describe('answer shaping', () => {
  it("gives the body the client's ID, flags and spelling of the question, and clears AA", () => {
    const q = buildQuery(question, { id: 4242, rd: true });
    const out = shape(answer(300), parseQuery(q));
    expect(u16(out, 0)).toBe(4242);
    const flags = u16(out, 2);
    expect(flags & (FLAG_QR | FLAG_RA | FLAG_RD)).toBe(FLAG_QR | FLAG_RA | FLAG_RD);
    expect(flags & FLAG_AA).toBe(0);
    expect(out.subarray(HEADER_LEN, HEADER_LEN + question.name.length)).toEqual(question.name);
  });

  it('keeps AD only for a client that asked with AD or DO (RFC 6840 §5.8)', () => {
    expect(u16(shape(answer(300), parseQuery(buildQuery(question, { udpSize: 1232 }))), 2) & FLAG_AD).toBe(0);
    expect(u16(shape(answer(300), parseQuery(buildQuery(question, { udpSize: 1232, do: true }))), 2) & FLAG_AD).toBe(FLAG_AD);
  });

  it('caps TTLs, reports the smallest, and marks a stale answer with EDE 3 for an EDNS client', () => {
    const p = parseQuery(buildQuery(question, { udpSize: 1232 }));
    const r = finish(shape(answer(3600), p), 'stale', p, ctx(60), 1232);
    expect(r.minTtl).toBe(60);
    const a = walkRecords(r.message).records.find((x) => x.type === RRType.A)!;
    expect(u32(r.message, a.ttlOffset)).toBe(60);
    expect(r.opt).not.toBeNull();
    expect([...r.opt!.subarray(11)]).toEqual([0, 15, 0, 2, 0, 3]);
    // no EDNS from the client: none back
    const plain = parseQuery(buildQuery(question));
    expect(finish(shape(answer(300), plain), 'stale', plain, ctx(), 1232)).toMatchObject({ opt: null, minTtl: 300, udpLimit: 512 });
  });
});

describe('coalescing', () => {
  it('runs one job per key, counts the ones that joined, and forgets a job once it settles, failed or not', async () => {
    const { sink, m } = metrics();
    const inflight = new InFlight(m.coalesced);
    let started = 0;
    let release!: (b: Uint8Array) => void;
    const start = () => (started++, new Promise<Uint8Array>((r) => (release = r)));
    const a = inflight.join('k', start);
    const b = inflight.join('k', start);
    expect(b).toBe(a);
    expect(started).toBe(1);
    release(new Uint8Array([1]));
    await a;
    await inflight.join('k', () => (started++, Promise.reject(new Error('down')))).catch(() => undefined);
    await inflight.join('k', () => (started++, Promise.resolve(new Uint8Array([2]))));
    expect(started).toBe(3);
    expect(sink.value('edge_coalesced_queries_total')).toBe(1);
  });
});

describe('serve-stale', () => {
  const timers = { clientResponseTimerMs: 50, failureRecheckMs: 30_000 };
  function expiredEntry() {
    let now = 0;
    const cache = new AnswerCache(defaultCacheOptions, () => now);
    const key = cacheKey(question, false, false);
    cache.store(key, answer(60));
    now = 61_000;
    return { cache, key, advance: (ms: number) => (now += ms) };
  }

  it('finds only expired entries still within max_stale', () => {
    const { cache, key, advance } = expiredEntry();
    expect(staleEntry(cache, key)?.minTtl).toBe(30);
    advance(86_400_000);
    expect(staleEntry(cache, key)).toBeNull();
  });

  it('answers from a good refresh, and from the stale entry when the refresh fails, then without asking for the recheck window', async () => {
    const { cache, key } = expiredEntry();
    const { sink, m } = metrics();
    const fresh = answer(300);
    expect(await serveStale(key, staleEntry(cache, key)!, async () => ({ body: fresh }), cache, timers, m)).toEqual({ body: fresh, source: 'upstream' });
    const failed = await serveStale(key, staleEntry(cache, key)!, async () => ({ body: answer(0, FLAG_QR, Rcode.SERVFAIL) }), cache, timers, m);
    expect(failed).toMatchObject({ source: 'stale', minTtl: 30 });
    let asked = 0;
    const again = await serveStale(key, staleEntry(cache, key)!, async () => (asked++, { body: fresh }), cache, timers, m);
    expect(again.source).toBe('stale');
    expect(asked).toBe(0);
    expect(sink.snapshot()['edge_stale_answers_total']).toEqual({ 'reason=upstream-failure': 1, 'reason=recheck': 1 });
  });

  it('answers stale after the client response timer while the refresh goes on, and remembers a refresh that then fails', async () => {
    const { cache, key } = expiredEntry();
    const { sink, m } = metrics();
    let fail!: (e: Error) => void;
    const slow = new Promise<{ body: Uint8Array }>((_, reject) => (fail = reject));
    const r = await serveStale(key, staleEntry(cache, key)!, () => slow, cache, timers, m);
    expect(r.source).toBe('stale');
    expect(sink.value('edge_stale_answers_total', { reason: 'timer' })).toBe(1);
    expect(cache.inStaleRefresh(key)).toBe(false);
    fail(new Error('timed out'));
    await slow.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 0));
    expect(cache.inStaleRefresh(key)).toBe(true);
  });
});
