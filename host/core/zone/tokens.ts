/**
 * One presentation-format entry (a logical line, parentheses joined) as parallel arrays of token
 * offsets into a byte buffer. Field codecs read tokens straight from the bytes: no per-token
 * strings on the hot path.
 */

export const TOKEN_QUOTED = 1;
/** The token holds a backslash, so it cannot be copied verbatim. */
export const TOKEN_ESCAPED = 2;
/** An unquoted word with a quoted part inside, as in SvcParams `alpn="h2,h3"`. */
export const TOKEN_INNER_QUOTE = 4;

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

/** Builds a Tokens view over a whitespace-split string; used by tests and small callers. */
export function tokensFromWords(words: string[]): Tokens {
  const enc = new TextEncoder();
  const parts = words.map((w) => enc.encode(w));
  let n = 0;
  for (const p of parts) n += p.length;
  const buf = new Uint8Array(n);
  const start = new Int32Array(parts.length);
  const end = new Int32Array(parts.length);
  const flags = new Uint8Array(parts.length);
  let o = 0;
  parts.forEach((p, i) => {
    buf.set(p, o);
    start[i] = o;
    end[i] = o + p.length;
    if (p.includes(0x5c)) flags[i]! |= TOKEN_ESCAPED;
    if (p.includes(0x22)) flags[i]! |= TOKEN_INNER_QUOTE;
    o += p.length;
  });
  return { buf, start, end, flags, count: parts.length };
}
