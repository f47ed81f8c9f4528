/**
 * Reads and validates a zone image before anything serves from it: magic, version, every
 * offset and length against the bounds, canonical order of the names, and the SHA-256 digest.
 * Any malformed image is a ZoneError('image') naming what is wrong, so a corrupt copy from KV
 * or a peer is refused and the running copy stays.
 */

import { hexUpper } from '../dns/bytes.js';
import { wireNameLength } from '../dns/name.js';
import { RRType } from '../dns/rr-types.js';
import { nameToText } from '../dns/wire.js';
import type { DnssecStatus, KeysetStatus } from './dnssec-verify.js';
import { ZoneError } from './errors.js';
import {
  DNSSEC_CODES,
  H,
  HEADER_SIZE,
  IMAGE_MAGIC,
  IMAGE_VERSION_MAJOR,
  KEYSET_CODES,
  NAME_ENTRY,
  NE,
  NO_NAME,
  RE,
  RRSET_ENTRY,
  SECTION_COUNT,
  SECTION_NAMES,
  SET_ORPHAN_SIGS,
  ZONEMD_CODES,
} from './image-format.js';
import type { ZoneRecord } from './record.js';
import { digest } from './web-crypto.js';
import { NODE_APEX } from './zone.js';
import type { ZonemdStatus } from './zonemd.js';

export interface ImageSection {
  offset: number;
  length: number;
}

export interface ZoneImage {
  bytes: Uint8Array;
  version: { major: number; minor: number };
  origin: Uint8Array;
  originText: string;
  serial: number;
  class: number;
  flags: number;
  zonemd: ZonemdStatus;
  zonemdAlgorithm: number;
  dnssec: DnssecStatus;
  keyset: KeysetStatus;
  soa: { ttl: number; refresh: number; retry: number; expire: number; minimum: number };
  /** Same meaning as in ExpiryInputs, so expiresAt(image, lastRefresh) works. */
  soaExpire: number;
  /** Milliseconds since the epoch. */
  verifiedAt: number;
  earliestRrsigExpiration: number | null;
  expiresAt: number;
  recordCount: number;
  nameCount: number;
  rrsetCount: number;
  apexIndex: number;
  digest: string;
  sections: Record<(typeof SECTION_NAMES)[number], ImageSection>;
}

function bad(msg: string): never {
  throw new ZoneError('image', `zone image: ${msg}`);
}

function u64(v: DataView, o: number): number {
  return v.getUint32(o, true) + v.getUint32(o + 4, true) * 2 ** 32;
}

/**
 * Validates `bytes` as a zone image and returns its header. Throws ZoneError('image') for
 * anything out of bounds, out of order, of an unknown major version, or not matching the digest.
 */
export async function readImage(bytes: Uint8Array): Promise<ZoneImage> {
  if (bytes.length < HEADER_SIZE) bad(`${bytes.length} bytes is shorter than the ${HEADER_SIZE}-byte header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(H.MAGIC, true) !== IMAGE_MAGIC) bad('bad magic (not a zone image)');
  const major = v.getUint16(H.VERSION_MAJOR, true);
  const minor = v.getUint16(H.VERSION_MINOR, true);
  if (major !== IMAGE_VERSION_MAJOR) bad(`version ${major}.${minor} is not supported (this reader knows ${IMAGE_VERSION_MAJOR}.x)`);
  const headerLength = v.getUint32(H.HEADER_LENGTH, true);
  if (headerLength < HEADER_SIZE || headerLength > bytes.length || headerLength % 4 !== 0) bad(`bad header length ${headerLength}`);
  const total = v.getUint32(H.IMAGE_LENGTH, true);
  if (total !== bytes.length) bad(`header says ${total} bytes but the image has ${bytes.length} (truncated?)`);

  // the copy has its digest field zeroed (what was hashed) and starts 4-byte aligned, so the
  // structural checks below read it through typed-array views while the hash runs
  const stored = bytes.slice(H.BODY_DIGEST, H.BODY_DIGEST + 32);
  const copy = bytes.slice();
  copy.fill(0, H.BODY_DIGEST, H.BODY_DIGEST + 32);
  const hashing = digest('SHA-256', copy);
  // a rejection before the await below would otherwise go unobserved
  hashing.catch(() => undefined);

  const digestOk = async (): Promise<boolean> => {
    const actual = await hashing;
    for (let i = 0; i < 32; i++) if (actual[i] !== stored[i]) return false;
    return true;
  };
  let parsed: Omit<ZoneImage, 'zonemd' | 'dnssec' | 'keyset'> & { codes: [number, number, number] };
  try {
    parsed = structure(bytes, copy, v, headerLength, total, major, minor, stored);
  } catch (err) {
    // a corrupted copy says so, whichever structural check it happened to trip first
    if (!(await digestOk())) bad('digest mismatch (corrupted or altered)');
    throw err;
  }
  if (!(await digestOk())) bad('digest mismatch (corrupted or altered)');
  const [z, d, k] = parsed.codes;
  const zonemd = ZONEMD_CODES[z];
  const dnssec = DNSSEC_CODES[d];
  const keyset = KEYSET_CODES[k];
  if (!zonemd || !dnssec || !keyset) bad('unknown verification status code');
  const { codes: _codes, ...rest } = parsed;
  void _codes;
  return { ...rest, zonemd, dnssec, keyset };
}

function structure(
  bytes: Uint8Array,
  copy: Uint8Array,
  v: DataView,
  headerLength: number,
  total: number,
  major: number,
  minor: number,
  stored: Uint8Array,
): Omit<ZoneImage, 'zonemd' | 'dnssec' | 'keyset'> & { codes: [number, number, number] } {
  const sections = {} as ZoneImage['sections'];
  let prevEnd = headerLength;
  for (let i = 0; i < SECTION_NAMES.length; i++) {
    const offset = v.getUint32(H.SECTIONS + 8 * i, true);
    const length = v.getUint32(H.SECTIONS + 8 * i + 4, true);
    const name = SECTION_NAMES[i]!;
    if (offset % 4 !== 0) bad(`section ${name} is not 4-byte aligned`);
    if (offset < prevEnd || offset + length > total) bad(`section ${name} (${offset}+${length}) is out of bounds`);
    prevEnd = offset + length;
    sections[name] = { offset, length };
  }
  for (let i = SECTION_NAMES.length; i < SECTION_COUNT; i++) {
    const length = v.getUint32(H.SECTIONS + 8 * i + 4, true);
    const offset = v.getUint32(H.SECTIONS + 8 * i, true);
    if (length !== 0 && (offset < prevEnd || offset + length > total)) bad(`section ${i} is out of bounds`);
  }

  const o = sections.origin;
  const origin = bytes.slice(o.offset, o.offset + o.length);
  if (wireNameLength(origin, 0, origin.length) !== origin.length) bad('origin is not a valid name');

  const nameCount = v.getUint32(H.NAME_COUNT, true);
  const rrsetCount = v.getUint32(H.RRSET_COUNT, true);
  if (sections.names.length !== nameCount * NAME_ENTRY) bad(`names section holds ${sections.names.length} bytes for ${nameCount} names`);
  if (sections.rrsets.length !== rrsetCount * RRSET_ENTRY) bad(`rrsets section holds ${sections.rrsets.length} bytes for ${rrsetCount} RRsets`);
  if (nameCount === 0) bad('no names');
  const apexIndex = v.getUint32(H.APEX_INDEX, true);
  if (apexIndex >= nameCount) bad('apex index out of range');

  validateNames(copy, sections, nameCount, rrsetCount, origin, apexIndex);
  const recordCount = validateRrsets(copy, sections, rrsetCount);
  if (recordCount !== v.getUint32(H.RECORD_COUNT, true)) bad(`header says ${v.getUint32(H.RECORD_COUNT, true)} records, the body holds ${recordCount}`);

  const earliest = u64(v, H.EARLIEST_RRSIG_EXPIRATION);
  const soaExpire = v.getUint32(H.SOA_EXPIRE, true);
  return {
    bytes,
    version: { major, minor },
    origin,
    originText: nameToText(origin),
    serial: v.getUint32(H.SERIAL, true),
    class: v.getUint32(H.CLASS, true),
    flags: v.getUint32(H.FLAGS, true),
    codes: [bytes[H.ZONEMD_STATUS]!, bytes[H.DNSSEC_STATUS]!, bytes[H.KEYSET_STATUS]!],
    zonemdAlgorithm: bytes[H.ZONEMD_ALGORITHM]!,
    soa: {
      ttl: v.getUint32(H.SOA_TTL, true),
      refresh: v.getUint32(H.SOA_REFRESH, true),
      retry: v.getUint32(H.SOA_RETRY, true),
      expire: soaExpire,
      minimum: v.getUint32(H.SOA_MINIMUM, true),
    },
    soaExpire,
    verifiedAt: u64(v, H.VERIFIED_AT) * 1000,
    earliestRrsigExpiration: earliest === 0 ? null : earliest * 1000,
    expiresAt: u64(v, H.EXPIRES_AT) * 1000,
    recordCount,
    nameCount,
    rrsetCount,
    apexIndex,
    digest: hexUpper(stored),
    sections,
  };
}

/** Little-endian u16/u32 views (every platform Node and Workers run on is little-endian). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function views(b: Uint8Array): { u16: Uint16Array | null; u32: Uint32Array | null } {
  if (!LITTLE_ENDIAN || b.byteOffset % 4 !== 0) return { u16: null, u32: null };
  return {
    u16: new Uint16Array(b.buffer, b.byteOffset, b.length >>> 1),
    u32: new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2),
  };
}

function validateNames(
  b: Uint8Array,
  sec: ZoneImage['sections'],
  nameCount: number,
  rrsetCount: number,
  origin: Uint8Array,
  apexIndex: number,
): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const { u16, u32 } = views(b);
  const get32 = (o: number): number => (u32 ? u32[o >>> 2]! : v.getUint32(o, true));
  const get16 = (o: number): number => (u16 ? u16[o >>> 1]! : v.getUint16(o, true));
  const base = sec.names.offset;
  const kb = sec.keys.offset;
  const kl = sec.keys.length;
  const nb = sec.namedata.offset;
  const nl = sec.namedata.length;
  let prevKey = -1;
  let prevKeyLen = 0;
  let nextSet = 0;
  for (let k = 0; k < nameCount; k++) {
    const e = base + k * NAME_ENTRY;
    const nameOff = get32(e + NE.NAME_OFF);
    const nameLen = b[e + NE.NAME_LEN]!;
    const keyOff = get32(e + NE.KEY_OFF);
    const keyLen = get16(e + NE.KEY_LEN);
    const setFirst = get32(e + NE.RRSET_FIRST);
    const setCount = get16(e + NE.RRSET_COUNT);
    const nsec = get32(e + NE.NSEC_NAME);
    if (nameOff + nameLen > nl || nameLen === 0) bad(`name ${k}: name bytes out of bounds`);
    // a valid wire name: labels of at most 63 octets ending exactly at name_len
    let p = nb + nameOff;
    const end = p + nameLen;
    while (p < end && b[p] !== 0) {
      if (b[p]! > 63) break;
      p += b[p]! + 1;
    }
    if (p !== end - 1 || b[p] !== 0) bad(`name ${k}: not a valid wire name`);
    if (keyOff + keyLen > kl) bad(`name ${k}: key bytes out of bounds`);
    if (setFirst !== nextSet || setFirst + setCount > rrsetCount) bad(`name ${k}: RRsets out of order or out of bounds`);
    nextSet = setFirst + setCount;
    if (nsec !== NO_NAME && nsec > k) bad(`name ${k}: NSEC name index points forward`);
    if (prevKey >= 0) {
      // strictly increasing canonical keys: binary search relies on it
      const m = prevKeyLen < keyLen ? prevKeyLen : keyLen;
      let d = 0;
      for (let i = 0; i < m && d === 0; i++) d = b[kb + prevKey + i]! - b[kb + keyOff + i]!;
      if (d > 0 || (d === 0 && prevKeyLen >= keyLen)) bad(`name ${k}: names are not in canonical order`);
    }
    prevKey = keyOff;
    prevKeyLen = keyLen;
  }
  if (nextSet !== rrsetCount) bad('RRsets not all owned by names');
  const apex = base + apexIndex * NAME_ENTRY;
  const apexOff = nb + get32(apex + NE.NAME_OFF);
  const apexLen = b[apex + NE.NAME_LEN]!;
  if (!(get16(apex + NE.FLAGS) & NODE_APEX)) bad('the apex entry is not flagged as apex');
  if (apexLen !== origin.length || origin.some((c, i) => b[apexOff + i] !== c)) bad('the apex name differs from the origin');
}

function validateRrsets(b: Uint8Array, sec: ZoneImage['sections'], rrsetCount: number): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const { u16, u32 } = views(b);
  const get32 = (o: number): number => (u32 ? u32[o >>> 2]! : v.getUint32(o, true));
  const get16 = (o: number): number => (u16 ? u16[o >>> 1]! : v.getUint16(o, true));
  const base = sec.rrsets.offset;
  const rb = sec.rdata.offset;
  const rl = sec.rdata.length;
  let expect = 0;
  let records = 0;
  for (let s = 0; s < rrsetCount; s++) {
    const e = base + s * RRSET_ENTRY;
    const off = get32(e + RE.RDATA_OFF);
    const n = get16(e + RE.RR_COUNT) + get16(e + RE.SIG_COUNT);
    if (off !== expect) bad(`RRset ${s}: RDATA not contiguous`);
    let p = off;
    for (let i = 0; i < n; i++) {
      if (p + 2 > rl) bad(`RRset ${s}: RDATA out of bounds`);
      p += 2 + ((b[rb + p]! << 8) | b[rb + p + 1]!);
    }
    if (p > rl) bad(`RRset ${s}: RDATA out of bounds`);
    expect = p;
    records += n;
  }
  if (expect !== rl) bad('RDATA section has bytes no RRset owns');
  return records;
}

/** Every record in an image (for re-verification on a node that received it, or for export). */
export function* imageRecords(image: ZoneImage): Generator<ZoneRecord> {
  const b = image.bytes;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const { names, rrsets, namedata, rdata } = image.sections;
  for (let k = 0; k < image.nameCount; k++) {
    const e = names.offset + k * NAME_ENTRY;
    const no = namedata.offset + v.getUint32(e + NE.NAME_OFF, true);
    const owner = b.slice(no, no + b[e + NE.NAME_LEN]!);
    const first = v.getUint32(e + NE.RRSET_FIRST, true);
    const count = v.getUint16(e + NE.RRSET_COUNT, true);
    for (let s = first; s < first + count; s++) {
      const se = rrsets.offset + s * RRSET_ENTRY;
      const type = v.getUint16(se + RE.TYPE, true);
      const flags = v.getUint16(se + RE.FLAGS, true);
      const ttl = v.getUint32(se + RE.TTL, true);
      const sigTtl = v.getUint32(se + RE.SIG_TTL, true);
      let p = rdata.offset + v.getUint32(se + RE.RDATA_OFF, true);
      const rrs = v.getUint16(se + RE.RR_COUNT, true);
      const sigs = v.getUint16(se + RE.SIG_COUNT, true);
      for (let i = 0; i < rrs + sigs; i++) {
        const len = (b[p]! << 8) | b[p + 1]!;
        const isSig = i >= rrs || (flags & SET_ORPHAN_SIGS) !== 0;
        yield {
          owner,
          type: isSig ? RRType.RRSIG : type,
          class: image.class,
          ttl: isSig ? sigTtl : ttl,
          rdata: b.slice(p + 2, p + 2 + len),
        };
        p += 2 + len;
      }
    }
  }
}


