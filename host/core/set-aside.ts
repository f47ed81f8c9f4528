/**
 * Servers set aside for a zone, the lesson of 9 July 2023: one site of a zone's servers
 * returned expired signatures for hours, and people had to find it and reroute by hand. Here
 * every bogus answer is counted against the server that sent it and the zone it concerns; a
 * server whose answers for a zone fail validation `after` times in a row (no answer of its for
 * that zone validating in between) is set aside for that zone, so the group's other servers
 * get the zone's queries, DS and DNSKEY queries included, without anyone pushing a rule.
 *
 * A set-aside lasts `ttlMs`, doubled each time the same server is set aside again for the
 * same zone (at most 16 times as long); when it ends the server is back in the order, and its
 * next answer for the zone is the probe: a bogus one sets it aside again at once, a validated
 * one clears its record. A client never waits on the probe's failure: a bogus answer still
 * makes the group ask its next server. While every server of a group is set aside for a zone,
 * all of them are asked (as when every server is down).
 *
 * Servers are named by their label ("192.0.2.53:53", a DoH URL), whatever group they are in:
 * a server that serves a zone badly does so for every group that uses it. In recursive mode
 * the same table can hold the zone's nameservers.
 */

import { lowerName, nameFromText, nameToText } from './dns/name.js';
import { isAtOrBelow } from './dnssec/names.js';
import type { Counter, Gauge, MetricsSink } from './metrics.js';

export interface SetAsideOptions {
  /** Bogus answers in a row from one server for one zone before it is set aside (default 3). */
  after: number;
  /** How long the first set-aside lasts, ms (default 60 s); doubled on each repeat, at most 16×. */
  ttlMs: number;
}

export const DEFAULT_SET_ASIDE: SetAsideOptions = { after: 3, ttlMs: 60_000 };

export interface SetAsideEntry {
  server: string;
  /** Presentation form, absolute. */
  zone: string;
  /** The validator's reason for the last bogus answer (`signature-expired`, ...). */
  reason: string;
  /** Ms since the epoch the server is back in the order. */
  until: number;
  /** Bogus answers in a row from it for the zone. */
  bogus: number;
  /** How many times it was set aside for the zone in a row. */
  times: number;
}

interface Record {
  server: string;
  zone: Uint8Array;
  reason: string;
  bogus: number;
  times: number;
  until: number;
}

const MAX_FACTOR = 16;

export class SetAside {
  private readonly records = new Map<string, Record>();
  private opts: SetAsideOptions;
  private readonly count: Gauge | null;
  private readonly setAsides: Counter | null;
  /** Earliest `until` among records set aside, so expiries are seen without a timer. */
  private nextExpiry = Infinity;

  constructor(
    opts: Partial<SetAsideOptions> = {},
    metrics: MetricsSink | null = null,
    private readonly now: () => number = Date.now,
    private readonly onChange?: (what: 'set-aside' | 'back', e: SetAsideEntry) => void,
  ) {
    this.opts = { ...DEFAULT_SET_ASIDE, ...opts };
    this.count = metrics?.gauge('edge_dnssec_servers_set_aside', 'Upstream servers set aside for a zone because their answers for it keep failing DNSSEC validation') ?? null;
    this.setAsides = metrics?.counter('edge_dnssec_set_aside_total', 'Times a server was set aside for a zone (its answers for it kept failing validation)', ['server']) ?? null;
    this.count?.set({}, 0);
  }

  /** New settings (a reload); records in progress keep their times. */
  configure(opts: Partial<SetAsideOptions>): void {
    this.opts = { ...DEFAULT_SET_ASIDE, ...opts };
  }

  private key(server: string, zone: Uint8Array): string {
    let s = `${server}|`;
    for (let i = 0; i < zone.length; i++) s += String.fromCharCode(zone[i]!);
    return s;
  }

  /** A bogus answer from `server` about `zone` (presentation form; null: not known, not counted against a zone). */
  bogus(server: string, zone: string | null, reason: string): void {
    if (zone === null) return;
    const wire = lowerName(nameFromText(zone));
    const k = this.key(server, wire);
    const now = this.now();
    let r = this.records.get(k);
    if (!r) {
      r = { server, zone: wire, reason, bogus: 0, times: 0, until: 0 };
      this.records.set(k, r);
    }
    r.reason = reason;
    r.bogus++;
    if (r.bogus >= this.opts.after && r.until <= now) {
      r.times++;
      r.until = now + this.opts.ttlMs * Math.min(MAX_FACTOR, 2 ** (r.times - 1));
      this.nextExpiry = Math.min(this.nextExpiry, r.until);
      this.setAsides?.inc({ server });
      this.publish(now);
      this.onChange?.('set-aside', entry(r));
    }
  }

  /** An answer from `server` for `zone` validated (or was provably insecure): its record for the zone is cleared. */
  good(server: string, zone: string | null): void {
    if (zone === null || this.records.size === 0) return;
    const k = this.key(server, lowerName(nameFromText(zone)));
    const r = this.records.get(k);
    if (!r) return;
    this.records.delete(k);
    if (r.until > this.now()) this.publish(this.now());
    if (r.times > 0) this.onChange?.('back', entry(r));
  }

  /** Whether `server` is set aside for a zone at or above `qname` (lower-case or not, wire form). */
  isSetAside(server: string, qname: Uint8Array): boolean {
    if (this.records.size === 0) return false;
    const now = this.now();
    if (now >= this.nextExpiry) this.publish(now);
    const name = lowerName(qname.slice());
    for (const r of this.records.values()) if (r.server === server && r.until > now && isAtOrBelow(name, r.zone)) return true;
    return false;
  }

  /** The servers set aside now, soonest back first. */
  list(): SetAsideEntry[] {
    const now = this.now();
    this.publish(now);
    return [...this.records.values()].filter((r) => r.until > now).map(entry).sort((a, b) => a.until - b.until);
  }

  private publish(now: number): void {
    let n = 0;
    let next = Infinity;
    for (const r of this.records.values()) {
      if (r.until > now) {
        n++;
        next = Math.min(next, r.until);
      }
    }
    this.nextExpiry = next;
    this.count?.set({}, n);
  }
}

function entry(r: Record): SetAsideEntry {
  return { server: r.server, zone: nameToText(r.zone), reason: r.reason, until: r.until, bogus: r.bogus, times: r.times };
}
