/**
 * The chain of trust (RFC 4035 §5.1–5.2) from the closest configured trust anchor down to a
 * zone: the anchor vouches for the anchor zone's DNSKEY RRset, and at each label below it a DS
 * query tells whether the name is a secure zone cut (a DS RRset signed by the parent, then the
 * child's DNSKEY RRset signed by a key that DS names), an unsigned delegation (a proof that the
 * DS is absent while NS is there: insecure below), or no cut at all. Keys come through the
 * caller's KeyFetcher, each fetch tried again on another server (`attempt`) when its answer does
 * not validate; what is learnt goes into the KeyCache. A negative trust anchor (RFC 7646) at
 * or above the name makes it insecure unless a deeper trust anchor overrides it.
 */

import { RRType } from '../dns/rr-types.js';
import { dsMatches, parseDnskey, parseDs, usableDs, type DnskeyInfo, type DsInfo } from '../zone/dnssec-keys.js';
import { KeyRing } from '../zone/dnssec-rrsig.js';
import { nameEquals, nameToText } from '../dns/name.js';
import type { TrustAnchor } from '../zone/trust-anchor.js';
import { BudgetExceeded, type ResponseWork } from './budget.js';
import { proveDenial } from './denial.js';
import { EDE, type Ede } from './ede.js';
import type { InsecureReason, KeyCache, KeyEntry } from './key-cache.js';
import { parseResponse, type Response } from './message.js';
import { isAtOrBelow, nameKey, pathDown } from './names.js';
import type { NegativeTrustAnchors } from './negative-anchors.js';
import { checkProof, checkRRset, type Run } from './rrset-check.js';

/**
 * Where DS and DNSKEY RRsets come from: the upstream group in forwarding mode, the iterator in
 * recursive mode. `fetch` sends a query for (name, type) with DO=1 and CD=1 and returns the
 * response bytes, or null when this attempt got no answer (or there is no server left for
 * it). `attempt` counts from 0 up to `keyAttempts - 1`, asked again only when the previous
 * answer did not validate or did not come: a fetcher with several servers uses another one
 * for each attempt, so a server that serves bad keys is routed around. A thrown error counts
 * as null. Give up by `deadline` (ms since the epoch).
 */
export interface KeyFetcher {
  fetch(name: Uint8Array, type: typeof RRType.DS | typeof RRType.DNSKEY, deadline: number, attempt: number): Promise<KeyResponse | null>;
}

export interface KeyResponse {
  response: Uint8Array;
  /** Who answered ("192.0.2.53:53"), for EDE texts and counts. */
  server?: string;
}

export type SecureZone = Extract<KeyEntry, { kind: 'secure' }>;

/** What the chain says about a name: its zone's keys, or why there are none to use. */
export type ChainResult =
  | SecureZone
  | Extract<KeyEntry, { kind: 'insecure' }>
  | Extract<KeyEntry, { kind: 'bogus' }>
  | { kind: 'indeterminate'; why: string };

export interface ChainOptions {
  anchors: readonly TrustAnchor[];
  fetcher: KeyFetcher;
  cache: KeyCache;
  negativeAnchors: NegativeTrustAnchors | null;
  /** Seconds a failed key set or DS is remembered. */
  bogusTtl: number;
  /** Tries per DS or DNSKEY fetch (each may go to another server). */
  attempts: number;
  /** Called once per fetch with its outcome, for the metric. */
  onFetch?: (type: 'DS' | 'DNSKEY', outcome: 'ok' | 'bogus' | 'failed') => void;
}

type Bogus = Extract<KeyEntry, { kind: 'bogus' }>;
/** A DS RRset that validated (or the reason it settled the cut another way). */
type DsStep = { kind: 'ds'; ds: DsInfo[]; ttl: number } | KeyEntry;
/** A fetch that got no usable answer at all: not cached, since the next query may do better. */
interface FetchFailure {
  kind: 'bogus';
  failed: true;
  entry: Bogus;
}

const t = nameToText;

export class ChainOfTrust {
  private readonly pending = new Map<string, Promise<KeyEntry>>();

  constructor(private readonly opts: ChainOptions) {}

  /** The deepest configured anchor at or above `name`. */
  anchorFor(name: Uint8Array): TrustAnchor | null {
    let best: TrustAnchor | null = null;
    for (const a of this.opts.anchors) if (isAtOrBelow(name, a.owner) && (!best || a.owner.length > best.owner.length)) best = a;
    return best;
  }

  /**
   * Insecure when a negative trust anchor covers `name` and no configured trust anchor below
   * it does (RFC 7646 §2.1); else null.
   */
  negativeAnchorFor(name: Uint8Array, run: Run): Extract<KeyEntry, { kind: 'insecure' }> | null {
    const nta = this.opts.negativeAnchors?.covering(name, run.now) ?? null;
    if (!nta) return null;
    const anchor = this.anchorFor(name);
    if (anchor && anchor.owner.length > nta.wire.length) return null;
    const why = `${t(name)} is under the negative trust anchor ${nta.nta.name}${nta.nta.reason ? ` (${nta.nta.reason})` : ''}`;
    return { kind: 'insecure', zone: nta.wire, reason: 'negative-trust-anchor', why, expires: nta.nta.expires };
  }

  /** The keys of the zone `target` (lower case) is in, or why it is insecure, bogus or indeterminate. */
  async keysFor(target: Uint8Array, run: Run): Promise<ChainResult> {
    const { cache } = this.opts;
    const nta = this.negativeAnchorFor(target, run);
    if (nta) return nta;
    const anchor = this.anchorFor(target);
    if (!anchor) return { kind: 'indeterminate', why: `no trust anchor covers ${t(target)}` };
    const path = pathDown(anchor.owner, target);
    let zone: SecureZone | null = null;
    let from = 0;
    for (let i = path.length - 1; i >= 0 && !zone; i--) {
      const e = cache.get(path[i]!, run.now);
      if (!e || e.kind === 'nocut') continue;
      if (e.kind !== 'secure') return e;
      zone = e;
      from = i;
    }
    if (!zone) {
      const e = await this.once(anchor.owner, run, () => this.prime(anchor, run));
      if (e.kind !== 'secure') return e as ChainResult;
      zone = e;
    }
    for (let i = from + 1; i < path.length; i++) {
      const name = path[i]!;
      const parent: SecureZone = zone;
      const e = cache.get(name, run.now) ?? (await this.once(name, run, () => this.cut(name, parent, run)));
      if (e.kind === 'nocut') {
        if (e.absent) break;
        continue;
      }
      if (e.kind !== 'secure') return e as ChainResult;
      zone = e;
    }
    return zone;
  }

  /**
   * Runs `work` for `name` once at a time: concurrent answers from one zone share the fetches.
   * Keys that blow the work budget (KeyTrap in a DNSKEY or DS RRset) are remembered as bogus,
   * so the next answer from that zone does not pay again.
   */
  private once(name: Uint8Array, run: Run, work: () => Promise<KeyEntry>): Promise<KeyEntry> {
    const k = nameKey(name);
    let p = this.pending.get(k);
    if (!p) {
      p = work()
        .catch((err: unknown) => {
          if (err instanceof BudgetExceeded && err.limit !== 'key-fetches') {
            this.opts.cache.set(this.bogus(name, 'budget', EDE.DNSSEC_BOGUS, `${t(name)}: validation work limit reached: ${err.message}`, run), run.now);
          }
          throw err;
        })
        .finally(() => this.pending.delete(k));
      this.pending.set(k, p);
    }
    return p;
  }

  /** Stores and returns `e`, except a fetch failure, which is returned uncached. */
  private keep(e: KeyEntry | FetchFailure, run: Run): KeyEntry {
    if ('failed' in e) return e.entry;
    this.opts.cache.set(e, run.now);
    return e;
  }

  private bogus(zone: Uint8Array, reason: string, code: number, why: string, run: Run): Bogus {
    return { kind: 'bogus', zone, reason, why, ede: { code, text: why }, expires: run.now + this.opts.bogusTtl * 1000 };
  }

  private insecure(zone: Uint8Array, reason: InsecureReason, why: string, ttl: number, run: Run, ede?: Ede): KeyEntry {
    return { kind: 'insecure', zone, reason, why, ...(ede ? { ede } : {}), expires: run.now + ttl * 1000 };
  }

  /**
   * Fetches (name, type), tries each answer with `interpret`, and asks again (next attempt,
   * normally another server) while the answer is bogus.
   */
  private async fetch<T extends { kind: string }>(
    name: Uint8Array,
    type: typeof RRType.DS | typeof RRType.DNSKEY,
    run: Run,
    interpret: (resp: Response, from: string, work: ResponseWork) => Promise<T | Bogus>,
  ): Promise<T | Bogus | FetchFailure> {
    const label = type === RRType.DS ? 'DS' : 'DNSKEY';
    let last: Bogus | null = null;
    for (let attempt = 0; attempt < this.opts.attempts; attempt++) {
      if (Date.now() >= run.deadline) break;
      run.budget.fetch();
      const got = await (run.fetcher ?? this.opts.fetcher).fetch(name, type, run.deadline, attempt).catch(() => null);
      if (!got) continue;
      const from = got.server ? ` from ${got.server}` : '';
      let resp: Response;
      try {
        resp = parseResponse(got.response);
      } catch (err) {
        last = this.bogus(name, 'key-fetch-failed', EDE.DNSSEC_BOGUS, `${label} response for ${t(name)}${from} is malformed: ${(err as Error).message}`, run);
        this.opts.onFetch?.(label, 'failed');
        continue;
      }
      const r = await interpret(resp, from, run.budget.response());
      if (r.kind !== 'bogus') {
        this.opts.onFetch?.(label, 'ok');
        return r;
      }
      this.opts.onFetch?.(label, 'bogus');
      last = r as Bogus;
    }
    if (last) return last;
    this.opts.onFetch?.(label, 'failed');
    const code = type === RRType.DS ? EDE.DNSSEC_BOGUS : EDE.DNSKEY_MISSING;
    return { kind: 'bogus', failed: true, entry: this.bogus(name, 'key-fetch-failed', code, `no answer to the ${label} query for ${t(name)}`, run) };
  }

  /** The anchor zone's DNSKEY RRset, checked against the configured DS or DNSKEY anchors. */
  private async prime(anchor: TrustAnchor, run: Run): Promise<KeyEntry> {
    const ds = anchor.ds.map(parseDs).filter((d): d is DsInfo => d !== null);
    const dnskey = anchor.dnskey.map(parseDnskey).filter((k): k is DnskeyInfo => k !== null);
    await run.learn([...ds.map((d) => d.algorithm), ...dnskey.map((k) => k.algorithm)]);
    const usable = usableDs(ds, (a) => run.supports(a));
    const keys = dnskey.filter((k) => run.supports(k.algorithm));
    if (usable.length === 0 && keys.length === 0) return this.keep(this.unsupported(anchor.owner, ds, dnskey, 'trust anchor', 86_400, run), run);
    return this.keep(await this.keyset(anchor.owner, usable, keys, Infinity, run), run);
  }

  /** Insecure for want of a supported algorithm (EDE 1) or digest type (EDE 2). */
  private unsupported(zone: Uint8Array, ds: DsInfo[], dnskey: DnskeyInfo[], what: string, ttl: number, run: Run): KeyEntry {
    const algOk = ds.some((d) => run.supports(d.algorithm)) || dnskey.some((k) => run.supports(k.algorithm));
    const list = ds.map((d) => `DS ${d.tag} algorithm ${d.algorithm} digest type ${d.digestType}`).concat(dnskey.map((k) => `DNSKEY ${k.tag} algorithm ${k.algorithm}`));
    const why = `${t(zone)}: no ${what} record uses an algorithm and digest type this validator implements (${list.join(', ')}); the zone is insecure`;
    return algOk
      ? this.insecure(zone, 'unsupported-digest', why, ttl, run, { code: EDE.UNSUPPORTED_DS_DIGEST_TYPE, text: why })
      : this.insecure(zone, 'unsupported-algorithm', why, ttl, run, { code: EDE.UNSUPPORTED_DNSKEY_ALGORITHM, text: why });
  }

  /**
   * Fetches `zone`'s DNSKEY RRset and checks it was signed by a key that one of `ds` (or an
   * identical `anchorKeys` DNSKEY) vouches for; at most `keyTagCollisions` keys per DS.
   */
  private async keyset(zone: Uint8Array, ds: DsInfo[], anchorKeys: DnskeyInfo[], ttlCap: number, run: Run): Promise<KeyEntry | FetchFailure> {
    const r = await this.fetch(zone, RRType.DNSKEY, run, async (resp, from, work) => {
      const set = resp.answer.find((s) => s.type === RRType.DNSKEY && nameEquals(s.lower, zone));
      if (!set) return this.bogus(zone, 'dnskey-missing', EDE.DNSKEY_MISSING, `${t(zone)}: no DNSKEY RRset in the answer${from}`, run);
      const keys = set.rdatas.map(parseDnskey).filter((k): k is DnskeyInfo => k !== null);
      await run.learn(keys.map((k) => k.algorithm));
      const ring = KeyRing.lazy(keys, run.verifier);
      const vouched = new Set<number>();
      for (const d of ds) {
        let tried = 0;
        for (const i of ring.withTag(d.tag, d.algorithm)) {
          if (++tried > run.limits.keyTagCollisions) break;
          if (await dsMatches(zone, ring.keys[i]!, d)) vouched.add(i);
        }
      }
      for (const a of anchorKeys) ring.keys.forEach((k, i) => k.rdata.length === a.rdata.length && k.rdata.every((b, j) => b === a.rdata[j]) && vouched.add(i));
      const usable: number[] = [];
      for (const i of vouched) if (!ring.keys[i]!.revoked && (await ring.load(i)) != null) usable.push(i);
      if (usable.length === 0) {
        const want = ds.map((d) => `DS ${d.tag}/${d.algorithm}`).concat(anchorKeys.map((k) => `DNSKEY ${k.tag}/${k.algorithm}`));
        return this.bogus(zone, 'dnskey-missing', EDE.DNSKEY_MISSING, `${t(zone)}: no DNSKEY${from} matches ${want.join(', ')}`, run);
      }
      const check = await checkRRset(set, zone, ring, run, work, new Set(usable));
      if (!check.ok) return this.bogus(zone, check.reason, check.ede.code, `${check.text}${from}`, run);
      const ttl = Math.min(check.ttl, ttlCap);
      return { kind: 'secure' as const, zone, ring, expires: run.now + ttl * 1000 };
    });
    return r as KeyEntry | FetchFailure;
  }

  /** Whether `name`, directly below secure zone `parent` in the walk, is a zone cut. */
  private async cut(name: Uint8Array, parent: SecureZone, run: Run): Promise<KeyEntry> {
    const step = await this.fetch<DsStep>(name, RRType.DS, run, async (resp, from, work) => {
      if (resp.rcode !== 0 && resp.rcode !== 3) {
        return this.bogus(name, 'key-fetch-failed', EDE.DNSSEC_BOGUS, `the DS query for ${t(name)} was answered with RCODE ${resp.rcode}${from}`, run);
      }
      const set = resp.answer.find((s) => s.type === RRType.DS && nameEquals(s.lower, name));
      if (set) {
        const check = await checkRRset(set, parent.zone, parent.ring, run, work);
        if (!check.ok) return this.bogus(name, check.reason, check.ede.code, `${check.text}${from}`, run);
        return { kind: 'ds', ds: set.rdatas.map(parseDs).filter((d): d is DsInfo => d !== null), ttl: check.ttl };
      }
      const proof = await checkProof(resp.authority, parent.zone, parent.ring, run, work);
      if (proof.records.nsec.length === 0 && proof.records.nsec3.length === 0) {
        if (proof.failure) return this.bogus(name, proof.failure.reason, proof.failure.ede.code, `${proof.failure.text}${from}`, run);
        const why = `${t(name)}: no DS and no NSEC or NSEC3 from ${t(parent.zone)} proving there is none${from}`;
        return this.bogus(name, 'nsec-missing', EDE.NSEC_MISSING, why, run);
      }
      const d = await proveDenial(
        { name, type: RRType.DS, mode: resp.rcode === 3 ? 'nxdomain' : 'nodata' },
        proof.records,
        { hash: (n, p) => run.hash(n, p, work), maxIterations: run.limits.nsec3Iterations },
      );
      const expires = run.now + proof.ttl * 1000;
      switch (d.kind) {
        case 'nxdomain':
          return { kind: 'nocut', zone: name, absent: true, expires };
        case 'nodata':
          return d.delegation
            ? this.insecure(name, 'unsigned-delegation', `${t(name)} is an unsigned delegation from ${t(parent.zone)} (no DS, proven)`, proof.ttl, run)
            : { kind: 'nocut', zone: name, absent: false, expires };
        case 'insecure':
          return this.insecure(name, d.reason, d.text, proof.ttl, run, d.ede);
        case 'wildcard':
          return this.bogus(name, 'bad-denial', EDE.DNSSEC_BOGUS, `${t(name)}: unexpected wildcard proof for a DS query${from}`, run);
        default: {
          const f = proof.failure ?? d;
          return this.bogus(name, f.reason, f.ede.code, `${f.text}${from}`, run);
        }
      }
    });
    if (step.kind !== 'ds') return this.keep(step as KeyEntry | FetchFailure, run);
    const ds = step.ds;
    await run.learn(ds.map((d) => d.algorithm));
    const usable = usableDs(ds, (a) => run.supports(a));
    if (usable.length === 0) return this.keep(this.unsupported(name, ds, [], 'DS', step.ttl, run), run);
    return this.keep(await this.keyset(name, usable, [], step.ttl, run), run);
  }
}
