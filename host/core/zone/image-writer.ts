/**
 * Writes the zone image (docs/zone-image.md): the verified zone in the form `static_zone`
 * reads in place, plus the verification results and expiry that decided it may be served.
 */

import { nameToText } from '../dns/name.js';
import { RRType, typeToName } from '../dns/rr-types.js';
import type { ZoneReport } from './check.js';
import {
  DNSSEC_CODES,
  FLAG_NSEC,
  FLAG_NSEC3,
  FLAG_SIGNED,
  H,
  HEADER_SIZE,
  IMAGE_MAGIC,
  IMAGE_VERSION_MAJOR,
  IMAGE_VERSION_MINOR,
  KEYSET_CODES,
  NAME_ENTRY,
  NE,
  NO_NAME,
  RE,
  RRSET_ENTRY,
  SECTION,
  SECTION_COUNT,
  SET_ORPHAN_SIGS,
  ZONEMD_CODES,
} from './image-format.js';
import { digest } from './web-crypto.js';
import { findSet, NODE_BELOW_CUT, NODE_BELOW_DNAME, NODE_HAS_NSEC, type Zone } from './zone.js';
import { ZoneError } from './errors.js';

const align4 = (n: number): number => (n + 3) & ~3;

/** The most answer a DNS message holds: 65,535 bytes less a header (12) and the longest question (255 + 4). */
export const MAX_RRSET_WIRE = 65_535 - 12 - 259;

function putU64(v: DataView, o: number, seconds: number): void {
  const s = Math.max(0, Math.floor(seconds));
  v.setUint32(o, s % 2 ** 32, true);
  v.setUint32(o + 4, Math.floor(s / 2 ** 32), true);
}

/** Compiles a loaded zone and its verification report into an image. */
export async function compileImage(zone: Zone, report: ZoneReport): Promise<Uint8Array> {
  const { names, sets, table } = zone;
  // name and key bytes are copied whole: empty non-terminals share their descendants' bytes
  let nameBytesLen = 0;
  let keyBytesLen = 0;
  let orphanSets = 0;
  for (let k = 0; k < names.count; k++) {
    nameBytesLen = Math.max(nameBytesLen, names.off[k]! + names.len[k]!);
    keyBytesLen = Math.max(keyBytesLen, names.keyOff[k]! + names.keyLen[k]!);
    if (names.orphanCount[k]! > 0) orphanSets++;
  }
  let rdataLen = 0;
  for (let q = 0; q < zone.rrs.length; q++) rdataLen += 2 + table.rdLen[zone.rrs[q]!]!;
  for (let q = 0; q < zone.sigs.length; q++) rdataLen += 2 + table.rdLen[zone.sigs[q]!]!;
  const setCount = sets.count + orphanSets;
  for (let s = 0; s < sets.count; s++) {
    if (sets.rrCount[s]! > 0xffff || sets.sigCount[s]! > 0xffff) {
      throw new ZoneError('image', 'an RRset with more than 65535 records cannot go into an image');
    }
  }
  // static_zone answers an RRset whole, with its signatures when the client sets DO: one that
  // cannot fit in a DNS message could never be answered, over UDP or TCP (it made the app trap
  // before this check, and five such queries switched the local root off).
  for (let k = 0; k < names.count; k++) {
    for (let s = names.setFirst[k]!; s < names.setFirst[k]! + names.setCount[k]!; s++) {
      let size = 0;
      for (let q = sets.rrFirst[s]!; q < sets.rrFirst[s]! + sets.rrCount[s]!; q++) size += names.len[k]! + 10 + table.rdLen[zone.rrs[q]!]!;
      for (let q = sets.sigFirst[s]!; q < sets.sigFirst[s]! + sets.sigCount[s]!; q++) size += names.len[k]! + 10 + table.rdLen[zone.sigs[q]!]!;
      if (size > MAX_RRSET_WIRE) {
        const owner = nameToText(names.bytes.subarray(names.off[k]!, names.off[k]! + names.len[k]!));
        throw new ZoneError(
          'image',
          `the RRset ${owner} ${typeToName(sets.type[s]!)} is ${size} bytes in wire form with its signatures, more than one DNS message can carry after a header and the longest question (${MAX_RRSET_WIRE}): static_zone could never answer it; split it or leave it out of the zone`,
        );
      }
    }
  }

  const sizes = [zone.origin.length, names.count * NAME_ENTRY, setCount * RRSET_ENTRY, keyBytesLen, nameBytesLen, rdataLen];
  const offsets: number[] = [];
  let at = HEADER_SIZE;
  for (const size of sizes) {
    offsets.push(at);
    at = align4(at + size);
  }
  const total = at;
  const img = new Uint8Array(total);
  const v = new DataView(img.buffer);

  img.set(zone.origin, offsets[SECTION.ORIGIN]!);
  img.set(names.keyBytes.subarray(0, keyBytesLen), offsets[SECTION.KEYS]!);
  img.set(names.bytes.subarray(0, nameBytesLen), offsets[SECTION.NAMEDATA]!);

  // RRsets and their RDATA: [u16 big-endian length][RDATA], RRs then RRSIGs
  const rdBase = offsets[SECTION.RDATA]!;
  let rp = 0;
  const putRdata = (r: number): void => {
    const len = table.rdLen[r]!;
    img[rdBase + rp] = len >>> 8;
    img[rdBase + rp + 1] = len;
    const o = table.rdOff[r]!;
    img.set(table.bytes.subarray(o, o + len), rdBase + rp + 2);
    rp += 2 + len;
  };
  const setBase = offsets[SECTION.RRSETS]!;
  const nameBase = offsets[SECTION.NAMES]!;
  let out = 0;
  let lastNsec = NO_NAME;
  for (let k = 0; k < names.count; k++) {
    const flags = names.flags[k]!;
    if (flags & NODE_HAS_NSEC && !(flags & (NODE_BELOW_CUT | NODE_BELOW_DNAME))) lastNsec = k;
    const first = out;
    for (let s = names.setFirst[k]!; s < names.setFirst[k]! + names.setCount[k]!; s++) {
      const e = setBase + out * RRSET_ENTRY;
      v.setUint16(e + RE.TYPE, sets.type[s]!, true);
      v.setUint16(e + RE.FLAGS, sets.flags[s]!, true);
      v.setUint32(e + RE.TTL, sets.ttl[s]!, true);
      v.setUint32(e + RE.RDATA_OFF, rp, true);
      v.setUint16(e + RE.RR_COUNT, sets.rrCount[s]!, true);
      v.setUint16(e + RE.SIG_COUNT, sets.sigCount[s]!, true);
      let sigTtl = 0;
      for (let q = sets.rrFirst[s]!; q < sets.rrFirst[s]! + sets.rrCount[s]!; q++) putRdata(zone.rrs[q]!);
      for (let q = sets.sigFirst[s]!; q < sets.sigFirst[s]! + sets.sigCount[s]!; q++) {
        const r = zone.sigs[q]!;
        if (q === sets.sigFirst[s] || table.ttl[r]! < sigTtl) sigTtl = table.ttl[r]!;
        putRdata(r);
      }
      v.setUint32(e + RE.SIG_TTL, sigTtl, true);
      out++;
    }
    if (names.orphanCount[k]! > 0) {
      const e = setBase + out * RRSET_ENTRY;
      v.setUint16(e + RE.TYPE, RRType.RRSIG, true);
      v.setUint16(e + RE.FLAGS, SET_ORPHAN_SIGS, true);
      v.setUint32(e + RE.RDATA_OFF, rp, true);
      v.setUint16(e + RE.SIG_COUNT, names.orphanCount[k]!, true);
      let sigTtl = 0;
      for (let q = names.orphanFirst[k]!; q < names.orphanFirst[k]! + names.orphanCount[k]!; q++) {
        const r = zone.sigs[q]!;
        if (q === names.orphanFirst[k] || table.ttl[r]! < sigTtl) sigTtl = table.ttl[r]!;
        putRdata(r);
      }
      v.setUint32(e + RE.TTL, sigTtl, true);
      v.setUint32(e + RE.SIG_TTL, sigTtl, true);
      out++;
    }
    const e = nameBase + k * NAME_ENTRY;
    v.setUint32(e + NE.NAME_OFF, names.off[k]!, true);
    v.setUint32(e + NE.KEY_OFF, names.keyOff[k]!, true);
    v.setUint16(e + NE.KEY_LEN, names.keyLen[k]!, true);
    img[e + NE.NAME_LEN] = names.len[k]!;
    img[e + NE.LABELS] = names.labels[k]!;
    v.setUint16(e + NE.FLAGS, flags, true);
    v.setUint16(e + NE.RRSET_COUNT, out - first, true);
    v.setUint32(e + NE.RRSET_FIRST, first, true);
    v.setUint32(e + NE.NSEC_NAME, lastNsec, true);
  }

  v.setUint32(H.MAGIC, IMAGE_MAGIC, true);
  v.setUint16(H.VERSION_MAJOR, IMAGE_VERSION_MAJOR, true);
  v.setUint16(H.VERSION_MINOR, IMAGE_VERSION_MINOR, true);
  v.setUint32(H.HEADER_LENGTH, HEADER_SIZE, true);
  v.setUint32(H.IMAGE_LENGTH, total, true);
  let flags = 0;
  if (findSet(zone, 0, RRType.DNSKEY) >= 0) flags |= FLAG_SIGNED;
  for (let k = 0; k < names.count; k++) if (names.flags[k]! & NODE_HAS_NSEC) flags |= FLAG_NSEC;
  if (findSet(zone, 0, RRType.NSEC3PARAM) >= 0) flags |= FLAG_NSEC3;
  v.setUint32(H.FLAGS, flags, true);
  v.setUint32(H.SERIAL, zone.soa.serial, true);
  v.setUint32(H.CLASS, zone.class, true);
  img[H.ZONEMD_STATUS] = ZONEMD_CODES.indexOf(report.zonemd.status);
  img[H.DNSSEC_STATUS] = DNSSEC_CODES.indexOf(report.dnssec.status);
  img[H.KEYSET_STATUS] = KEYSET_CODES.indexOf(report.dnssec.keyset);
  img[H.ZONEMD_ALGORITHM] = report.zonemd.verifiedWith?.algorithm ?? 0;
  v.setUint32(H.SOA_TTL, zone.soa.ttl, true);
  v.setUint32(H.SOA_REFRESH, zone.soa.refresh, true);
  v.setUint32(H.SOA_RETRY, zone.soa.retry, true);
  v.setUint32(H.SOA_EXPIRE, zone.soa.expire, true);
  v.setUint32(H.SOA_MINIMUM, zone.soa.minimum, true);
  putU64(v, H.VERIFIED_AT, report.lastRefresh / 1000);
  putU64(v, H.EARLIEST_RRSIG_EXPIRATION, report.earliestRrsigExpiration === null ? 0 : report.earliestRrsigExpiration / 1000);
  putU64(v, H.EXPIRES_AT, report.expiresAt / 1000);
  v.setUint32(H.RECORD_COUNT, zone.recordCount, true);
  v.setUint32(H.NAME_COUNT, names.count, true);
  v.setUint32(H.RRSET_COUNT, setCount, true);
  v.setUint32(H.APEX_INDEX, 0, true);
  for (let i = 0; i < SECTION_COUNT; i++) {
    v.setUint32(H.SECTIONS + 8 * i, i < sizes.length ? offsets[i]! : 0, true);
    v.setUint32(H.SECTIONS + 8 * i + 4, i < sizes.length ? sizes[i]! : 0, true);
  }
  // the digest covers the whole image with its own field zero
  img.set(await digest('SHA-256', img), H.BODY_DIGEST);
  return img;
}
