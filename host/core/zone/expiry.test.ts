import { describe, expect, it } from 'vitest';
import { expiresAt, serialNewer } from './expiry.js';

describe('expiry of a zone copy', () => {
  const day = 86_400_000;
  it('is the earliest of RRSIG expiration, SOA EXPIRE after the last refresh, and the max age', () => {
    expect(expiresAt({ earliestRrsigExpiration: 10 * day, soaExpire: 7 * 86400 }, 0)).toBe(7 * day);
    expect(expiresAt({ earliestRrsigExpiration: 5 * day, soaExpire: 7 * 86400 }, 0)).toBe(5 * day);
    expect(expiresAt({ earliestRrsigExpiration: null, soaExpire: 7 * 86400 }, day)).toBe(8 * day);
    expect(expiresAt({ earliestRrsigExpiration: null, soaExpire: 7 * 86400 }, 0, 2 * day)).toBe(2 * day);
    // a max age above SOA EXPIRE never extends it
    expect(expiresAt({ earliestRrsigExpiration: null, soaExpire: 7 * 86400 }, 0, 30 * day)).toBe(7 * day);
  });

  it('takes a check report or an image header alike', () => {
    const report = { earliestRrsigExpiration: 9 * day, soaExpire: 7 * 86400, serial: 1 };
    expect(expiresAt(report, day)).toBe(8 * day);
  });

  it('compares serials with RFC 1982 arithmetic', () => {
    expect(serialNewer(2, 1)).toBe(true);
    expect(serialNewer(1, 2)).toBe(false);
    expect(serialNewer(0, 0xffffffff)).toBe(true);
    expect(serialNewer(0x7fffffff, 0)).toBe(true);
    expect(serialNewer(0x80000000, 0)).toBe(false); // undefined in RFC 1982: never treated as newer
    expect(serialNewer(5, 5)).toBe(false);
  });
});
