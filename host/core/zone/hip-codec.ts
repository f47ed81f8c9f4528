/**
 * HIP (RFC 8005 §5): public-key algorithm, HIT in hex and public key in base64 (one word each),
 * then any number of rendezvous servers. On the wire the two lengths come first; the server
 * names are never compressed and keep their case in canonical form (HIP is not in RFC 4034 §6.2).
 */

import { encodeBase64, hexUpper } from '../dns/bytes.js';
import { parseNameInto, wireNameLength } from '../dns/name.js';
import { nameToText } from '../dns/wire.js';
import { decodeBase64Ranges, decodeHexRanges } from './base-encodings.js';
import { FieldError } from './errors.js';
import { MAX_RDATA, type RdataWriter } from './rdata-writer.js';
import { parseUint } from './text-scalars.js';
import { tokenForMessage, type Tokens } from './tokens.js';

/** The whole HIP RDATA from token `first`; returns t.count. */
export function parseHip(t: Tokens, first: number, w: RdataWriter, origin: Uint8Array | null): number {
  if (first + 2 >= t.count) throw new FieldError(t.count - 1, 'HIP RDATA needs an algorithm, a HIT and a public key', 'truncated');
  const alg = parseUint(t.buf, t.start[first]!, t.end[first]!, 0xff);
  if (alg < 0) throw new FieldError(first, `HIP: expected an algorithm number (0..255), got "${tokenForMessage(t, first)}"`);
  const head = w.pos;
  w.room(4);
  w.pos += 4;
  const hitEnd = decodeHexRanges(t.buf, t.start, t.end, first + 1, first + 2, w.buf, w.pos, w.pos + 255);
  if (hitEnd < 0) throw new FieldError(first + 1, hitEnd === -2 ? 'HIP: HIT longer than 255 octets' : 'HIP: bad hex in the HIT');
  const keyEnd = decodeBase64Ranges(t.buf, t.start, t.end, first + 2, first + 3, w.buf, hitEnd, Math.min(hitEnd + 0xffff, MAX_RDATA));
  if (keyEnd === -1) throw new FieldError(first + 2, 'HIP: bad base64 in the public key');
  if (keyEnd === -2) throw new FieldError(first + 2, 'RDATA longer than 65535 octets');
  if (keyEnd === hitEnd) throw new FieldError(first + 2, 'HIP: empty public key');
  w.buf[head] = hitEnd - head - 4;
  w.buf[head + 1] = alg;
  w.buf[head + 2] = (keyEnd - hitEnd) >>> 8;
  w.buf[head + 3] = (keyEnd - hitEnd) & 0xff;
  w.pos = keyEnd;
  for (let i = first + 3; i < t.count; i++) {
    try {
      w.pos = parseNameInto(t.buf, t.start[i]!, t.end[i]!, origin, w.buf, w.pos);
    } catch (err) {
      throw new FieldError(i, `HIP rendezvous server: ${(err as Error).message}: "${tokenForMessage(t, i)}"`);
    }
    if (w.pos > MAX_RDATA) throw new FieldError(i, 'RDATA longer than 65535 octets');
  }
  return t.count;
}

/** Offset past the HIP RDATA at `p` (always the end), or -1. */
export function hipEnd(b: Uint8Array, p: number, end: number): number {
  if (p + 4 > end) return -1;
  let q = p + 4 + b[p]! + ((b[p + 2]! << 8) | b[p + 3]!);
  if (q > end) return -1;
  while (q < end) {
    const n = wireNameLength(b, q, end);
    if (n < 0) return -1;
    q += n;
  }
  return end;
}

export function formatHip(b: Uint8Array, p: number, end: number): string {
  const hitLen = b[p]!;
  const keyLen = (b[p + 2]! << 8) | b[p + 3]!;
  // text has no way to write an empty HIT or key: `\#` instead
  if (hitLen === 0 || keyLen === 0) throw new Error('HIP with an empty HIT or key');
  const hit = p + 4;
  const key = hit + hitLen;
  const words = [String(b[p + 1]), hexUpper(b, hit, key), encodeBase64(b, key, key + keyLen)];
  for (let q = key + keyLen; q < end; ) {
    const n = wireNameLength(b, q, end);
    words.push(nameToText(b.subarray(q, q + n)));
    q += n;
  }
  return words.join(' ');
}
