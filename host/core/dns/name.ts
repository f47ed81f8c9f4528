/**
 * Domain names, one codec for the whole host: wire form (uncompressed, or read out of a message
 * that uses compression), presentation text both ways (RFC 1035 §5.1 escapes), and the canonical
 * helpers (RFC 4034 §6) every stage shares: lower-casing, comparing, and a sort key that turns
 * canonical order into plain byte order. The zone parser runs parseNameInto on every owner and
 * RDATA name, so it works on bytes in place; the string forms are thin wrappers around it.
 */

import { compareBytes } from './bytes.js';
import { WireError } from './wire-error.js';

export const MAX_NAME_LEN = 255;
export const MAX_LABEL_LEN = 63;

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/**
 * Reads a possibly compressed name starting at `off`. Returns the uncompressed wire form and the
 * offset just past the name in the message. Pointers must point backwards (so loops cannot
 * happen) and the result is capped at 255 octets.
 */
const nameScratch = new Uint8Array(MAX_NAME_LEN);

export function readName(msg: Uint8Array, off: number): { name: Uint8Array; end: number } {
  const out = nameScratch;
  let len = 0;
  let pos = off;
  let end = -1;
  let limit = off; // a pointer must land strictly before the last place we jumped from
  for (;;) {
    if (pos >= msg.length) throw new WireError('name runs past the end of the message', pos);
    const b = msg[pos]!;
    if ((b & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) throw new WireError('truncated compression pointer', pos);
      const target = ((b & 0x3f) << 8) | msg[pos + 1]!;
      if (end < 0) end = pos + 2;
      if (target >= limit) throw new WireError('compression pointer does not point backwards', pos);
      limit = target;
      pos = target;
      continue;
    }
    if ((b & 0xc0) !== 0) throw new WireError(`unsupported label type 0x${b.toString(16)}`, pos);
    if (len + b + 1 > MAX_NAME_LEN) throw new WireError('name longer than 255 octets', pos);
    if (pos + 1 + b > msg.length) throw new WireError('label runs past the end of the message', pos);
    // Byte by byte: a subarray per label costs more than the copy for names this short.
    for (let i = 0; i <= b; i++) out[len + i] = msg[pos + i]!;
    len += b + 1;
    pos += b + 1;
    if (b === 0) break;
  }
  return { name: out.slice(0, len), end: end < 0 ? pos : end };
}

/** Offset just past a (possibly compressed) name, without copying it. */
export function skipName(msg: Uint8Array, off: number): number {
  let pos = off;
  let total = 0;
  for (;;) {
    if (pos >= msg.length) throw new WireError('name runs past the end of the message', pos);
    const b = msg[pos]!;
    if ((b & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) throw new WireError('truncated compression pointer', pos);
      return pos + 2;
    }
    if ((b & 0xc0) !== 0) throw new WireError(`unsupported label type 0x${b.toString(16)}`, pos);
    total += b + 1;
    if (total > MAX_NAME_LEN) throw new WireError('name longer than 255 octets', pos);
    pos += b + 1;
    if (b === 0) return pos;
  }
}

/**
 * Length of the uncompressed wire name at `b[o]`; negative when there is none: -1 when it runs
 * past `end` (a stream reader waits for more bytes), -2 when it is malformed (a compression
 * pointer or another label type, or longer than 255 octets).
 */
export function wireNameLength(b: Uint8Array, o: number, end: number): number {
  let p = o;
  for (;;) {
    if (p >= end) return -1;
    const l = b[p]!;
    if (l > MAX_LABEL_LEN) return -2;
    p += l + 1;
    if (p - o > MAX_NAME_LEN) return -2;
    if (l === 0) return p - o;
  }
}

/**
 * Parses the presentation name in `buf[s, e)` into `out` at `o` and returns the offset past it.
 * Relative names take `origin`; a lone `@` is the origin. Throws Error with a message naming the
 * problem (callers add the position).
 */
export function parseNameInto(
  buf: Uint8Array,
  s: number,
  e: number,
  origin: Uint8Array | null,
  out: Uint8Array,
  o: number,
): number {
  const begin = o;
  if (e - s === 1) {
    const c = buf[s]!;
    if (c === 0x2e) {
      out[o] = 0;
      return o + 1;
    }
    if (c === 0x40) {
      if (!origin) throw new Error('"@" used but no $ORIGIN is known');
      out.set(origin, o);
      return o + origin.length;
    }
  }
  if (s === e) throw new Error('empty name');
  let lp = o; // where the current label's length octet goes
  o++;
  let i = s;
  let absolute = false;
  while (i < e) {
    let c = buf[i]!;
    if (c === 0x2e) {
      const len = o - lp - 1;
      if (len === 0) throw new Error('empty label in name');
      if (len > MAX_LABEL_LEN) throw new Error('label longer than 63 octets');
      out[lp] = len;
      i++;
      if (i === e) {
        absolute = true;
        break;
      }
      lp = o;
      o++;
      if (o - begin > MAX_NAME_LEN) throw new Error('name longer than 255 octets');
      continue;
    }
    if (c === 0x5c) {
      if (i + 1 >= e) throw new Error('dangling backslash in name');
      const d = buf[i + 1]!;
      if (isDigit(d)) {
        if (i + 3 >= e || !isDigit(buf[i + 2]!) || !isDigit(buf[i + 3]!)) {
          throw new Error('bad \\DDD escape in name');
        }
        c = (d - 0x30) * 100 + (buf[i + 2]! - 0x30) * 10 + (buf[i + 3]! - 0x30);
        if (c > 255) throw new Error('\\DDD escape above 255 in name');
        i += 4;
      } else {
        c = d;
        i += 2;
      }
    } else {
      i++;
    }
    out[o++] = c;
    if (o - begin > MAX_NAME_LEN) throw new Error('name longer than 255 octets');
  }
  if (absolute) {
    out[o++] = 0;
    if (o - begin > MAX_NAME_LEN) throw new Error('name longer than 255 octets');
    return o;
  }
  const len = o - lp - 1;
  if (len === 0) throw new Error('empty label in name');
  if (len > MAX_LABEL_LEN) throw new Error('label longer than 63 octets');
  out[lp] = len;
  if (!origin) throw new Error('relative name but no $ORIGIN is known');
  if (o - begin + origin.length > MAX_NAME_LEN) throw new Error('name longer than 255 octets');
  out.set(origin, o);
  return o + origin.length;
}

// parseNameInto throws before it writes a 257th octet, so 512 is always room for its output.
const textBytes = new Uint8Array(512);
const textName = new Uint8Array(512);

/**
 * Wire form of a presentation-format name given as a string of octets (each character one
 * octet; above U+00FF is refused). Relative names are made absolute against `origin` (itself in
 * wire form); `@` is the origin. Throws WireError on bad escapes or lengths.
 */
export function textToName(text: string, origin?: Uint8Array): Uint8Array {
  const n = text.length;
  const bytes = n <= textBytes.length ? textBytes : new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new WireError(`non-ASCII character in name "${text}"`);
    bytes[i] = c;
  }
  try {
    return textName.slice(0, parseNameInto(bytes, 0, n, origin ?? null, textName, 0));
  } catch (e) {
    throw new WireError(`${(e as Error).message}: "${text}"`);
  }
}

/**
 * Wire form of an absolute presentation name given as UTF-8 text (an origin, spelt as the bytes
 * of a zone file would spell it); throws Error when malformed.
 */
export function nameFromText(text: string): Uint8Array {
  if (!text.endsWith('.')) throw new Error(`name "${text}" must be absolute (end with ".")`);
  const bytes = new TextEncoder().encode(text);
  return textName.slice(0, parseNameInto(bytes, 0, bytes.length, null, textName, 0));
}

function isPlain(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f ||
    c === 0x2a || c === 0x2f
  );
}

/** Presentation form of a wire-form name, fully qualified, with RFC 1035 §5.1 escapes. */
export function nameToText(name: Uint8Array): string {
  if (name.length <= 1) return '.';
  let s = '';
  let i = 0;
  while (i < name.length) {
    const l = name[i]!;
    if (l === 0) break;
    for (let j = 1; j <= l; j++) {
      const c = name[i + j]!;
      if (isPlain(c)) s += String.fromCharCode(c);
      else if (c > 0x20 && c < 0x7f) s += '\\' + String.fromCharCode(c);
      else s += '\\' + c.toString().padStart(3, '0');
    }
    s += '.';
    i += l + 1;
  }
  return s;
}

/** True when the name at `b[o, o+len)` has no ASCII upper-case letter (the usual case). */
export function isLowerName(b: Uint8Array, o: number, len: number): boolean {
  let i = o;
  const end = o + len;
  while (i < end) {
    const l = b[i]!;
    if (l === 0) return true;
    for (let j = i + 1; j <= i + l; j++) {
      const c = b[j]!;
      if (c >= 0x41 && c <= 0x5a) return false;
    }
    i += l + 1;
  }
  return true;
}

/** Lower-cases the ASCII letters of the wire name at `b[o]` in place. */
export function lowerNameInPlace(b: Uint8Array, o: number): void {
  let i = o;
  for (;;) {
    const l = b[i]!;
    if (l === 0) return;
    for (let j = i + 1; j <= i + l; j++) {
      const c = b[j]!;
      if (c >= 0x41 && c <= 0x5a) b[j] = c + 0x20;
    }
    i += l + 1;
  }
}

/** The name with ASCII letters lower-cased (RFC 4034 §6.2): the same array when it has none. */
export function lowerName(name: Uint8Array): Uint8Array {
  if (isLowerName(name, 0, name.length)) return name;
  const out = name.slice();
  lowerNameInPlace(out, 0);
  return out;
}

/** Number of labels (the root has 0). */
export function countLabels(name: Uint8Array): number {
  let n = 0;
  let i = 0;
  while (i < name.length && name[i] !== 0) {
    n++;
    i += name[i]! + 1;
  }
  return n;
}

/** Equal ignoring ASCII case. */
export function nameEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a === b || (a.length === b.length && nameAt(a, 0, b));
}

/** Whether `b` holds `name` at `off`, ASCII case aside (uncompressed). */
export function nameAt(b: Uint8Array, off: number, name: Uint8Array): boolean {
  if (off + name.length > b.length) return false;
  for (let i = 0; i < name.length; i++) {
    let x = b[off + i]!;
    let y = name[i]!;
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}

/**
 * True when `name` is `zone` or a name below it, compared label by label without regard to ASCII
 * case (the bailiwick test: is this record inside the zone of the server that sent it?).
 */
export function isSubdomain(name: Uint8Array, zone: Uint8Array): boolean {
  const start = name.length - zone.length;
  if (start < 0) return false;
  let i = 0;
  while (i < start) i += name[i]! + 1;
  return i === start && nameEquals(name.subarray(start), zone);
}

/** The name one label up (the root's parent is the root itself). */
export function parentName(name: Uint8Array): Uint8Array {
  return name.length <= 1 ? name : name.subarray(name[0]! + 1);
}

/**
 * The canonical sort key of a wire name: labels from the root down, each lower-cased, with the
 * octets 0x00 and 0x01 escaped as 0x01 0x01 and 0x01 0x02, and each label closed by 0x00.
 * Comparing two keys as unsigned byte strings (a proper prefix first) gives exactly the
 * canonical order of RFC 4034 §6.1, so a reader can binary-search with memcmp.
 */
export function canonicalKey(name: Uint8Array): Uint8Array {
  const starts: number[] = [];
  let i = 0;
  let extra = 0;
  while (i < name.length && name[i] !== 0) {
    starts.push(i);
    const l = name[i]!;
    for (let j = i + 1; j <= i + l; j++) if (name[j]! <= 1) extra++;
    i += l + 1;
  }
  const out = new Uint8Array(name.length - 1 + extra);
  let o = 0;
  for (let k = starts.length - 1; k >= 0; k--) {
    const s = starts[k]!;
    const l = name[s]!;
    for (let j = s + 1; j <= s + l; j++) {
      const c = name[j]!;
      if (c <= 1) {
        out[o++] = 1;
        out[o++] = c + 1;
      } else out[o++] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
    }
    out[o++] = 0;
  }
  return out;
}

/** RFC 4034 §6.1 order of two wire names. */
export function compareNames(a: Uint8Array, b: Uint8Array): number {
  return compareBytes(canonicalKey(a), canonicalKey(b));
}
