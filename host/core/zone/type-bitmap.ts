/**
 * NSEC and NSEC3 type bitmaps (RFC 4034 §4.1.2, RFC 5155 §3.2.1): written from the types a name
 * holds, for checking a zone's denial-of-existence chains against the data they describe, and
 * read (`bitmapHas`) by the message validator's denial proofs.
 */

import { RRType } from '../dns/rr-types.js';
import { SET_AUTH, SET_DELEGATION, type Zone } from './zone.js';

/**
 * Writes the bitmap of ascending `types[0, n)` into `out` (34 octets per window at most);
 * returns its length.
 */
export function encodeBitmap(types: Int32Array, n: number, out: Uint8Array): number {
  let o = 0;
  let i = 0;
  while (i < n) {
    const win = types[i]! >>> 8;
    const at = o;
    out.fill(0, at + 2, at + 34);
    let max = 0;
    while (i < n && types[i]! >>> 8 === win) {
      const low = types[i]! & 0xff;
      out[at + 2 + (low >>> 3)]! |= 0x80 >>> (low & 7);
      if (low >>> 3 > max) max = low >>> 3;
      i++;
    }
    out[at] = win;
    out[at + 1] = max + 1;
    o = at + 2 + max + 1;
  }
  return o;
}

/**
 * The types a denial record for name k must list, ascending, into `types`; returns the count.
 * Authoritative and delegation RRsets count, glue and occluded data do not, and RRSIG counts
 * when any of those is signed. `extra` (NSEC itself, for NSEC chains) is added.
 */
export function typesAt(zone: Zone, k: number, types: Int32Array, extra = -1): number {
  const { names, sets } = zone;
  let n = 0;
  let signed = false;
  const end = names.setFirst[k]! + names.setCount[k]!;
  for (let t = names.setFirst[k]!; t < end && n < 254; t++) {
    if (sets.flags[t]! & (SET_AUTH | SET_DELEGATION)) {
      // the NSEC's own RRSIG is at this name too, so it counts before NSEC is set aside
      if (sets.sigCount[t]! > 0) signed = true;
      const type = sets.type[t]!;
      if (type !== extra) types[n++] = type;
    }
  }
  if (signed) types[n++] = RRType.RRSIG;
  if (extra >= 0) types[n++] = extra;
  types.subarray(0, n).sort();
  return n;
}

/**
 * True when the type bitmap `b[o, end)` lists `type`. A malformed bitmap (a window past the
 * end) lists nothing beyond what could be read.
 */
export function bitmapHas(b: Uint8Array, type: number, o = 0, end = b.length): boolean {
  const win = type >>> 8;
  const low = type & 0xff;
  let p = o;
  while (p + 2 <= end) {
    const w = b[p]!;
    const len = b[p + 1]!;
    if (w === win) {
      const byte = low >>> 3;
      return byte < len && p + 2 + byte < end && (b[p + 2 + byte]! & (0x80 >>> (low & 7))) !== 0;
    }
    if (w > win) return false;
    p += 2 + len;
  }
  return false;
}
