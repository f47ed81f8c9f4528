// Domain names in uncompressed wire form (length-prefixed labels ending with the root label).

@inline
export function lower(c: u8): u8 {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

/** A lower-cased copy of a wire name: the form to hash or store names in (RFC 4343). */
export function lowerName(name: Uint8Array): Uint8Array {
  const out = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) unchecked((out[i] = lower(unchecked(name[i]))));
  return out;
}

/** Case-insensitive equality of two wire names (RFC 4343). */
export function namesEqual(a: Uint8Array, b: Uint8Array): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (lower(unchecked(a[i])) != lower(unchecked(b[i]))) return false;
  }
  return true;
}

/** Number of labels; the root has 0. */
export function labelCount(name: Uint8Array): i32 {
  let n = 0;
  let i = 0;
  while (i < name.length) {
    const l = <i32>unchecked(name[i]);
    if (l == 0) break;
    n++;
    i += l + 1;
  }
  return n;
}

/** Offsets of each label's length byte, leftmost first (the root label not included). */
export function labelOffsets(name: Uint8Array, out: StaticArray<i32>): i32 {
  let n = 0;
  let i = 0;
  while (i < name.length && n < out.length) {
    const l = <i32>unchecked(name[i]);
    if (l == 0) break;
    unchecked((out[n++] = i));
    i += l + 1;
  }
  return n;
}

/**
 * Offset in `name` where its ancestor `zone` starts, or -1 when `name` is not at or below
 * `zone`. The root zone matches every name at offset name.length - 1.
 */
export function suffixOffset(name: Uint8Array, zone: Uint8Array): i32 {
  const start = name.length - zone.length;
  if (start < 0) return -1;
  // The suffix must begin on a label boundary of `name`.
  let i = 0;
  while (i < start) {
    const l = <i32>unchecked(name[i]);
    if (l == 0) return -1;
    i += l + 1;
  }
  if (i != start) return -1;
  for (let j = 0; j < zone.length; j++) {
    if (lower(unchecked(name[start + j])) != lower(unchecked(zone[j]))) return -1;
  }
  return start;
}

export function isSubdomain(name: Uint8Array, zone: Uint8Array): bool {
  return suffixOffset(name, zone) >= 0;
}

const offsA = new StaticArray<i32>(128);
const offsB = new StaticArray<i32>(128);

/**
 * DNSSEC canonical ordering (RFC 4034 §6.1): labels compared from the rightmost, each as
 * lower-cased octet strings, a shorter label sorting first when it is a prefix. Returns <0, 0, >0.
 */
export function canonicalCompare(a: Uint8Array, b: Uint8Array): i32 {
  const na = labelOffsets(a, offsA);
  const nb = labelOffsets(b, offsB);
  let ia = na - 1;
  let ib = nb - 1;
  while (ia >= 0 && ib >= 0) {
    const pa = unchecked(offsA[ia]);
    const pb = unchecked(offsB[ib]);
    const la = <i32>unchecked(a[pa]);
    const lb = <i32>unchecked(b[pb]);
    const n = la < lb ? la : lb;
    for (let k = 1; k <= n; k++) {
      const ca = <i32>lower(unchecked(a[pa + k]));
      const cb = <i32>lower(unchecked(b[pb + k]));
      if (ca != cb) return ca - cb;
    }
    if (la != lb) return la - lb;
    ia--;
    ib--;
  }
  return (ia + 1) - (ib + 1);
}

/** The last `n` labels of `name` as a new wire name (n = 0 gives the root). */
export function lastLabels(name: Uint8Array, n: i32): Uint8Array {
  const count = labelOffsets(name, offsA);
  if (n >= count) return name;
  const start = n == 0 ? name.length - 1 : unchecked(offsA[count - n]);
  return name.slice(start);
}

/** Presentation form, for logs and errors (escapes non-printable bytes as \DDD). */
export function nameToString(name: Uint8Array): string {
  if (name.length <= 1) return ".";
  let s = "";
  let i = 0;
  while (i < name.length) {
    const l = <i32>name[i];
    if (l == 0) break;
    for (let j = 1; j <= l; j++) {
      const c = <i32>name[i + j];
      if (c == 0x2e || c == 0x5c) s += "\\" + String.fromCharCode(c);
      else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
      else s += "\\" + (c < 10 ? "00" : c < 100 ? "0" : "") + c.toString();
    }
    s += ".";
    i += l + 1;
  }
  return s;
}

/**
 * Wire form of an absolute or relative presentation name (relative names are taken as
 * absolute). Handles \. escapes; returns null when a label or the name is too long.
 */
export function nameFromString(text: string): Uint8Array | null {
  if (text == "." || text.length == 0) {
    const root = new Uint8Array(1);
    return root;
  }
  const out = new Uint8Array(256);
  let o = 1;
  let labelStart = 0;
  let len = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c == 0x5c && i + 1 < text.length) {
      c = text.charCodeAt(++i);
    } else if (c == 0x2e) {
      if (len == 0) return null;
      out[labelStart] = <u8>len;
      labelStart = o;
      o++;
      len = 0;
      continue;
    }
    if (len == 63 || o >= 255 || c > 0xff) return null;
    out[o++] = <u8>c;
    len++;
  }
  if (len > 0) {
    out[labelStart] = <u8>len;
    labelStart = o;
    o++;
  }
  if (o > 255) return null;
  out[labelStart] = 0;
  return out.slice(0, o);
}
