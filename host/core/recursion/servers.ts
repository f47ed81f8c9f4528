/**
 * Nameserver selection, per address (what Unbound's infrastructure cache and BIND's ADB keep):
 *
 * - a smoothed RTT and its variance (RFC 6298 §2), giving each try's timeout
 *   `srtt + 4·rttvar`, never below `minTimeoutMs`; a server never heard from gets
 *   `unknownTimeoutMs`;
 * - exponential backoff: each consecutive timeout doubles the next try's timeout (at most
 *   2^5 times, capped at `maxTimeoutMs`); after `deadAfterTimeouts` in a row the address is set
 *   aside for `deadHoldMs`, doubling with every failed retry up to `deadHoldMaxMs`; once the
 *   hold ends it is a candidate again, ranked last by its backed-off timeout, so exploration or
 *   the lack of any other usable address brings the retry;
 * - choice: an address never tried goes first, so every server of a zone is measured; otherwise
 *   the lowest `srtt + 4·rttvar` (backed off as above, without the floor), except that with probability `explore` a random other one is
 *   taken, so a server that was slow once is measured again (Knot Resolver's ε-greedy);
 * - per zone: an address that answered lame (REFUSED, not authoritative, an upward referral) is
 *   set aside for that zone for `lameHoldMs`, one whose answer the validator judged bogus for
 *   `bogusHoldMs`; other zones the same address serves are not affected;
 * - EDNS: an address that answered FORMERR/NOTIMP to a query with EDNS, or ignored EDNS, is asked
 *   without it for `noEdnsHoldMs`, then EDNS is tried again;
 * - steering, set at run time: for a zone (and the zones below it, unless they have their own),
 *   addresses to avoid and addresses to prefer (the lever the 9 July 2023 responders needed).
 *   Avoided addresses are used only when nothing else is usable; preferred ones are used while
 *   any of them is.
 *
 * State for an address is forgotten after `hostTtlMs` without news (Unbound's infra-host-ttl)
 * and the table holds at most `maxHosts` addresses.
 */

import { nameKey } from './names.js';

export interface SelectionOptions {
  /** Timeout for an address never heard from (Knot Resolver's DEFAULT_TIMEOUT is 400 ms, Unbound's 376 ms). */
  unknownTimeoutMs: number;
  /** Floor of a try's timeout (Unbound's infra-cache-min-rtt, 50 ms). */
  minTimeoutMs: number;
  /** Ceiling of a try's timeout (Knot Resolver's MAX_TIMEOUT, 10 s). */
  maxTimeoutMs: number;
  /** Consecutive timeouts after which an address is dead for a while (Knot Resolver's KR_NS_TIMEOUT_ROW_DEAD, 4). */
  deadAfterTimeouts: number;
  /** First hold of a dead address (Knot Resolver retries after 1 s); doubles per failed retry. */
  deadHoldMs: number;
  /** Longest hold of a dead address (PowerDNS Recursor's server-down-throttle-time, 60 s). */
  deadHoldMaxMs: number;
  /** How long a lame address is set aside for its zone (Unbound keeps lameness for infra-host-ttl, 900 s). */
  lameHoldMs: number;
  /** How long an address whose answer was judged bogus is set aside for its zone (Unbound's val-bogus-ttl, 60 s). */
  bogusHoldMs: number;
  /** How long an address that fails EDNS is asked without it (Unbound re-probes after infra-host-ttl, 900 s). */
  noEdnsHoldMs: number;
  /** Probability of trying another address than the best (Knot Resolver's ε = 1/20). */
  explore: number;
  /** Forget an address after this long without news (Unbound's infra-host-ttl, 900 s). */
  hostTtlMs: number;
  /** Addresses remembered at most (Unbound's infra-cache-numhosts, 10000). */
  maxHosts: number;
}

export const defaultSelectionOptions: SelectionOptions = {
  unknownTimeoutMs: 400,
  minTimeoutMs: 50,
  maxTimeoutMs: 10_000,
  deadAfterTimeouts: 4,
  deadHoldMs: 1_000,
  deadHoldMaxMs: 60_000,
  lameHoldMs: 900_000,
  bogusHoldMs: 60_000,
  noEdnsHoldMs: 900_000,
  explore: 0.05,
  hostTtlMs: 900_000,
  maxHosts: 10_000,
};

const MAX_BACKOFF = 5;

interface Host {
  srtt: number;
  rttvar: number;
  /** No RTT sample yet. */
  fresh: boolean;
  timeouts: number;
  /** When the last timeout that counted was recorded. */
  lastTimeoutAt: number;
  deadUntil: number;
  deadHold: number;
  noEdnsUntil: number;
  touched: number;
}

export type SetAsideReason = 'lame' | 'bogus';

export interface Steering {
  avoid: string[];
  prefer: string[];
}

export interface HostStatus {
  address: string;
  srttMs: number | null;
  timeoutMs: number;
  consecutiveTimeouts: number;
  dead: boolean;
  edns: boolean;
}

export class ServerSelection {
  private readonly hosts = new Map<string, Host>();
  /** `zoneKey|address` → until when, and why. */
  private readonly aside = new Map<string, { until: number; reason: SetAsideReason }>();
  private readonly steering = new Map<string, { avoid: Set<string>; prefer: Set<string> }>();

  constructor(
    readonly opts: SelectionOptions = defaultSelectionOptions,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  private host(address: string, create: boolean): Host | null {
    const now = this.now();
    let h = this.hosts.get(address);
    if (h && now - h.touched > this.opts.hostTtlMs) {
      this.hosts.delete(address);
      h = undefined;
    }
    if (!h) {
      if (!create) return null;
      h = { srtt: 0, rttvar: 0, fresh: true, timeouts: 0, lastTimeoutAt: 0, deadUntil: 0, deadHold: 0, noEdnsUntil: 0, touched: now };
      this.hosts.set(address, h);
      if (this.hosts.size > this.opts.maxHosts) this.hosts.delete(this.hosts.keys().next().value!);
    }
    return h;
  }

  /** The timeout for the next try to `address`, ms. */
  timeout(address: string): number {
    return Math.min(this.opts.maxTimeoutMs, this.expected(address, this.opts.minTimeoutMs));
  }

  /**
   * `srtt + 4·rttvar` (never below `floor`), backed off by consecutive timeouts. Choice ranks
   * by it without the floor, so two fast servers are still told apart when the floor is high.
   */
  private expected(address: string, floor: number): number {
    const h = this.host(address, false);
    if (!h) return this.opts.unknownTimeoutMs;
    const base = h.fresh ? this.opts.unknownTimeoutMs : Math.max(floor, h.srtt + 4 * h.rttvar);
    return base * 2 ** Math.min(h.timeouts, MAX_BACKOFF);
  }

  /** An answer came back after `rttMs`. */
  answered(address: string, rttMs: number): void {
    const h = this.host(address, true)!;
    const r = Math.max(0, rttMs);
    if (h.fresh) {
      h.srtt = r;
      h.rttvar = r / 2;
      h.fresh = false;
    } else {
      h.rttvar = 0.75 * h.rttvar + 0.25 * Math.abs(h.srtt - r);
      h.srtt = 0.875 * h.srtt + 0.125 * r;
    }
    h.timeouts = 0;
    h.deadUntil = 0;
    h.deadHold = 0;
    h.touched = this.now();
  }

  /**
   * No answer in time (or the connection failed) to a query sent at `sentAt`. Returns true when
   * the address is now set aside as dead. A query sent before the last timeout was recorded was
   * lost in the same outage: with many questions in flight, one slow moment of a server times
   * out dozens of them at once, and counting each would set it aside (and back its timeout off
   * 2^5 times) at the first hiccup. So only a timeout of a query sent after the last one counts,
   * as the row of tries it is meant to be.
   */
  timedOut(address: string, sentAt: number = this.now()): boolean {
    const h = this.host(address, true)!;
    const now = this.now();
    h.touched = now;
    if (sentAt < h.lastTimeoutAt) return false;
    h.lastTimeoutAt = now;
    h.timeouts++;
    if (h.timeouts < this.opts.deadAfterTimeouts) return false;
    h.deadHold = h.deadHold === 0 ? this.opts.deadHoldMs : Math.min(this.opts.deadHoldMaxMs, h.deadHold * 2);
    h.deadUntil = now + h.deadHold;
    return true;
  }

  isDead(address: string): boolean {
    const h = this.host(address, false);
    return !!h && h.deadUntil > this.now();
  }

  /** Sets `address` aside for `zone` (lame or bogus there). */
  setAside(zone: Uint8Array, address: string, reason: SetAsideReason): void {
    const hold = reason === 'lame' ? this.opts.lameHoldMs : this.opts.bogusHoldMs;
    const now = this.now();
    this.aside.set(`${nameKey(zone)}|${address}`, { until: now + hold, reason });
    if (this.aside.size > this.opts.maxHosts) {
      for (const [k, a] of this.aside) if (a.until <= now) this.aside.delete(k);
      while (this.aside.size > this.opts.maxHosts) this.aside.delete(this.aside.keys().next().value!);
    }
  }

  asideFor(zone: Uint8Array, address: string): SetAsideReason | null {
    const key = `${nameKey(zone)}|${address}`;
    const a = this.aside.get(key);
    if (!a) return null;
    if (a.until <= this.now()) {
      this.aside.delete(key);
      return null;
    }
    return a.reason;
  }

  /** Whether to send EDNS to `address`. */
  edns(address: string): boolean {
    const h = this.host(address, false);
    return !h || h.noEdnsUntil <= this.now();
  }

  /** `address` does not do EDNS: ask it without for a while. */
  noEdns(address: string): void {
    const h = this.host(address, true)!;
    h.noEdnsUntil = this.now() + this.opts.noEdnsHoldMs;
    h.touched = this.now();
  }

  /** Sets (or, with null, clears) the steering of `zone`. Addresses are compared as given. */
  steer(zone: Uint8Array, rule: Steering | null): void {
    const key = nameKey(zone);
    if (!rule || (rule.avoid.length === 0 && rule.prefer.length === 0)) this.steering.delete(key);
    else this.steering.set(key, { avoid: new Set(rule.avoid), prefer: new Set(rule.prefer) });
  }

  /** Replaces every steering rule with `rules` (the node's rule set, as it changes). */
  setSteering(rules: Array<{ zone: Uint8Array } & Steering>): void {
    this.steering.clear();
    for (const r of rules) this.steer(r.zone, r);
  }

  /** The steering rules in force, by zone key. */
  steeringRules(): Array<{ zone: string; avoid: string[]; prefer: string[] }> {
    return [...this.steering].map(([zone, r]) => ({ zone, avoid: [...r.avoid], prefer: [...r.prefer] }));
  }

  /** The rule for `zone`: its own, or the nearest enclosing zone's. */
  private steeringFor(zone: Uint8Array): { avoid: Set<string>; prefer: Set<string> } | null {
    if (this.steering.size === 0) return null;
    let i = 0;
    for (;;) {
      const r = this.steering.get(nameKey(zone.subarray(i)));
      if (r) return r;
      if (i >= zone.length || zone[i] === 0) return null;
      i += zone[i]! + 1;
    }
  }

  /** Whether any candidate is usable for `zone` (not set aside there, not dead). */
  usable(zone: Uint8Array, address: string): boolean {
    return !this.asideFor(zone, address) && !this.isDead(address);
  }

  /**
   * Picks the address to ask next for `zone` among `candidates` (already filtered for the
   * addresses this query tried). Null when none is usable. `steered` tells the caller which
   * steering rule shaped the choice, for its metric.
   */
  choose(zone: Uint8Array, candidates: string[]): { address: string; steered: 'avoid' | 'prefer' | null } | null {
    let pool = candidates.filter((a) => this.usable(zone, a));
    if (pool.length === 0) return null;
    let steered: 'avoid' | 'prefer' | null = null;
    const rule = this.steeringFor(zone);
    if (rule) {
      const preferred = pool.filter((a) => rule.prefer.has(a));
      if (preferred.length > 0) {
        if (preferred.length < pool.length) steered = 'prefer';
        pool = preferred;
      } else {
        const allowed = pool.filter((a) => !rule.avoid.has(a));
        if (allowed.length > 0 && allowed.length < pool.length) steered = 'avoid';
        if (allowed.length > 0) pool = allowed;
      }
    }
    const untried = pool.filter((a) => {
      const h = this.host(a, false);
      return !h || (h.fresh && h.timeouts === 0);
    });
    if (untried.length > 0) return { address: untried[Math.floor(this.random() * untried.length)]!, steered };
    if (pool.length > 1 && this.random() < this.opts.explore) {
      return { address: pool[Math.floor(this.random() * pool.length)]!, steered };
    }
    let best = pool[0]!;
    let bestTimeout = this.expected(best, 0);
    let ties = 1;
    for (let i = 1; i < pool.length; i++) {
      const t = this.expected(pool[i]!, 0);
      if (t < bestTimeout) {
        best = pool[i]!;
        bestTimeout = t;
        ties = 1;
      } else if (t === bestTimeout && this.random() < 1 / ++ties) {
        best = pool[i]!;
      }
    }
    return { address: best, steered };
  }

  status(): HostStatus[] {
    const now = this.now();
    return [...this.hosts].map(([address, h]) => ({
      address,
      srttMs: h.fresh ? null : Math.round(h.srtt * 10) / 10,
      timeoutMs: Math.round(this.timeout(address)),
      consecutiveTimeouts: h.timeouts,
      dead: h.deadUntil > now,
      edns: h.noEdnsUntil <= now,
    }));
  }
}
