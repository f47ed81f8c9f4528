/**
 * Name lookup in a zone image, as `static_zone` does it in place: encode the query name as a
 * canonical key, binary-search the name table with a byte comparison, and on a miss take the
 * predecessor's NSEC owner for the NXDOMAIN proof. This TypeScript version is the reference the
 * AssemblyScript reader is tested against.
 */

import { canonicalKey } from '../dns/name.js';
import { NAME_ENTRY, NE, NO_NAME } from './image-format.js';
import type { ZoneImage } from './image-reader.js';

export interface NameLookup {
  /** The name's index when `exact`, else the index of its canonical predecessor (-1 if none). */
  index: number;
  exact: boolean;
  /** Index of the name whose NSEC covers or matches the query name, or -1. */
  nsecName: number;
}

export function findName(image: ZoneImage, qname: Uint8Array): NameLookup {
  const b = image.bytes;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const key = canonicalKey(qname);
  const names = image.sections.names.offset;
  const keys = image.sections.keys.offset;
  let lo = 0;
  let hi = image.nameCount - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const e = names + mid * NAME_ENTRY;
    const ko = keys + v.getUint32(e + NE.KEY_OFF, true);
    const kl = v.getUint16(e + NE.KEY_LEN, true);
    const n = Math.min(kl, key.length);
    let d = 0;
    for (let i = 0; i < n && d === 0; i++) d = b[ko + i]! - key[i]!;
    if (d === 0) d = kl - key.length;
    if (d === 0) {
      const nsec = v.getUint32(e + NE.NSEC_NAME, true);
      return { index: mid, exact: true, nsecName: nsec === NO_NAME ? -1 : nsec };
    }
    if (d < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  const pred = hi;
  if (pred < 0) return { index: -1, exact: false, nsecName: -1 };
  const nsec = v.getUint32(names + pred * NAME_ENTRY + NE.NSEC_NAME, true);
  return { index: pred, exact: false, nsecName: nsec === NO_NAME ? -1 : nsec };
}
