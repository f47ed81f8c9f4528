/**
 * One RRset of a response against the validated keys of the zone that signed it (RFC 4035
 * §5.3), with the zone verifier's RRSIG checks (zone/dnssec-rrsig.ts) and signed bytes
 * (zone/signed-data.ts), and every signature check metered by the work budget: at most
 * `keyTagCollisions` keys tried for one RRSIG and `signaturesPerRRset` checks in all, so
 * colliding key tags and piles of signatures (KeyTrap) cost a bounded amount. Signatures
 * outside their validity window are not checked at all. Also the denial records (NSEC, NSEC3)
 * of a response, checked the same way, for denial.ts.
 */

import { RRType, typeToName } from '../dns/rr-types.js';
import { verifierSupports, type SignatureVerifier } from '../zone/dnssec-keys.js';
import { parseRrsig, precheckRrsig, type KeyRing, type RrsigInfo, type SigOutcome } from '../zone/dnssec-rrsig.js';
import { decodeBase32Hex } from '../zone/base-encodings.js';
import { lowerName, nameEquals, nameToText, wireNameLength } from '../dns/name.js';
import { nsec3Hash, parseNsec3, type Nsec3Params } from '../zone/nsec3-chain.js';
import { signedData } from '../zone/signed-data.js';
import { BudgetExceeded, WorkBudget, type ResponseWork, type ValidationLimits } from './budget.js';
import type { KeyFetcher } from './chain.js';
import type { ProofRecords } from './denial.js';
import { EDE, type Ede } from './ede.js';
import { canonicalRdatas, type RRset } from './message.js';
import { isAtOrBelow, isWildcard, parentOf, suffixOf } from './names.js';
import type { VerifiedSignatures } from './verified-cache.js';

/** Per-validation state: clock, budget, verifier, the algorithms the verifier has. */
export class Run {
  readonly budget: WorkBudget;
  readonly nowSec: number;
  private readonly algs = new Map<number, boolean>();

  constructor(
    readonly verifier: SignatureVerifier,
    readonly limits: ValidationLimits,
    readonly now: number,
    readonly deadline: number,
    /** This answer's key source, over the chain's own (ValidateOptions.fetcher). */
    readonly fetcher?: KeyFetcher,
    /** Signatures verified before, shared across answers (verified-cache.ts). */
    readonly verified?: VerifiedSignatures,
  ) {
    this.budget = new WorkBudget(limits);
    this.nowSec = Math.floor(now / 1000);
  }

  /** Learns which of `algs` the verifier can check (Ed448 depends on the runtime). */
  async learn(algs: Iterable<number>): Promise<void> {
    for (const a of algs) if (!this.algs.has(a)) this.algs.set(a, await verifierSupports(this.verifier, a));
  }

  /** Whether the verifier can check `alg`; `learn` it first. */
  supports(alg: number): boolean {
    return this.algs.get(alg) ?? false;
  }

  /** One NSEC3 hash, metered. */
  async hash(name: Uint8Array, params: Nsec3Params, work: ResponseWork): Promise<Uint8Array> {
    this.budget.hash(work);
    return nsec3Hash(name, params);
  }
}

export type RRsetCheck =
  | {
      ok: true;
      /** Seconds this RRset may be used: its TTL, the RRSIG's original TTL, the time to its expiration. */
      ttl: number;
      /** The closest encloser when the RRset was synthesised from a wildcard, else null. */
      wildcard: Uint8Array | null;
    }
  | { ok: false; reason: FailReason; text: string; ede: Ede };

export type FailReason =
  | 'signature-expired'
  | 'signature-not-yet-valid'
  | 'bad-signature'
  | 'dnskey-missing'
  | 'rrsigs-missing'
  | 'unsupported-signature';

const RANK: SigOutcome[] = ['expired', 'not-yet-valid', 'bad-signature', 'no-key', 'unsupported', 'malformed'];

/**
 * Checks `set` against the keys of `zone` (`ring`). `only`, when given, limits the keys that
 * count (a DNSKEY RRset must be signed by a key its DS or trust anchor names).
 */
export async function checkRRset(
  set: RRset,
  zone: Uint8Array,
  ring: KeyRing,
  run: Run,
  work: ResponseWork,
  only?: ReadonlySet<number>,
): Promise<RRsetCheck> {
  const where = `${nameToText(set.owner)} ${typeToName(set.type)}`;
  const fail = (reason: FailReason, code: number, why: string): RRsetCheck => {
    const text = `${where}: ${why} (zone ${nameToText(zone)})`;
    return { ok: false, reason, text, ede: { code, text } };
  };
  if (set.sigs.length === 0) return fail('rrsigs-missing', EDE.RRSIGS_MISSING, 'no RRSIG');
  if (!isAtOrBelow(set.lower, zone)) return fail('bad-signature', EDE.DNSSEC_BOGUS, `signed by ${nameToText(zone)}, which is not an ancestor`);
  const sigs = set.sigs.map(parseRrsig);
  await run.learn(sigs.flatMap((s) => (typeof s === 'string' ? [] : [s.algorithm])));
  const ctx = { apex: zone, ownerLabels: set.labels, nowSec: run.nowSec, ring, supported: (a: number) => run.supports(a) };
  const found = new Map<SigOutcome, string>();
  let canon: Uint8Array[] | null = null;
  let tries = 0;
  for (const sig of sigs) {
    if (typeof sig !== 'string' && sig.typeCovered !== set.type) continue;
    const pre = precheckRrsig(sig, ctx);
    if (pre.outcome !== 'valid') {
      if (!found.has(pre.outcome)) found.set(pre.outcome, pre.detail);
      continue;
    }
    const info = sig as RrsigInfo;
    const keys = (only ? pre.keys.filter((k) => only.has(k)) : pre.keys).slice(0, run.limits.keyTagCollisions);
    if (keys.length === 0) {
      if (!found.has('no-key')) found.set('no-key', `no DNSKEY with tag ${info.keyTag} and algorithm ${info.algorithm} that may sign it`);
      continue;
    }
    canon ??= canonicalRdatas(set);
    const data = signedData(info.head, set.lower, set.labels, set.type, set.cls, canon);
    let checked = false;
    for (const k of keys) {
      const key = await ring.load(k);
      if (key == null) continue;
      checked = true;
      let ok = run.verified?.has(key, info.signature, data) ?? false;
      if (!ok) {
        run.budget.signature(++tries, work);
        ok = (await run.verifier.verifyBatch([{ key, signature: info.signature, data }]))[0] === true;
        if (ok) run.verified?.add(key, info.signature, data);
      }
      if (ok) {
        const ttl = Math.max(0, Math.min(set.ttl, info.originalTtl, pre.expiration - run.nowSec));
        const expanded = info.labels < set.labels - (isWildcard(set.lower) ? 1 : 0);
        return { ok: true, ttl, wildcard: expanded ? suffixOf(set.lower, info.labels) : null };
      }
    }
    if (!checked) {
      if (!found.has('no-key')) found.set('no-key', `no usable DNSKEY with tag ${info.keyTag} and algorithm ${info.algorithm}`);
    } else if (!found.has('bad-signature')) found.set('bad-signature', `signature by key ${info.keyTag} does not verify`);
  }
  const outcome = RANK.find((o) => found.has(o));
  const detail = outcome ? found.get(outcome)! : 'no RRSIG covers this type';
  switch (outcome) {
    case 'expired':
      return fail('signature-expired', EDE.SIGNATURE_EXPIRED, detail);
    case 'not-yet-valid':
      return fail('signature-not-yet-valid', EDE.SIGNATURE_NOT_YET_VALID, detail);
    case 'no-key':
      return fail('dnskey-missing', EDE.DNSKEY_MISSING, detail);
    case 'unsupported':
      return fail('unsupported-signature', EDE.DNSSEC_BOGUS, `${detail}, and the zone's keys have a supported one`);
    case undefined:
      return fail('rrsigs-missing', EDE.RRSIGS_MISSING, detail);
    default:
      return fail('bad-signature', EDE.DNSSEC_BOGUS, detail);
  }
}

/** The denial records of a response's authority section that `zone` signed, checked. */
export interface CheckedProof {
  records: ProofRecords;
  /** Seconds the proof may be used (the smallest of its RRsets'). */
  ttl: number;
  /** The first denial RRset that failed, when one did. */
  failure: RRsetCheck & { ok: false } | null;
}

/** NSEC and NSEC3 RRsets signed by `zone`, each checked; at most `denialRecordsPerResponse`. */
export async function checkProof(authority: RRset[], zone: Uint8Array, ring: KeyRing, run: Run, work: ResponseWork): Promise<CheckedProof> {
  const sets = authority.filter((s) => s.type === RRType.NSEC || s.type === RRType.NSEC3);
  if (sets.length > run.limits.denialRecordsPerResponse) {
    throw new BudgetExceeded('denial-records', `${sets.length} NSEC/NSEC3 RRsets in one response, more than ${run.limits.denialRecordsPerResponse}`);
  }
  const records: ProofRecords = { zone, nsec: [], nsec3: [] };
  let ttl = Infinity;
  let failure: CheckedProof['failure'] = null;
  for (const s of sets) {
    if (!isAtOrBelow(s.lower, zone)) continue;
    const r = await checkRRset(s, zone, ring, run, work);
    if (!r.ok) {
      failure ??= r;
      continue;
    }
    ttl = Math.min(ttl, r.ttl);
    for (const rd of s.rdatas) {
      if (s.type === RRType.NSEC) {
        const nl = wireNameLength(rd, 0, rd.length);
        if (nl < 0) continue;
        records.nsec.push({ owner: s.lower, next: lowerName(rd.slice(0, nl)), bitmap: rd.subarray(nl) });
      } else {
        const info = parseNsec3(rd);
        // the owner is the base32hex hash, one label directly below the apex
        if (!info || !nameEquals(parentOf(s.lower), zone)) continue;
        const label = s.lower.subarray(1, 1 + s.lower[0]!);
        const hash = new Uint8Array(label.length);
        const end = decodeBase32Hex(label, 0, label.length, hash, 0);
        if (end > 0) records.nsec3.push({ hash: hash.slice(0, end), info });
      }
    }
  }
  return { records, ttl: ttl === Infinity ? 0 : ttl, failure };
}
