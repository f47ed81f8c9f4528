/**
 * RDATA layouts of the types this project reads and writes in presentation form. One table
 * drives text parsing, text output, wire validation, canonical lower-casing (RFC 4034 §6.2 as
 * amended by RFC 6840 §5.1: not NSEC) and name decompression (RFC 3597 §4), so those can never
 * disagree about where a name sits. A type missing here still loads: in RFC 3597 `\#` form as
 * text, and as opaque RDATA from wire.
 */

import { RRType } from '../dns/rr-types.js';

/** A domain name that keeps its case in canonical form and never arrives compressed. */
export const F_NAME = 1;
/** A domain name lower-cased in canonical form. */
export const F_NAME_LC = 2;
/** Lower-cased, and a sender may have compressed it (RFC 3597 §4 lists these types). */
export const F_NAME_LC_CMP = 3;
export const F_U8 = 4;
export const F_U16 = 5;
export const F_U32 = 6;
/** 32-bit seconds that may use TTL units in text (SOA timers). */
export const F_TTL = 7;
/** An RR type as mnemonic or TYPEnnn (RRSIG type covered, DSYNC). */
export const F_TYPE = 8;
/** A DNSSEC algorithm number or mnemonic. */
export const F_ALG = 9;
/** An RRSIG time. */
export const F_TIME = 10;
export const F_A = 11;
export const F_AAAA = 12;
/** One <character-string>. */
export const F_STR = 13;
/** One or more <character-string>s to the end (TXT). */
export const F_STRS = 14;
/** The rest of the RDATA as one string with no length octet (CAA value, URI target). */
export const F_REST_STR = 15;
export const F_B64 = 16;
export const F_HEX = 17;
/** NSEC3 salt: length octet, hex or `-` when empty. */
export const F_SALT = 18;
/** NSEC3 next hashed owner: length octet, base32hex. */
export const F_B32 = 19;
export const F_BITMAP = 20;
export const F_EUI48 = 21;
export const F_EUI64 = 22;
/** 64-bit ILNP node identifier / locator written as four 16-bit hex groups. */
export const F_NODE64 = 23;
export const F_CAA_TAG = 24;
export const F_SVCPARAMS = 25;
export const F_LOC = 26;
export const F_CERT_TYPE = 27;
/** WKS protocol and port bitmap, to the end (wks-codec.ts). */
export const F_WKS = 28;
/** APL items, to the end; none is an empty list (apl-codec.ts). */
export const F_APL = 29;
/** IPSECKEY after the precedence: gateway type, algorithm, gateway, key (gateway-codec.ts). */
export const F_IPSECKEY = 30;
/** AMTRELAY after the precedence: D bit, relay type, relay (gateway-codec.ts). */
export const F_AMTRELAY = 31;
/** The whole HIP RDATA (hip-codec.ts). */
export const F_HIP = 32;

export type Layout = readonly number[];

const DS: Layout = [F_U16, F_ALG, F_U8, F_HEX];
const DNSKEY: Layout = [F_U16, F_U8, F_ALG, F_B64];
const RRSIG_L: Layout = [F_TYPE, F_ALG, F_U8, F_U32, F_TIME, F_TIME, F_U16, F_NAME_LC, F_B64];
const SIG_L: Layout = [F_TYPE, F_ALG, F_U8, F_U32, F_TIME, F_TIME, F_U16, F_NAME_LC_CMP, F_B64];
const ONE_NAME: Layout = [F_NAME_LC_CMP];
const TEXT: Layout = [F_STRS];

export const LAYOUTS = new Map<number, Layout>([
  [RRType.A, [F_A]],
  [RRType.NS, ONE_NAME],
  [RRType.MD, ONE_NAME],
  [RRType.MF, ONE_NAME],
  [RRType.CNAME, ONE_NAME],
  [RRType.SOA, [F_NAME_LC_CMP, F_NAME_LC_CMP, F_U32, F_TTL, F_TTL, F_TTL, F_TTL]],
  [RRType.MB, ONE_NAME],
  [RRType.MG, ONE_NAME],
  [RRType.MR, ONE_NAME],
  [RRType.WKS, [F_A, F_WKS]],
  [RRType.PTR, ONE_NAME],
  [RRType.HINFO, [F_STR, F_STR]],
  [RRType.MINFO, [F_NAME_LC_CMP, F_NAME_LC_CMP]],
  [RRType.MX, [F_U16, F_NAME_LC_CMP]],
  [RRType.TXT, TEXT],
  [RRType.RP, [F_NAME_LC_CMP, F_NAME_LC_CMP]],
  [RRType.AFSDB, [F_U16, F_NAME_LC_CMP]],
  [RRType.X25, [F_STR]],
  [RRType.RT, [F_U16, F_NAME_LC_CMP]],
  [RRType.SIG, SIG_L],
  [RRType.KEY, DNSKEY],
  [RRType.PX, [F_U16, F_NAME_LC_CMP, F_NAME_LC_CMP]],
  [RRType.GPOS, [F_STR, F_STR, F_STR]],
  [RRType.AAAA, [F_AAAA]],
  [RRType.LOC, [F_LOC]],
  [RRType.SRV, [F_U16, F_U16, F_U16, F_NAME_LC_CMP]],
  [RRType.NAPTR, [F_U16, F_U16, F_STR, F_STR, F_STR, F_NAME_LC_CMP]],
  [RRType.KX, [F_U16, F_NAME_LC]],
  [RRType.CERT, [F_CERT_TYPE, F_U16, F_ALG, F_B64]],
  [RRType.DNAME, [F_NAME_LC]],
  [RRType.APL, [F_APL]],
  [RRType.DS, DS],
  [RRType.SSHFP, [F_U8, F_U8, F_HEX]],
  [RRType.IPSECKEY, [F_U8, F_IPSECKEY]],
  [RRType.RRSIG, RRSIG_L],
  [RRType.NSEC, [F_NAME, F_BITMAP]],
  [RRType.DNSKEY, DNSKEY],
  [RRType.DHCID, [F_B64]],
  [RRType.NSEC3, [F_U8, F_U8, F_U16, F_SALT, F_B32, F_BITMAP]],
  [RRType.NSEC3PARAM, [F_U8, F_U8, F_U16, F_SALT]],
  [RRType.TLSA, [F_U8, F_U8, F_U8, F_HEX]],
  [RRType.SMIMEA, [F_U8, F_U8, F_U8, F_HEX]],
  [RRType.HIP, [F_HIP]],
  [RRType.CDS, DS],
  [RRType.CDNSKEY, DNSKEY],
  [RRType.OPENPGPKEY, [F_B64]],
  [RRType.CSYNC, [F_U32, F_U16, F_BITMAP]],
  [RRType.ZONEMD, [F_U32, F_U8, F_U8, F_HEX]],
  [RRType.SVCB, [F_U16, F_NAME, F_SVCPARAMS]],
  [RRType.HTTPS, [F_U16, F_NAME, F_SVCPARAMS]],
  [RRType.DSYNC, [F_TYPE, F_U8, F_U16, F_NAME]],
  [RRType.SPF, TEXT],
  [RRType.NID, [F_U16, F_NODE64]],
  [RRType.L32, [F_U16, F_A]],
  [RRType.L64, [F_U16, F_NODE64]],
  [RRType.LP, [F_U16, F_NAME]],
  [RRType.EUI48, [F_EUI48]],
  [RRType.EUI64, [F_EUI64]],
  [RRType.URI, [F_U16, F_U16, F_REST_STR]],
  [RRType.CAA, [F_U8, F_CAA_TAG, F_REST_STR]],
  [RRType.AMTRELAY, [F_U8, F_AMTRELAY]],
  [RRType.RESINFO, TEXT],
  [RRType.WALLET, TEXT],
  [RRType.TA, DS],
  [RRType.DLV, DS],
]);

/** Types whose RDATA holds a name that canonical form lower-cases; used to skip the walk. */
export const HAS_LC_NAME = new Set<number>();
/** Types whose RDATA names a sender may have compressed. */
export const HAS_CMP_NAME = new Set<number>();
for (const [type, layout] of LAYOUTS) {
  if (layout.includes(F_NAME_LC) || layout.includes(F_NAME_LC_CMP)) HAS_LC_NAME.add(type);
  if (layout.includes(F_NAME_LC_CMP)) HAS_CMP_NAME.add(type);
}

export const DNSSEC_ALGORITHMS: Readonly<Record<string, number>> = {
  RSAMD5: 1, DH: 2, DSA: 3, RSASHA1: 5, 'DSA-NSEC3-SHA1': 6, 'RSASHA1-NSEC3-SHA1': 7, RSASHA256: 8,
  RSASHA512: 10, 'ECC-GOST': 12, ECDSAP256SHA256: 13, ECDSAP384SHA384: 14, ED25519: 15, ED448: 16,
  INDIRECT: 252, PRIVATEDNS: 253, PRIVATEOID: 254,
};

/** DSYNC scheme mnemonics (RFC 9859 §2.1, IANA "DSYNC: Location of Synchronization Endpoints"). */
export const DSYNC_SCHEMES: Readonly<Record<string, number>> = { NOTIFY: 1 };

export const CERT_TYPES: Readonly<Record<string, number>> = {
  PKIX: 1, SPKI: 2, PGP: 3, IPKIX: 4, ISPKI: 5, IPGP: 6, ACPKIX: 7, IACPKIX: 8, URI: 253, OID: 254,
};
