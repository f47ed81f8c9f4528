/**
 * The SDK's answer helpers, through the host as an app uses them (test/abi/modules/sdk-tour.ts):
 * each one's response on the wire, the accessors, and the RDATA parsers against reference parsers (Node's isIPv6 for IPv6).
 */

import { describe, expect, it } from 'vitest';
import { isIPv6 } from 'node:net';
import { AppHarness } from '../../host/apps/harness.js';
import { parseManifest } from '../../host/apps/manifest.js';
import { testManifest, testModule } from '../helpers/apps.js';

const tour = () => new AppHarness(parseManifest(testManifest('sdk_tour'), 'test'), testModule('sdk-tour'));

/** What the module's V4_CASES and V6_CASES should parse to, from Node's parsers. */
function v4(s: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return 'null';
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return 'null';
  return parts.map((p) => p.toString(16).padStart(2, '0')).join('');
}

function v6(s: string): string {
  if (!isIPv6(s)) return 'null';
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const groups = (part: string | undefined): number[] => {
    if (!part) return [];
    return part.split(':').flatMap((g) => (g.includes('.') ? (() => { const b = g.split('.').map(Number); return [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!]; })() : [parseInt(g, 16)]));
  };
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.map((g) => g.toString(16).padStart(4, '0')).join('');
}

const V4_CASES = ['192.0.2.1', '0.0.0.0', '255.255.255.255', '256.0.0.1', '1.2.3', '1.2.3.4.5', '1..2.3', '01.2.3.4', '1.2.3.4 ', '', '1234.1.1.1'];
const V6_CASES = [
  '::', '::1', '2001:db8::1', '2001:db8:0:0:1:0:0:1', '1:2:3:4:5:6:7:8', '::ffff:192.0.2.1', 'fe80::',
  '1::8', '2001:DB8::A', ':::', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', '1:2:3:4:5:6:7', ':1::', '1::2:',
  '::ffff:1.2.3', 'g::1', '1:2:3:4:5:6:7::', '::1.2.3.4', '',
];

describe('SDK answer helpers', () => {
  it('respondA / respondAAAA / respondRecord answer with one record owned by the question name', () => {
    const h = tour();
    expect(h.query('a.Example.com').response).toMatchObject({ rcode: 0, answer: [{ name: 'a.Example.com.', type: 1, TTL: 30, data: '192.0.2.1' }] });
    const aaaa = h.query('aaaa.example.com', { qtype: 'AAAA' });
    expect(aaaa.response?.answer).toHaveLength(1);
    expect([...aaaa.message!.subarray(-16)]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(h.query('record.example').response?.answer).toEqual([{ name: 'record.example.', type: 1, TTL: 7, data: '198.51.100.7' }]);
  });

  it('respondTxt writes character-strings of at most 255 bytes; qname, qtype and qclass read the question', () => {
    const h = tour();
    expect(h.query('TXT.Example.COM', { qtype: 'MX' }).response?.answer).toEqual([{ name: 'TXT.Example.COM.', type: 16, TTL: 5, data: '"txt.example.com. 15 1"' }]);
    expect(h.query('long.example').response?.answer[0]?.data).toBe(`"${'x'.repeat(255)}" "${'x'.repeat(45)}"`);
    expect(h.query('empty.example').response?.answer[0]?.data).toBe('""');
  });

  it('respondNxdomain, respondNoData, refuse, servfail and pass map to their verdicts', () => {
    const h = tour();
    expect(h.query('nx.example').response).toMatchObject({ rcode: 3, answer: [], authority: [] });
    expect(h.query('nodata.example').response).toMatchObject({ rcode: 0, answer: [], authority: [] });
    expect(h.query('refuse.example').verdict).toBe('refuse');
    expect(h.query('servfail.example').verdict).toBe('servfail');
    expect(h.query('other.example').verdict).toBe('continue');
  });

  it('isUnder matches whole labels in any case; hasTag reads the context', () => {
    const h = tour();
    expect(h.query('under.example.org').response?.answer[0]?.data).toBe('"yes"');
    expect(h.query('under.xexample.org').response?.answer[0]?.data).toBe('"no"');
    expect(h.query('tagged.example', { tags: ['vip'] }).response?.answer[0]?.data).toBe('"yes"');
    expect(h.query('tagged.example').response?.answer[0]?.data).toBe('"no"');
  });

  it('traps, naming the bad address, when respondA gets text that is not an address', () => {
    const r = tour().query('bada.example');
    expect(r.verdict).toBe('trap');
    expect(r.trap).toMatch(/respondA: "not-an-address" is not an IPv4 address/);
  });

  it('parses IPv4 and IPv6 text like the reference parsers', () => {
    const h = tour();
    // Longer than 255 bytes, the answer comes as several strings: join them back.
    const got = (name: string) =>
      [...h.query(name).response!.answer[0]!.data.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string).join('').split(',');
    expect(got('v4.example')).toEqual(V4_CASES.map(v4));
    expect(got('v6.example')).toEqual(V6_CASES.map(v6));
  });
});
