/**
 * Layout constants of the zone image, version 1 (docs/zone-image.md is the specification; keep
 * the two in step). Little-endian integers, 4-byte aligned sections, names sorted by their
 * canonical key so a reader binary-searches with a plain byte comparison.
 */

import type { DnssecStatus, KeysetStatus } from './dnssec-verify.js';
import type { ZonemdStatus } from './zonemd.js';

export const IMAGE_MAGIC = 0x4d495a45; // "EZIM" read as a little-endian u32
export const IMAGE_VERSION_MAJOR = 1;
export const IMAGE_VERSION_MINOR = 1; // 1.1: DNSSEC status 5, insecure
export const HEADER_SIZE = 256;

/** Header field offsets. */
export const H = {
  MAGIC: 0,
  VERSION_MAJOR: 4,
  VERSION_MINOR: 6,
  HEADER_LENGTH: 8,
  IMAGE_LENGTH: 12,
  FLAGS: 16,
  SERIAL: 20,
  CLASS: 24,
  ZONEMD_STATUS: 28,
  DNSSEC_STATUS: 29,
  KEYSET_STATUS: 30,
  ZONEMD_ALGORITHM: 31,
  SOA_TTL: 32,
  SOA_REFRESH: 36,
  SOA_RETRY: 40,
  SOA_EXPIRE: 44,
  SOA_MINIMUM: 48,
  VERIFIED_AT: 56, // u64 seconds
  EARLIEST_RRSIG_EXPIRATION: 64, // u64 seconds, 0 = none
  EXPIRES_AT: 72, // u64 seconds
  RECORD_COUNT: 80,
  NAME_COUNT: 84,
  RRSET_COUNT: 88,
  APEX_INDEX: 92,
  BODY_DIGEST: 104, // 32 octets, SHA-256
  SECTIONS: 136, // SECTION_COUNT × (u32 offset, u32 length)
} as const;

export const FLAG_SIGNED = 1;
export const FLAG_NSEC = 2;
export const FLAG_NSEC3 = 4;

export const SECTION = { ORIGIN: 0, NAMES: 1, RRSETS: 2, KEYS: 3, NAMEDATA: 4, RDATA: 5 } as const;
export const SECTION_COUNT = 8; // room for two more in later minor versions
export const SECTION_NAMES = ['origin', 'names', 'rrsets', 'keys', 'namedata', 'rdata'] as const;

export const NAME_ENTRY = 24;
export const NE = { NAME_OFF: 0, KEY_OFF: 4, KEY_LEN: 8, NAME_LEN: 10, LABELS: 11, FLAGS: 12, RRSET_COUNT: 14, RRSET_FIRST: 16, NSEC_NAME: 20 } as const;

export const RRSET_ENTRY = 20;
export const RE = { TYPE: 0, FLAGS: 2, TTL: 4, RDATA_OFF: 8, RR_COUNT: 12, SIG_COUNT: 14, SIG_TTL: 16 } as const;
/** RRset flag beyond the SET_* flags of zone.ts: RRSIGs with no covered RRset, kept for fidelity. */
export const SET_ORPHAN_SIGS = 32;

export const NO_NAME = 0xffffffff;

export const ZONEMD_CODES: readonly ZonemdStatus[] = ['absent', 'verified', 'mismatch', 'unsupported', 'serial-mismatch'];
export const DNSSEC_CODES: readonly DnssecStatus[] = ['unsigned', 'verified', 'expired', 'bogus', 'no-anchor', 'insecure'];
export const KEYSET_CODES: readonly KeysetStatus[] = ['unsigned', 'verified', 'expired', 'bogus', 'no-anchor', 'insecure'];
