/**
 * What the validator has learnt about zone cuts, kept between answers: a zone's validated
 * DNSKEY set, a proven-insecure delegation, a name proven not to be a zone cut, or a key
 * set that failed (kept only for the bogus TTL, RFC 4035 §4.7, so a broken zone costs one
 * round of fetches per TTL, not one per query). Each entry expires at the earliest of its
 * TTL, its signatures' expiration and `maxTtl`; the cache is bounded in entries and drops
 * the least recently used first.
 */

import type { KeyRing } from '../zone/dnssec-rrsig.js';
import type { Ede } from './ede.js';
import { nameKey } from './names.js';

/** Why a zone is insecure (the result's `reason`). */
export type InsecureReason = 'unsigned-delegation' | 'opt-out' | 'unsupported-algorithm' | 'unsupported-digest' | 'nsec3-iterations' | 'negative-trust-anchor';

export type KeyEntry =
  /** `zone` has a validated DNSKEY RRset: `ring` holds its keys. */
  | { kind: 'secure'; zone: Uint8Array; ring: KeyRing; expires: number }
  /** At and below `zone` nothing can be validated: an unsigned delegation, or only unsupported algorithms or digests. */
  | { kind: 'insecure'; zone: Uint8Array; reason: InsecureReason; why: string; ede?: Ede; expires: number }
  /** `zone` is a name inside its parent zone, not a zone cut; `absent`: it does not exist, nor anything below it. */
  | { kind: 'nocut'; zone: Uint8Array; absent: boolean; expires: number }
  /** The keys for `zone` failed validation (or its DS did). */
  | { kind: 'bogus'; zone: Uint8Array; why: string; ede: Ede; reason: string; expires: number };

export interface KeyCacheOptions {
  /** Most entries kept (default 10,000). */
  maxEntries?: number;
  /** No entry lives longer than this, in seconds (default 86,400). */
  maxTtl?: number;
}

export class KeyCache {
  private readonly entries = new Map<string, KeyEntry>();
  readonly maxEntries: number;
  readonly maxTtl: number;

  constructor(options: KeyCacheOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.maxTtl = options.maxTtl ?? 86_400;
  }

  /** The live entry for lower-case `name` at time `now` (ms), or undefined. */
  get(name: Uint8Array, now: number): KeyEntry | undefined {
    const k = nameKey(name);
    const e = this.entries.get(k);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.entries.delete(k);
      return undefined;
    }
    // most recently used last
    this.entries.delete(k);
    this.entries.set(k, e);
    return e;
  }

  /** Stores `entry` for lower-case `entry.zone`; `expires` is capped at now + maxTtl. */
  set(entry: KeyEntry, now: number): void {
    const k = nameKey(entry.zone);
    entry.expires = Math.min(entry.expires, now + this.maxTtl * 1000);
    this.entries.delete(k);
    this.entries.set(k, entry);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
