/**
 * RR type mnemonics straight from token bytes. Every record has one, so a string per lookup
 * adds up; mnemonics of up to eight characters from [A-Z0-9-] pack exactly into a number
 * (6 bits each), and anything else takes the string path through the project's type table.
 */

import { RRType, typeFromName } from '../dns/rr-types.js';

function code(c: number): number {
  if (c >= 0x61 && c <= 0x7a) c -= 0x20;
  if (c >= 0x41 && c <= 0x5a) return c - 0x41 + 12;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 2;
  if (c === 0x2d) return 1;
  return -1;
}

/** The packed key of `b[s, e)`, or -1 when it is longer than 8 or has other characters. */
function pack(b: ArrayLike<number>, s: number, e: number): number {
  if (e - s > 8 || e <= s) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = code(b[i]!);
    if (c < 0) return -1;
    v = v * 64 + c;
  }
  return v;
}

const PACKED = new Map<number, number>();
for (const [name, value] of Object.entries(RRType)) {
  const bytes = Array.from(name, (ch) => ch.charCodeAt(0));
  const k = pack(bytes, 0, bytes.length);
  if (k >= 0) PACKED.set(k, value);
}

/** Type number of the mnemonic or TYPEnnn in `b[s, e)`; undefined when unknown (never 0 by accident). */
export function typeFromBytes(b: Uint8Array, s: number, e: number): number | undefined {
  const k = pack(b, s, e);
  if (k >= 0) {
    const hit = PACKED.get(k);
    if (hit !== undefined) return hit;
  }
  if (e - s > 16) return undefined;
  let text = '';
  for (let i = s; i < e; i++) text += String.fromCharCode(b[i]!);
  return typeFromName(text);
}
