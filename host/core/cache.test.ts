import { describe, expect, it } from 'vitest';
import { AnswerCache, cacheKey, defaultCacheOptions } from './cache.js';
import { MemoryMetrics } from './metrics.js';
import { HEADER_LEN, concat, put16, put32, textToName, u32, walkRecords, encodeQuestion, FLAG_QR } from './dns/wire.js';

const q = { name: textToName('www.example.test.'), type: 1, class: 1 };

function rr(name: string, type: number, ttl: number, rdata: number[]): Uint8Array {
  const n = textToName(name);
  const out = new Uint8Array(n.length + 10 + rdata.length);
  out.set(n, 0);
  put16(out, n.length, type);
  put16(out, n.length + 2, 1);
  put32(out, n.length + 4, ttl);
  put16(out, n.length + 8, rdata.length);
  out.set(rdata, n.length + 10);
  return out;
}

function response(rcode: number, answers: Uint8Array[], authority: Uint8Array[] = []): Uint8Array {
  const h = new Uint8Array(HEADER_LEN);
  put16(h, 2, FLAG_QR | rcode);
  put16(h, 4, 1);
  put16(h, 6, answers.length);
  put16(h, 8, authority.length);
  return concat([h, encodeQuestion(q), ...answers, ...authority]);
}

const soaRdata = [...textToName('ns.example.test.'), ...textToName('h.example.test.'), 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 60];

function ttls(msg: Uint8Array): number[] {
  return walkRecords(msg).records.map((r) => u32(msg, r.ttlOffset));
}

describe('answer cache', () => {
  it('counts TTLs down and expires entries', () => {
    let now = 0;
    const c = new AnswerCache(defaultCacheOptions, () => now);
    const key = cacheKey(q, false, false);
    expect(c.store(key, response(0, [rr('www.example.test.', 1, 300, [192, 0, 2, 1]), rr('www.example.test.', 1, 100, [192, 0, 2, 2])]))).toBe(true);
    now = 40_500;
    const hit = c.get(key)!;
    expect(ttls(hit.body)).toEqual([260, 60]);
    expect(hit.minTtl).toBe(60);
    now = 100_000;
    expect(c.get(key)).toBeNull();
  });

  it('finds an entry straight from the question as get finds it by key: any case, only its own type and DO/CD bits, gone once evicted or flushed', () => {
    let now = 0;
    const c = new AnswerCache({ ...defaultCacheOptions, maxEntries: 2 }, () => now);
    const a = response(0, [rr('www.example.test.', 1, 300, [192, 0, 2, 1])]);
    expect(c.store(cacheKey(q, true, false), a)).toBe(true);
    const upper = { ...q, name: textToName('WWW.Example.TEST.') };
    now = 10_000;
    expect(ttls(c.find(upper, true, false)!.body)).toEqual([290]);
    expect(c.find(q, false, false)).toBeNull();
    expect(c.find(q, true, true)).toBeNull();
    expect(c.find({ ...q, type: 28 }, true, false)).toBeNull();
    expect(c.find({ ...q, name: textToName('www.example.tesu.') }, true, false)).toBeNull();
    // The hit counts as a use: of the two entries after it, the other goes first.
    expect(c.store(cacheKey({ ...q, type: 16 }, true, false), a)).toBe(true);
    expect(c.find(q, true, false)).not.toBeNull();
    expect(c.store(cacheKey({ ...q, type: 2 }, true, false), a)).toBe(true);
    expect(c.find({ ...q, type: 16 }, true, false)).toBeNull();
    expect(c.find(q, true, false)).not.toBeNull();
    c.flush({ names: [q.name], suffixes: [] });
    expect(c.find(q, true, false)).toBeNull();
    // Keys that are not cacheKeys (a plain name) are found by get only.
    expect(c.store('plain', a)).toBe(true);
    expect(c.get('plain')).not.toBeNull();
    now = 400_000;
    expect(c.find({ ...q, type: 2 }, true, false)).toBeNull();
  });

  it('keeps two questions whose hashes collide apart: each is found as itself, and removing one leaves the other', () => {
    // y3tnfufj.t. and wn3ofjku.t. (type A, class IN, no DO/CD) share a 32-bit FNV-1a hash.
    const c = new AnswerCache(defaultCacheOptions, () => 0);
    const [x, y] = ['y3tnfufj.t.', 'wn3ofjku.t.'].map((n) => ({ name: textToName(n), type: 1, class: 1 })) as [typeof q, typeof q];
    expect(c.store(cacheKey(x, false, false), response(0, [rr('y3tnfufj.t.', 1, 300, [192, 0, 2, 1])]))).toBe(true);
    expect(c.store(cacheKey(y, false, false), response(0, [rr('wn3ofjku.t.', 1, 300, [192, 0, 2, 2])]))).toBe(true);
    const address = (n: typeof q) => [...c.find(n, false, false)!.body.slice(-4)];
    expect(address(x)).toEqual([192, 0, 2, 1]);
    expect(address(y)).toEqual([192, 0, 2, 2]);
    c.flush({ names: [x.name], suffixes: [] });
    expect(c.find(x, false, false)).toBeNull();
    expect(address(y)).toEqual([192, 0, 2, 2]);
  });

  it('caches NXDOMAIN and NODATA for min(SOA TTL, SOA MINIMUM), and not without an SOA', () => {
    let now = 0;
    const c = new AnswerCache(defaultCacheOptions, () => now);
    const soa = rr('example.test.', 6, 3600, soaRdata);
    expect(c.store('nx', response(3, [], [soa]))).toBe(true);
    expect(c.store('nodata', response(0, [], [soa]))).toBe(true);
    expect(c.store('nosoa', response(3, []))).toBe(false);
    expect(c.get('nx')!.kind).toBe('negative');
    expect(ttls(c.get('nx')!.body)).toEqual([60]);
    now = 61_000;
    expect(c.get('nx')).toBeNull();
    expect(c.get('nodata')).toBeNull();
  });

  it('never caches truncated answers or answers with TTL 0', () => {
    const c = new AnswerCache();
    const tc = response(0, [rr('www.example.test.', 1, 300, [1, 2, 3, 4])]);
    put16(tc, 2, FLAG_QR | 0x0200);
    expect(c.store('tc', tc)).toBe(false);
    expect(c.store('zero', response(0, [rr('www.example.test.', 1, 0, [1, 2, 3, 4])]))).toBe(false);
  });

  it('serves stale entries only when asked, with the stale TTL, until the stale window ends', () => {
    let now = 0;
    const c = new AnswerCache({ ...defaultCacheOptions, maxStaleSec: 3600 }, () => now);
    c.store('k', response(0, [rr('www.example.test.', 1, 10, [1, 2, 3, 4])]));
    now = 20_000;
    expect(c.get('k')).toBeNull();
    const stale = c.get('k', true)!;
    expect(stale.stale).toBe(true);
    expect(ttls(stale.body)).toEqual([30]);
    now = 10_000 + 3600_000 + 1;
    expect(c.get('k', true)).toBeNull();
  });

  it('keeps an answer that can be served stale when the upstream then answers SERVFAIL', () => {
    let now = 0;
    const c = new AnswerCache({ ...defaultCacheOptions, maxStaleSec: 3600 }, () => now);
    c.store('k', response(0, [rr('www.example.test.', 1, 10, [1, 2, 3, 4])]));
    now = 20_000;
    expect(c.store('k', response(2, []))).toBe(false);
    expect(c.inStaleRefresh('k')).toBe(true);
    expect(c.get('k', true)).toMatchObject({ stale: true, kind: 'positive' });
    // With nothing to serve stale, the failure is remembered (RFC 9520).
    expect(c.store('other', response(2, []))).toBe(true);
    expect(c.get('other')?.kind).toBe('failure');
  });

  it('applies a TTL cap to the entry lifetime', () => {
    let now = 0;
    const c = new AnswerCache(defaultCacheOptions, () => now);
    c.store('k', response(0, [rr('www.example.test.', 1, 3000, [1, 2, 3, 4])]), 60);
    expect(ttls(c.get('k')!.body)).toEqual([60]);
    now = 61_000;
    expect(c.get('k')).toBeNull();
  });

  it('evicts the least recently used entry at the size bound', () => {
    const c = new AnswerCache({ ...defaultCacheOptions, maxEntries: 2 });
    const r = response(0, [rr('www.example.test.', 1, 300, [1, 2, 3, 4])]);
    c.store('a', r);
    c.store('b', r);
    c.get('a');
    c.store('c', r);
    expect(c.get('b')).toBeNull();
    expect(c.get('a')).not.toBeNull();
    expect(c.get('c')).not.toBeNull();
    expect(c.evictions).toBe(1);
  });

  it('evicts least recently used entries at the byte bound, whatever the entry count', () => {
    const r = response(0, [rr('www.example.test.', 1, 300, [1, 2, 3, 4])]);
    const one = new AnswerCache();
    one.store('a', r);
    const size = one.stats.bytes;
    // Room for three entries (and a bit), far below the entry bound.
    const c = new AnswerCache({ ...defaultCacheOptions, maxBytes: 3 * size + size / 2 });
    c.store('a', r);
    c.store('b', r);
    c.store('c', r);
    expect(c.stats).toEqual({ entries: 3, bytes: 3 * size });
    c.get('a');
    c.store('d', r);
    expect(c.get('b')).toBeNull();
    for (const k of ['a', 'c', 'd']) expect(c.get(k)).not.toBeNull();
    expect(c.evictions).toBe(1);
    // A larger answer makes room for itself by evicting as many entries as it takes.
    const big = response(0, Array.from({ length: 3 }, (_, i) => rr('www.example.test.', 1, 300, [10, 0, 0, i])));
    c.store('big', big);
    expect(c.stats.bytes).toBeLessThanOrEqual(c.opts.maxBytes);
    expect(c.get('big')).not.toBeNull();
    expect(c.get('d')).not.toBeNull();
    expect(c.evictions).toBe(3);
  });

  it('reports entries, bytes and evictions whatever changes them; a replaced cache stops reporting', () => {
    let now = 0;
    const m = new MemoryMetrics();
    const r = response(0, [rr('www.example.test.', 1, 300, [1, 2, 3, 4])]);
    const c = new AnswerCache({ ...defaultCacheOptions, maxEntries: 2 }, () => now);
    c.reportTo(m);
    const shown = () => ({ entries: m.value('edge_cache_entries'), bytes: m.value('edge_cache_bytes') });
    c.store('a', r);
    c.store('b', response(0, [rr('www.example.test.', 1, 10, [1, 2, 3, 4])]));
    expect(shown()).toEqual(c.stats);
    c.store('c', r);
    expect(m.value('edge_cache_evictions_total')).toBe(1);
    expect(shown()).toEqual(c.stats);
    // Expired past the stale window: the lookup drops it, and the gauges follow.
    now = (10 + defaultCacheOptions.maxStaleSec + 1) * 1000;
    expect(c.get('b', true)).toBeNull();
    expect(shown()).toEqual({ entries: 1, bytes: c.stats.bytes });
    c.flush(null);
    expect(shown()).toEqual({ entries: 0, bytes: 0 });
    const next = new AnswerCache();
    next.reportTo(m);
    next.store('x', r);
    c.store('y', r);
    c.store('z', r);
    c.store('w', r);
    expect(shown()).toEqual(next.stats);
    expect(m.value('edge_cache_evictions_total')).toBe(1);
  });

  it("finds an app's answer only under its stamp, never by get, never stale, and lets a failure replace it", () => {
    let now = 0;
    const c = new AnswerCache(defaultCacheOptions, () => now);
    const key = cacheKey(q, false, false);
    expect(c.store(key, response(3, [], [rr('example.test.', 6, 300, soaRdata)]), 0, c.generation, 7)).toBe(true);
    expect(c.find(q, false, false, 7)?.fromApp).toBe(true);
    expect(c.find(q, false, false, 8)).toBeNull();
    expect(c.find(q, false, false)).toBeNull();
    expect(c.get(key)).toBeNull();
    expect(c.get(key, true)).toBeNull();
    now = 61_000; // past its 60 s negative TTL: gone, not stale
    expect(c.find(q, false, false, 7)).toBeNull();
    expect(c.stats.entries).toBe(0);
    // cache.min_ttl raises an upstream's short TTLs, never an app's (static_zone's never outlive the copy's signatures).
    const floored = new AnswerCache({ ...defaultCacheOptions, minTtl: 3600 }, () => now);
    const short = response(0, [rr('www.example.test.', 1, 60, [192, 0, 2, 1])]);
    expect(floored.store(key, short, 0, floored.generation, 7)).toBe(true);
    expect(ttls(floored.find(q, false, false, 7)!.body)).toEqual([60]);
    expect(floored.store(cacheKey({ ...q, type: 28 }, false, false), short)).toBe(true);
    expect(ttls(floored.find({ ...q, type: 28 }, false, false)!.body)).toEqual([3600]);
    // A SERVFAIL from the upstream replaces it (an upstream answer that could be served stale it would not).
    const failing = new AnswerCache({ ...defaultCacheOptions, failureTtl: 5 }, () => now);
    expect(failing.store(key, response(3, [], [rr('example.test.', 6, 300, soaRdata)]), 0, failing.generation, 7)).toBe(true);
    expect(failing.store(key, response(2, []))).toBe(true);
    expect(failing.find(q, false, false)?.kind).toBe('failure');
    // An upstream answer stored under the key is everyone's.
    expect(c.store(key, response(0, [rr('www.example.test.', 1, 300, [192, 0, 2, 1])]))).toBe(true);
    expect(c.find(q, false, false)?.fromApp).toBe(false);
  });

  it("bounds apps' kept answers to their share: a flood of them evicts each other, not the upstream's answers", () => {
    const c = new AnswerCache({ ...defaultCacheOptions, maxEntries: 100 }, () => 0);
    const nx = response(3, [], [rr('example.test.', 6, 300, soaRdata)]);
    const a = response(0, [rr('www.example.test.', 1, 300, [192, 0, 2, 1])]);
    const name = (i: number) => ({ ...q, name: textToName(`n${i}.example.test.`) });
    for (let i = 0; i < 70; i++) expect(c.store(cacheKey(name(i), false, false), a)).toBe(true);
    for (let i = 1000; i < 2000; i++) expect(c.store(cacheKey(name(i), false, false), nx, 0, c.generation, 3)).toBe(true);
    // All 70 upstream answers, and only the newest 25 kept answers (a quarter of 100).
    for (let i = 0; i < 70; i++) expect(c.find(name(i), false, false), `upstream ${i}`).not.toBeNull();
    expect(c.find(name(1975), false, false, 3)?.fromApp).toBe(true);
    expect(c.find(name(1974), false, false, 3)).toBeNull();
    expect(c.stats.entries).toBe(95);
    // Past the total bound the least recently used entry of either kind goes: here a kept answer
    // (the upstream answers were all just asked for), then an upstream one.
    for (let i = 0; i < 70; i++) c.find(name(i), false, false);
    for (let i = 70; i < 76; i++) expect(c.store(cacheKey(name(i), false, false), a)).toBe(true);
    expect(c.stats.entries).toBe(100);
    expect(c.find(name(1976), false, false, 3)).toBeNull();
    expect(c.find(name(1977), false, false, 3)).not.toBeNull();
    expect(c.find(name(0), false, false)).not.toBeNull();
  });

  it("admits an app's answer on its question's second sighting, in any case, per DO/CD bits", () => {
    const c = new AnswerCache();
    const upper = { ...q, name: textToName('WWW.EXAMPLE.test.') };
    expect(c.admit(q, false, false)).toBe(false);
    expect(c.admit(q, true, false)).toBe(false);
    expect(c.admit(upper, false, false)).toBe(true);
    expect(c.admit(q, true, false)).toBe(true);
    expect(c.admit({ ...q, type: 28 }, false, false)).toBe(false);
    // A flood of new names takes the slots; a name seen once before it has to be seen twice again.
    // (Each slot is missed by a million random names with odds of e^-15.)
    for (let i = 0; i < 1_000_000; i++) c.admit({ ...q, name: textToName(`r${i}.example.test.`) }, false, false);
    expect(c.admit({ ...q, type: 28 }, false, false)).toBe(false);
  });

  it('keys on the lower-cased name and the DO and CD bits', () => {
    const upper = { ...q, name: textToName('WWW.EXAMPLE.TEST.') };
    expect(cacheKey(upper, false, false)).toBe(cacheKey(q, false, false));
    expect(cacheKey(q, true, false)).not.toBe(cacheKey(q, false, false));
    expect(cacheKey(q, false, true)).not.toBe(cacheKey(q, false, false));
  });
});

describe('flushing', () => {
  const a = response(0, [rr('www.example.test.', 1, 300, [192, 0, 2, 1])]);
  const key = (name: string, type = 1) => cacheKey({ name: textToName(name), type, class: 1 }, false, false);

  it('removes an exact name (every type), a zone and what is under it on label boundaries, or everything', () => {
    const c = new AnswerCache(defaultCacheOptions, () => 0);
    const names = ['www.example.test.', 'example.test.', 'a.b.example.test.', 'notexample.test.', 'other.', 'x.com.'];
    const fill = () => {
      for (const n of names) c.store(key(n), a);
      c.store(key('www.example.test.', 28), a);
    };
    fill();
    expect(c.flush({ names: [textToName('WWW.example.test.')], suffixes: [] })).toBe(2);
    expect(c.get(key('example.test.'))).not.toBeNull();
    fill();
    expect(c.flush({ names: [], suffixes: [textToName('Example.test.'), textToName('com.')] })).toBe(5);
    expect(c.get(key('notexample.test.'))).not.toBeNull();
    expect(c.get(key('other.'))).not.toBeNull();
    fill();
    expect(c.flush({ names: [], suffixes: [textToName('.')] })).toBe(7);
    fill();
    expect(c.flush(null)).toBe(7);
    expect(c.stats).toEqual({ entries: 0, bytes: 0 });
  });

  it('finds the owner of a key whose labels hold "|"', () => {
    const c = new AnswerCache(defaultCacheOptions, () => 0);
    const odd = new Uint8Array([3, 0x61, 0x7c, 0x62, 4, ...new TextEncoder().encode('test'), 0]);
    const k = cacheKey({ name: odd, type: 1, class: 1 }, false, false);
    c.store(k, a);
    expect(c.flush({ names: [], suffixes: [textToName('test.')] })).toBe(1);
  });

  it('does not store an answer asked for before a flush', () => {
    const c = new AnswerCache(defaultCacheOptions, () => 0);
    const askedAt = c.generation;
    c.flush({ names: [textToName('unrelated.')], suffixes: [] });
    expect(c.store(key('www.example.test.'), a, 0, askedAt)).toBe(false);
    expect(c.store(key('www.example.test.'), a, 0, c.generation)).toBe(true);
  });

  it('cap lowers a fresh entry to the cap from when it was stored, never raises it, leaves a stale one alone', () => {
    let now = 0;
    const c = new AnswerCache(defaultCacheOptions, () => now);
    c.store(key('www.example.test.'), a, 0);
    now = 2_000;
    c.cap(key('www.example.test.'), 10);
    expect(ttls(c.get(key('www.example.test.'))!.body)).toEqual([8]);
    c.cap(key('www.example.test.'), 100);
    expect(ttls(c.get(key('www.example.test.'))!.body)).toEqual([8]);
    now = 10_500;
    expect(c.get(key('www.example.test.'))).toBeNull();
    expect(c.get(key('www.example.test.'), true)!.stale).toBe(true);
    c.cap(key('www.example.test.'), 1);
    expect(c.get(key('www.example.test.'), true)!.stale).toBe(true);
  });
});
