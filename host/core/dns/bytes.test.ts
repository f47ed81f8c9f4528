import { describe, expect, it } from 'vitest';
import {
  base64UrlDecode,
  base64UrlEncode,
  compareBytes,
  concat,
  encodeBase64,
  hex,
  hexDigit,
  hexUpper,
  sameBytes,
} from './bytes.js';

const B = (...xs: number[]) => new Uint8Array(xs);

describe('byte primitives', () => {
  it('joins, compares and orders bytes', () => {
    expect(concat([B(1, 2), B(), B(3)])).toEqual(B(1, 2, 3));
    expect(concat([])).toEqual(B());
    expect(sameBytes(B(1, 2), B(1, 2))).toBe(true);
    expect(sameBytes(B(1, 2), B(1, 3))).toBe(false);
    expect(sameBytes(B(1, 2), B(1, 2, 0))).toBe(false);
    expect(compareBytes(B(1, 2), B(1, 3))).toBeLessThan(0);
    expect(compareBytes(B(1, 2), B(1, 2, 0))).toBeLessThan(0); // a proper prefix first
    expect(compareBytes(B(0xff), B(1, 2))).toBeGreaterThan(0); // unsigned
    expect(compareBytes(B(7), B(7))).toBe(0);
  });

  it('writes hex in either case, over a range, and reads single digits', () => {
    expect(hex(B(0, 0x0f, 0xab, 0xff))).toBe('000fabff');
    expect(hexUpper(B(0, 0x0f, 0xab, 0xff))).toBe('000FABFF');
    expect(hex(B(1, 2, 3, 4), 1, 3)).toBe('0203');
    expect(hexUpper(B(1, 2, 3, 4), 2)).toBe('0304');
    expect([...'09afAF'].map((c) => hexDigit(c.charCodeAt(0)))).toEqual([0, 9, 10, 15, 10, 15]);
    for (const c of 'gG/:@`') expect(hexDigit(c.charCodeAt(0))).toBe(-1);
  });

  it('writes base64 and base64url as btoa does, for every length remainder', () => {
    const data = crypto.getRandomValues(new Uint8Array(67));
    for (let n = 0; n <= data.length; n++) {
      const b = data.subarray(0, n);
      const std = btoa(String.fromCharCode(...b));
      expect(encodeBase64(b)).toBe(std);
      const url = std.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      expect(base64UrlEncode(b)).toBe(url);
      expect(base64UrlDecode(url)).toEqual(b);
    }
    expect(encodeBase64(B(9, 0xfb, 0xff, 0xfe), 1, 3)).toBe(btoa('\xfb\xff'));
  });

  it('refuses malformed base64url', () => {
    expect(base64UrlDecode('AAA=')).toBeNull(); // padding is not base64url's
    expect(base64UrlDecode('AA+A')).toBeNull(); // the standard alphabet's + and /
    expect(base64UrlDecode('A')).toBeNull(); // a length no encoding gives
    expect(base64UrlDecode('')).toEqual(B());
  });
});
