import { describe, expect, it } from 'vitest';
import { ipv6Text } from './ipv6-text.js';
import { parseIPv6 } from '../context.js';

const text = (s: string) => ipv6Text(parseIPv6(s)!);

describe('IPv6 text form (RFC 5952)', () => {
  it('compresses a leading, a trailing and a middle run of zero groups', () => {
    expect(text('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(text('2001:db8:0:0:0:0:0:0')).toBe('2001:db8::');
    expect(text('2001:db8:0:0:0:0:2:1')).toBe('2001:db8::2:1');
    expect(text('0:0:0:0:0:0:0:0')).toBe('::');
  });

  it('never compresses a single zero group (§4.2.2)', () => {
    expect(text('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(text('1:2:3:4:5:6:7:0')).toBe('1:2:3:4:5:6:7:0');
    expect(text('0:1:2:3:4:5:6:7')).toBe('0:1:2:3:4:5:6:7');
  });

  it('compresses the longest run, and the first of equal runs (§4.2.3)', () => {
    expect(text('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1');
    expect(text('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(text('0:0:1:0:0:1:0:0')).toBe('::1:0:0:1:0:0');
  });

  it('writes lower-case hex without leading zeros (§4.1, §4.3)', () => {
    expect(text('2001:0DB8:00AB:0C00:0000:0000:0000:000F')).toBe('2001:db8:ab:c00::f');
  });

  it('writes an IPv4-mapped address with its IPv4 tail in dotted decimal (§5)', () => {
    expect(text('::ffff:192.0.2.1')).toBe('::ffff:192.0.2.1');
    // Only the mapped prefix gets the dotted tail.
    expect(text('::1:c000:201')).toBe('::1:c000:201');
    expect(text('64:ff9b::c000:201')).toBe('64:ff9b::c000:201');
  });

  it('reads the address at an offset', () => {
    expect(ipv6Text([9, 9, ...parseIPv6('2001:db8::1')!], 2)).toBe('2001:db8::1');
  });
});
