/**
 * The project's own RR type and class tables (IANA "Resource Record (RR) TYPEs" and "DNS
 * CLASSes"). dns-packet maps a mnemonic it does not know to type 0 without an error; this table
 * never guesses: `typeFromName` returns undefined for an unknown mnemonic, and the generic
 * RFC 3597 forms `TYPEnnn` / `CLASSnnn` cover everything else.
 */

export const RRType = {
  A: 1, NS: 2, MD: 3, MF: 4, CNAME: 5, SOA: 6, MB: 7, MG: 8, MR: 9, NULL: 10, WKS: 11, PTR: 12,
  HINFO: 13, MINFO: 14, MX: 15, TXT: 16, RP: 17, AFSDB: 18, X25: 19, ISDN: 20, RT: 21, NSAP: 22,
  'NSAP-PTR': 23, SIG: 24, KEY: 25, PX: 26, GPOS: 27, AAAA: 28, LOC: 29, NXT: 30, EID: 31,
  NIMLOC: 32, SRV: 33, ATMA: 34, NAPTR: 35, KX: 36, CERT: 37, A6: 38, DNAME: 39, SINK: 40,
  OPT: 41, APL: 42, DS: 43, SSHFP: 44, IPSECKEY: 45, RRSIG: 46, NSEC: 47, DNSKEY: 48, DHCID: 49,
  NSEC3: 50, NSEC3PARAM: 51, TLSA: 52, SMIMEA: 53, HIP: 55, NINFO: 56, RKEY: 57, TALINK: 58,
  CDS: 59, CDNSKEY: 60, OPENPGPKEY: 61, CSYNC: 62, ZONEMD: 63, SVCB: 64, HTTPS: 65, DSYNC: 66,
  HHIT: 67, BRID: 68, SPF: 99, UINFO: 100, UID: 101, GID: 102, UNSPEC: 103, NID: 104, L32: 105,
  L64: 106, LP: 107, EUI48: 108, EUI64: 109, NXNAME: 128, TKEY: 249, TSIG: 250, IXFR: 251,
  AXFR: 252, MAILB: 253, MAILA: 254, ANY: 255, URI: 256, CAA: 257, AVC: 258, DOA: 259,
  AMTRELAY: 260, RESINFO: 261, WALLET: 262, CLA: 263, IPN: 264, TA: 32768, DLV: 32769,
} as const;

export type RRTypeName = keyof typeof RRType;

export const RRClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

const typeByNumber = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));
const typeByName = new Map<string, number>(Object.entries(RRType));
const classByNumber = new Map<number, string>(Object.entries(RRClass).map(([k, v]) => [v, k]));
const classByName = new Map<string, number>(Object.entries(RRClass));

const GENERIC_TYPE = /^TYPE(\d{1,5})$/;
const GENERIC_CLASS = /^CLASS(\d{1,5})$/;

/** Type number for a mnemonic or RFC 3597 `TYPEnnn`; undefined when unknown (never 0). */
export function typeFromName(name: string): number | undefined {
  const upper = name.toUpperCase();
  const known = typeByName.get(upper);
  if (known !== undefined) return known;
  const m = GENERIC_TYPE.exec(upper);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= 0xffff ? n : undefined;
}

/** Mnemonic for a type number, or `TYPEnnn` for one this table does not name. */
export function typeToName(type: number): string {
  return typeByNumber.get(type) ?? `TYPE${type}`;
}

export function classFromName(name: string): number | undefined {
  const upper = name.toUpperCase();
  const known = classByName.get(upper);
  if (known !== undefined) return known;
  const m = GENERIC_CLASS.exec(upper);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= 0xffff ? n : undefined;
}

export function classToName(cls: number): string {
  return classByNumber.get(cls) ?? `CLASS${cls}`;
}

/** True when the number names a meta-type or QTYPE-only value (RFC 6895 §3.1). */
export function isMetaType(type: number): boolean {
  return type === RRType.OPT || (type >= 128 && type <= 255);
}

/** False for the classes zone data cannot have: 0 (reserved), NONE and ANY (update and query classes). */
export function isDataClass(cls: number): boolean {
  return cls !== 0 && cls !== RRClass.NONE && cls !== RRClass.ANY;
}

export const Rcode = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6,
  YXRRSET: 7, NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10, BADVERS: 16,
} as const;

const rcodeByNumber = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));
const rcodeByName = new Map<string, number>(Object.entries(Rcode));

export function rcodeToName(rcode: number): string {
  return rcodeByNumber.get(rcode) ?? `RCODE${rcode}`;
}

export function rcodeFromName(name: string): number | undefined {
  return rcodeByName.get(name.toUpperCase());
}

export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5, DSO: 6 } as const;
