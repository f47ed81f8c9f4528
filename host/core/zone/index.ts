export { ZoneError, type ZoneErrorCode, type SourcePosition } from './errors.js';
export type { ZoneRecord } from './record.js';
export { RecordTable } from './record-table.js';
export { byteChunks, type ZoneInput } from './zone-input.js';
export {
  parsePresentation,
  parsePresentationAll,
  MAX_LINE_BYTES,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_RECORDS,
  type IncludeResolver,
  type IncludedFile,
  type TextParseOptions,
  type TextParseStats,
  type ChunkHook,
} from './presentation-parser.js';
export { parseWireRecords, parseAxfr, encodeWireRecords, type WireParseOptions } from './wire-reader.js';
export { formatRecord, formatRecords } from './presentation-writer.js';
export { formatRdata } from './rdata-format.js';
export { checkRdata, canonicalRdata } from './rdata-wire.js';
export { canonicalKey, compareNames, nameFromText } from '../dns/name.js';
export {
  buildZone,
  zoneFromRecords,
  zoneRecords,
  nameAt,
  canonicalAt,
  findSet,
  NODE_APEX,
  NODE_CUT,
  NODE_BELOW_CUT,
  NODE_BELOW_DNAME,
  NODE_ENT,
  NODE_WILDCARD,
  NODE_HAS_NSEC,
  NODE_HAS_DNAME,
  SET_AUTH,
  SET_DELEGATION,
  SET_GLUE,
  SET_OCCLUDED,
  SET_TTLS_DIFFER,
  type Zone,
  type ZoneBuildOptions,
  type SoaFields,
} from './zone.js';
export { loadZone, type LoadOptions, type ZoneFormat } from './zone-load.js';
export {
  verifyZonemd,
  zoneDigest,
  simpleSchemeInput,
  zonemdAcceptable,
  type ZonemdHash,
  type ZonemdResult,
  type ZonemdStatus,
  type ZonemdPolicy,
} from './zonemd.js';
export {
  verifyDnssec,
  dnssecAcceptable,
  type DnssecResult,
  type DnssecStatus,
  type DnssecPolicy,
  type DnssecOptions,
  type KeysetStatus,
} from './dnssec-verify.js';
export {
  keyTag,
  parseDnskey,
  dsDigest,
  dnskeyJwk,
  webCryptoVerifier,
  SUPPORTED_ALGORITHMS,
  type DnskeyInfo,
  type SignatureVerifier,
  type VerifyRequest,
} from './dnssec-keys.js';
export { parseTrustAnchor, parseTrustAnchors, anchorFor, type TrustAnchor } from './trust-anchor.js';
export { expiresAt, serialNewer, type ExpiryInputs } from './expiry.js';
export { checkZone, verifyZone, type VerifyOptions, type ZoneReport } from './check.js';
export { compileImage } from './image-writer.js';
export { readImage, imageRecords, type ZoneImage, type ImageSection } from './image-reader.js';
export { findName, type NameLookup } from './image-lookup.js';
export { SignaturePrefetch, type PrefetchLookup } from './signature-prefetch.js';
