/**
 * Proofs of non-existence, over NSEC (RFC 4035 §5.4, RFC 6840 §4) and NSEC3 (RFC 5155 §8)
 * records whose signatures the caller has already checked: name error, no data (the empty
 * non-terminal and wildcard cases included), the next closer name of a wildcard answer, and
 * for a DS query whether the name is an unsigned delegation (the answer is then insecure) or
 * no zone cut at all. Opt-Out (RFC 5155 §6) and NSEC3 iterations above the limit
 * (RFC 9276 §3.2) make a proof insecure, never bogus. NSEC3 hashes go through `hash`, which
 * the caller meters.
 */

import { RRType, typeToName } from '../dns/rr-types.js';
import { sameBytes } from '../dns/bytes.js';
import { compareNames, countLabels, nameEquals, nameToText } from '../dns/name.js';
import { nsec3Covers, type Nsec3Info, type Nsec3Params } from '../zone/nsec3-chain.js';
import { bitmapHas } from '../zone/type-bitmap.js';
import { EDE, type Ede } from './ede.js';
import { commonAncestor, isAtOrBelow, nameKey, parentOf, suffixOf, wildcardOf } from './names.js';

export interface NsecRecord {
  /** Lower-case owner and next name. */
  owner: Uint8Array;
  next: Uint8Array;
  bitmap: Uint8Array;
}

export interface Nsec3Record {
  /** The owner's hash (its first label, base32hex-decoded). */
  hash: Uint8Array;
  info: Nsec3Info;
}

/** Validated denial records of one zone. */
export interface ProofRecords {
  /** Lower-case apex of the zone that signed them. */
  zone: Uint8Array;
  nsec: NsecRecord[];
  nsec3: Nsec3Record[];
}

export type Denial =
  /** The name, and so everything below it, does not exist. */
  | { kind: 'nxdomain' }
  /** The name exists without the type; `delegation`: it is a zone cut seen from the parent (NS, no SOA). */
  | { kind: 'nodata'; delegation: boolean }
  /** The wildcard answer's next closer name does not exist. */
  | { kind: 'wildcard' }
  | { kind: 'insecure'; reason: 'opt-out' | 'nsec3-iterations'; text: string; ede?: Ede }
  | { kind: 'bogus'; reason: 'nsec-missing' | 'bad-denial'; text: string; ede: Ede };

export interface DenialQuestion {
  /** Lower-case name the proof is about. */
  name: Uint8Array;
  type: number;
  /** What is to be proven: name error, no data, or (for a wildcard answer) that the next closer name does not exist. */
  mode: 'nxdomain' | 'nodata' | 'wildcard';
  /** For `wildcard`: the closest encloser the RRSIG's labels field names. */
  closestEncloser?: Uint8Array;
}

export interface DenialContext {
  /** The NSEC3 hash of a lower-case name, metered (throws BudgetExceeded past the budget). */
  hash(name: Uint8Array, params: Nsec3Params): Promise<Uint8Array>;
  /** Iterations above this make an NSEC3 proof insecure. */
  maxIterations: number;
}

const missing = (text: string): Denial => ({ kind: 'bogus', reason: 'nsec-missing', text, ede: { code: EDE.NSEC_MISSING, text } });
const bad = (text: string): Denial => ({ kind: 'bogus', reason: 'bad-denial', text, ede: { code: EDE.DNSSEC_BOGUS, text } });
const t = nameToText;

/** Proves `q` with `recs`: NSEC when there are NSEC records, else NSEC3. */
export async function proveDenial(q: DenialQuestion, recs: ProofRecords, ctx: DenialContext): Promise<Denial> {
  if (!isAtOrBelow(q.name, recs.zone)) return missing(`${t(q.name)} is not in the zone ${t(recs.zone)} that signed the proof`);
  if (recs.nsec.length > 0) return proveWithNsec(q, recs);
  if (recs.nsec3.length > 0) return proveWithNsec3(q, recs, ctx);
  return missing(`no NSEC or NSEC3 record proves ${what(q)}`);
}

function what(q: DenialQuestion): string {
  if (q.mode === 'nxdomain') return `that ${t(q.name)} does not exist`;
  if (q.mode === 'nodata') return `that ${t(q.name)} has no ${typeToName(q.type)}`;
  return `that the wildcard answer for ${t(q.name)} is the only one`;
}

/** An NSEC at an ancestor that is a delegation (NS, no SOA) or a DNAME proves nothing below it (RFC 6840 §4.1). */
function shadows(n: NsecRecord | { owner: Uint8Array; bitmap: Uint8Array }, name: Uint8Array): boolean {
  if (nameEquals(n.owner, name) || !isAtOrBelow(name, n.owner)) return false;
  return (bitmapHas(n.bitmap, RRType.NS) && !bitmapHas(n.bitmap, RRType.SOA)) || bitmapHas(n.bitmap, RRType.DNAME);
}

function nsecMatches(n: NsecRecord, name: Uint8Array): boolean {
  return nameEquals(n.owner, name);
}

/** owner < name < next in canonical order; the zone's last NSEC (next = apex) covers all after it. */
function nsecCovers(n: NsecRecord, name: Uint8Array, zone: Uint8Array): boolean {
  if (!isAtOrBelow(n.next, zone) || shadows(n, name)) return false;
  if (compareNames(n.owner, name) >= 0) return false;
  return compareNames(n.next, n.owner) <= 0 || compareNames(name, n.next) < 0;
}

/** The closest encloser an NSEC covering `name` shows: the deeper common ancestor with its owner or next name. */
function nsecClosestEncloser(name: Uint8Array, n: NsecRecord, zone: Uint8Array): Uint8Array {
  const a = commonAncestor(name, n.owner);
  const b = commonAncestor(name, n.next);
  const ce = countLabels(a) >= countLabels(b) ? a : b;
  return isAtOrBelow(ce, zone) ? ce : zone;
}

function lacks(bitmap: Uint8Array, type: number): boolean {
  return !bitmapHas(bitmap, type) && (type === RRType.CNAME || !bitmapHas(bitmap, RRType.CNAME));
}

/** The checks a record at exactly the name must pass for a NODATA proof of `type`. */
function nodataAt(bitmap: Uint8Array, owner: Uint8Array, q: DenialQuestion, zone: Uint8Array, kind: string): Denial {
  const types = `${kind} at ${t(owner)}`;
  if (bitmapHas(bitmap, q.type)) return bad(`${types} lists ${typeToName(q.type)}, so it cannot deny it`);
  if (q.type !== RRType.CNAME && bitmapHas(bitmap, RRType.CNAME)) return bad(`${types} lists CNAME: the answer should have followed it`);
  const ns = bitmapHas(bitmap, RRType.NS);
  const soa = bitmapHas(bitmap, RRType.SOA);
  if (q.type === RRType.DS) {
    // the child's apex record answers for the child, not for the DS its parent holds
    if (soa && owner.length > 1) return bad(`${types} is the child zone's own (SOA), not its parent's: it cannot deny the DS`);
  } else if (ns && !soa && !nameEquals(owner, zone)) {
    return bad(`${types} is a delegation seen from the parent: it cannot deny ${typeToName(q.type)}`);
  }
  return { kind: 'nodata', delegation: ns && !soa };
}

function proveWithNsec(q: DenialQuestion, recs: ProofRecords): Denial {
  const { zone, nsec } = recs;
  const covering = nsec.find((n) => nsecCovers(n, q.name, zone));
  if (q.mode === 'wildcard') {
    if (covering && nameEquals(nsecClosestEncloser(q.name, covering, zone), q.closestEncloser!)) return { kind: 'wildcard' };
    return missing(`no NSEC proves ${t(q.name)} does not exist, as its wildcard answer needs`);
  }
  const match = nsec.find((n) => nsecMatches(n, q.name));
  if (q.mode === 'nodata') {
    if (match) return nodataAt(match.bitmap, match.owner, q, zone, 'NSEC');
    // an empty non-terminal: the NSEC before it points to a name below it
    if (covering && isAtOrBelow(covering.next, q.name) && !nameEquals(covering.next, q.name)) return { kind: 'nodata', delegation: false };
  } else if (match) {
    return bad(`NSEC at ${t(q.name)} says the name exists, but the answer is NXDOMAIN`);
  }
  if (!covering) return missing(`no NSEC proves ${what(q)}`);
  const ce = nsecClosestEncloser(q.name, covering, zone);
  const wc = wildcardOf(ce);
  if (q.mode === 'nodata') {
    const w = nsec.find((n) => nsecMatches(n, wc));
    if (!w) return missing(`no NSEC proves ${what(q)} (neither at the name nor at ${t(wc)})`);
    const r = nodataAt(w.bitmap, w.owner, q, zone, 'NSEC');
    return r.kind === 'nodata' ? { kind: 'nodata', delegation: false } : r;
  }
  if (nsec.some((n) => nsecMatches(n, wc))) return bad(`NSEC shows the wildcard ${t(wc)} exists, so ${t(q.name)} is not NXDOMAIN`);
  if (!nsec.some((n) => nsecCovers(n, wc, zone))) return missing(`no NSEC proves the wildcard ${t(wc)} does not exist`);
  return { kind: 'nxdomain' };
}

interface Encloser {
  ce: Uint8Array;
  nc: Uint8Array;
  /** The NSEC3 covering the next closer name. */
  cover: Nsec3Record;
}

async function proveWithNsec3(q: DenialQuestion, recs: ProofRecords, ctx: DenialContext): Promise<Denial> {
  // RFC 5155 §8.2: only SHA-1 and flags 0/1 are understood; one parameter set per proof
  const usable = recs.nsec3.filter((r) => r.info.alg === 1 && r.info.flags <= 1);
  if (usable.length === 0) return missing(`no NSEC3 record with a hash algorithm this validator implements proves ${what(q)}`);
  const params = usable[0]!.info;
  const records = usable.filter((r) => r.info.iterations === params.iterations && sameBytes(r.info.salt, params.salt));
  if (params.iterations > ctx.maxIterations) {
    const text = `NSEC3 for ${t(recs.zone)} uses ${params.iterations} iterations, above the limit of ${ctx.maxIterations} (RFC 9276): ${t(q.name)} is treated as insecure`;
    return { kind: 'insecure', reason: 'nsec3-iterations', text, ede: { code: EDE.UNSUPPORTED_NSEC3_ITERATIONS, text } };
  }
  const memo = new Map<string, Promise<Uint8Array>>();
  const hash = (name: Uint8Array): Promise<Uint8Array> => {
    const k = nameKey(name);
    let h = memo.get(k);
    if (!h) {
      h = ctx.hash(name, params);
      memo.set(k, h);
    }
    return h;
  };
  const match = async (name: Uint8Array): Promise<Nsec3Record | undefined> => {
    const h = await hash(name);
    return records.find((r) => sameBytes(r.hash, h));
  };
  const cover = async (name: Uint8Array): Promise<Nsec3Record | undefined> => {
    const h = await hash(name);
    return records.find((r) => nsec3Covers(r.hash, r.info.next, h));
  };
  /** RFC 5155 §8.3: the deepest ancestor with a matching NSEC3, and the next closer name covered. */
  const closestEncloser = async (name: Uint8Array): Promise<Encloser | Denial> => {
    if (nameEquals(name, recs.zone)) return missing(`no NSEC3 matches the apex ${t(name)}`);
    let nc = name;
    for (let n = parentOf(name); ; n = parentOf(n)) {
      const m = await match(n);
      if (m) {
        if (shadows({ owner: n, bitmap: m.info.bitmap }, name)) {
          return bad(`the NSEC3 closest encloser ${t(n)} is a delegation or DNAME: it proves nothing about ${t(name)}`);
        }
        const c = await cover(nc);
        if (!c) return missing(`no NSEC3 covers the next closer name ${t(nc)} of ${t(name)}`);
        return { ce: n, nc, cover: c };
      }
      if (nameEquals(n, recs.zone)) return missing(`no NSEC3 matches a closest encloser of ${t(name)}`);
      nc = n;
    }
  };

  if (q.mode === 'wildcard') {
    const nc = suffixOf(q.name, countLabels(q.closestEncloser!) + 1);
    if (await cover(nc)) return { kind: 'wildcard' };
    return missing(`no NSEC3 covers ${t(nc)}, as the wildcard answer for ${t(q.name)} needs`);
  }
  const exact = await match(q.name);
  if (q.mode === 'nodata' && exact) return nodataAt(exact.info.bitmap, q.name, q, recs.zone, 'NSEC3');
  if (exact) return bad(`an NSEC3 matches ${t(q.name)}, so the name exists, but the answer is NXDOMAIN`);
  const enc = await closestEncloser(q.name);
  if ('kind' in enc) return enc;
  const optOut = (): Denial => {
    const text = `${t(enc.nc)} is covered by an Opt-Out NSEC3 in ${t(recs.zone)}: it may be an unsigned delegation, so the answer is insecure`;
    return { kind: 'insecure', reason: 'opt-out', text };
  };
  const wc = wildcardOf(enc.ce);
  if (q.mode === 'nodata') {
    // RFC 5155 §8.6: a DS for a name under an Opt-Out span has no record of its own
    if (q.type === RRType.DS && enc.cover.info.optOut) return optOut();
    const w = await match(wc);
    if (!w) return missing(`no NSEC3 proves ${what(q)} (neither at the name nor at ${t(wc)})`);
    const r = nodataAt(w.info.bitmap, wc, q, recs.zone, 'NSEC3');
    return r.kind === 'nodata' ? { kind: 'nodata', delegation: false } : r;
  }
  if (await match(wc)) return bad(`an NSEC3 shows the wildcard ${t(wc)} exists, so ${t(q.name)} is not NXDOMAIN`);
  if (!(await cover(wc))) return missing(`no NSEC3 proves the wildcard ${t(wc)} does not exist`);
  // the name could sit below an unsigned delegation the chain leaves out
  if (enc.cover.info.optOut) return optOut();
  return { kind: 'nxdomain' };
}
