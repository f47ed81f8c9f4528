/**
 * LOC (RFC 1876): degrees/minutes/seconds and metres in text, fixed 16 octets on the wire.
 * Sizes and precisions use the RFC's mantissa/exponent form, so text that is not a
 * representable size is rounded the way BIND and ldns do.
 */

import { FieldError } from './errors.js';
import type { RdataWriter } from './rdata-writer.js';
import { tokenText, type Tokens } from './tokens.js';

const EQUATOR = 2 ** 31;
const ALT_BASE = 10_000_000; // centimetres below the WGS 84 spheroid that altitude 0 stands for

function encodePrecision(metres: number): number {
  let cm = Math.round(metres * 100);
  let exp = 0;
  while (cm >= 10 && exp < 9) {
    cm = Math.floor(cm / 10);
    exp++;
  }
  if (cm > 9) cm = 9;
  return (cm << 4) | exp;
}

function decodePrecision(v: number): number {
  const m = v >>> 4;
  const e = v & 0xf;
  return m * 10 ** e; // centimetres
}

const NUMBER = /^-?\d+(\.\d+)?$/;

/** Parses LOC text from token `first`; returns t.count (LOC takes the rest of the entry). */
export function parseLoc(t: Tokens, first: number, w: RdataWriter): number {
  const words: string[] = [];
  for (let i = first; i < t.count; i++) words.push(tokenText(t, i));
  let i = 0;
  const fail = (msg: string): never => {
    throw new FieldError(Math.min(first + i, t.count - 1), `LOC: ${msg}`);
  };
  const angle = (maxDeg: number, hemis: [string, string]): number => {
    const deg = words[i];
    if (deg === undefined || !/^\d+$/.test(deg) || Number(deg) > maxDeg) fail(`degrees must be 0..${maxDeg}`);
    let ms = Number(deg) * 3_600_000;
    i++;
    if (words[i] !== undefined && /^\d+$/.test(words[i]!)) {
      const min = Number(words[i]);
      if (min > 59) fail('minutes must be 0..59');
      ms += min * 60_000;
      i++;
      if (words[i] !== undefined && /^\d+(\.\d{1,3})?$/.test(words[i]!)) {
        const sec = Number(words[i]);
        if (sec >= 60) fail('seconds must be below 60');
        ms += Math.round(sec * 1000);
        i++;
      }
    }
    const h = words[i]?.toUpperCase();
    if (h !== hemis[0] && h !== hemis[1]) fail(`expected ${hemis[0]} or ${hemis[1]}`);
    i++;
    if (ms > maxDeg * 3_600_000) fail('angle out of range');
    return h === hemis[0] ? EQUATOR + ms : EQUATOR - ms;
  };
  const metres = (optional: boolean, def: number, min: number, max: number, what: string): number => {
    const raw = words[i];
    if (raw === undefined) {
      if (optional) return def;
      fail(`missing ${what}`);
    }
    const v = raw!.replace(/m$/i, '');
    if (!NUMBER.test(v)) fail(`bad ${what} "${raw}"`);
    const n = Number(v);
    if (n < min || n > max) fail(`${what} out of range`);
    i++;
    return n;
  };
  const lat = angle(90, ['N', 'S']);
  const lon = angle(180, ['E', 'W']);
  const alt = metres(false, 0, -100000, 42849672.95, 'altitude');
  const size = metres(true, 1, 0, 90000000, 'size');
  const hp = metres(true, 10000, 0, 90000000, 'horizontal precision');
  const vp = metres(true, 10, 0, 90000000, 'vertical precision');
  if (i < words.length) fail(`unexpected "${words[i]}"`);
  w.u8(0);
  w.u8(encodePrecision(size));
  w.u8(encodePrecision(hp));
  w.u8(encodePrecision(vp));
  w.u32(lat >>> 0);
  w.u32(lon >>> 0);
  w.u32((Math.round(alt * 100) + ALT_BASE) >>> 0);
  return t.count;
}

const u32at = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

function formatAngle(v: number, hemis: [string, string]): string {
  let ms = v - EQUATOR;
  const h = ms >= 0 ? hemis[0] : hemis[1];
  ms = Math.abs(ms);
  const deg = Math.floor(ms / 3_600_000);
  ms -= deg * 3_600_000;
  const min = Math.floor(ms / 60_000);
  ms -= min * 60_000;
  return `${deg} ${min} ${(ms / 1000).toFixed(3)} ${h}`;
}

/** Text of a 16-octet version 0 LOC RDATA; throws for other versions (printed as `\#`). */
export function formatLoc(b: Uint8Array, s: number, e: number): string {
  if (e - s !== 16 || b[s] !== 0) throw new Error('LOC version is not 0');
  for (const k of [1, 2, 3]) {
    const p = b[s + k]!;
    if (p >>> 4 > 9 || (p & 0xf) > 9) throw new Error('bad LOC precision');
  }
  const lat = u32at(b, s + 4);
  const lon = u32at(b, s + 8);
  const alt = u32at(b, s + 12);
  if (Math.abs(lat - EQUATOR) > 90 * 3_600_000 || Math.abs(lon - EQUATOR) > 180 * 3_600_000) {
    throw new Error('LOC angle out of range');
  }
  const cm = (x: number): string => `${(x / 100).toFixed(2)}m`;
  return [
    formatAngle(lat, ['N', 'S']),
    formatAngle(lon, ['E', 'W']),
    cm(alt - ALT_BASE),
    cm(decodePrecision(b[s + 1]!)),
    cm(decodePrecision(b[s + 2]!)),
    cm(decodePrecision(b[s + 3]!)),
  ].join(' ');
}
