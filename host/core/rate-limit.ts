/**
 * Queries per second per client (Unbound's `ip-ratelimit`, Knot's and BIND's RRL on the client
 * side): a token bucket per IPv4 address and per IPv6 prefix (/56 by default: one customer's
 * network, not one of its 2^72 addresses), refilled at `qps` up to `burst`.
 *
 * The table is bounded. A bucket that has refilled completely holds nothing worth keeping and is
 * swept out (at most once a second, and only when the table is full). When the table is full of
 * clients still sending, a new address does not evict a tracked one (a flood of spoofed sources
 * would otherwise reset every real client's bucket): it shares one overflow bucket with every
 * other address that did not fit, so a spoofed flood limits itself.
 */

import { addressBytes, inRange, type AccessRule } from './access.js';

export interface RateLimitOptions {
  /** Queries per second per client; 0 is off. */
  qps: number;
  /** Queries a client may send at once after being quiet. */
  burst: number;
  ipv4Prefix: number;
  ipv6Prefix: number;
  /** Clients tracked at once. */
  maxClients: number;
  /** Ranges never limited (the site's peers are added to these). */
  exempt: AccessRule[];
}

interface Bucket {
  tokens: number;
  /** ms */
  at: number;
}

export type RateVerdict = 'pass' | 'limited';

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly overflow: Bucket = { tokens: 0, at: 0 };
  private lastSweep = 0;
  /** Over-limit queries so far, for the UDP slip (every Nth gets TC=1). */
  private limitedCount = 0;

  constructor(
    private opts: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.overflow.tokens = opts.burst;
  }

  get enabled(): boolean {
    return this.opts.qps > 0;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** A reload: the new limits apply to the buckets already there; a smaller table is swept to fit. */
  configure(opts: RateLimitOptions): void {
    this.opts = opts;
    if (!this.enabled) this.buckets.clear();
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= opts.maxClients) break;
      this.buckets.delete(k);
    }
  }

  /** Takes a token for `address`: 'pass', or 'limited' when its bucket is empty. */
  take(address: string): RateVerdict {
    if (!this.enabled) return 'pass';
    const a = addressBytes(address);
    if (!a) return 'pass';
    for (const r of this.opts.exempt) if (inRange(a, r)) return 'pass';
    const key = this.key(a);
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.opts.maxClients) this.sweep(now);
      if (this.buckets.size >= this.opts.maxClients) b = this.overflow;
      else {
        b = { tokens: this.opts.burst, at: now };
        this.buckets.set(key, b);
      }
    }
    this.refill(b, now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 'pass';
    }
    return 'limited';
  }

  /** For the UDP slip: true on every `slip`th limited query (0: never). */
  slip(every: number): boolean {
    if (every <= 0) return false;
    this.limitedCount = (this.limitedCount + 1) % every;
    return this.limitedCount === 0;
  }

  private refill(b: Bucket, now: number): void {
    const elapsed = Math.max(0, now - b.at) / 1000;
    b.tokens = Math.min(this.opts.burst, b.tokens + elapsed * this.opts.qps);
    b.at = now;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    const full = (this.opts.burst / this.opts.qps) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at >= full) this.buckets.delete(k);
  }

  private key(a: Uint8Array): string {
    const prefix = a.length === 4 ? this.opts.ipv4Prefix : this.opts.ipv6Prefix;
    const bytes = Math.ceil(prefix / 8);
    let k = a.length === 4 ? '4:' : '6:';
    for (let i = 0; i < bytes; i++) {
      const keep = Math.min(8, prefix - i * 8);
      k += ((a[i]! & ((0xff00 >> keep) & 0xff)) >>> 0).toString(16) + '.';
    }
    return k;
  }
}
