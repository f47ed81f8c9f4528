/**
 * The answer cache: positive and negative (RFC 2308) entries, TTLs that count down, a bound on
 * entries and bytes with least-recently-used eviction, and serve-stale (RFC 8767): an expired
 * entry is kept for `maxStaleSec` so it can be served when the upstreams fail.
 *
 * Entries are upstream responses without their OPT record, stored with the offsets of every TTL
 * field so a hit is one copy plus a few 32-bit writes, never a re-encode.
 */

import { RRType, Rcode } from './dns/rr-types.js';
import { put32, readHeader, u32, walkRecords, type Question } from './dns/wire.js';
import { transientBytes } from './dns/bytes.js';
import type { BoundCounter, Gauge, MetricsSink } from './metrics.js';

export interface CacheOptions {
  maxEntries: number;
  maxBytes: number;
  /** Upper bound on any positive TTL, seconds. */
  maxTtl: number;
  /** Lower bound applied to positive TTLs, seconds (0: none). */
  minTtl: number;
  /** Upper bound on negative TTLs (RFC 2308 §5), seconds. */
  maxNegativeTtl: number;
  /** How long failures (SERVFAIL) are remembered (RFC 9520), seconds; 0 disables. */
  failureTtl: number;
  /** RFC 8767: TTL put on stale answers, seconds (30 recommended). */
  staleAnswerTtl: number;
  /** RFC 8767: how long past expiry an entry may still be served, seconds (1 to 3 days recommended). */
  maxStaleSec: number;
}

export const defaultCacheOptions: CacheOptions = {
  maxEntries: 100_000,
  maxBytes: 64 * 1024 * 1024,
  maxTtl: 86_400,
  minTtl: 0,
  maxNegativeTtl: 3_600,
  failureTtl: 5,
  staleAnswerTtl: 30,
  maxStaleSec: 86_400,
};

export type EntryKind = 'positive' | 'negative' | 'failure';

interface Entry {
  key: string;
  /** The key's hash (questionHash) and its parts, for a lookup straight from a question. */
  hash: number;
  owner: Uint8Array;
  qtype: number;
  qclass: number;
  bits: number;
  body: Uint8Array;
  ttlOffsets: number[];
  /** TTL of each record at store time (after clamping). */
  ttls: number[];
  storedAt: number;
  expiresAt: number;
  kind: EntryKind;
  /** RFC 8767 failure-recheck: until then a stale entry is served without asking upstream. */
  staleRefreshUntil: number;
  /**
   * 0 for an answer from an upstream or a peer. For an app's answer, the chain's answer stamp
   * when the app gave it (AppChain.answerStamp): found only by a lookup with that same stamp,
   * never served stale, never by `get`.
   */
  stamp: number;
  /**
   * Neighbours in the use-order list of its kind (apps' answers, everything else), least recent
   * first: an intrusive list, so a hit allocates nothing. `used` orders the two lists' heads.
   */
  older: Entry | null;
  newer: Entry | null;
  used: number;
}

interface UseOrder {
  oldest: Entry | null;
  newest: Entry | null;
  /** Entries and bytes (as `bytes` counts them) in this list. */
  entries: number;
  bytes: number;
}

/**
 * The share of cache.max_entries and cache.max_bytes apps' kept answers may take. Each junk-TLD
 * name a flood of random names brings is a kept answer from the local root; bounded here, such a
 * flood evicts other kept answers, never the upstream answers real clients are using.
 */
export const APP_ANSWER_SHARE = 0.25;

/**
 * Slots of the table that admits an app's answer on its question's second sighting. A name
 * asked once (a random junk name: a flood of them, Chrome's probes) is never stored: storing and
 * then evicting one entry per query halved the local root's rate on all-new names and tripled
 * its memory (entries promoted to the old generation and dropped there). 256 KiB.
 */
const ADMIT_SLOTS = 1 << 16;

export interface CacheHit {
  body: Uint8Array;
  kind: EntryKind;
  stale: boolean;
  /** Smallest TTL in the answer as served (for DoH Cache-Control). */
  minTtl: number;
  /** An app's answer kept from its last call (stored with a stamp): served as the app's. */
  fromApp: boolean;
}

/** A wire name as the cache keys spell it: one character per byte, ASCII letters lower-cased. */
function nameKey(n: Uint8Array): string {
  let s = '';
  for (let i = 0; i < n.length; i++) {
    const c = n[i]!;
    s += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
  }
  return s;
}

/** Cache key: lower-cased owner, type, class, and the DO and CD bits that change the answer. */
export function cacheKey(q: Question, dnssecOk: boolean, checkingDisabled: boolean): string {
  return `${nameKey(q.name)}|${q.type}|${q.class}|${dnssecOk ? 1 : 0}${checkingDisabled ? 1 : 0}`;
}

/**
 * A 32-bit FNV-1a hash of what a key says (owner lower-cased, type, class, DO and CD), the same
 * whether taken from a question or from a key. A string key costs a hash of the whole string on
 * every Map operation (most of a cache hit's lookup time); a number does not.
 */
function questionHash(name: Uint8Array, qtype: number, qclass: number, bits: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    h = Math.imul(h ^ (c >= 0x41 && c <= 0x5a ? c + 0x20 : c), 16777619);
  }
  h = Math.imul(h ^ qtype, 16777619);
  h = Math.imul(h ^ qclass, 16777619);
  return Math.imul(h ^ bits, 16777619) >>> 0;
}

/** The parts of a key made by cacheKey (the owner as one char per byte). */
function keyParts(key: string): { owner: Uint8Array; qtype: number; qclass: number; bits: number } {
  const b3 = key.lastIndexOf('|');
  const b2 = key.lastIndexOf('|', b3 - 1);
  const b1 = b2 > 0 ? key.lastIndexOf('|', b2 - 1) : -1;
  // Not a cacheKey (tests store under plain names): found by get only.
  if (b1 < 0) return { owner: new Uint8Array(0), qtype: -1, qclass: -1, bits: -1 };
  const owner = new Uint8Array(b1);
  for (let i = 0; i < b1; i++) owner[i] = key.charCodeAt(i);
  const flags = key.slice(b3 + 1);
  return { owner, qtype: Number(key.slice(b1 + 1, b2)), qclass: Number(key.slice(b2 + 1, b3)), bits: (flags[0] === '1' ? 2 : 0) | (flags[1] === '1' ? 1 : 0) };
}

/** Whether wire name `n` is `owner` (already lower-cased) ignoring ASCII case. */
function sameOwner(n: Uint8Array, owner: Uint8Array): boolean {
  if (n.length !== owner.length) return false;
  for (let i = 0; i < n.length; i++) {
    const c = n[i]!;
    if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== owner[i]) return false;
  }
  return true;
}

/** The owner part of a key (a label may hold "|", so it is found from the end). */
function keyOwner(key: string): string {
  return key.slice(0, key.lastIndexOf('|', key.lastIndexOf('|', key.lastIndexOf('|') - 1) - 1));
}

/** What a flush removes: entries for these owners (any type), and for these zones and every name under them. */
export interface FlushScope {
  names: Uint8Array[];
  /** The root zone here means every entry. */
  suffixes: Uint8Array[];
}

/** What kind of answer a response is and how long it may be cached, or null when never. */
export function classify(body: Uint8Array, opts: CacheOptions, floor = true): { kind: EntryKind; ttl: number; records: ReturnType<typeof walkRecords>['records'] } | null {
  const h = readHeader(body);
  if (h.flags & 0x0200) return null; // truncated: never cache
  const { records } = walkRecords(body, h);
  if (h.rcode === Rcode.SERVFAIL) return opts.failureTtl > 0 ? { kind: 'failure', ttl: opts.failureTtl, records } : null;
  const answers = records.filter((r) => r.section === 0);
  const negative = h.rcode === Rcode.NXDOMAIN || (h.rcode === Rcode.NOERROR && answers.length === 0);
  if (!negative && h.rcode !== Rcode.NOERROR) return null;
  if (negative) {
    // RFC 2308 §5: the TTL of a negative answer is min(SOA TTL, SOA MINIMUM); without an SOA
    // in the authority section it is not cached.
    const soa = records.find((r) => r.section === 1 && r.type === RRType.SOA);
    if (!soa || soa.rdlength < 22) return null;
    const minimum = u32(body, soa.end - 4);
    const ttl = Math.min(soa.ttl, minimum, opts.maxNegativeTtl);
    return ttl > 0 ? { kind: 'negative', ttl, records } : null;
  }
  let ttl = opts.maxTtl;
  for (const r of records) if (r.type !== RRType.OPT) ttl = Math.min(ttl, r.ttl);
  // `floor` false: an app's answer keeps the TTLs it gave (static_zone's never outlive the copy's
  // signatures), whatever cache.min_ttl says.
  if (floor) ttl = Math.max(ttl, opts.minTtl);
  return ttl > 0 ? { kind: 'positive', ttl, records } : null;
}

export interface CacheStats {
  entries: number;
  bytes: number;
}

interface CacheReport {
  sink: MetricsSink;
  entries: Gauge;
  bytes: Gauge;
  evictions: BoundCounter;
}

/**
 * The cache each sink reports: the last one given to it. A reload that changes the cache options
 * replaces the cache, and answers still arriving for the old one must not move the gauges.
 */
const reporting = new WeakMap<MetricsSink, AnswerCache>();

export class AnswerCache {
  private readonly map = new Map<string, Entry>();
  /** The same entries by questionHash; an array where two keys share a hash. */
  private readonly index = new Map<number, Entry | Entry[]>();
  private readonly plain: UseOrder = { oldest: null, newest: null, entries: 0, bytes: 0 };
  private readonly apps: UseOrder = { oldest: null, newest: null, entries: 0, bytes: 0 };
  private uses = 0;
  /** Question hashes seen once, by slot (see ADMIT_SLOTS); made on the first app answer offered. */
  private seen: Uint32Array | null = null;
  private bytes = 0;
  evictions = 0;
  private report: CacheReport | null = null;
  /**
   * Counts flushes. An answer asked for before a flush may come from what the flush was for (an
   * old route, an old rule), so `store` drops it when the generation moved in between.
   */
  generation = 0;
  /**
   * Until this time (ms) answers from peers are not stored (the Resolver sets it at a flush; see
   * site.settle_ms). Kept here, with the entries, so a reload that builds a new Resolver over
   * this cache keeps it.
   */
  settleUntil = 0;

  constructor(
    readonly opts: CacheOptions = defaultCacheOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get stats(): CacheStats {
    return { entries: this.map.size, bytes: this.bytes };
  }

  /**
   * Stores a response (without OPT, any ID). Returns false when it is not cacheable, or when
   * `askedAt` (the generation when it was asked for) is older than the last flush. `ttlCap`
   * (seconds, 0 for none) lowers the entry's lifetime, as a `ttl-cap` rule asks. `stamp` is
   * non-zero for an app's answer (see Entry.stamp).
   */
  store(key: string, body: Uint8Array, ttlCap = 0, askedAt = this.generation, stamp = 0): boolean {
    if (askedAt !== this.generation) return false;
    const c = classify(body, this.opts, stamp === 0);
    if (!c) return false;
    const old = this.map.get(key);
    if (c.kind === 'failure' && old && old.kind !== 'failure' && old.stamp === 0 && this.now() < old.expiresAt + this.opts.maxStaleSec * 1000) {
      // A failure never replaces an answer that can still be served stale (RFC 8767): that
      // answer is what serve-stale exists to give out while the upstream fails. The failure
      // only starts the recheck window.
      old.staleRefreshUntil = this.now() + this.opts.failureTtl * 1000;
      return false;
    }
    const lifetime = ttlCap > 0 ? Math.min(c.ttl, ttlCap) : c.ttl;
    const now = this.now();
    const copy = body.slice();
    copy[0] = 0;
    copy[1] = 0;
    const ttlOffsets: number[] = [];
    const ttls: number[] = [];
    // Each record counts down from its own TTL, clamped so none outlives the cap and none
    // expires before the entry does.
    const cap = c.kind === 'positive' ? Math.min(this.opts.maxTtl, ttlCap > 0 ? ttlCap : Infinity) : lifetime;
    for (const r of c.records) {
      if (r.type === RRType.OPT) continue;
      ttlOffsets.push(r.ttlOffset);
      ttls.push(Math.max(Math.min(r.ttl, cap), lifetime));
    }
    const parts = keyParts(key);
    const entry: Entry = {
      key,
      hash: questionHash(parts.owner, parts.qtype, parts.qclass, parts.bits),
      ...parts,
      body: copy,
      ttlOffsets,
      ttls,
      storedAt: now,
      expiresAt: now + lifetime * 1000,
      kind: c.kind,
      staleRefreshUntil: 0,
      stamp,
      older: null,
      newer: null,
      used: 0,
    };
    this.delete(key);
    this.map.set(key, entry);
    this.link(entry);
    this.indexAdd(entry);
    const size = copy.length + key.length * 2;
    this.bytes += size;
    this.order(entry).bytes += size;
    this.evict();
    this.publish();
    return true;
  }

  /**
   * From now on keeps `edge_cache_entries`, `edge_cache_bytes` and `edge_cache_evictions_total`
   * in `metrics` current, whatever changes the cache (an upstream or a peer answer, an expiry, a
   * flush); the cache that reported there before stops.
   */
  reportTo(metrics: MetricsSink): void {
    reporting.set(metrics, this);
    this.report = {
      sink: metrics,
      entries: metrics.gauge('edge_cache_entries', 'Entries in the answer cache'),
      bytes: metrics.gauge('edge_cache_bytes', 'Bytes held by the answer cache (answers and keys), bounded by cache.max_bytes'),
      evictions: metrics.counter('edge_cache_evictions_total', 'Entries evicted to stay within cache.max_entries and cache.max_bytes').bind({}),
    };
    this.publish();
  }

  private reporter(): CacheReport | null {
    const r = this.report;
    return r && reporting.get(r.sink) === this ? r : null;
  }

  private publish(): void {
    const r = this.reporter();
    if (!r) return;
    r.entries.set({}, this.map.size);
    r.bytes.set({}, this.bytes);
  }

  private delete(key: string): void {
    const old = this.map.get(key);
    if (!old) return;
    this.map.delete(key);
    this.unlink(old);
    this.indexRemove(old);
    const size = old.body.length + key.length * 2;
    this.bytes -= size;
    this.order(old).bytes -= size;
  }

  private order(e: Entry): UseOrder {
    return e.stamp === 0 ? this.plain : this.apps;
  }

  /** Makes `e` the most recently used entry. */
  private link(e: Entry): void {
    const l = this.order(e);
    e.older = l.newest;
    e.newer = null;
    e.used = ++this.uses;
    if (l.newest) l.newest.newer = e;
    else l.oldest = e;
    l.newest = e;
    l.entries++;
  }

  private unlink(e: Entry): void {
    const l = this.order(e);
    if (e.older) e.older.newer = e.newer;
    else l.oldest = e.newer;
    if (e.newer) e.newer.older = e.older;
    else l.newest = e.older;
    e.older = null;
    e.newer = null;
    l.entries--;
  }

  private indexAdd(e: Entry): void {
    const at = this.index.get(e.hash);
    if (!at) this.index.set(e.hash, e);
    else if (Array.isArray(at)) at.push(e);
    else this.index.set(e.hash, [at, e]);
  }

  private indexRemove(e: Entry): void {
    const at = this.index.get(e.hash);
    if (at === e) this.index.delete(e.hash);
    else if (Array.isArray(at)) {
      const rest = at.filter((x) => x !== e);
      this.index.set(e.hash, rest.length === 1 ? rest[0]! : rest);
    }
  }

  private evict(): void {
    const apps = this.apps;
    while (apps.oldest && (apps.entries > this.opts.maxEntries * APP_ANSWER_SHARE || apps.bytes > this.opts.maxBytes * APP_ANSWER_SHARE)) {
      this.delete(apps.oldest.key);
      this.evictions++;
      this.reporter()?.evictions.inc();
    }
    while (this.map.size > this.opts.maxEntries || this.bytes > this.opts.maxBytes) {
      const a = this.plain.oldest;
      const b = apps.oldest;
      const lru = a && b ? (a.used < b.used ? a : b) : (a ?? b);
      if (!lru) break;
      this.delete(lru.key);
      this.evictions++;
      this.reporter()?.evictions.inc();
    }
  }

  /**
   * Looks up a key. A fresh entry comes back with TTLs counted down; an expired one within the
   * stale window comes back only with `allowStale` (and TTL = staleAnswerTtl). An app's answer
   * never comes back here: serve-stale is for an upstream that fails, and an app whose answer is
   * no longer current (a copy gone past its expiry, an app switched off) must not be stood in
   * for by what it said before.
   */
  get(key: string, allowStale = false): CacheHit | null {
    const e = this.map.get(key);
    return e && e.stamp === 0 ? this.hit(e, allowStale) : null;
  }

  /**
   * `get(cacheKey(q, dnssecOk, checkingDisabled))` without making the key (the hot path of a
   * hit); app answers stored with `stamp` are found too (0: none).
   */
  find(q: Question, dnssecOk: boolean, checkingDisabled: boolean, stamp = 0): CacheHit | null {
    const bits = (dnssecOk ? 2 : 0) | (checkingDisabled ? 1 : 0);
    const at = this.index.get(questionHash(q.name, q.type, q.class, bits));
    if (!at) return null;
    if (!Array.isArray(at)) return at.qtype === q.type && at.qclass === q.class && at.bits === bits && sameOwner(q.name, at.owner) && (at.stamp === 0 || at.stamp === stamp) ? this.hit(at, false) : null;
    for (const e of at) if (e.qtype === q.type && e.qclass === q.class && e.bits === bits && sameOwner(q.name, e.owner) && (e.stamp === 0 || e.stamp === stamp)) return this.hit(e, false);
    return null;
  }

  private hit(e: Entry, allowStale: boolean): CacheHit | null {
    const key = e.key;
    const now = this.now();
    const stale = now >= e.expiresAt;
    if (stale) {
      if (now >= e.expiresAt + this.opts.maxStaleSec * 1000 || e.kind === 'failure' || e.stamp !== 0) {
        this.delete(key);
        this.publish();
        return null;
      }
      if (!allowStale) return null;
    }
    // Moved to the newest end by pointers: re-inserting into the Map (as this did) made V8 grow
    // and rehash its table every few thousand hits, old-generation garbage that cost a
    // mark-compact pause every two seconds under load.
    if (this.order(e).newest !== e) {
      this.unlink(e);
      this.link(e);
    } else e.used = ++this.uses;
    const elapsed = Math.floor((now - e.storedAt) / 1000);
    const body = transientBytes(e.body.length);
    body.set(e.body);
    let minTtl = Number.MAX_SAFE_INTEGER;
    for (let i = 0; i < e.ttlOffsets.length; i++) {
      const ttl = stale ? this.opts.staleAnswerTtl : Math.max(0, e.ttls[i]! - elapsed);
      put32(body, e.ttlOffsets[i]!, ttl);
      minTtl = Math.min(minTtl, ttl);
    }
    if (minTtl === Number.MAX_SAFE_INTEGER) minTtl = stale ? this.opts.staleAnswerTtl : Math.max(0, Math.floor((e.expiresAt - now) / 1000));
    return { body, kind: e.kind, stale, minTtl, fromApp: e.stamp !== 0 };
  }

  /**
   * Whether an app's answer to this question should be kept now: true on the second sighting of
   * the question (since its slot was last taken by another), false the first time, which is
   * remembered. An approximate doorkeeper: two questions sharing a slot push each other out.
   */
  admit(q: Question, dnssecOk: boolean, checkingDisabled: boolean): boolean {
    const h = questionHash(q.name, q.type, q.class, (dnssecOk ? 2 : 0) | (checkingDisabled ? 1 : 0)) || 1;
    const seen = (this.seen ??= new Uint32Array(ADMIT_SLOTS));
    const slot = h & (ADMIT_SLOTS - 1);
    if (seen[slot] === h) return true;
    seen[slot] = h;
    return false;
  }

  /**
   * Lowers a fresh entry's lifetime to at most `ttlCap` seconds from when it was stored (a
   * `ttl-cap` known only after the entry was stored). A stale entry keeps its serve-stale window.
   */
  cap(key: string, ttlCap: number): void {
    const e = this.map.get(key);
    if (!e || ttlCap <= 0 || this.now() >= e.expiresAt) return;
    const until = e.storedAt + ttlCap * 1000;
    if (until >= e.expiresAt) return;
    e.expiresAt = until;
    for (let i = 0; i < e.ttls.length; i++) e.ttls[i] = Math.min(e.ttls[i]!, ttlCap);
  }

  /**
   * Removes the entries in `scope`, or every entry for null, and starts a new generation.
   * Returns how many went. One pass over the entries, whatever the size of the scope.
   */
  flush(scope: FlushScope | null): number {
    this.generation++;
    if (!scope) {
      const n = this.map.size;
      this.clear();
      return n;
    }
    const names = new Set(scope.names.map(nameKey));
    const zones = new Set(scope.suffixes.map(nameKey));
    let n = 0;
    for (const key of [...this.map.keys()]) {
      if (inScope(keyOwner(key), names, zones)) {
        this.delete(key);
        n++;
      }
    }
    this.publish();
    return n;
  }

  /** True when a stale entry exists and a recent refresh failed (RFC 8767 failure recheck). */
  inStaleRefresh(key: string): boolean {
    const e = this.map.get(key);
    return !!e && this.now() < e.staleRefreshUntil;
  }

  markRefreshFailed(key: string, recheckMs: number): void {
    const e = this.map.get(key);
    if (e) e.staleRefreshUntil = this.now() + recheckMs;
  }

  clear(): void {
    this.map.clear();
    this.index.clear();
    for (const l of [this.plain, this.apps]) {
      l.oldest = l.newest = null;
      l.entries = l.bytes = 0;
    }
    this.bytes = 0;
    this.publish();
  }
}

/** True when owner `s` (a key's owner) is one of `names`, or is or is under one of `zones`. */
/**
 * Whether the name whose key (nameKey: one character per wire byte, ASCII lower-cased) is `s`
 * is one of `names` or at or under one of `zones` (keys the same way).
 */
export function inScope(s: string, names: ReadonlySet<string>, zones: ReadonlySet<string>): boolean {
  if (names.has(s)) return true;
  if (zones.size === 0) return false;
  for (let o = 0; o < s.length; ) {
    if (zones.has(s.slice(o))) return true;
    const l = s.charCodeAt(o);
    if (l === 0) break;
    o += l + 1;
  }
  return false;
}
