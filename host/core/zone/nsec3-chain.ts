/**
 * The NSEC3 chain (RFC 5155 §7.1): every name of the zone's authoritative part (empty
 * non-terminals included) hashes to the owner of one NSEC3 whose type bitmap lists the types at
 * that name, the NSEC3 records link their hashes in a cycle, and only an Opt-Out NSEC3 may skip
 * an insecure delegation. Hashes use the zone's NSEC3PARAM; SHA-1 is the only hash defined.
 * The hash (`nsec3Hash`), the RDATA reader (`parseNsec3`) and the cover test (`nsec3Covers`)
 * are the message validator's too.
 */

import { RRType } from '../dns/rr-types.js';
import { nameToText } from '../dns/wire.js';
import { decodeBase32Hex, encodeBase32Hex } from './base-encodings.js';
import { compareBytes } from '../dns/bytes.js';
import { encodeBitmap, typesAt } from './type-bitmap.js';
import { digest } from './web-crypto.js';
import { findSet, nameAt, NODE_BELOW_CUT, NODE_BELOW_DNAME, NODE_CUT, type Zone } from './zone.js';

const OPT_OUT = 1;

export interface Nsec3Params {
  alg: number;
  iterations: number;
  salt: Uint8Array;
}
type Params = Nsec3Params;

/** NSEC3 RDATA (RFC 5155 §3.2). */
export interface Nsec3Info extends Nsec3Params {
  flags: number;
  optOut: boolean;
  /** The next hashed owner, raw (not base32hex). */
  next: Uint8Array;
  bitmap: Uint8Array;
}

/** The fields of NSEC3 RDATA; null when it is malformed. */
export function parseNsec3(rd: Uint8Array): Nsec3Info | null {
  if (rd.length < 5 || 5 + rd[4]! >= rd.length) return null;
  const saltLen = rd[4]!;
  const hp = 5 + saltLen;
  const hashLen = rd[hp]!;
  if (hashLen === 0 || hp + 1 + hashLen > rd.length) return null;
  return {
    alg: rd[0]!,
    flags: rd[1]!,
    optOut: (rd[1]! & OPT_OUT) !== 0,
    iterations: (rd[2]! << 8) | rd[3]!,
    salt: rd.subarray(5, hp),
    next: rd.subarray(hp + 1, hp + 1 + hashLen),
    bitmap: rd.subarray(hp + 1 + hashLen),
  };
}

/**
 * True when hash h falls strictly between an NSEC3's owner hash and its next hash (the last
 * NSEC3 of a chain wraps around to the first).
 */
export function nsec3Covers(owner: Uint8Array, next: Uint8Array, h: Uint8Array): boolean {
  const after = compareBytes(h, owner) > 0;
  const before = compareBytes(h, next) < 0;
  return compareBytes(next, owner) <= 0 ? after || before : after && before;
}

interface Nsec3 {
  name: number;
  hash: Uint8Array;
  optOut: boolean;
  next: Uint8Array;
  bitmap: Uint8Array;
}

/**
 * RFC 5155 §5: IH(salt, x, 0) = H(x | salt); IH(salt, x, k) = H(IH(salt, x, k-1) | salt), x the
 * lower-case wire name. Costs `iterations + 1` SHA-1 computations (what a validator budgets).
 */
export async function nsec3Hash(name: Uint8Array, p: Nsec3Params): Promise<Uint8Array> {
  const buf = new Uint8Array(Math.max(name.length, 20) + p.salt.length);
  buf.set(name);
  buf.set(p.salt, name.length);
  let h = await digest('SHA-1', buf.subarray(0, name.length + p.salt.length));
  for (let i = 0; i < p.iterations; i++) {
    buf.set(h);
    buf.set(p.salt, h.length);
    h = await digest('SHA-1', buf.subarray(0, h.length + p.salt.length));
  }
  return h;
}

function key(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

export async function checkNsec3Chain(
  zone: Zone,
  fail: (message: string) => void,
  warnings: string[],
): Promise<'verified' | 'broken' | 'unsupported'> {
  const { names, sets, table } = zone;
  let failed = false;
  const problem = (m: string): void => {
    failed = true;
    fail(m);
  };
  const apexText = nameToText(zone.origin);

  // parameters: the NSEC3PARAM at the apex, else those of the first NSEC3
  let params: Params | null = null;
  const paramSet = findSet(zone, 0, RRType.NSEC3PARAM);
  if (paramSet >= 0) {
    const rd = table.rdata(zone.rrs[sets.rrFirst[paramSet]!]!);
    if (rd.length >= 5 && rd.length === 5 + rd[4]!) params = { alg: rd[0]!, iterations: (rd[2]! << 8) | rd[3]!, salt: rd.slice(5) };
  }
  const records: Nsec3[] = [];
  const owners = new Set<number>();
  for (let k = 0; k < names.count; k++) {
    const s = findSet(zone, k, RRType.NSEC3);
    if (s < 0) continue;
    owners.add(k);
    for (let q = sets.rrFirst[s]!; q < sets.rrFirst[s]! + sets.rrCount[s]!; q++) {
      const n3 = parseNsec3(table.rdata(zone.rrs[q]!));
      if (!n3) continue;
      params ??= { alg: n3.alg, iterations: n3.iterations, salt: n3.salt.slice() };
      if (n3.alg !== params.alg || n3.iterations !== params.iterations || compareBytes(n3.salt, params.salt) !== 0) {
        warnings.push(`${nameToText(nameAt(zone, k))} NSEC3 with other parameters than the chain's is ignored`);
        continue;
      }
      // the owner's first label is the base32hex hash of the name it stands for
      const owner = nameAt(zone, k);
      const label = owner.subarray(1, 1 + owner[0]!);
      const hash = new Uint8Array(label.length);
      const end = decodeBase32Hex(label, 0, label.length, hash, 0);
      if (end < 0 || owner.length - 1 - owner[0]! !== zone.origin.length) {
        problem(`${nameToText(owner)} NSEC3: owner is not a hash label directly below ${apexText}`);
        continue;
      }
      records.push({ name: k, hash: hash.slice(0, end), optOut: n3.optOut, next: n3.next, bitmap: n3.bitmap });
    }
  }
  if (!params) {
    problem(`${apexText}: NSEC3 chain without usable parameters`);
    return 'broken';
  }
  if (params.alg !== 1) {
    warnings.push(`NSEC3 hash algorithm ${params.alg} is not supported; the NSEC3 chain is not checked`);
    return 'unsupported';
  }

  // the chain: hashes in order, each naming the next, the last the first
  records.sort((a, b) => compareBytes(a.hash, b.hash));
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const want = records[(i + 1) % records.length]!.hash;
    if (i > 0 && compareBytes(records[i - 1]!.hash, r.hash) === 0) {
      problem(`${nameToText(nameAt(zone, r.name))} NSEC3: duplicate hash`);
    } else if (compareBytes(r.next, want) !== 0) {
      problem(`${nameToText(nameAt(zone, r.name))} NSEC3: next hash is ${encodeBase32Hex(r.next)}, the next in the chain is ${encodeBase32Hex(want)}`);
    }
  }
  const byHash = new Map<string, Nsec3>();
  for (const r of records) byHash.set(key(r.hash), r);

  // every name of the authoritative part, by its hash
  const covered: number[] = [];
  for (let k = 0; k < names.count; k++) {
    // the NSEC3 records' own owners are not names of the zone's data
    if (owners.has(k) && names.setCount[k] === 1) continue;
    if (names.flags[k]! & (NODE_BELOW_CUT | NODE_BELOW_DNAME)) continue;
    covered.push(k);
  }
  const hashes = await Promise.all(covered.map((k) => nsec3Hash(nameAt(zone, k), params)));
  const used = new Set<Nsec3>();
  const types = new Int32Array(256);
  const bitmap = new Uint8Array(34 * 256);
  covered.forEach((k, i) => {
    const h = hashes[i]!;
    const r = byHash.get(key(h));
    const where = (): string => nameToText(nameAt(zone, k));
    if (!r) {
      const insecure = (names.flags[k]! & NODE_CUT) !== 0 && findSet(zone, k, RRType.DS) < 0;
      if (insecure && optOutCovers(records, h)) return;
      problem(`${where()}: no NSEC3 for this name (hash ${encodeBase32Hex(h)})`);
      return;
    }
    used.add(r);
    const n = typesAt(zone, k, types);
    const len = encodeBitmap(types, n, bitmap);
    let match = len === r.bitmap.length;
    for (let j = 0; match && j < len; j++) if (bitmap[j] !== r.bitmap[j]) match = false;
    if (!match) problem(`${where()} NSEC3: type bitmap does not match the types at this name`);
  });
  for (const r of records) if (!used.has(r)) problem(`${nameToText(nameAt(zone, r.name))} NSEC3: stands for no name in the zone`);
  return failed ? 'broken' : 'verified';
}

/** True when an Opt-Out NSEC3 covers hash h. */
function optOutCovers(sorted: Nsec3[], h: Uint8Array): boolean {
  return sorted.some((r) => r.optOut && nsec3Covers(r.hash, r.next, h));
}
