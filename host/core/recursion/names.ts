/** Wire-form name arithmetic the iterator needs: keys, ancestors, QNAME minimisation steps, DNAME substitution. */

import { RRType } from '../dns/rr-types.js';
import { ipv6Text } from '../dns/ipv6-text.js';
import { MAX_NAME_LEN, isSubdomain, countLabels } from '../dns/wire.js';

export const ROOT_NAME = new Uint8Array([0]);

/** A map key for a name: one character per byte, ASCII letters lower-cased. */
export function nameKey(n: Uint8Array): string {
  let s = '';
  for (let i = 0; i < n.length; i++) {
    const c = n[i]!;
    s += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
  }
  return s;
}

/** The ancestor of `name` that has `labels` labels (the name itself when it has no more). */
export function suffixOf(name: Uint8Array, labels: number): Uint8Array {
  let drop = countLabels(name) - labels;
  let i = 0;
  while (drop-- > 0) i += name[i]! + 1;
  return name.subarray(i);
}

/** The names from `name` up to the root, longest first (`name` itself included). */
export function ancestors(name: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  for (;;) {
    out.push(name.subarray(i));
    if (name[i] === 0 || i >= name.length) return out;
    i += name[i]! + 1;
  }
}

/**
 * `name` with its suffix `owner` replaced by `target` (RFC 6672 DNAME substitution), or null when
 * the result would be longer than 255 octets (the server then answers YXDOMAIN).
 */
export function substitute(name: Uint8Array, owner: Uint8Array, target: Uint8Array): Uint8Array | null {
  if (!isSubdomain(name, owner)) return null;
  const head = name.length - owner.length;
  if (head + target.length > MAX_NAME_LEN) return null;
  const out = new Uint8Array(head + target.length);
  out.set(name.subarray(0, head), 0);
  out.set(target, head);
  return out;
}

/** The address an A or AAAA record's RDATA holds, as text; null for any other type or length. */
export function addressOf(type: number, rdata: Uint8Array): string | null {
  if (type === RRType.A && rdata.length === 4) return `${rdata[0]}.${rdata[1]}.${rdata[2]}.${rdata[3]}`;
  if (type === RRType.AAAA && rdata.length === 16) return ipv6Text(rdata);
  return null;
}

/** The wire-form name at the start of `rdata` (NS, CNAME, DNAME targets), uncompressed. */
export function rdataName(rdata: Uint8Array): Uint8Array {
  let i = 0;
  while (i < rdata.length && rdata[i] !== 0) i += rdata[i]! + 1;
  return rdata.subarray(0, Math.min(i + 1, rdata.length));
}
