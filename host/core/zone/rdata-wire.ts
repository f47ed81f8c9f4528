/**
 * RDATA in wire form: structural checks for the types we know (so corrupt wire input is caught
 * where it enters), canonical lower-casing for DNSSEC and ZONEMD, and decompression of the
 * names RFC 3597 §4 allows senders to compress. Unknown types are opaque and always pass.
 */

import { isLowerName, lowerNameInPlace, readName, wireNameLength } from '../dns/name.js';
import { RRType } from '../dns/rr-types.js';
import { WireError } from '../dns/wire-error.js';
import { aplEnd } from './apl-codec.js';
import { amtrelayEnd, ipseckeyEnd } from './gateway-codec.js';
import { hipEnd } from './hip-codec.js';
import * as S from './rdata-schema.js';
import { checkSvcParams } from './svcb-params.js';
import { wksEnd } from './wks-codec.js';

/** Offset past field `f` at `p`, or -1 when it does not fit or is malformed. */
function fieldEnd(f: number, b: Uint8Array, p: number, end: number): number {
  switch (f) {
    case S.F_NAME:
    case S.F_NAME_LC:
    case S.F_NAME_LC_CMP: {
      const n = wireNameLength(b, p, end);
      return n < 0 ? -1 : p + n;
    }
    case S.F_U8:
    case S.F_ALG:
      return p + 1 <= end ? p + 1 : -1;
    case S.F_U16:
    case S.F_TYPE:
    case S.F_CERT_TYPE:
      return p + 2 <= end ? p + 2 : -1;
    case S.F_U32:
    case S.F_TTL:
    case S.F_TIME:
    case S.F_A:
      return p + 4 <= end ? p + 4 : -1;
    case S.F_AAAA:
      return p + 16 <= end ? p + 16 : -1;
    case S.F_EUI48:
      return p + 6 <= end ? p + 6 : -1;
    case S.F_EUI64:
    case S.F_NODE64:
      return p + 8 <= end ? p + 8 : -1;
    case S.F_STR:
    case S.F_SALT:
    case S.F_B32:
    case S.F_CAA_TAG: {
      if (p >= end) return -1;
      const q = p + 1 + b[p]!;
      if (f === S.F_CAA_TAG && b[p] === 0) return -1;
      if (f === S.F_B32 && b[p] === 0) return -1;
      return q <= end ? q : -1;
    }
    case S.F_STRS: {
      if (p >= end) return -1;
      while (p < end) p += 1 + b[p]!;
      return p === end ? p : -1;
    }
    case S.F_REST_STR:
    case S.F_SVCPARAMS:
      if (f === S.F_SVCPARAMS && checkSvcParams(b, p, end) !== null) return -1;
      return end;
    case S.F_B64:
    case S.F_HEX:
      return p < end ? end : -1;
    case S.F_BITMAP: {
      let last = -1;
      while (p < end) {
        if (p + 2 > end) return -1;
        const win = b[p]!;
        const len = b[p + 1]!;
        if (win <= last || len < 1 || len > 32 || p + 2 + len > end) return -1;
        if (b[p + 1 + len] === 0) return -1; // trailing zero octets are not allowed (RFC 4034 §4.1.2)
        last = win;
        p += 2 + len;
      }
      return end;
    }
    case S.F_LOC:
      if (p < end && b[p] !== 0) return end; // other versions are opaque to us
      return end - p === 16 ? end : -1;
    case S.F_WKS:
      return wksEnd(p, end);
    case S.F_APL:
      return aplEnd(b, p, end);
    case S.F_IPSECKEY:
      return ipseckeyEnd(b, p, end);
    case S.F_AMTRELAY:
      return amtrelayEnd(b, p, end);
    case S.F_HIP:
      return hipEnd(b, p, end);
    default:
      return -1;
  }
}

/** Null when `rdata` is well-formed for `type` (always for types without a layout). */
export function checkRdata(type: number, rdata: Uint8Array): string | null {
  const layout = S.LAYOUTS.get(type);
  if (!layout) return null;
  let p = 0;
  const end = rdata.length;
  for (let k = 0; k < layout.length; k++) {
    const f = layout[k]!;
    if (p === end && (f === S.F_BITMAP || f === S.F_SVCPARAMS)) continue;
    const q = fieldEnd(f, rdata, p, end);
    if (q < 0) {
      if (f === S.F_SVCPARAMS) return checkSvcParams(rdata, p, end) ?? 'bad SvcParams';
      return `malformed field ${k + 1} at octet ${p}`;
    }
    p = q;
  }
  if (p !== end) return `${end - p} octets left over`;
  return type === RRType.NSEC3 ? nsec3HashProblem(rdata) : null;
}

/** Octets of a hash by NSEC3 hash algorithm (RFC 5155 §11: 1 is SHA-1). */
const NSEC3_HASH_LENGTHS: ReadonlyMap<number, number> = new Map([[1, 20]]);

/**
 * An NSEC3 whose Next Hashed Owner Name is not as long as its hash algorithm makes it (RFC 5155
 * §3.2: the hash value, 20 octets for SHA-1) cannot be in any chain. Null when it is right or
 * the algorithm is one this table does not know.
 */
export function nsec3HashProblem(rdata: Uint8Array): string | null {
  const want = NSEC3_HASH_LENGTHS.get(rdata[0]!);
  if (want === undefined || rdata.length < 5) return null;
  const at = 5 + rdata[4]!;
  const got = rdata[at];
  if (got === undefined || got === want) return null;
  return `the next hashed owner name is ${got} octets; hash algorithm ${rdata[0]} makes ${want}`;
}

/**
 * RDATA in RFC 4034 §6.2 canonical form: embedded names of the listed types lower-cased.
 * Returns `rdata` itself when nothing changes, which is nearly always.
 */
export function canonicalRdata(type: number, rdata: Uint8Array): Uint8Array {
  if (!S.HAS_LC_NAME.has(type) || !needsLowering(type, rdata, 0, rdata.length)) return rdata;
  const out = rdata.slice();
  lowerRdataInPlace(type, out, 0, out.length);
  return out;
}

/** True when the RDATA at `b[o, o+len)` has a name that canonical form would lower-case. */
export function needsLowering(type: number, b: Uint8Array, o: number, len: number): boolean {
  // the two that fill a signed zone: NS is one name, RRSIG has its signer at octet 18
  if (type === 2) return !isLowerName(b, o, len);
  if (type === 46) return len > 18 && !isLowerName(b, o + 18, len - 18);
  const layout = S.LAYOUTS.get(type);
  if (!layout) return false;
  let p = o;
  const end = o + len;
  for (let k = 0; k < layout.length && p < end; k++) {
    const f = layout[k]!;
    const q = fieldEnd(f, b, p, end);
    if (q < 0) return false;
    if ((f === S.F_NAME_LC || f === S.F_NAME_LC_CMP) && !isLowerName(b, p, q - p)) return true;
    p = q;
  }
  return false;
}

/** Lower-cases, in place, the names canonical form lower-cases in the RDATA at `b[o, o+len)`. */
export function lowerRdataInPlace(type: number, b: Uint8Array, o: number, len: number): void {
  const layout = S.LAYOUTS.get(type);
  if (!layout) return;
  let p = o;
  const end = o + len;
  for (let k = 0; k < layout.length && p < end; k++) {
    const f = layout[k]!;
    const q = fieldEnd(f, b, p, end);
    if (q < 0) return;
    if (f === S.F_NAME_LC || f === S.F_NAME_LC_CMP) lowerNameInPlace(b, p);
    p = q;
  }
}

/**
 * The RDATA at `msg[off, off+len)` with compressed names expanded, for the types whose names a
 * sender may compress; a copy of the bytes for every other type. Null when a name is malformed.
 */
export function rdataFromMessage(type: number, msg: Uint8Array, off: number, len: number): Uint8Array | null {
  if (!S.HAS_CMP_NAME.has(type)) return msg.slice(off, off + len);
  const layout = S.LAYOUTS.get(type)!;
  const out: number[] = [];
  const end = off + len;
  let p = off;
  for (let k = 0; k < layout.length; k++) {
    const f = layout[k]!;
    if (f === S.F_NAME_LC_CMP) {
      let name: { name: Uint8Array; end: number };
      try {
        name = readName(msg.subarray(0, end), p);
      } catch (e) {
        if (e instanceof WireError) return null;
        throw e;
      }
      for (const c of name.name) out.push(c);
      p = name.end;
      continue;
    }
    if (p === end && (f === S.F_BITMAP || f === S.F_SVCPARAMS)) continue;
    const q = fieldEnd(f, msg, p, end);
    if (q < 0) return null;
    for (let i = p; i < q; i++) out.push(msg[i]!);
    p = q;
  }
  if (p !== end) return null;
  return Uint8Array.from(out);
}
