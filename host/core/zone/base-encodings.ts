/**
 * Base64, base16 and base32hex straight between token bytes and RDATA, since DNSKEY and RRSIG
 * blobs are most of a signed zone's text and decoding them through strings would dominate a load.
 */

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B32HEX_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUV';

/** 255 = not in the alphabet. */
const B64 = new Uint8Array(256).fill(255);
for (let i = 0; i < 64; i++) B64[B64_ALPHABET.charCodeAt(i)] = i;
const HEX = new Uint8Array(256).fill(255);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}
const B32 = new Uint8Array(256).fill(255);
for (let i = 0; i < 32; i++) {
  B32[B32HEX_ALPHABET.charCodeAt(i)] = i;
  B32[B32HEX_ALPHABET.toLowerCase().charCodeAt(i)] = i;
}

/**
 * Decodes base64 spread over the byte ranges `[starts[k], ends[k])` (several whitespace-separated
 * words are one value) into `out` at `o`. Returns the end offset, or -1 on a bad character or
 * padding, or -2 when the output would pass `limit`.
 */
export function decodeBase64Ranges(
  buf: Uint8Array,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  first: number,
  count: number,
  out: Uint8Array,
  o: number,
  limit: number,
): number {
  let acc = 0;
  let bits = 0;
  let pad = 0;
  for (let k = first; k < count; k++) {
    const e = ends[k]!;
    for (let i = starts[k]!; i < e; i++) {
      const c = buf[i]!;
      if (c === 0x3d) {
        pad++;
        continue;
      }
      const v = B64[c]!;
      if (v === 255 || pad > 0) return -1;
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        if (o >= limit) return -2;
        out[o++] = (acc >>> bits) & 0xff;
      }
    }
  }
  // 6 bits left over can never be valid; padding must match what is left.
  if (bits >= 6 || pad > 2) return -1;
  if (pad > 0 && (bits === 0 || (bits === 2 && pad !== 1) || (bits === 4 && pad !== 2))) return -1;
  return o;
}

/** Hex over several byte ranges; -1 on a bad digit or odd count, -2 past `limit`. */
export function decodeHexRanges(
  buf: Uint8Array,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  first: number,
  count: number,
  out: Uint8Array,
  o: number,
  limit: number,
): number {
  let half = -1;
  for (let k = first; k < count; k++) {
    const e = ends[k]!;
    for (let i = starts[k]!; i < e; i++) {
      const v = HEX[buf[i]!]!;
      if (v === 255) return -1;
      if (half < 0) half = v;
      else {
        if (o >= limit) return -2;
        out[o++] = (half << 4) | v;
        half = -1;
      }
    }
  }
  return half >= 0 ? -1 : o;
}

/** Unpadded base32hex (RFC 4648 §7, as NSEC3 uses it); -1 on a bad character or length. */
export function decodeBase32Hex(buf: Uint8Array, s: number, e: number, out: Uint8Array, o: number): number {
  let acc = 0;
  let bits = 0;
  for (let i = s; i < e; i++) {
    const v = B32[buf[i]!]!;
    if (v === 255) return -1;
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  // leftover bits must be padding zeros, fewer than 5
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) return -1;
  return o;
}

export function encodeBase64(b: Uint8Array, s = 0, e = b.length): string {
  let out = '';
  let i = s;
  for (; i + 2 < e; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    out +=
      B64_ALPHABET[n >>> 18]! + B64_ALPHABET[(n >>> 12) & 63]! + B64_ALPHABET[(n >>> 6) & 63]! + B64_ALPHABET[n & 63]!;
  }
  if (i + 1 === e) {
    const n = b[i]! << 16;
    out += B64_ALPHABET[n >>> 18]! + B64_ALPHABET[(n >>> 12) & 63]! + '==';
  } else if (i + 2 === e) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8);
    out += B64_ALPHABET[n >>> 18]! + B64_ALPHABET[(n >>> 12) & 63]! + B64_ALPHABET[(n >>> 6) & 63]! + '=';
  }
  return out;
}

const HEX_PAIRS: string[] = [];
for (let i = 0; i < 256; i++) HEX_PAIRS.push(i.toString(16).padStart(2, '0').toUpperCase());

export function encodeHex(b: Uint8Array, s = 0, e = b.length): string {
  let out = '';
  for (let i = s; i < e; i++) out += HEX_PAIRS[b[i]!]!;
  return out;
}

export function encodeBase32Hex(b: Uint8Array, s = 0, e = b.length): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = s; i < e; i++) {
    acc = ((acc << 8) | b[i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32HEX_ALPHABET[(acc >>> bits) & 31]!;
    }
  }
  if (bits > 0) out += B32HEX_ALPHABET[(acc << (5 - bits)) & 31]!;
  return out;
}

/** Decodes a whole base64 string (trust anchors, tests); null when malformed. */
export function decodeBase64String(s: string): Uint8Array | null {
  const bytes = new TextEncoder().encode(s.replace(/\s+/g, ''));
  const out = new Uint8Array(Math.ceil((bytes.length * 3) / 4) + 3);
  const end = decodeBase64Ranges(bytes, [0], [bytes.length], 0, 1, out, 0, out.length);
  return end < 0 ? null : out.slice(0, end);
}
