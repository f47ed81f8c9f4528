/**
 * One presentation-format entry (a logical line, parentheses joined) as parallel arrays of token
 * offsets into a byte buffer. Field codecs read tokens straight from the bytes: no per-token
 * strings on the hot path.
 */

/** The token was a quoted string (so `\#` or `$ORIGIN` in it are data, not syntax). */
export const TOKEN_QUOTED = 1;

export interface Tokens {
  buf: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  flags: Uint8Array;
  count: number;
}

/** Latin-1 text of a token: for short words (mnemonics, error messages), not for data. */
export function tokenText(t: Tokens, i: number): string {
  const s = t.start[i]!;
  const e = t.end[i]!;
  let out = '';
  for (let k = s; k < e; k++) out += String.fromCharCode(t.buf[k]!);
  return out;
}

/** Shortened and printable for error messages. */
export function tokenForMessage(t: Tokens, i: number): string {
  const s = t.start[i]!;
  const e = Math.min(t.end[i]!, s + 40);
  let out = '';
  for (let k = s; k < e; k++) {
    const c = t.buf[k]!;
    out += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\${c.toString().padStart(3, '0')}`;
  }
  return t.end[i]! - s > 40 ? out + '…' : out;
}
