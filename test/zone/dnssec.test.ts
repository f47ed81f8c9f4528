import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RRType } from '../../host/core/dns/rr-types.js';
import { nameToText } from '../../host/core/dns/wire.js';
import {
  buildZone,
  checkZone,
  compileImage,
  dsDigest,
  formatRecord,
  formatRecords,
  parsePresentation,
  keyTag,
  parsePresentationAll,
  readImage,
  RecordTable,
  SignaturePrefetch,
  verifyDnssec,
  webCryptoVerifier,
  zoneFromRecords,
  type SignatureVerifier,
  type TrustAnchor,
  type ZoneRecord,
} from '../../host/core/zone/index.js';
import { anchor, fixturePath } from './support/fixtures.js';
import { dsFor, makeKey, signRRset, signZone, type Algorithm, type TestKey } from './support/zone-signer.js';

const ZONE = `$ORIGIN example.
$TTL 300
@ SOA ns1 hostmaster 2026010101 7200 3600 1209600 300
@ NS ns1
@ MX 10 Mail.Example.
ns1 A 192.0.2.1
www CNAME @
*.wild TXT "wildcard"
sub NS ns.sub
sub DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.sub A 192.0.2.53
unsigned NS ns.elsewhere.net.
`;

const T0 = Date.UTC(2026, 5, 1) / 1000; // the clock the tests verify at
const INCEPTION = T0 - 86400;
const EXPIRATION = T0 + 30 * 86400;

interface Signed {
  records: ZoneRecord[];
  ksk: TestKey;
  zsk: TestKey;
  anchor: TrustAnchor;
}

async function signed(alg: Algorithm, times: { inception?: number; expiration?: number } = {}): Promise<Signed> {
  const ksk = await makeKey(alg, 257);
  const zsk = await makeKey(alg, 256);
  const records = await signZone(await parsePresentationAll(ZONE), {
    origin: 'example.',
    ksk,
    zsk,
    inception: times.inception ?? INCEPTION,
    expiration: times.expiration ?? EXPIRATION,
  });
  const anchor: TrustAnchor = { owner: records[0]!.owner.slice(), ds: [await dsFor(ksk, 'example.')], dnskey: [] };
  return { records, ksk, zsk, anchor };
}

async function verify(records: ZoneRecord[], anchor: TrustAnchor | null, now = T0 * 1000) {
  return verifyDnssec(zoneFromRecords(records), { anchor, now });
}

const isSig = (r: ZoneRecord, covered: number, owner: string): boolean =>
  r.type === RRType.RRSIG && ((r.rdata[0]! << 8) | r.rdata[1]!) === covered && nameToText(r.owner) === owner;

describe('DNSSEC zone verification', () => {
  for (const alg of [8, 10, 13, 14, 15, 16] as Algorithm[]) {
    it(`verifies a zone signed with algorithm ${alg}, anchored by DS and by DNSKEY`, async () => {
      const z = await signed(alg);
      const byDs = await verify(z.records, z.anchor);
      expect(byDs.failures).toEqual([]);
      expect(byDs.status).toBe('verified');
      expect(byDs.keyset).toBe('verified');
      expect(byDs.nsec).toBe('verified');
      expect(byDs.valid).toBe(byDs.signatures);
      expect(byDs.earliestExpiration).toBe(EXPIRATION * 1000);
      const byKey = await verify(z.records, { owner: z.anchor.owner, ds: [], dnskey: [z.ksk.rdata] });
      expect(byKey.status).toBe('verified');
    });
  }

  let base: Signed;
  beforeAll(async () => {
    base = await signed(13);
  });

  it('does not sign or require signatures on delegation NS and glue', async () => {
    const r = await verify(base.records, base.anchor);
    const sigOver = (type: number, owner: string) => base.records.some((x) => isSig(x, type, owner));
    expect(sigOver(RRType.NS, 'sub.example.')).toBe(false);
    expect(sigOver(RRType.A, 'ns.sub.example.')).toBe(false);
    expect(sigOver(RRType.DS, 'sub.example.')).toBe(true);
    expect(r.status).toBe('verified');
  });

  it('verifies the wildcard RRSIG (labels field below the owner label count)', async () => {
    const sig = base.records.find((x) => isSig(x, RRType.TXT, '*.wild.example.'))!;
    expect(sig.rdata[3]).toBe(2);
    expect((await verify(base.records, base.anchor)).status).toBe('verified');
  });

  it('reports no-anchor when no trust anchor is given, and bogus for an anchor that matches no key', async () => {
    const none = await verify(base.records, null);
    expect(none.status).toBe('no-anchor');
    expect(none.keyset).toBe('no-anchor');
    const other = await signed(13);
    const wrong = await verify(base.records, other.anchor);
    expect(wrong.status).toBe('bogus');
    expect(wrong.reason).toMatch(/no DNSKEY in the zone matches the trust anchor \(DS \d+\/13\)/);
  });

  it('refuses a changed record', async () => {
    const records = base.records.map((r) =>
      r.type === RRType.A && nameToText(r.owner) === 'ns1.example.' ? { ...r, rdata: Uint8Array.of(192, 0, 2, 99) } : r,
    );
    const r = await verify(records, base.anchor);
    expect(r.status).toBe('bogus');
    expect(r.failures).toContain(`ns1.example. A: signature by key ${base.zsk.tag} does not verify`);
  });

  it('refuses a removed RRSIG', async () => {
    const records = base.records.filter((r) => !isSig(r, RRType.MX, 'example.'));
    const r = await verify(records, base.anchor);
    expect(r.status).toBe('bogus');
    expect(r.failures).toEqual(['example. MX: no RRSIG']);
  });

  it('refuses an RRSIG left behind by a removed RRset', async () => {
    const records = base.records.filter((r) => !(r.type === RRType.CNAME));
    const r = await verify(records, base.anchor);
    expect(r.status).toBe('bogus');
    expect(r.failures.some((f) => f.startsWith('www.example. CNAME: RRSIG covers a type that has no RRset here'))).toBe(true);
  });

  it('refuses a broken NSEC chain', async () => {
    const records = base.records.filter((r) => !(r.type === RRType.NSEC && nameToText(r.owner) === 'www.example.'));
    const r = await verify(records, base.anchor);
    expect(r.status).toBe('bogus');
    expect(r.failures.some((f) => /www\.example\. NSEC: missing/.test(f))).toBe(true);
  });

  it('refuses an NSEC whose type bitmap lies, even when it is validly signed', async () => {
    const nsec = base.records.find((r) => r.type === RRType.NSEC && nameToText(r.owner) === 'ns1.example.')!;
    // claim an AAAA at ns1.example. that is not there: a forged denial of existence
    const lying: ZoneRecord = { ...nsec, rdata: Uint8Array.from([...nsec.rdata.subarray(0, nsec.rdata.length - 8), 0, 6, 0x40, 0, 0, 0x08, 0, 0x03]) };
    expect(formatRecord(lying)).toMatch(/NSEC\tsub\.example\. A AAAA RRSIG NSEC$/);
    const sig = await signRRset([lying], base.zsk, base.records[0]!.owner, INCEPTION, EXPIRATION);
    const records = base.records.filter((r) => r !== nsec && !isSig(r, RRType.NSEC, 'ns1.example.')).concat([lying, sig]);
    const r = await verify(records, base.anchor);
    expect(r.status).toBe('bogus');
    expect(r.nsec).toBe('broken');
    expect(r.failures).toEqual(['ns1.example. NSEC: type bitmap does not match the types at this name (A RRSIG NSEC)']);
  });

  it('reports expired with the earliest expiration, and bogus before inception', async () => {
    const z = await signed(13, { inception: T0 - 10 * 86400, expiration: T0 - 86400 });
    const r = await verify(z.records, z.anchor);
    expect(r.status).toBe('expired');
    expect(r.keyset).toBe('expired');
    expect(r.earliestExpiration).toBe((T0 - 86400) * 1000);
    expect(r.reason).toMatch(/the earliest expired/);
    const early = await signed(13, { inception: T0 + 86400, expiration: T0 + 10 * 86400 });
    const e = await verify(early.records, early.anchor);
    expect(e.status).toBe('bogus');
    expect(e.failures[0]).toMatch(/signature not valid before/);
  });

  it('takes, per RRset, the latest good signature and then the earliest across RRsets', async () => {
    // one extra, later-expiring signature on the MX set, one earlier on the A set
    const mx = base.records.filter((r) => r.type === RRType.MX);
    const a = base.records.filter((r) => r.type === RRType.A && nameToText(r.owner) === 'ns1.example.');
    const origin = base.records[0]!.owner;
    const later = await signRRset(mx, base.zsk, origin, INCEPTION, EXPIRATION + 86400);
    const earlier = await signRRset(a, base.zsk, origin, INCEPTION, EXPIRATION - 86400);
    const withEarlier = base.records.filter((r) => !isSig(r, RRType.A, 'ns1.example.')).concat([later, earlier]);
    const r = await verify(withEarlier, base.anchor);
    expect(r.status).toBe('verified');
    expect(r.earliestExpiration).toBe((EXPIRATION - 86400) * 1000);
    // a second, expired signature next to a good one does not make the RRset expired
    const stale = await signRRset(mx, base.zsk, origin, INCEPTION - 100, T0 - 10);
    expect((await verify(base.records.concat([stale]), base.anchor)).status).toBe('verified');
  });

  it('refuses a signature whose signer is not the apex', async () => {
    const mx = base.records.filter((r) => r.type === RRType.MX);
    const foreign = await signRRset(mx, base.zsk, Uint8Array.of(3, 0x6f, 0x72, 0x67, 0), INCEPTION, EXPIRATION);
    const records = base.records.filter((r) => !isSig(r, RRType.MX, 'example.')).concat([foreign]);
    const r = await verify(records, base.anchor);
    expect(r.status).toBe('bogus');
    expect(r.failures[0]).toMatch(/signer org\. is not the zone apex/);
  });

  it('canonicalises names: upper-case owners and RDATA names verify', async () => {
    const upper = base.records.map((r) => (nameToText(r.owner) === 'www.example.' ? { ...r, owner: Uint8Array.of(3, 0x57, 0x57, 0x57, 7, ...new TextEncoder().encode('EXAMPLE'), 0) } : r));
    expect((await verify(upper, base.anchor)).status).toBe('verified');
  });

  it('reports unsigned zones, and signatures without a DNSKEY as bogus', async () => {
    const plain = await parsePresentationAll(ZONE);
    const r = await verify(plain, base.anchor);
    expect(r.status).toBe('unsigned');
    const noKeys = base.records.filter((x) => x.type !== RRType.DNSKEY);
    expect((await verify(noKeys, base.anchor)).status).toBe('bogus');
  });

  it('ignores a signature by a key not in the DNSKEY set when another verifies (rollover)', async () => {
    const stranger = await makeKey(13, 256);
    const mx = base.records.filter((r) => r.type === RRType.MX);
    const extra = await signRRset(mx, stranger, base.records[0]!.owner, INCEPTION, EXPIRATION);
    const r = await verify(base.records.concat([extra]), base.anchor);
    expect(r.status).toBe('verified');
  });
});

describe('signature checks started while parsing (prefetch)', () => {
  let z: Signed;
  beforeAll(async () => {
    z = await signed(13);
  });

  function counting(): { verifier: SignatureVerifier; sent: () => number } {
    let sent = 0;
    return {
      verifier: {
        importKey: (info) => webCryptoVerifier.importKey(info),
        verifyBatch: (requests) => {
          sent += requests.length;
          return webCryptoVerifier.verifyBatch(requests);
        },
      },
      sent: () => sent,
    };
  }

  async function check(records: ZoneRecord[], verifier: SignatureVerifier, prefetch = true) {
    // canonical order, as zones are published
    const text = formatRecords(records);
    return (await checkZone(text, { trustAnchor: z.anchor, now: T0 * 1000, verifier, prefetch })).report;
  }

  it('checks every signature once, all of them while parsing a zone in canonical order', async () => {
    const text = formatRecords(zoneRecordsOf(z.records));
    const c = counting();
    const table = new RecordTable();
    const prefetch = new SignaturePrefetch(table, c.verifier);
    // one-line chunks, so the prefetch sees the zone arrive piece by piece
    const enc = new TextEncoder();
    await parsePresentation(text.split(/(?<=\n)/).map((l) => enc.encode(l)), table, { onChunk: () => prefetch.advance() });
    prefetch.advance(true);
    await new Promise((resolve) => setTimeout(resolve, 0)); // the last batch leaves once the keys are imported
    const duringParse = c.sent();
    const r = await verifyDnssec(buildZone(table), { anchor: z.anchor, now: T0 * 1000, verifier: c.verifier, prefetch });
    expect(r.status).toBe('verified');
    expect(duringParse).toBe(r.signatures);
    expect(c.sent()).toBe(duringParse);
    const off = counting();
    expect((await check([...zoneRecordsOf(z.records)], off.verifier, false)).dnssec.status).toBe('verified');
    expect(off.sent()).toBe(r.signatures);
  });

  it('does not trust a prefetched result when the RRset grows later in the file', async () => {
    const sorted = [...zoneRecordsOf(z.records)];
    // an extra MX for the apex at the very end: the apex's MX signature no longer covers its RRset
    const extra: ZoneRecord = { ...sorted.find((r) => r.type === RRType.MX)!, rdata: Uint8Array.of(0, 20, 0) };
    const r = await check([...sorted, extra], counting().verifier);
    expect(r.dnssec.status).toBe('bogus');
    expect(r.dnssec.failures).toContain(`example. MX: signature by key ${z.zsk.tag} does not verify`);
  });

  it('gives the same verdicts for a zone file out of order', async () => {
    const shuffled = [...zoneRecordsOf(z.records)].reverse();
    const r = await check(shuffled, counting().verifier);
    expect(r.dnssec.status).toBe('verified');
  });
});

function* zoneRecordsOf(records: ZoneRecord[]): Generator<ZoneRecord> {
  // canonical order with RRSIGs right after the RRset they cover, as signers write zones
  const z = zoneFromRecords(records);
  const names: string[] = [];
  for (let k = 0; k < z.names.count; k++) names.push(nameToText(z.names.bytes.subarray(z.names.off[k]!, z.names.off[k]! + z.names.len[k]!)));
  const order = new Map(names.map((n, i) => [n, i]));
  yield* [...records].sort((a, b) => order.get(nameToText(a.owner).toLowerCase())! - order.get(nameToText(b.owner).toLowerCase())!);
}

describe('NSEC3 chain (RFC 5155), against zones signed by ldns-signzone', () => {
  const file = (name: string): string => readFileSync(fixturePath(`ldns/${name}`), 'latin1');

  async function check(text: string) {
    const ta = await anchor('ldns/example-nsec3.ds');
    return (await checkZone(text, { trustAnchor: ta, now: Date.UTC(2026, 7, 23) })).report.dnssec;
  }

  it('verifies the chain, empty non-terminals included', async () => {
    const r = await check(file('example-nsec3.signed'));
    expect(r.denial).toBe('nsec3');
    expect(r.nsec).toBe('verified');
    expect(r.status).toBe('verified');
  });

  it('refuses a chain with an NSEC3 missing', async () => {
    const text = file('example-nsec3.signed');
    const victim = text.split('\n').find((l) => /\tNSEC3\t/.test(l))!.split('\t')[0]!;
    const r = await check(text.split('\n').filter((l) => !l.startsWith(victim + '\t')).join('\n'));
    expect(r.nsec).toBe('broken');
    expect(r.status).toBe('bogus');
    expect(r.failures.some((f) => /no NSEC3 for this name/.test(f))).toBe(true);
    expect(r.failures.some((f) => /NSEC3: next hash is/.test(f))).toBe(true);
  });
});

describe('algorithms and digest types we do not implement (RFC 4035 §5.2, RFC 6840 §5.2)', () => {
  let base: Signed;
  beforeAll(async () => {
    base = await signed(13);
  });
  // Node has Ed448 (16); Workers does not. These cases run as on a runtime without it.
  const noEd448: SignatureVerifier = {
    importKey: (info) => (info.algorithm === 16 ? Promise.resolve(null) : webCryptoVerifier.importKey(info)),
    verifyBatch: (requests) => webCryptoVerifier.verifyBatch(requests),
    supports: (alg) => alg !== 16,
  };

  /** The zone as if signed with `alg` (ED448, a private number…): keys and signatures relabelled, tags recomputed. */
  function relabel(records: ZoneRecord[], alg: number): ZoneRecord[] {
    const tags = new Map<number, number>();
    const out = records.map((r) => {
      if (r.type !== RRType.DNSKEY) return r;
      const rdata = r.rdata.slice();
      rdata[3] = alg;
      tags.set(keyTag(r.rdata), keyTag(rdata));
      return { ...r, rdata };
    });
    return out.map((r) => {
      if (r.type !== RRType.RRSIG) return r;
      const rdata = r.rdata.slice();
      const tag = tags.get((rdata[16]! << 8) | rdata[17]!)!;
      rdata[2] = alg;
      rdata[16] = tag >> 8;
      rdata[17] = tag & 0xff;
      return { ...r, rdata };
    });
  }

  async function dsOf(records: ZoneRecord[], digestType: number): Promise<Uint8Array> {
    const ksk = records.find((r) => r.type === RRType.DNSKEY && (r.rdata[1]! & 1) === 1)!;
    const digest = (await dsDigest(ksk.owner, ksk.rdata, digestType === 3 ? 2 : digestType))!;
    return Uint8Array.of(...[keyTag(ksk.rdata) >> 8, keyTag(ksk.rdata) & 0xff, ksk.rdata[3]!, digestType], ...digest);
  }

  async function report(records: ZoneRecord[], anchor: TrustAnchor | null, dnssec?: 'require', now = T0 * 1000) {
    return (await checkZone(formatRecords(records), { trustAnchor: anchor, now, verifier: noEd448, ...(dnssec ? { dnssec } : {}) })).report;
  }

  it('reports a zone signed only with ED448 (16) insecure where the runtime lacks it: usable by default, refused by require', async () => {
    const ed448 = relabel(base.records, 16);
    const anchor: TrustAnchor = { owner: base.anchor.owner, ds: [await dsOf(ed448, 2)], dnskey: [] };
    const r = await report(ed448, anchor);
    expect(r.dnssec.status).toBe('insecure');
    expect(r.dnssec.keyset).toBe('insecure');
    expect(r.dnssec.reason).toMatch(/no trust-anchor record uses an algorithm and digest type this verifier supports \(DS \d+ algorithm 16 digest type 2\)/);
    expect(r.dnssec.failures).toEqual([]);
    expect(r.dnssec.nsec).toBe('unsupported');
    expect(r.dnssec.keys.every((k) => k.algorithm === 16 && !k.supported)).toBe(true);
    expect(r.usable).toBe(true);
    // the copy still stops when its signatures say they do
    expect(r.earliestRrsigExpiration).toBe(EXPIRATION * 1000);
    const strict = await report(ed448, anchor, 'require');
    expect(strict.usable).toBe(false);
    expect(strict.reasons[0]).toMatch(/^DNSSEC insecure \(policy require\)/);
  });

  it('reports a zone keyed only with a private algorithm insecure when no anchor is given', async () => {
    const r = await report(relabel(base.records, 253), null);
    expect(r.dnssec.status).toBe('insecure');
    expect(r.dnssec.reason).toMatch(/only DNSSEC algorithms this verifier does not support \(253\)/);
    expect(r.usable).toBe(true);
  });

  it('reports a DS anchor with only unsupported digest types insecure, and uses a supported one beside it', async () => {
    const gost: TrustAnchor = { owner: base.anchor.owner, ds: [await dsOf(base.records, 3)], dnskey: [] };
    const r = await verify(base.records, gost);
    expect(r.status).toBe('insecure');
    expect(r.reason).toMatch(/algorithm 13 digest type 3/);
    const both: TrustAnchor = { ...gost, ds: [...gost.ds, ...base.anchor.ds] };
    expect((await verify(base.records, both)).status).toBe('verified');
  });

  it('refuses an insecure copy whose signatures have run out', async () => {
    const old = await signed(13, { inception: T0 - 10 * 86400, expiration: T0 - 86400 });
    const r = await report(relabel(old.records, 16), null);
    expect(r.dnssec.status).toBe('insecure');
    expect(r.earliestRrsigExpiration).toBe((T0 - 86400) * 1000);
    expect(r.usable).toBe(false);
    expect(r.reasons).toEqual([`the copy expired at ${new Date((T0 - 86400) * 1000).toISOString()}`]);
  });

  it('stays bogus where a supported path exists: an RRset signed only with an unsupported algorithm, or a failing signature', async () => {
    const records = base.records.map((r) => {
      if (!isSig(r, RRType.MX, 'example.')) return r;
      const rdata = r.rdata.slice();
      rdata[2] = 16;
      return { ...r, rdata };
    });
    const r = await verify(records, base.anchor);
    expect(r.status).toBe('bogus');
    expect(r.failures).toEqual(['example. MX: algorithm 16 is not supported']);
    // an anchor naming ED448 and ECDSA: the ECDSA key is the path, and a changed record is bogus
    const mixed: TrustAnchor = { ...base.anchor, ds: [...base.anchor.ds, await dsOf(relabel(base.records, 16), 2)] };
    const changed = base.records.map((x) => (x.type === RRType.A && nameToText(x.owner) === 'ns1.example.' ? { ...x, rdata: Uint8Array.of(192, 0, 2, 99) } : x));
    expect((await verify(changed, mixed)).status).toBe('bogus');
  });

  it('records insecure in the zone image header', async () => {
    const ed448 = relabel(base.records, 16);
    const { zone, report: r } = await checkZone(formatRecords(ed448), { now: T0 * 1000, verifier: noEd448 });
    const img = await readImage(await compileImage(zone, r));
    expect(img.dnssec).toBe('insecure');
    expect(img.keyset).toBe('insecure');
    expect(img.earliestRrsigExpiration).toBe(EXPIRATION * 1000);
    expect(img.version).toEqual({ major: 1, minor: 1 });
  });
});
