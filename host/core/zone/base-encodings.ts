/**
 * Base64, base16 and base32hex straight from token bytes into RDATA, since DNSKEY and RRSIG
 * blobs are most of a signed zone's text and decoding them through strings would dominate a load;
 * and base32hex out again. The base64 and hex encoders every layer shares are in `../dns/bytes.ts`.
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
