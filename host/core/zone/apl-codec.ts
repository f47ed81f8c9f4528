/**
 * APL (RFC 3123): a list of address prefixes, `[!]afi:address/prefix` in text; on the wire
 * family, prefix length, negation bit with the address length, and the address with its
 * trailing zero octets left out (§4). Text knows IPv4 (1) and IPv6 (2). Another family read
 * from wire is kept and written as `\#`, never refused: it is valid DNS we merely cannot spell.
 */

import { FieldError } from './errors.js';
import type { RdataWriter } from './rdata-writer.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6, parseUint } from './text-scalars.js';
import { tokenForMessage, type Tokens } from './tokens.js';

const SIZE: Record<number, number> = { 1: 4, 2: 16 };

/** Items from token `first` to the end (none is valid: an empty list); returns t.count. */
export function parseApl(t: Tokens, first: number, w: RdataWriter): number {
  const b = t.buf;
  const addr = new Uint8Array(16);
  for (let i = first; i < t.count; i++) {
    const bad = (why: string): never => {
      throw new FieldError(i, `APL: ${why} in "${tokenForMessage(t, i)}" ([!]afi:address/prefix)`);
    };
    let s = t.start[i]!;
    const e = t.end[i]!;
    const negate = b[s] === 0x21;
    if (negate) s++;
    const colon = b.indexOf(0x3a, s);
    if (colon < 0 || colon >= e) bad('no address family');
    const slash = b.lastIndexOf(0x2f, e - 1);
    if (slash < colon) bad('no prefix length');
    const afi = parseUint(b, s, colon, 0xffff);
    const size = SIZE[afi];
    if (size === undefined) bad('address family must be 1 (IPv4) or 2 (IPv6); write others as \\#');
    const ok = size === 4 ? parseIpv4(b, colon + 1, slash, addr, 0) : parseIpv6(b, colon + 1, slash, addr, 0);
    if (!ok) bad(`bad IPv${size === 4 ? 4 : 6} address`);
    const prefix = parseUint(b, slash + 1, e, size! * 8);
    if (prefix < 0) bad(`prefix length must be 0..${size! * 8}`);
    let len = size!;
    while (len > 0 && addr[len - 1] === 0) len--;
    w.u16(afi);
    w.u8(prefix);
    w.u8((negate ? 0x80 : 0) | len);
    w.bytes(addr.subarray(0, len));
  }
  return t.count;
}

/** Offset past the item list at `p` (always the end), or -1 when an item is malformed. */
export function aplEnd(b: Uint8Array, p: number, end: number): number {
  while (p < end) {
    if (p + 4 > end) return -1;
    const afi = (b[p]! << 8) | b[p + 1]!;
    const len = b[p + 3]! & 0x7f;
    const size = SIZE[afi];
    if (p + 4 + len > end) return -1;
    // RFC 3123 §4: no trailing zero octets, no more octets or prefix bits than the family has
    if (size !== undefined && (len > size || b[p + 2]! > size * 8 || (len > 0 && b[p + 3 + len] === 0))) return -1;
    p += 4 + len;
  }
  return end;
}

export function formatApl(b: Uint8Array, p: number, end: number): string {
  const items: string[] = [];
  const addr = new Uint8Array(16);
  while (p < end) {
    const afi = (b[p]! << 8) | b[p + 1]!;
    const len = b[p + 3]! & 0x7f;
    if (SIZE[afi] === undefined) throw new Error(`APL address family ${afi} has no text form`);
    addr.fill(0);
    addr.set(b.subarray(p + 4, p + 4 + len));
    const text = afi === 1 ? formatIpv4(addr, 0) : formatIpv6(addr, 0);
    items.push(`${b[p + 3]! & 0x80 ? '!' : ''}${afi}:${text}/${b[p + 2]}`);
    p += 4 + len;
  }
  return items.join(' ');
}
