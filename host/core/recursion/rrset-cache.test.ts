import { describe, expect, it } from 'vitest';
import { RRType } from '../dns/rr-types.js';
import { put32, textToName } from '../dns/wire.js';
import type { RRset } from './message.js';
import { RRsetCache, Rank, defaultRRsetCacheOptions, signatureLife, type RRsetCacheOptions } from './rrset-cache.js';

const n = textToName;
const origin = { zone: n('example.'), server: '192.0.2.53' };
const set = (owner: string, type: number, ttl: number, rdata = [192, 0, 2, 1], sigs: Uint8Array[] = []): RRset => ({
  owner: n(owner), type, class: 1, ttl, rdatas: [Uint8Array.from(rdata)], sigs, sigTtl: ttl,
});

function cache(opts: Partial<RRsetCacheOptions> = {}) {
  const clock = { t: 1_700_000_000_000 };
  return { c: new RRsetCache({ ...defaultRRsetCacheOptions, ...opts }, () => clock.t), clock };
}

/** An RRSIG RDATA expiring at `exp` (seconds since the epoch). */
function sig(exp: number): Uint8Array {
  const b = new Uint8Array(20);
  put32(b, 8, exp);
  return b;
}

describe('RRset cache', () => {
  it('counts TTLs down and drops what expired', () => {
    const { c, clock } = cache();
    expect(c.put({ set: set('www.example.', RRType.A, 60), rank: Rank.ANSWER_AUTH, origin })).toBe(true);
    clock.t += 20_500;
    expect(c.get(n('WWW.Example.'), RRType.A)!.ttl).toBe(40);
    clock.t += 40_000;
    expect(c.get(n('www.example.'), RRType.A)).toBeNull();
    expect(c.size).toBe(0);
  });

  it('never replaces data with less trusted data while it lives (RFC 2181 §5.4.1)', () => {
    const { c, clock } = cache();
    c.put({ set: set('example.', RRType.NS, 300, [2, 110, 115, 0]), rank: Rank.ANSWER_AUTH, origin });
    expect(c.put({ set: set('example.', RRType.NS, 900, [2, 120, 120, 0]), rank: Rank.AUTHORITY_NONAUTH, origin })).toBe(false);
    expect(c.get(n('example.'), RRType.NS)!.entry.set.rdatas[0]![1]).toBe(110);
    clock.t += 301_000;
    expect(c.put({ set: set('example.', RRType.NS, 900, [2, 120, 120, 0]), rank: Rank.AUTHORITY_NONAUTH, origin })).toBe(true);
    // A referral's NS finds servers but is no answer.
    expect(c.get(n('example.'), RRType.NS)).toBeNull();
    expect(c.get(n('example.'), RRType.NS, 0)).not.toBeNull();
  });

  it('caps TTLs, stores nothing with TTL 0, and never outlives a signature', () => {
    const { c, clock } = cache({ maxTtl: 100 });
    c.put({ set: set('a.example.', RRType.A, 1_000_000), rank: Rank.ANSWER_AUTH, origin });
    expect(c.get(n('a.example.'), RRType.A)!.ttl).toBe(100);
    expect(c.put({ set: set('z.example.', RRType.A, 0), rank: Rank.ANSWER_AUTH, origin })).toBe(false);
    const now = Math.floor(clock.t / 1000);
    c.put({ set: set('s.example.', RRType.A, 90, undefined, [sig(now + 30)]), rank: Rank.ANSWER_AUTH, origin });
    expect(c.get(n('s.example.'), RRType.A)!.ttl).toBe(30);
    expect(c.put({ set: set('e.example.', RRType.A, 90, undefined, [sig(now - 1)]), rank: Rank.ANSWER_AUTH, origin })).toBe(false);
    expect(signatureLife(set('x.', RRType.A, 1), clock.t)).toBe(Infinity);
  });

  it('keeps NXDOMAIN per name and NODATA per name and type, capped; an answer clears them', () => {
    const { c } = cache({ maxNegativeTtl: 50 });
    const soa = set('example.', RRType.SOA, 3600);
    c.putNegative({ kind: 'nxdomain', owner: n('gone.example.'), type: 0, soa, proofs: [], rank: Rank.ANSWER_AUTH, origin }, 300);
    c.putNegative({ kind: 'nodata', owner: n('www.example.'), type: RRType.AAAA, soa, proofs: [], rank: Rank.ANSWER_AUTH, origin }, 30);
    expect(c.getNegative(n('gone.example.'), RRType.MX)).toMatchObject({ entry: { kind: 'nxdomain' }, ttl: 50 });
    expect(c.getNegative(n('www.example.'), RRType.AAAA)).toMatchObject({ entry: { kind: 'nodata' }, ttl: 30 });
    expect(c.getNegative(n('www.example.'), RRType.A)).toBeNull();
    c.put({ set: set('www.example.', RRType.AAAA, 60, new Array(16).fill(1)), rank: Rank.ANSWER_AUTH, origin });
    expect(c.getNegative(n('www.example.'), RRType.AAAA)).toBeNull();
  });

  it('keeps glue per delegation: another delegation and answers do not see it', () => {
    const { c } = cache();
    c.putGlue(n('example.'), { set: set('ns.example.', RRType.A, 300), rank: Rank.ADDITIONAL, origin });
    expect(c.getGlue(n('example.'), n('ns.example.'), RRType.A)).not.toBeNull();
    expect(c.getGlue(n('other.'), n('ns.example.'), RRType.A)).toBeNull();
    expect(c.get(n('ns.example.'), RRType.A, 0)).toBeNull();
  });

  it('finds the deepest delegation, and for DS the one above the name', () => {
    const { c } = cache();
    c.put({ set: set('.', RRType.NS, 300, [0]), rank: Rank.ANSWER_AUTH, origin });
    c.put({ set: set('example.', RRType.NS, 300, [0]), rank: Rank.AUTHORITY_NONAUTH, origin });
    expect(c.delegation(n('a.b.example.'), false)!.entry.set.owner).toEqual(n('example.'));
    expect(c.delegation(n('example.'), false)!.entry.set.owner).toEqual(n('example.'));
    expect(c.delegation(n('example.'), true)!.entry.set.owner).toEqual(n('.'));
    expect(c.delegation(n('.'), true)!.entry.set.owner).toEqual(n('.'));
  });

  it('is bounded by entries and by bytes, least recently used out first', () => {
    const { c } = cache({ maxEntries: 2 });
    c.put({ set: set('a.', RRType.A, 60), rank: Rank.ANSWER_AUTH, origin });
    c.put({ set: set('b.', RRType.A, 60), rank: Rank.ANSWER_AUTH, origin });
    c.get(n('a.'), RRType.A);
    c.put({ set: set('c.', RRType.A, 60), rank: Rank.ANSWER_AUTH, origin });
    expect(c.get(n('b.'), RRType.A)).toBeNull();
    expect(c.get(n('a.'), RRType.A)).not.toBeNull();
    const small = cache({ maxBytes: 300 }).c;
    for (let i = 0; i < 10; i++) small.put({ set: set(`h${i}.`, RRType.A, 60), rank: Rank.ANSWER_AUTH, origin });
    expect(small.byteSize).toBeLessThanOrEqual(300);
    expect(small.get(n('h9.'), RRType.A)).not.toBeNull();
  });

  it('flushes a name, a zone and what is under it (glue of its delegations too), or everything', () => {
    const { c } = cache();
    const negative = (owner: string) => ({ kind: 'nxdomain' as const, owner: n(owner), type: 0, soa: null, proofs: [], rank: Rank.AUTHORITY_AUTH, origin });
    const fill = () => {
      c.clear();
      c.put({ set: set('example.', RRType.NS, 300, [2, 110, 115, 0]), rank: Rank.AUTHORITY_NONAUTH, origin });
      c.putGlue(n('example.'), { set: set('ns.other.', RRType.A, 300), rank: Rank.ADDITIONAL, origin });
      c.put({ set: set('www.example.', RRType.A, 300), rank: Rank.ANSWER_AUTH, origin });
      c.putNegative(negative('nope.example.'), 300);
      c.put({ set: set('www.other.', RRType.A, 300), rank: Rank.ANSWER_AUTH, origin });
      // a label holding "|" and a zero byte must not confuse the walk over the keys
      c.put({ set: { ...set('www.other.', RRType.A, 300), owner: Uint8Array.from([3, 0x7c, 0, 0x7c, ...n('example.')]) }, rank: Rank.ANSWER_AUTH, origin });
    };
    fill();
    expect(c.flush({ names: [n('WWW.example.')], suffixes: [] })).toBe(1);
    expect(c.get(n('www.example.'), RRType.A)).toBeNull();
    expect(c.get(n('example.'), RRType.NS, 0)).not.toBeNull();
    fill();
    expect(c.flush({ names: [], suffixes: [n('example.')] })).toBe(5);
    expect([c.delegation(n('www.example.'), false), c.getGlue(n('example.'), n('ns.other.'), RRType.A), c.getNegative(n('nope.example.'), RRType.A)]).toEqual([null, null, null]);
    expect(c.get(n('www.other.'), RRType.A)).not.toBeNull();
    // glue is flushed by its owner's name too, whatever delegation it came with
    fill();
    expect(c.flush({ names: [n('ns.other.')], suffixes: [] })).toBe(1);
    fill();
    expect(c.flush(null)).toBe(6);
    expect(c.size).toBe(0);
  });
});
