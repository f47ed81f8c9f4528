// RDATA from presentation text, for the records apps answer with most (A, AAAA, TXT). Parse
// addresses once, when config loads, and keep the bytes: per query, only copy them.

@inline
function digit(c: i32): i32 {
  return c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
}

@inline
function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** The 4 bytes of a dotted-quad IPv4 address ("192.0.2.1"), or null when `text` is not one. */
export function ipv4(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c == 0x2e) {
      if (digits == 0 || part > 3) return null;
      out[part++] = <u8>value;
      value = 0;
      digits = 0;
      continue;
    }
    const d = digit(c);
    if (d < 0 || digits == 3) return null;
    value = value * 10 + d;
    if (value > 255) return null;
    digits++;
  }
  return part == 4 ? out : null;
}

/**
 * The 16 bytes of an IPv6 address in any RFC 4291 text form ("2001:db8::1", "::",
 * "::ffff:192.0.2.1"), or null when `text` is not one. Zone ids ("%eth0") are not addresses.
 */
export function ipv6(text: string): Uint8Array | null {
  const n = text.length;
  if (n < 2 || n > 45) return null;
  const groups = new StaticArray<i32>(8);
  let count = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) == 0x3a) {
    if (text.charCodeAt(1) != 0x3a) return null;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    let j = i;
    let dotted = false;
    while (j < n && text.charCodeAt(j) != 0x3a) {
      if (text.charCodeAt(j) == 0x2e) dotted = true;
      j++;
    }
    if (dotted) {
      // An embedded IPv4 address is only allowed as the last 32 bits.
      if (j != n || count > 6) return null;
      const v4 = ipv4(text.substring(i, j));
      if (v4 == null) return null;
      groups[count++] = (<i32>v4[0] << 8) | <i32>v4[1];
      groups[count++] = (<i32>v4[2] << 8) | <i32>v4[3];
      i = n;
      break;
    }
    const len = j - i;
    if (len == 0 || len > 4 || count == 8) return null;
    let v = 0;
    for (let k = i; k < j; k++) {
      const h = hexDigit(text.charCodeAt(k));
      if (h < 0) return null;
      v = (v << 4) | h;
    }
    groups[count++] = v;
    if (j == n) {
      i = n;
      break;
    }
    if (j + 1 < n && text.charCodeAt(j + 1) == 0x3a) {
      if (gap >= 0) return null;
      gap = count;
      i = j + 2;
    } else {
      i = j + 1;
      if (i == n) return null;
    }
  }
  if (gap < 0 ? count != 8 : count > 7) return null;
  const out = new Uint8Array(16);
  const zeros = 8 - count;
  for (let g = 0; g < count; g++) {
    const pos = gap >= 0 && g >= gap ? g + zeros : g;
    out[pos * 2] = <u8>(groups[g] >> 8);
    out[pos * 2 + 1] = <u8>groups[g];
  }
  return out;
}

/** TXT RDATA: the text as UTF-8, split into character-strings of at most 255 bytes each. */
export function txt(text: string): Uint8Array {
  const bytes = Uint8Array.wrap(String.UTF8.encode(text));
  const chunks = bytes.length == 0 ? 1 : (bytes.length + 254) / 255;
  const out = new Uint8Array(bytes.length + chunks);
  let o = 0;
  for (let c = 0; c < chunks; c++) {
    const start = c * 255;
    const end = min(start + 255, bytes.length);
    out[o++] = <u8>(end - start);
    out.set(bytes.subarray(start, end), o);
    o += end - start;
  }
  return out;
}
