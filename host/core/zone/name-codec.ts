/**
 * Domain names between presentation bytes and uncompressed wire form, plus the canonical
 * (RFC 4034 §6.1) helpers every later stage shares: lower-casing, ordering and a sort key that
 * turns canonical order into plain byte order.
 */

export const MAX_NAME = 255;
const MAX_LABEL = 63;

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/**
 * Parses the presentation name in `buf[s, e)` into `out` at `o` and returns the offset past it.
 * `escaped` false lets the loop skip escape handling. Relative names take `origin`; a lone `@`
 * is the origin. Throws Error with a message naming the problem (callers add the position).
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
      if (len > MAX_LABEL) throw new Error('label longer than 63 octets');
      out[lp] = len;
      i++;
      if (i === e) {
        absolute = true;
        break;
      }
      lp = o;
      o++;
      if (o - begin > MAX_NAME) throw new Error('name longer than 255 octets');
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
    if (o - begin > MAX_NAME) throw new Error('name longer than 255 octets');
  }
  if (absolute) {
    out[o++] = 0;
    if (o - begin > MAX_NAME) throw new Error('name longer than 255 octets');
    return o;
  }
  const len = o - lp - 1;
  if (len === 0) throw new Error('empty label in name');
  if (len > MAX_LABEL) throw new Error('label longer than 63 octets');
  out[lp] = len;
  if (!origin) throw new Error('relative name but no $ORIGIN is known');
  if (o - begin + origin.length > MAX_NAME) throw new Error('name longer than 255 octets');
  out.set(origin, o);
  return o + origin.length;
}

/**
 * Length of the uncompressed wire name at `b[o]`, or -1 when it is malformed (runs past `end`,
 * uses a compression pointer or another label type, or exceeds 255 octets).
 */
export function wireNameLength(b: Uint8Array, o: number, end: number): number {
  let p = o;
  for (;;) {
    if (p >= end) return -1;
    const l = b[p]!;
    if (l > MAX_LABEL) return -1;
    p += l + 1;
    if (p - o > MAX_NAME) return -1;
    if (l === 0) return p > end ? -1 : p - o;
  }
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

export function lowerName(name: Uint8Array): Uint8Array {
  if (isLowerName(name, 0, name.length)) return name;
  const out = name.slice();
  lowerNameInPlace(out, 0);
  return out;
}

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
export function namesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a[i]!;
    let y = b[i]!;
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
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

/** Unsigned byte order, a proper prefix first. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** RFC 4034 §6.1 order of two wire names. */
export function compareNames(a: Uint8Array, b: Uint8Array): number {
  return compareBytes(canonicalKey(a), canonicalKey(b));
}

/** Wire form of an absolute presentation name (escapes allowed); throws Error when malformed. */
export function nameFromText(text: string): Uint8Array {
  if (!text.endsWith('.')) throw new Error(`name "${text}" must be absolute (end with ".")`);
  const bytes = new TextEncoder().encode(text);
  const scratch = new Uint8Array(512);
  const end = parseNameInto(bytes, 0, bytes.length, null, scratch, 0);
  return scratch.slice(0, end);
}
