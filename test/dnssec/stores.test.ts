/**
 * The validator's small stores and encodings, without a network: negative trust anchors,
 * the bogus cache, the key cache's bounds, trust anchor files for several zones, the EDE
 * option, and NSEC bitmaps as the proofs read them.
 */

import { describe, expect, it } from 'vitest';
import { RRType } from '../../host/core/dns/rr-types.js';
import { parseEdnsRdata } from '../../host/core/dns/wire.js';
import {
  BogusCache,
  EDE,
  EDE_OPTION_CODE,
  KeyCache,
  NegativeTrustAnchors,
  anchorFor,
  edeOption,
  parseTrustAnchors,
  type ValidationResult,
} from '../../host/core/dnssec/index.js';
import { nameFromText } from '../../host/core/dns/name.js';
import { usableDs, type DsInfo } from '../../host/core/zone/dnssec-keys.js';
import { bitmapHas, encodeBitmap } from '../../host/core/zone/type-bitmap.js';

const n = nameFromText;
const T0 = 1_800_000_000_000;

describe('negative trust anchors', () => {
  it('sets, lists in name order, removes and expires them', () => {
    const ntas = new NegativeTrustAnchors();
    ntas.set('b.example', T0 + 1000, 'broken rollover');
    ntas.set('A.example.', T0 + 5000);
    expect(ntas.list(T0)).toEqual([
      { name: 'a.example.', expires: T0 + 5000, reason: '' },
      { name: 'b.example.', expires: T0 + 1000, reason: 'broken rollover' },
    ]);
    expect(ntas.list(T0 + 1000).map((x) => x.name)).toEqual(['a.example.']);
    expect(ntas.remove('a.example')).toBe(true);
    expect(ntas.size).toBe(0);
  });

  it('covers the name and everything below, the deepest one first', () => {
    const ntas = new NegativeTrustAnchors();
    ntas.set('example.', T0 + 1000, 'outer');
    ntas.set('sub.example.', T0 + 1000, 'inner');
    expect(ntas.covering(n('www.sub.example.'), T0)?.nta.reason).toBe('inner');
    expect(ntas.covering(n('www.example.'), T0)?.nta.reason).toBe('outer');
    expect(ntas.covering(n('example.org.'), T0)).toBeNull();
    expect(ntas.covering(n('www.example.'), T0 + 1000)).toBeNull();
  });

  it('refuses an NTA without an expiry and a bad name', () => {
    const ntas = new NegativeTrustAnchors();
    expect(() => ntas.set('example.', Number.POSITIVE_INFINITY)).toThrow(/needs an expiry \(RFC 7646 §2\)/);
    expect(() => ntas.set('a..example.', T0)).toThrow(/empty label/);
  });
});

describe('bogus cache', () => {
  const bogus: ValidationResult = {
    state: 'bogus',
    zone: 'example.',
    ttl: 60,
    ede: { code: EDE.SIGNATURE_EXPIRED, text: 'www.example. A: signature expired' },
    reason: 'signature-expired',
    text: 'www.example. A: signature expired',
    work: { signatures: 1, hashes: 0, fetches: 2 },
  };

  it('remembers a bogus answer by question, case-insensitively, for its TTL', () => {
    const c = new BogusCache({ ttl: 60 });
    c.put(n('WWW.example.'), RRType.A, 1, bogus, T0);
    expect(c.get(n('www.EXAMPLE.'), RRType.A, 1, T0 + 59_999)).toBe(bogus);
    expect(c.get(n('www.example.'), RRType.AAAA, 1, T0)).toBeUndefined();
    expect(c.get(n('www.example.'), RRType.A, 1, T0 + 60_000)).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('keeps at most maxEntries, dropping the oldest; ttl 0 keeps nothing', () => {
    const c = new BogusCache({ ttl: 60, maxEntries: 2 });
    for (const q of ['a.', 'b.', 'c.']) c.put(n(q), RRType.A, 1, bogus, T0);
    expect(c.size).toBe(2);
    expect(c.get(n('a.'), RRType.A, 1, T0)).toBeUndefined();
    const off = new BogusCache({ ttl: 0 });
    off.put(n('a.'), RRType.A, 1, bogus, T0);
    expect(off.size).toBe(0);
    expect(new BogusCache().ttl).toBe(60);
  });
});

describe('key cache', () => {
  it('is bounded in entries (least recently used goes) and in lifetime (maxTtl)', () => {
    const c = new KeyCache({ maxEntries: 2, maxTtl: 100 });
    const entry = (name: string, expires: number) => ({ kind: 'nocut' as const, zone: n(name), absent: false, expires });
    c.set(entry('a.', T0 + 1e9), T0);
    c.set(entry('b.', T0 + 1e9), T0);
    c.get(n('a.'), T0); // a is now the most recently used
    c.set(entry('c.', T0 + 1e9), T0);
    expect(c.get(n('b.'), T0)).toBeUndefined();
    expect(c.get(n('a.'), T0)?.expires).toBe(T0 + 100_000);
    expect(c.get(n('a.'), T0 + 100_000)).toBeUndefined();
    expect(c.size).toBe(1);
  });
});

describe('trust anchor files for several zones', () => {
  const file = `; the root and an internal zone
.	IN	DS	20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
corp.example.	3600	IN	DNSKEY	257 3 13 1rlgRF0AzZ2fsby2zBeRIH6hrl3ZHRBOWrFD00XKxDCdLluefN2/FbDphBZcrBBe9DCVDDkSoLdO+qPdSi1xDA==
.	IN	DS	38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
CORP.example.	IN	DS	50713 13 2 9683a7f16f8c621b1342848644d65c9aab1d29541e42dde7cb238b6bf1743082
`;

  it('groups the records by zone, in file order, and finds the one for a zone', async () => {
    const anchors = await parseTrustAnchors(new TextEncoder().encode(file), { file: 'anchors' });
    expect(anchors.map((a) => [a.owner, a.ds.length, a.dnskey.length])).toEqual([
      [n('.'), 2, 0],
      [n('corp.example.'), 1, 1],
    ]);
    expect(anchorFor(anchors, n('Corp.Example.'))).toBe(anchors[1]);
    expect(anchorFor(anchors, n('example.'))).toBeNull();
  });

  it('refuses records that are not DS or DNSKEY, and an empty file, naming the file', async () => {
    await expect(parseTrustAnchors(new TextEncoder().encode('. IN NS a.root-servers.net.\n'), { file: 'x.ds' })).rejects.toThrow(/x\.ds: only DS and DNSKEY records belong in a trust anchor file/);
    await expect(parseTrustAnchors(new TextEncoder().encode('; nothing\n'), { file: 'x.ds' })).rejects.toThrow(/x\.ds: no DS or DNSKEY record/);
    await expect(parseTrustAnchors(new TextEncoder().encode('. IN DS 1 8 2 zz\n'), { file: 'x.ds' })).rejects.toThrow(/x\.ds/);
  });
});

describe('which DS records start a path', () => {
  const ds = (digestType: number, algorithm = 13): DsInfo => ({ tag: 1, algorithm, digestType, digest: new Uint8Array(32) });
  const all = () => true;

  it('uses SHA-1 only when there is no SHA-256 or SHA-384 DS (RFC 4509 §3), and drops unknown digests and algorithms', () => {
    expect(usableDs([ds(1)], all).map((d) => d.digestType)).toEqual([1]);
    expect(usableDs([ds(1), ds(2), ds(4)], all).map((d) => d.digestType)).toEqual([2, 4]);
    expect(usableDs([ds(3), ds(1)], all).map((d) => d.digestType)).toEqual([1]);
    expect(usableDs([ds(2, 16)], (a) => a !== 16)).toEqual([]);
  });
});

describe('EDE option (RFC 8914)', () => {
  it('encodes INFO-CODE and EXTRA-TEXT as EDNS option 15', () => {
    const o = edeOption({ code: EDE.SIGNATURE_EXPIRED, text: 'www.example. A: signature expired (from 192.0.2.53:53)' });
    expect(o.code).toBe(EDE_OPTION_CODE);
    expect(o.code).toBe(15);
    expect([o.data[0], o.data[1]]).toEqual([0, 7]);
    expect(new TextDecoder().decode(o.data.subarray(2))).toBe('www.example. A: signature expired (from 192.0.2.53:53)');
    const rdata = new Uint8Array(4 + o.data.length);
    rdata.set([0, 15, o.data.length >> 8, o.data.length & 0xff]);
    rdata.set(o.data, 4);
    expect(parseEdnsRdata(rdata)).toEqual([{ code: 15, data: o.data }]);
  });
});

describe('type bitmaps as the proofs read them', () => {
  it('finds exactly the types written, across windows', () => {
    const types = Int32Array.from([RRType.A, RRType.NS, RRType.SOA, RRType.RRSIG, RRType.NSEC, RRType.DNSKEY, RRType.CAA, 65280]);
    const out = new Uint8Array(34 * 256);
    const len = encodeBitmap(types, types.length, out);
    const bitmap = out.subarray(0, len);
    for (const t of types) expect(bitmapHas(bitmap, t), String(t)).toBe(true);
    for (const t of [RRType.AAAA, RRType.DS, RRType.CNAME, 256, 65281, 300]) expect(bitmapHas(bitmap, t), String(t)).toBe(false);
    // a window cut short lists nothing past its end
    expect(bitmapHas(bitmap.subarray(0, 3), RRType.SOA)).toBe(true);
    expect(bitmapHas(bitmap.subarray(0, 3), RRType.DNSKEY)).toBe(false);
  });
});
