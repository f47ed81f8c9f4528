/**
 * ZONEMD (RFC 8976): the SIMPLE scheme with SHA-384 and SHA-512. A ZONEMD record we cannot
 * check (another scheme, or a private algorithm such as the 241 the root zone carried in late
 * 2023) makes the result `unsupported`, never a parse failure: that distinction is the lesson
 * of the October 2023 incident.
 */

import { hexUpper, compareBytes, sameBytes } from '../dns/bytes.js';
import { RRType } from '../dns/rr-types.js';
import { digest } from './web-crypto.js';
import { canonicalAt, coveredType, findSet, NODE_APEX, type Zone } from './zone.js';

export type ZonemdStatus = 'verified' | 'mismatch' | 'unsupported' | 'serial-mismatch' | 'absent';
export type ZonemdPolicy = 'require' | 'verify-if-present' | 'ignore';

export const ZONEMD_SCHEME_SIMPLE = 1;
export const ZONEMD_SHA384 = 1;
export const ZONEMD_SHA512 = 2;

const HASHES: Record<number, { name: string; length: number }> = {
  [ZONEMD_SHA384]: { name: 'SHA-384', length: 48 },
  [ZONEMD_SHA512]: { name: 'SHA-512', length: 64 },
};

export interface ZonemdRecordInfo {
  serial: number;
  scheme: number;
  algorithm: number;
  digest: string;
}

export interface ZonemdResult {
  status: ZonemdStatus;
  /** The apex ZONEMD records as found. */
  records: ZonemdRecordInfo[];
  /** Scheme and algorithm of the record that verified. */
  verifiedWith?: { scheme: number; algorithm: number };
  /** Why the status is not `verified`, in words. */
  reason?: string;
}

/** True when `policy` lets a zone with this ZONEMD status be used. */
export function zonemdAcceptable(status: ZonemdStatus, policy: ZonemdPolicy): boolean {
  if (policy === 'ignore') return true;
  if (policy === 'require') return status === 'verified';
  return status === 'verified' || status === 'unsupported' || status === 'absent';
}

/** Appends one canonical RR (RFC 4034 §6.2) of record r, owner name k, at `o`; returns the new offset. */
function writeRR(zone: Zone, out: Uint8Array, o: number, k: number, type: number, r: number): number {
  const { names, table } = zone;
  const nb = names.bytes;
  const no = names.off[k]!;
  const nl = names.len[k]!;
  for (let i = 0; i < nl; i++) out[o + i] = nb[no + i]!;
  o += nl;
  const cls = zone.class;
  const ttl = table.ttl[r]!;
  const len = table.rdLen[r]!;
  out[o] = type >>> 8;
  out[o + 1] = type;
  out[o + 2] = cls >>> 8;
  out[o + 3] = cls;
  out[o + 4] = ttl >>> 24;
  out[o + 5] = ttl >>> 16;
  out[o + 6] = ttl >>> 8;
  out[o + 7] = ttl;
  out[o + 8] = len >>> 8;
  out[o + 9] = len;
  o += 10;
  const c = zone.canonOff[r]!;
  const src = c >= 0 ? zone.canonBytes : table.bytes;
  const so = c >= 0 ? c : table.rdOff[r]!;
  if (len > 32) out.set(src.subarray(so, so + len), o);
  else for (let i = 0; i < len; i++) out[o + i] = src[so + i]!;
  return o + len;
}

/**
 * The zone in RFC 8976 §3.3 SIMPLE order and form: every RR in canonical order, duplicates
 * out, the apex ZONEMD RRset and the RRSIGs covering it excluded, everything else (glue,
 * occluded data) in. One buffer, because WebCrypto digests have no incremental interface.
 */
export function simpleSchemeInput(zone: Zone): Uint8Array {
  const { names, sets, table } = zone;
  const apexZonemd = (k: number, r: number): boolean =>
    (names.flags[k]! & NODE_APEX) !== 0 && coveredType(table, r) === RRType.ZONEMD;
  let size = 0;
  for (let k = 0; k < names.count; k++) {
    const nl = names.len[k]! + 10;
    const apex = (names.flags[k]! & NODE_APEX) !== 0;
    const end = names.setFirst[k]! + names.setCount[k]!;
    for (let s = names.setFirst[k]!; s < end; s++) {
      if (apex && sets.type[s] === RRType.ZONEMD) continue;
      const rEnd = sets.rrFirst[s]! + sets.rrCount[s]!;
      for (let q = sets.rrFirst[s]!; q < rEnd; q++) size += nl + table.rdLen[zone.rrs[q]!]!;
      const gEnd = sets.sigFirst[s]! + sets.sigCount[s]!;
      for (let q = sets.sigFirst[s]!; q < gEnd; q++) size += nl + table.rdLen[zone.sigs[q]!]!;
    }
    const oEnd = names.orphanFirst[k]! + names.orphanCount[k]!;
    for (let q = names.orphanFirst[k]!; q < oEnd; q++) if (!apexZonemd(k, zone.sigs[q]!)) size += nl + table.rdLen[zone.sigs[q]!]!;
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (let k = 0; k < names.count; k++) {
    const first = names.setFirst[k]!;
    const end = first + names.setCount[k]!;
    if (first === end && names.orphanCount[k] === 0) continue;
    const apex = (names.flags[k]! & NODE_APEX) !== 0;
    let sigsDone = false;
    for (let s = first; s <= end; s++) {
      const type = s < end ? sets.type[s]! : 0x10000;
      // The RRSIG RRset of a name sits at type 46 in type order. Sets are in type order, each
      // set's RRSIGs are sorted, and canonical RRSIG RDATA starts with the covered type, so
      // writing them set by set is already canonical order; orphans need a merge.
      if (!sigsDone && type > RRType.RRSIG) {
        sigsDone = true;
        if (names.orphanCount[k] === 0) {
          for (let t = first; t < end; t++) {
            if (apex && sets.type[t] === RRType.ZONEMD) continue;
            const gEnd = sets.sigFirst[t]! + sets.sigCount[t]!;
            for (let q = sets.sigFirst[t]!; q < gEnd; q++) o = writeRR(zone, out, o, k, RRType.RRSIG, zone.sigs[q]!);
          }
        } else {
          const all: number[] = [];
          for (let t = first; t < end; t++) {
            for (let q = sets.sigFirst[t]!; q < sets.sigFirst[t]! + sets.sigCount[t]!; q++) all.push(zone.sigs[q]!);
          }
          for (let q = names.orphanFirst[k]!; q < names.orphanFirst[k]! + names.orphanCount[k]!; q++) all.push(zone.sigs[q]!);
          all.sort((a, b) => compareBytes(canonicalAt(zone, a), canonicalAt(zone, b)));
          for (const r of all) if (!apexZonemd(k, r)) o = writeRR(zone, out, o, k, RRType.RRSIG, r);
        }
      }
      if (s === end || (apex && type === RRType.ZONEMD)) continue;
      const rEnd = sets.rrFirst[s]! + sets.rrCount[s]!;
      for (let q = sets.rrFirst[s]!; q < rEnd; q++) o = writeRR(zone, out, o, k, type, zone.rrs[q]!);
    }
  }
  if (o !== size) throw new Error(`internal: ZONEMD input size ${o} != ${size}`);
  return out;
}

/**
 * A hash function for the digest: WebCrypto's by default; a platform may pass its own (the Node
 * CLI passes node:crypto's, which for one 2 MB input costs the thread a few ms less).
 */
export type ZonemdHash = (algorithm: 'SHA-384' | 'SHA-512', data: Uint8Array) => Promise<Uint8Array> | Uint8Array;

/** The SIMPLE-scheme digest of the zone with a ZONEMD hash algorithm (1 = SHA-384, 2 = SHA-512). */
export async function zoneDigest(zone: Zone, algorithm: number, input?: Uint8Array, hashFn: ZonemdHash = digest): Promise<Uint8Array> {
  const hash = HASHES[algorithm];
  if (!hash) throw new RangeError(`ZONEMD hash algorithm ${algorithm} is not supported`);
  const data = input ?? simpleSchemeInput(zone);
  return hashFn(hash.name as 'SHA-384' | 'SHA-512', data);
}

/** Verifies the apex ZONEMD RRset as RFC 8976 §4 describes. */
export async function verifyZonemd(zone: Zone, options: { hash?: ZonemdHash } = {}): Promise<ZonemdResult> {
  const set = zone.names.count > 0 ? findSet(zone, 0, RRType.ZONEMD) : -1;
  if (set < 0) return { status: 'absent', records: [], reason: 'the zone has no ZONEMD record at its apex' };
  const rdatas: Uint8Array[] = [];
  for (let q = zone.sets.rrFirst[set]!; q < zone.sets.rrFirst[set]! + zone.sets.rrCount[set]!; q++) {
    rdatas.push(zone.table.rdata(zone.rrs[q]!));
  }
  const records = rdatas.map((r) => ({
    serial: r.length >= 4 ? ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0 : -1,
    scheme: r[4] ?? -1,
    algorithm: r[5] ?? -1,
    digest: r.subarray(6),
  }));
  const info: ZonemdRecordInfo[] = records.map((r) => ({
    serial: r.serial,
    scheme: r.scheme,
    algorithm: r.algorithm,
    digest: hexUpper(r.digest),
  }));
  const supported = records.filter((r) => r.scheme === ZONEMD_SCHEME_SIMPLE && HASHES[r.algorithm] !== undefined);
  if (supported.length === 0) {
    const seen = records.map((r) => `scheme ${r.scheme} algorithm ${r.algorithm}`).join(', ');
    return { status: 'unsupported', records: info, reason: `no ZONEMD record with a scheme and algorithm we support (${seen})` };
  }
  // RFC 8976 §2: one RR per scheme and algorithm; a duplicate makes the RRset unusable
  const tuples = new Set<number>();
  for (const r of supported) {
    const t = r.scheme * 256 + r.algorithm;
    if (tuples.has(t)) {
      return {
        status: 'mismatch',
        records: info,
        reason: `more than one ZONEMD record with scheme ${r.scheme} and algorithm ${r.algorithm}`,
      };
    }
    tuples.add(t);
  }
  const current = supported.filter((r) => r.serial === zone.soa.serial);
  if (current.length === 0) {
    return {
      status: 'serial-mismatch',
      records: info,
      reason: `ZONEMD serial ${supported.map((r) => r.serial).join(', ')} does not match SOA serial ${zone.soa.serial}`,
    };
  }
  const input = simpleSchemeInput(zone);
  for (const r of current) {
    if (r.digest.length !== HASHES[r.algorithm]!.length) continue;
    const digest = await zoneDigest(zone, r.algorithm, input, options.hash);
    if (sameBytes(digest, r.digest)) {
      return { status: 'verified', records: info, verifiedWith: { scheme: r.scheme, algorithm: r.algorithm } };
    }
  }
  return { status: 'mismatch', records: info, reason: 'the zone digest does not match the ZONEMD record (data changed or missing)' };
}
