/**
 * The iterator's cache: RRsets (not whole answers), each with the rank of where it came from
 * (RFC 2181 §5.4.1), the zone and server that sent it, its RRSIGs beside it, and a TTL that
 * counts down; negative entries (RFC 2308: NXDOMAIN per name, NODATA per name and type) with
 * their SOA and, when the server sent them, NSEC/NSEC3 proofs; and glue, kept per delegation so
 * an address learnt in one referral is used only for the delegation it came with.
 *
 * Bounded by entries and bytes, least recently used out first. Shared by every query of a node.
 */

import { inScope, type FlushScope } from '../cache.js';
import { RRType } from '../dns/rr-types.js';
import { u32 } from '../dns/wire.js';
import type { RRset } from './message.js';
import { ancestors, nameKey } from './names.js';

/**
 * Where data came from, most trusted last (RFC 2181 §5.4.1). Data ranked below ANSWER_NONAUTH
 * (glue, additional data, the NS and DS of a referral) is used to find servers, never served as
 * an answer.
 */
export const Rank = {
  /** The additional section: glue, addresses of the NS names of an answer. */
  ADDITIONAL: 1,
  /** The authority section of a non-authoritative answer: a referral's NS and DS. */
  AUTHORITY_NONAUTH: 2,
  /** The answer section of a non-authoritative answer. */
  ANSWER_NONAUTH: 3,
  /** The authority section of an authoritative answer (the zone's own NS, SOA, NSEC). */
  AUTHORITY_AUTH: 4,
  /** The answer section of an authoritative answer (and the local root copy's data). */
  ANSWER_AUTH: 5,
} as const;

/** The lowest rank a client's answer may be served from. */
export const MIN_ANSWER_RANK = Rank.ANSWER_NONAUTH;

/** Which zone (cut) an RRset came from and the server address that sent it. */
export interface Origin {
  zone: Uint8Array;
  /** The server's address, or `local-root` for the local root copy. */
  server: string;
}

export interface CachedSet {
  set: RRset;
  rank: number;
  origin: Origin;
  /** NSEC/NSEC3 RRsets (with RRSIGs) that came with a wildcard answer, for DNSSEC-aware clients. */
  proofs?: RRset[];
}

export interface CachedNegative {
  kind: 'nxdomain' | 'nodata';
  owner: Uint8Array;
  /** The type denied (NODATA); 0 for NXDOMAIN. */
  type: number;
  soa: RRset | null;
  proofs: RRset[];
  rank: number;
  origin: Origin;
}

/** An entry as read: its data and the seconds it has left. */
export interface Hit<T> {
  entry: T;
  ttl: number;
}

export interface RRsetCacheOptions {
  maxEntries: number;
  maxBytes: number;
  /** Upper bound on any TTL, seconds (Unbound's cache-max-ttl, BIND's max-cache-ttl is a week). */
  maxTtl: number;
  /** Upper bound on negative TTLs, seconds (RFC 2308 §5; Unbound's cache-max-negative-ttl). */
  maxNegativeTtl: number;
}

export const defaultRRsetCacheOptions: RRsetCacheOptions = {
  maxEntries: 200_000,
  maxBytes: 64 * 1024 * 1024,
  maxTtl: 86_400,
  maxNegativeTtl: 3_600,
};

interface Slot {
  value: CachedSet | CachedNegative;
  expiresAt: number;
  bytes: number;
}

function setBytes(s: RRset | null): number {
  if (!s) return 0;
  let n = s.owner.length + 32;
  for (const r of s.rdatas) n += r.length + 16;
  for (const r of s.sigs) n += r.length + 16;
  return n;
}

/**
 * Seconds until the earliest RRSIG of `s` expires (RFC 4034 §3.1.5, serial arithmetic on the
 * 32-bit field), or Infinity without signatures; 0 when one has expired. A cached RRset never
 * outlives its signatures.
 */
export function signatureLife(s: RRset, nowMs: number): number {
  let left = Infinity;
  const now = Math.floor(nowMs / 1000) >>> 0;
  for (const sig of s.sigs) {
    if (sig.length < 12) continue;
    const diff = (u32(sig, 8) - now) >>> 0;
    left = Math.min(left, diff >= 0x80000000 ? 0 : diff);
  }
  return left;
}

/** Where the name key that starts at `from` in `key` ends (just past its root label). */
function nameEnd(key: string, from: number): number {
  let i = from;
  while (i < key.length && key.charCodeAt(i) !== 0) i += key.charCodeAt(i) + 1;
  return Math.min(i + 1, key.length);
}

const NO_NAMES: ReadonlySet<string> = new Set();

export class RRsetCache {
  private readonly slots = new Map<string, Slot>();
  private bytes = 0;

  constructor(
    readonly opts: RRsetCacheOptions = defaultRRsetCacheOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.slots.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  clear(): void {
    this.slots.clear();
    this.bytes = 0;
  }

  /**
   * Removes the entries in `scope` (every entry for null): RRsets and negative entries of its
   * names, or of names at and under its suffixes, and glue whose owner is in scope or that came
   * with a delegation in it. Returns how many went.
   */
  flush(scope: FlushScope | null): number {
    if (!scope) {
      const n = this.slots.size;
      this.clear();
      return n;
    }
    const names = new Set(scope.names.map(nameKey));
    const zones = new Set(scope.suffixes.map(nameKey));
    let n = 0;
    for (const [key, slot] of [...this.slots]) {
      // keys: `p|owner|type`, `n|owner|type`, `x|owner`, `g|zone|owner|type`; a name key is
      // wire form (length-prefixed labels, then 0), so it is walked, never split on "|"
      const first = nameEnd(key, 2);
      const owner = key.slice(2, first);
      const hit = key[0] === 'g' ? inScope(owner, NO_NAMES, zones) || inScope(key.slice(first + 1, nameEnd(key, first + 1)), names, zones) : inScope(owner, names, zones);
      if (hit) {
        this.drop(key, slot);
        n++;
      }
    }
    return n;
  }

  private read<T>(key: string): Hit<T> | null {
    const slot = this.slots.get(key);
    if (!slot) return null;
    const left = slot.expiresAt - this.now();
    if (left <= 0) {
      this.drop(key, slot);
      return null;
    }
    // Least recently used goes first: a read moves the entry to the back.
    this.slots.delete(key);
    this.slots.set(key, slot);
    return { entry: slot.value as T, ttl: Math.ceil(left / 1000) };
  }

  private drop(key: string, slot: Slot): void {
    this.slots.delete(key);
    this.bytes -= slot.bytes;
  }

  private write(key: string, value: Slot['value'], ttl: number, bytes: number): void {
    const old = this.slots.get(key);
    if (old) this.drop(key, old);
    this.slots.set(key, { value, expiresAt: this.now() + ttl * 1000, bytes });
    this.bytes += bytes;
    for (const [k, s] of this.slots) {
      if (this.slots.size <= this.opts.maxEntries && this.bytes <= this.opts.maxBytes) break;
      this.drop(k, s);
    }
  }

  /** The rank an entry under `key` still holds (0 when none or expired). */
  private rankAt(key: string): number {
    const slot = this.slots.get(key);
    if (!slot || slot.expiresAt <= this.now()) return 0;
    return (slot.value as { rank: number }).rank;
  }

  private clampTtl(s: RRset, ttl: number): number {
    let t = Math.min(ttl, this.opts.maxTtl);
    if (s.sigs.length > 0) t = Math.min(t, s.sigTtl, signatureLife(s, this.now()));
    return Math.max(0, Math.floor(t));
  }

  /** An RRset of at least `minRank`. */
  get(owner: Uint8Array, type: number, minRank: number = MIN_ANSWER_RANK): Hit<CachedSet> | null {
    const hit = this.read<CachedSet>(`p|${nameKey(owner)}|${type}`);
    return hit && hit.entry.rank >= minRank ? hit : null;
  }

  /**
   * Stores an RRset unless a live one of higher rank is there (RFC 2181 §5.4.1: data is never
   * replaced by less trusted data). Returns whether it was stored; a TTL of 0 is never stored.
   */
  put(entry: CachedSet): boolean {
    const s = entry.set;
    const key = `p|${nameKey(s.owner)}|${s.type}`;
    if (this.rankAt(key) > entry.rank) return false;
    const ttl = this.clampTtl(s, s.ttl);
    if (ttl <= 0) return false;
    this.write(key, entry, ttl, setBytes(s) + (entry.proofs ?? []).reduce((n, p) => n + setBytes(p), 0));
    // What is now known to exist is no longer denied.
    const owner = nameKey(s.owner);
    for (const k of [`n|${owner}|${s.type}`, `x|${owner}`]) {
      const old = this.slots.get(k);
      if (old) this.drop(k, old);
    }
    return true;
  }

  /** NODATA for (owner, type), or NXDOMAIN for owner. */
  getNegative(owner: Uint8Array, type: number): Hit<CachedNegative> | null {
    const key = nameKey(owner);
    return this.read<CachedNegative>(`n|${key}|${type}`) ?? this.read<CachedNegative>(`x|${key}`);
  }

  /**
   * Stores a negative answer for `ttl` seconds (the caller takes it from the SOA, RFC 2308 §5),
   * capped at maxNegativeTtl and at the life of the signatures that came with it.
   */
  putNegative(entry: CachedNegative, ttl: number): boolean {
    const owner = nameKey(entry.owner);
    const key = entry.kind === 'nxdomain' ? `x|${owner}` : `n|${owner}|${entry.type}`;
    if (this.rankAt(key) > entry.rank) return false;
    let t = Math.min(ttl, this.opts.maxNegativeTtl);
    for (const s of [entry.soa, ...entry.proofs]) if (s) t = Math.min(t, this.clampTtl(s, s.ttl));
    t = Math.floor(t);
    if (t <= 0) return false;
    this.write(key, entry, t, 64 + setBytes(entry.soa) + entry.proofs.reduce((n, p) => n + setBytes(p), 0));
    return true;
  }

  /** Glue (A or AAAA of an NS name) that came with the delegation of `zone`. */
  getGlue(zone: Uint8Array, owner: Uint8Array, type: number): Hit<CachedSet> | null {
    return this.read<CachedSet>(`g|${nameKey(zone)}|${nameKey(owner)}|${type}`);
  }

  putGlue(zone: Uint8Array, entry: CachedSet): boolean {
    const s = entry.set;
    const key = `g|${nameKey(zone)}|${nameKey(s.owner)}|${s.type}`;
    if (this.rankAt(key) > entry.rank) return false;
    const ttl = this.clampTtl(s, s.ttl);
    if (ttl <= 0) return false;
    this.write(key, entry, ttl, setBytes(s));
    return true;
  }

  /**
   * The deepest cached NS RRset (any rank) at or above `name`; strictly above it when
   * `above` (where a DS query for `name` goes: the parent side of the cut).
   */
  delegation(name: Uint8Array, above: boolean): Hit<CachedSet> | null {
    const names = ancestors(name);
    for (let i = above && names.length > 1 ? 1 : 0; i < names.length; i++) {
      const hit = this.get(names[i]!, RRType.NS, 0);
      if (hit) return hit;
    }
    return null;
  }
}
