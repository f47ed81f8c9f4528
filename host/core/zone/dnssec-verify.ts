/**
 * DNSSEC verification of a whole zone, the way a validator would see every answer from it:
 * the apex DNSKEY RRset against a trust anchor, then every RRSIG (RFC 4034/4035) with
 * WebCrypto, each validity window against an injectable clock, and the NSEC chain. A zone
 * copy whose signatures have expired must not be served: the 2023 incident was exactly that.
 * The per-RRSIG checks, key lookup and signed bytes are dnssec-rrsig.ts and signed-data.ts,
 * the same steps the message validator (host/core/dnssec/) takes for one answer.
 */

import { RRType, typeToName } from '../dns/rr-types.js';
import { nameToText, u32 } from '../dns/wire.js';
import {
  dsDigestSupported,
  dsMatches,
  parseDnskey,
  parseDs,
  verifierSupports,
  webCryptoVerifier,
  type DnskeyInfo,
  type SignatureVerifier,
} from './dnssec-keys.js';
import { absoluteTime, isoTime, KeyRing, parseRrsig, precheckRrsig, type SigOutcome } from './dnssec-rrsig.js';
import { nameEquals, wireNameLength } from '../dns/name.js';
import { checkNsec3Chain } from './nsec3-chain.js';
import { buildSignedData, signatureOf } from './signed-data.js';
import { encodeBitmap, typesAt } from './type-bitmap.js';
import type { PrefetchLookup } from './signature-prefetch.js';
import type { TrustAnchor } from './trust-anchor.js';
import {
  canonicalAt,
  findSet,
  nameAt,
  NODE_BELOW_CUT,
  NODE_BELOW_DNAME,
  NODE_ENT,
  SET_AUTH,
  type Zone,
} from './zone.js';

export type DnssecStatus = 'verified' | 'expired' | 'bogus' | 'unsigned' | 'no-anchor' | 'insecure';
export type DnssecPolicy = 'require' | 'verify-if-present' | 'ignore';
export type KeysetStatus = 'verified' | 'expired' | 'bogus' | 'no-anchor' | 'unsigned' | 'insecure';

export interface KeySummary {
  tag: number;
  algorithm: number;
  flags: number;
  /** Matches the trust anchor. */
  anchored: boolean;
  supported: boolean;
}

export interface DnssecResult {
  status: DnssecStatus;
  /** The first reason the status is not `verified`, in words. */
  reason?: string;
  /** The apex DNSKEY RRset against the trust anchor. */
  keyset: KeysetStatus;
  keys: KeySummary[];
  /** RRSIG records examined. */
  signatures: number;
  /** RRSIGs that verified and are inside their validity window. */
  valid: number;
  /** Authoritative RRsets that must be signed. */
  rrsets: number;
  /** The first failures, each "name TYPE: why". */
  failures: string[];
  failureCount: number;
  /**
   * Milliseconds since the epoch after which some authoritative RRset has no valid signature
   * left: for each RRset the latest expiration of its good signatures, then the earliest of those.
   */
  earliestExpiration: number | null;
  /** The denial-of-existence chain (NSEC or NSEC3, whichever the zone has). */
  nsec: 'verified' | 'broken' | 'unsupported' | 'none';
  denial: 'nsec' | 'nsec3' | 'none';
  warnings: string[];
}

export interface DnssecOptions {
  anchor?: TrustAnchor | null;
  /** Milliseconds since the epoch; the validity windows are checked against it. */
  now?: number;
  /** Signature verifications in flight at once. */
  concurrency?: number;
  /** Default: WebCrypto. */
  verifier?: SignatureVerifier;
  /**
   * Called once the signatures have been handed to the verifier (or there are none), so a
   * caller can use this thread for other work while they are checked.
   */
  onDispatched?: () => void;
  /** Results of signature checks started while the zone was parsed (SignaturePrefetch). */
  prefetch?: PrefetchLookup;
}

const MAX_FAILURES = 20;

/** True when `policy` lets a zone with this DNSSEC status be used. */
export function dnssecAcceptable(status: DnssecStatus, policy: DnssecPolicy): boolean {
  if (policy === 'ignore') return true;
  if (policy === 'require') return status === 'verified';
  return status === 'verified' || status === 'unsigned' || status === 'no-anchor' || status === 'insecure';
}

/** One RRSIG over authoritative data; `keyIdx` narrows to the key that verified it. */
interface SigCheck {
  set: number;
  record: number;
  keyIdx: number[];
  outcome: SigOutcome;
  detail: string;
  expiration: number;
  inception: number;
}

class Failures {
  readonly list: string[] = [];
  count = 0;
  add(msg: string): void {
    this.count++;
    if (this.list.length < MAX_FAILURES) this.list.push(msg);
  }
}

type Base = Omit<DnssecResult, 'status' | 'keyset' | 'reason'>;

/**
 * The steps, in order: the apex keys (`apexKeys`), the algorithms there is a path through
 * (`unsupportedOnly`), one check per RRSIG (`collectChecks`), the crypto handed to the
 * verifier in batches (`runChecks`), and while it works the trust anchor (`anchorKeys`) and the
 * denial chain (`checkDenial`); then per RRset the verdicts are summed up (`summarize`) and
 * the status decided (`decide`).
 */
export async function verifyDnssec(zone: Zone, options: DnssecOptions = {}): Promise<DnssecResult> {
  const now = options.now ?? Date.now();
  const nowSec = Math.floor(now / 1000);
  const failures = new Failures();
  const warnings: string[] = [];
  const base: Base = {
    keys: [],
    signatures: zone.sigs.length,
    valid: 0,
    rrsets: 0,
    failures: failures.list,
    failureCount: 0,
    earliestExpiration: null,
    nsec: 'none',
    denial: 'none',
    warnings,
  };

  const keySet = zone.names.count ? findSet(zone, 0, RRType.DNSKEY) : -1;
  if (keySet < 0) {
    options.onDispatched?.();
    if (zone.sigs.length === 0) return { ...base, status: 'unsigned', keyset: 'unsigned', reason: 'the zone has no DNSKEY and no RRSIG' };
    return {
      ...base,
      status: 'bogus',
      keyset: 'bogus',
      reason: 'RRSIG records but no DNSKEY RRset at the apex',
      failures: ['apex: RRSIG records but no DNSKEY RRset'],
      failureCount: 1,
    };
  }
  const verifier = options.verifier ?? webCryptoVerifier;
  const anchor = options.anchor ?? null;
  const { ring, keyRecords } = await apexKeys(zone, keySet, verifier, warnings);
  const supported = await supportedSet(verifier, ring.keys, anchor);
  const keySummary = (anchored: Set<number>): KeySummary[] =>
    ring.keys.map((k, i) => ({ tag: k.tag, algorithm: k.algorithm, flags: k.flags, anchored: anchored.has(i), supported: ring.handles[i] != null }));

  const noPath = unsupportedOnly(zone, anchor, ring.keys, supported);
  if (noPath) {
    options.onDispatched?.();
    base.keys = keySummary(new Set());
    return insecureResult(zone, base, noPath, nowSec);
  }

  const checks = collectChecks(zone, ring, nowSec, supported, failures, warnings, base);
  let dispatched = false;
  const signal = (): void => {
    if (!dispatched) {
      dispatched = true;
      options.onDispatched?.();
    }
  };
  const cryptoDone = runChecks(zone, checks, ring, keyRecords, verifier, options);
  // while the verifier works: which keys the trust anchor vouches for, and the denial chain
  const { anchored, problem } = await anchorKeys(zone, anchor, ring, signal);
  signal();
  base.keys = keySummary(anchored);
  await checkDenial(zone, failures, warnings, base);
  await cryptoDone;
  const summary = summarize(zone, checks, keySet, anchor, anchored, failures, base);
  base.failureCount = failures.count;
  return decide(base, summary, anchor, problem, failures);
}

/** The apex DNSKEY RRset, imported once per key; a key that cannot be used becomes a warning. */
async function apexKeys(
  zone: Zone,
  keySet: number,
  verifier: SignatureVerifier,
  warnings: string[],
): Promise<{ ring: KeyRing; keyRecords: number[] }> {
  const { sets, table } = zone;
  const keys: DnskeyInfo[] = [];
  const keyRecords: number[] = [];
  for (let q = sets.rrFirst[keySet]!; q < sets.rrFirst[keySet]! + sets.rrCount[keySet]!; q++) {
    const info = parseDnskey(table.rdata(zone.rrs[q]!));
    if (info) {
      keys.push(info);
      keyRecords.push(zone.rrs[q]!);
    }
  }
  const ring = await KeyRing.import(keys, verifier, (k, err) => warnings.push(`DNSKEY ${k.tag}/${k.algorithm} cannot be used: ${err.message}`));
  return { ring, keyRecords };
}

/** The algorithms among the zone's keys and the anchor's records that the verifier can check. */
async function supportedSet(verifier: SignatureVerifier, keys: readonly DnskeyInfo[], anchor: TrustAnchor | null): Promise<Set<number>> {
  const algs = new Set<number>(keys.map((k) => k.algorithm));
  for (const d of anchor?.ds ?? []) if (d.length >= 5) algs.add(d[2]!);
  for (const k of anchor?.dnskey ?? []) if (k.length >= 4) algs.add(k[3]!);
  const out = new Set<number>();
  for (const a of algs) if (await verifierSupports(verifier, a)) out.add(a);
  return out;
}

/**
 * One check per RRSIG over authoritative data; RRsets without one and orphan RRSIGs are failures.
 * The checks of one RRset are consecutive (summarize counts on it).
 */
function collectChecks(
  zone: Zone,
  ring: KeyRing,
  nowSec: number,
  supported: Set<number>,
  failures: Failures,
  warnings: string[],
  base: Base,
): SigCheck[] {
  const { names, sets, table } = zone;
  const ctx = { apex: zone.origin, ownerLabels: 0, nowSec, ring, supported: (a: number) => supported.has(a) };
  const checks: SigCheck[] = [];
  let nonAuthSigs = 0;
  for (let k = 0; k < names.count; k++) {
    ctx.ownerLabels = names.labels[k]!;
    for (let s = names.setFirst[k]!; s < names.setFirst[k]! + names.setCount[k]!; s++) {
      if ((sets.flags[s]! & SET_AUTH) === 0) {
        nonAuthSigs += sets.sigCount[s]!;
        continue;
      }
      base.rrsets++;
      if (sets.sigCount[s] === 0) failures.add(`${label(zone, k, sets.type[s]!)}: no RRSIG`);
      for (let q = sets.sigFirst[s]!; q < sets.sigFirst[s]! + sets.sigCount[s]!; q++) {
        const r = zone.sigs[q]!;
        const pre = precheckRrsig(parseRrsig(table.rdata(r)), ctx);
        checks.push({ set: s, record: r, keyIdx: pre.keys, outcome: pre.outcome, detail: pre.detail, expiration: pre.expiration, inception: pre.inception });
      }
    }
    for (let q = names.orphanFirst[k]!; q < names.orphanFirst[k]! + names.orphanCount[k]!; q++) {
      const r = zone.sigs[q]!;
      const covered = table.rdLen[r]! >= 2 ? (table.bytes[table.rdOff[r]!]! << 8) | table.bytes[table.rdOff[r]! + 1]! : 0;
      failures.add(`${label(zone, k, covered)}: RRSIG covers a type that has no RRset here`);
    }
  }
  if (nonAuthSigs) warnings.push(`${nonAuthSigs} RRSIGs over glue, delegation NS or occluded data ignored`);
  return checks;
}

/**
 * The crypto. Signatures go to the verifier in large batches, so its threads stay busy while
 * this thread goes on (to the anchor, the denial chain, the ZONEMD digest); results the
 * prefetch already has (same key, exactly the same RRset) are used as they are. A key-tag
 * collision gets a second round with the next key.
 */
async function runChecks(
  zone: Zone,
  checks: SigCheck[],
  ring: KeyRing,
  keyRecords: number[],
  verifier: SignatureVerifier,
  options: DnssecOptions,
): Promise<void> {
  const batchSize = Math.max(1, options.concurrency ?? 4096);
  const badSignature = (c: SigCheck): void => {
    c.outcome = 'bad-signature';
    c.detail = `signature by key ${keyTagOf(zone, c.record)} does not verify`;
  };
  const verifyRounds = async (first: Array<{ c: SigCheck; k: number }>): Promise<void> => {
    let round = first;
    while (round.length > 0) {
      const retry: typeof round = [];
      // a few batches in flight at once, so the verifier never waits for this thread
      const inFlight: Array<Promise<void>> = [];
      for (let i = 0; i < round.length; i += batchSize) {
        const slice = round.slice(i, i + batchSize);
        const pending = verifier.verifyBatch(
          slice.map(({ c, k }) => ({
            key: ring.handles[c.keyIdx[k]!],
            signature: signatureOf(zone.table, c.record),
            data: zoneSignedData(zone, c.set, c.record),
          })),
        );
        inFlight.push(
          pending.then((results) => {
            slice.forEach(({ c, k }, j) => {
              if (results[j]) c.keyIdx = [c.keyIdx[k]!];
              else if (k + 1 < c.keyIdx.length) retry.push({ c, k: k + 1 });
              else badSignature(c);
            });
          }),
        );
        if (inFlight.length >= 4) await inFlight.shift();
      }
      await Promise.all(inFlight);
      round = retry;
    }
  };
  const { sets } = zone;
  const fresh: Array<{ c: SigCheck; k: number }> = [];
  const early: Array<{ c: SigCheck; ok: Promise<boolean | null> }> = [];
  for (const c of checks) {
    if (c.keyIdx.length === 0) continue;
    const ok =
      c.keyIdx.length === 1 && options.prefetch
        ? options.prefetch.lookup(c.record, keyRecords[c.keyIdx[0]!]!, zone.rrs, sets.rrFirst[c.set]!, sets.rrCount[c.set]!)
        : null;
    if (ok) early.push({ c, ok });
    else fresh.push({ c, k: 0 });
  }
  await verifyRounds(fresh);
  const again: Array<{ c: SigCheck; k: number }> = [];
  for (const { c, ok } of early) {
    const result = await ok;
    if (result === null) again.push({ c, k: 0 });
    else if (!result) badSignature(c);
  }
  await verifyRounds(again);
}

/**
 * The keys the trust anchor vouches for: a DS digest match or an identical DNSKEY. `signal`
 * runs once the digests are under way. `problem` says why none are, when none are.
 */
async function anchorKeys(
  zone: Zone,
  anchor: TrustAnchor | null,
  ring: KeyRing,
  signal: () => void,
): Promise<{ anchored: Set<number>; problem: string | null }> {
  const anchored = new Set<number>();
  if (!anchor) return { anchored, problem: null };
  if (!nameEquals(anchor.owner, zone.origin)) {
    return { anchored, problem: `the trust anchor is for ${nameToText(anchor.owner)}, the zone is ${nameToText(zone.origin)}` };
  }
  const pendingDigests: Array<Promise<void>> = [];
  for (const rd of anchor.ds) {
    const ds = parseDs(rd);
    if (!ds || !dsDigestSupported(ds.digestType)) continue;
    for (const i of ring.withTag(ds.tag, ds.algorithm)) {
      pendingDigests.push(
        dsMatches(zone.origin, ring.keys[i]!, ds).then((ok) => {
          if (ok) anchored.add(i);
        }),
      );
    }
  }
  for (const dk of anchor.dnskey) {
    ring.keys.forEach((k, i) => {
      if (k.rdata.length === dk.length && k.rdata.every((b, j) => b === dk[j])) anchored.add(i);
    });
  }
  signal();
  await Promise.all(pendingDigests);
  if (anchored.size > 0) return { anchored, problem: null };
  const want = anchor.ds.map((d) => `DS ${(d[0]! << 8) | d[1]!}/${d[2]}`).concat(anchor.dnskey.map(() => 'DNSKEY'));
  return { anchored, problem: `no DNSKEY in the zone matches the trust anchor (${want.join(', ')})` };
}

/** The denial-of-existence chain, NSEC or NSEC3, whichever the zone has. */
async function checkDenial(zone: Zone, failures: Failures, warnings: string[], base: Base): Promise<void> {
  const chain = checkNsecChain(zone, failures);
  base.denial = chain === 'nsec3' ? 'nsec3' : chain === 'none' ? 'none' : 'nsec';
  base.nsec = chain === 'nsec3' ? await checkNsec3Chain(zone, (m) => failures.add(m), warnings) : chain;
}

interface Summary {
  keyset: KeysetStatus;
  expiredSets: number;
  earliestExpired: number | null;
}

/**
 * Per RRset: good when any signature is valid now; the copy's expiry is, per RRset, the latest
 * expiration of its good signatures, then the earliest across RRsets. The DNSKEY RRset must be
 * signed by an anchored key when there is an anchor.
 */
function summarize(
  zone: Zone,
  checks: SigCheck[],
  keySet: number,
  anchor: TrustAnchor | null,
  anchored: Set<number>,
  failures: Failures,
  base: Base,
): Summary {
  const { sets } = zone;
  let expiredSets = 0;
  let earliestExpired: number | null = null;
  let earliest: number | null = null;
  let keyset: KeysetStatus = anchor ? 'bogus' : 'no-anchor';
  // collectChecks lists each RRset's checks together: one run per RRset, no map of lists
  for (let from = 0; from < checks.length; ) {
    const s = checks[from]!.set;
    let to = from + 1;
    while (to < checks.length && checks[to]!.set === s) to++;
    const list = checks.slice(from, to);
    from = to;
    const k = sets.name[s]!;
    let best = -Infinity;
    let bestExpired = -Infinity;
    for (const c of list) {
      if (c.outcome === 'valid') {
        base.valid++;
        if (c.expiration > best) best = c.expiration;
      } else if (c.outcome === 'expired' && c.expiration > bestExpired) bestExpired = c.expiration;
      if (c.outcome === 'bad-signature' || c.outcome === 'malformed') failures.add(`${label(zone, k, sets.type[s]!)}: ${c.detail}`);
    }
    if (best > -Infinity) {
      if (earliest === null || best * 1000 < earliest) earliest = best * 1000;
    } else if (bestExpired > -Infinity) {
      expiredSets++;
      if (earliest === null || bestExpired * 1000 < earliest) earliest = bestExpired * 1000;
      if (earliestExpired === null || bestExpired < earliestExpired) earliestExpired = bestExpired;
    } else if (!list.some((c) => c.outcome === 'bad-signature' || c.outcome === 'malformed')) {
      failures.add(`${label(zone, k, sets.type[s]!)}: ${list[0]!.detail}`);
    }
    if (s === keySet) {
      const relevant = anchor ? list.filter((c) => c.keyIdx.length === 1 && anchored.has(c.keyIdx[0]!)) : list;
      if (relevant.some((c) => c.outcome === 'valid')) keyset = anchor ? 'verified' : 'no-anchor';
      else if (relevant.some((c) => c.outcome === 'expired')) keyset = 'expired';
      else keyset = 'bogus';
    }
  }
  base.earliestExpiration = earliest;
  return { keyset, expiredSets, earliestExpired };
}

/** The status, from the first thing wrong (the anchor, the key set, any failure, expiry). */
function decide(base: Base, summary: Summary, anchor: TrustAnchor | null, anchorProblem: string | null, failures: Failures): DnssecResult {
  const keyset: KeysetStatus = anchorProblem ? 'bogus' : summary.keyset;
  const result = (status: DnssecStatus, reason?: string): DnssecResult => ({
    ...base,
    status,
    keyset,
    ...(reason !== undefined ? { reason } : {}),
  });
  if (anchorProblem) return result('bogus', anchorProblem);
  if (keyset === 'bogus') {
    return result('bogus', anchor ? 'the DNSKEY RRset has no valid signature by a trust-anchored key' : 'the DNSKEY RRset has no valid signature');
  }
  if (failures.count > 0) return result('bogus', `${failures.count} verification failures; first: ${failures.list[0]}`);
  if (summary.expiredSets > 0 || keyset === 'expired') {
    return result('expired', `${summary.expiredSets} RRsets have only expired signatures; the earliest expired ${isoTime(summary.earliestExpired ?? 0)}`);
  }
  if (!anchor) return result('no-anchor', 'signatures are consistent with the zone’s own DNSKEYs, but no trust anchor was given');
  return result('verified');
}

function label(zone: Zone, k: number, type: number): string {
  return `${nameToText(nameAt(zone, k))} ${typeToName(type)}`;
}

/**
 * RFC 4035 §5.2 and RFC 6840 §5.2: when no trust-anchor record (without an anchor: no zone key)
 * names an algorithm and DS digest type we implement, there is no authentication path to
 * follow and a validator treats the zone as insecure, not bogus. Refusing such a zone would be
 * failing on something new, the lesson of 2023. Returns why, or null when a path exists.
 */
function unsupportedOnly(zone: Zone, anchor: TrustAnchor | null, keys: readonly DnskeyInfo[], supportedAlgs: Set<number>): string | null {
  const supported = (alg: number): boolean => supportedAlgs.has(alg);
  if (anchor) {
    // an anchor for another name is a mistake to report, not a reason to go insecure
    if (!nameEquals(anchor.owner, zone.origin)) return null;
    const ds = anchor.ds.filter((d) => d.length >= 5);
    const usable =
      ds.some((d) => supported(d[2]!) && dsDigestSupported(d[3]!)) || anchor.dnskey.some((k) => k.length >= 4 && supported(k[3]!));
    if (usable) return null;
    const what = ds
      .map((d) => `DS ${(d[0]! << 8) | d[1]!} algorithm ${d[2]} digest type ${d[3]}`)
      .concat(anchor.dnskey.map((k) => `DNSKEY algorithm ${k[3]}`));
    return `no trust-anchor record uses an algorithm and digest type this verifier supports (${what.join(', ')}); the signatures were not checked`;
  }
  const zoneKeys = keys.filter((k) => k.protocol === 3 && k.zoneKey);
  if (zoneKeys.length === 0 || zoneKeys.some((k) => supported(k.algorithm))) return null;
  const algs = [...new Set(zoneKeys.map((k) => k.algorithm))].sort((a, b) => a - b);
  return `the zone's keys use only DNSSEC algorithms this verifier does not support (${algs.join(', ')}); the signatures were not checked`;
}

/**
 * An insecure zone is used as unsigned data, but a validator downstream that does implement
 * the algorithm will check the signatures we serve: the copy still expires when they claim to
 * (per RRset the latest expiration, then the earliest of those; unverified).
 */
function insecureResult(
  zone: Zone,
  base: Omit<DnssecResult, 'status' | 'keyset' | 'reason'>,
  reason: string,
  nowSec: number,
): DnssecResult {
  const { names, sets, table } = zone;
  const b = table.bytes;
  let rrsets = 0;
  let earliest: number | null = null;
  let denial: DnssecResult['denial'] = 'none';
  for (let s = 0; s < sets.count; s++) {
    if (sets.type[s] === RRType.NSEC) denial = 'nsec';
    else if (denial === 'none' && (sets.type[s] === RRType.NSEC3 || sets.type[s] === RRType.NSEC3PARAM)) denial = 'nsec3';
  }
  for (let k = 0; k < names.count; k++) {
    for (let s = names.setFirst[k]!; s < names.setFirst[k]! + names.setCount[k]!; s++) {
      if ((sets.flags[s]! & SET_AUTH) === 0) continue;
      rrsets++;
      let latest = -Infinity;
      for (let q = sets.sigFirst[s]!; q < sets.sigFirst[s]! + sets.sigCount[s]!; q++) {
        const r = zone.sigs[q]!;
        if (table.rdLen[r]! < 20) continue;
        const o = table.rdOff[r]!;
        const t = absoluteTime(u32(b, o + 8), nowSec);
        if (t > latest) latest = t;
      }
      if (latest > -Infinity && (earliest === null || latest * 1000 < earliest)) earliest = latest * 1000;
    }
  }
  return {
    ...base,
    status: 'insecure',
    keyset: 'insecure',
    reason,
    rrsets,
    earliestExpiration: earliest,
    denial,
    // like the signatures, the chain is not checked: nothing a validator could rely on
    nsec: denial === 'none' ? 'none' : 'unsupported',
  };
}

function keyTagOf(zone: Zone, r: number): number {
  const o = zone.table.rdOff[r]!;
  return (zone.table.bytes[o + 16]! << 8) | zone.table.bytes[o + 17]!;
}

function zoneSignedData(zone: Zone, s: number, r: number): Uint8Array {
  const k = zone.sets.name[s]!;
  return buildSignedData(
    zone.table,
    r,
    nameAt(zone, k),
    zone.names.labels[k]!,
    zone.sets.type[s]!,
    zone.class,
    zone.rrs,
    zone.sets.rrFirst[s]!,
    zone.sets.rrCount[s]!,
    (rr) => canonicalAt(zone, rr),
  );
}

/**
 * The NSEC chain (RFC 4035 §2.3): every authoritative name, delegations included, has an NSEC
 * naming the next such name in canonical order (the last one the apex), with a type bitmap
 * that lists exactly the types present. `static_zone` builds NXDOMAIN proofs from it.
 */
function checkNsecChain(zone: Zone, failures: Failures): DnssecResult['nsec'] | 'nsec3' {
  const { names, sets, table } = zone;
  let nsecs = 0;
  for (let s = 0; s < sets.count; s++) if (sets.type[s] === RRType.NSEC) nsecs++;
  if (nsecs === 0) {
    let nsec3 = false;
    for (let s = 0; s < sets.count; s++) if (sets.type[s] === RRType.NSEC3 || sets.type[s] === RRType.NSEC3PARAM) nsec3 = true;
    if (nsec3) return 'nsec3';
    failures.add(`${nameToText(zone.origin)}: signed zone has neither an NSEC nor an NSEC3 chain`);
    return 'broken';
  }
  const chain: number[] = [];
  for (let k = 0; k < names.count; k++) {
    if (!(names.flags[k]! & (NODE_ENT | NODE_BELOW_CUT | NODE_BELOW_DNAME))) chain.push(k);
  }
  const before = failures.count;
  const types = new Int32Array(256);
  const bitmap = new Uint8Array(34 * 256);
  const nb = names.bytes;
  for (let x = 0; x < chain.length; x++) {
    const k = chain[x]!;
    const nextK = chain[(x + 1) % chain.length]!;
    const where = (): string => nameToText(nameAt(zone, k));
    const s = findSet(zone, k, RRType.NSEC);
    if (s < 0) {
      failures.add(`${where()} NSEC: missing (the NSEC chain skips this name)`);
      continue;
    }
    if (sets.rrCount[s]! > 1) {
      failures.add(`${where()} NSEC: more than one NSEC record`);
      continue;
    }
    const r = zone.rrs[sets.rrFirst[s]!]!;
    const rb = table.bytes;
    const ro = table.rdOff[r]!;
    const rl = table.rdLen[r]!;
    const nl = wireNameLength(rb, ro, ro + rl);
    const wo = names.off[nextK]!;
    const wl = names.len[nextK]!;
    let same = nl === wl;
    for (let i = 0; same && i < nl; i++) {
      const c = rb[ro + i]!;
      if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== nb[wo + i]) same = false;
    }
    if (!same) {
      const next = nl > 0 ? nameToText(rb.subarray(ro, ro + nl)) : '(malformed)';
      failures.add(`${where()} NSEC: next name is ${next}, the next name in the zone is ${nameToText(nameAt(zone, nextK))}`);
      continue;
    }
    const n = typesAt(zone, k, types, RRType.NSEC);
    const len = encodeBitmap(types, n, bitmap);
    let match = len === rl - nl;
    for (let i = 0; match && i < len; i++) if (bitmap[i] !== rb[ro + nl + i]) match = false;
    if (!match) {
      const list = Array.from(types.subarray(0, n), typeToName).join(' ');
      failures.add(`${where()} NSEC: type bitmap does not match the types at this name (${list})`);
    }
  }
  return failures.count === before ? 'verified' : 'broken';
}
