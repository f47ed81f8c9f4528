/**
 * Answers that failed validation, remembered briefly (RFC 4035 §4.7) so a bogus zone cannot
 * turn every query for it into a validation storm. The resolver stores a bogus result once it
 * has given up on it (after trying other servers) and, while the entry lives, answers
 * SERVFAIL with the stored EDE without asking upstream. Default 60 s: Unbound's
 * `val-bogus-ttl`; bounded in entries, least recently used dropped first.
 */

import type { ValidationResult } from './validator.js';
import { nameKey } from './names.js';
import { lowerName } from '../dns/name.js';

export const DEFAULT_BOGUS_TTL = 60;

export interface BogusCacheOptions {
  /** Seconds a bogus answer is remembered (default 60). */
  ttl?: number;
  maxEntries?: number;
}

export class BogusCache {
  private readonly entries = new Map<string, { result: ValidationResult; expires: number }>();
  readonly ttl: number;
  readonly maxEntries: number;

  constructor(options: BogusCacheOptions = {}) {
    this.ttl = options.ttl ?? DEFAULT_BOGUS_TTL;
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
  }

  private key(qname: Uint8Array, qtype: number, qclass: number): string {
    return `${qtype}/${qclass}/${nameKey(lowerName(qname))}`;
  }

  /** Remembers a bogus `result` for the question until now + ttl seconds (ms clock). */
  put(qname: Uint8Array, qtype: number, qclass: number, result: ValidationResult, now: number): void {
    if (this.ttl <= 0) return;
    const k = this.key(qname, qtype, qclass);
    this.entries.delete(k);
    this.entries.set(k, { result, expires: now + this.ttl * 1000 });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The remembered bogus result, while it lives. */
  get(qname: Uint8Array, qtype: number, qclass: number, now: number): ValidationResult | undefined {
    const k = this.key(qname, qtype, qclass);
    const e = this.entries.get(k);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.entries.delete(k);
      return undefined;
    }
    return e.result;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
