/**
 * What the validator does beyond one verdict, on the signed test hierarchy over real sockets:
 * its work budget against a KeyTrap zone and a long NSEC3 name, the key cache and its TTL
 * bound, the bogus cache, negative trust anchors, trust anchors for more than one zone, a
 * runtime without Ed448, key fetches routed around a server with expired signatures, the
 * deadline, and the answer helpers on real responses.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RRType, typeFromName } from '../../host/core/dns/rr-types.js';
import { FLAG_AD, readName, u16, walkRecords } from '../../host/core/dns/wire.js';
import { MemoryMetrics } from '../../host/core/metrics.js';
import {
  DEFAULT_LIMITS,
  EDE,
  KeyCache,
  Validator,
  parseTrustAnchor,
  parseTrustAnchors,
  setAuthenticData,
  stripDnssec,
  type KeyFetcher,
  type ValidatorOptions,
} from '../../host/core/dnssec/index.js';
import { webCryptoVerifier, type SignatureVerifier } from '../../host/core/zone/dnssec-keys.js';
import { nameFromText } from '../../host/core/dns/name.js';
import { freePort } from '../helpers/net.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { signHierarchy, zonesWithResigned, type SignedHierarchy } from '../helpers/signer.js';
import { testHierarchy } from '../helpers/signer-hierarchy.js';
import { needTools } from '../helpers/tools.js';
import { delv } from './support/delv.js';
import { query, socketFetcher, type Server } from './support/socket-fetcher.js';

const base = `127.${20 + Math.floor(Math.random() * 230)}.${Math.floor(Math.random() * 250)}`;
const host = `${base}.1`;
const badHost = `${base}.2`;
const DAY = 86_400;

/** A verifier that counts the signature checks it is asked for. */
function counting(inner: SignatureVerifier = webCryptoVerifier): SignatureVerifier & { checks: number } {
  const v = {
    checks: 0,
    importKey: (info: Parameters<SignatureVerifier['importKey']>[0]) => inner.importKey(info),
    verifyBatch: (requests: Parameters<SignatureVerifier['verifyBatch']>[0]) => {
      v.checks += requests.length;
      return inner.verifyBatch(requests);
    },
    ...(inner.supports ? { supports: inner.supports } : {}),
  };
  return v;
}

describe.skipIf(!needTools('ldns-keygen', 'ldns-signzone', 'dnssec-keygen', 'dnssec-signzone', 'nsd', 'delv'))('validator behaviour (signed hierarchy on NSD)', () => {
  let h: SignedHierarchy;
  let nsd: Nsd;
  let bad: Nsd;
  let anchorsBytes: Uint8Array;
  const good = (): Server => ({ host, port: nsd.port });

  beforeAll(async () => {
    await freePort(host);
    h = signHierarchy(testHierarchy(), { nsAddress: host });
    nsd = await startNsd(h.zones, { host });
    // the same zones, but secure.test. as a broken site serves it: signatures expired a day ago
    const now = Math.floor(Date.now() / 1000);
    bad = await startNsd(zonesWithResigned(h, 'secure.test.', { inception: now - 20 * DAY, expiration: now - DAY }), { host: badHost });
    anchorsBytes = new Uint8Array(readFileSync(h.anchorFile()));
  }, 120_000);

  afterAll(async () => {
    await bad?.stop();
    await nsd?.stop();
  });

  async function validatorWith(options: Partial<ValidatorOptions> = {}, log?: Array<{ type: number; server: string }>): Promise<Validator> {
    return new Validator({ anchors: await parseTrustAnchors(anchorsBytes), fetcher: socketFetcher([good()], log), ...options });
  }

  async function answer(name: string, type: string, from: Server = good()): Promise<Uint8Array> {
    const r = await query(from, nameFromText(name), typeFromName(type)!);
    expect(r).not.toBeNull();
    return r!;
  }

  describe('bounded work (KeyTrap CVE-2023-50387, NSEC3 CVE-2023-50868)', () => {
    it('stops a KeyTrap answer within the signature budget, bogus with an EDE, and counts it', async () => {
      const metrics = new MemoryMetrics();
      const verifier = counting();
      const v = await validatorWith({ verifier, metrics });
      const r = await v.validate(await answer('trap.keytrap.test.', 'A'));
      expect(r.state).toBe('bogus');
      expect(r.reason).toBe('budget');
      expect(r.ede).toEqual({ code: EDE.DNSSEC_BOGUS, text: expect.stringMatching(/^trap\.keytrap\.test\. A: validation work limit reached: more than 8 signature checks for one RRset/) });
      // the chain of trust (DNSKEY ., DS and DNSKEY of test. and keytrap.test.: 5) and 8 for the trapped RRset
      expect(r.work.signatures).toBe(5 + DEFAULT_LIMITS.signaturesPerRRset);
      expect(verifier.checks).toBe(r.work.signatures);
      expect(metrics.snapshot()['edge_dnssec_budget_exceeded_total']).toEqual({ 'limit=signatures': 1 });
    });

    it('remembers a key set that blew the budget, so the next answer from the zone costs nothing', async () => {
      const metrics = new MemoryMetrics();
      const v = await validatorWith({ metrics });
      const first = await v.validate(await answer('www.keytrap-keys.test.', 'A'));
      expect(first.state).toBe('bogus');
      expect(first.reason).toBe('budget');
      expect(first.work.signatures).toBeLessThanOrEqual(DEFAULT_LIMITS.signaturesPerRRset + 4);
      const second = await v.validate(await answer('www.keytrap-keys.test.', 'A'));
      expect(second.state).toBe('bogus');
      expect(second.reason).toBe('budget');
      expect(second.work).toEqual({ signatures: 0, hashes: 0, fetches: 0 });
      expect(second.ede?.text).toMatch(/^keytrap-keys\.test\.: validation work limit reached: more than 8 signature checks for one RRset$/);
      expect(metrics.snapshot()['edge_dnssec_budget_exceeded_total']).toEqual({ 'limit=signatures': 1 });
    });

    it('would try every key with every signature without the budget: 25 keys share the tag, 24 signatures', async () => {
      const verifier = counting();
      const huge = 100_000;
      const v = await validatorWith({
        verifier,
        limits: { signaturesPerRRset: huge, signaturesPerResponse: huge, signaturesPerValidation: huge, keyTagCollisions: huge },
      });
      const r = await v.validate(await answer('trap.keytrap.test.', 'A'));
      expect(r.state).toBe('bogus');
      expect(r.reason).toBe('bad-signature');
      expect(verifier.checks).toBe(5 + 25 * 24);
    });

    it('stops an NSEC3 proof for a very long name within the hash budget', async () => {
      const metrics = new MemoryMetrics();
      const v = await validatorWith({ metrics });
      const long = `${Array.from({ length: 40 }, (_, i) => `l${i}`).join('.')}.nsec3.test.`;
      const r = await v.validate(await answer(long, 'A'));
      expect(r.state).toBe('bogus');
      expect(r.reason).toBe('budget');
      expect(r.text).toMatch(/more than 32 NSEC3 hashes for one response/);
      expect(r.work.hashes).toBe(DEFAULT_LIMITS.nsec3HashesPerResponse);
      expect(metrics.snapshot()['edge_dnssec_budget_exceeded_total']).toEqual({ 'limit=nsec3-hashes': 1 });
      // an ordinary NXDOMAIN in the same zone needs three
      const nx = await v.validate(await answer('nope.nsec3.test.', 'A'));
      expect(nx.state).toBe('secure');
      expect(nx.work.hashes).toBeLessThanOrEqual(3);
    });

    it('treats NSEC3 iterations above the limit as insecure, and a lower limit applies', async () => {
      const v = await validatorWith({ limits: { nsec3Iterations: 0 } });
      const r = await v.validate(await answer('nope.secure.test.', 'A'));
      expect(r.state).toBe('secure'); // NSEC, no iterations
      const n3 = await (await validatorWith({ limits: { nsec3Iterations: 199 } })).validate(await answer('nope.iter.test.', 'A'));
      expect(n3.state).toBe('insecure');
      expect(n3.ede?.code).toBe(EDE.UNSUPPORTED_NSEC3_ITERATIONS);
      const ok = await (await validatorWith({ limits: { nsec3Iterations: 200 } })).validate(await answer('nope.iter.test.', 'A'));
      expect(ok.state).toBe('secure');
    });
  });

  describe('caches', () => {
    it('keeps validated keys: the second answer from the zone needs no fetch', async () => {
      const log: Array<{ type: number; server: string }> = [];
      const cache = new KeyCache();
      const v = await validatorWith({ keyCache: cache }, log);
      const first = await v.validate(await answer('www.secure.test.', 'A'));
      expect(first.state).toBe('secure');
      expect(first.work.fetches).toBe(5); // DNSKEY ., DS test., DNSKEY test., DS secure.test., DNSKEY secure.test.
      expect(log.map((l) => l.type)).toEqual([RRType.DNSKEY, RRType.DS, RRType.DNSKEY, RRType.DS, RRType.DNSKEY]);
      const second = await v.validate(await answer('mail.secure.test.', 'MX'));
      expect(second.state).toBe('secure');
      expect(second.work.fetches).toBe(0);
      expect(cache.size).toBe(3);
    });

    it('checks a signature once: the same proof in a second answer costs no crypto, and a cached signature over other data is checked again', async () => {
      const verifier = counting();
      const v = await validatorWith({ verifier });
      const first = await v.validate(await answer('nope.secure.test.', 'A'));
      expect(first.state).toBe('secure');
      expect(first.work.signatures).toBeGreaterThan(0);
      const checks = verifier.checks;
      const again = await v.validate(await answer('nope.secure.test.', 'A'));
      expect(again.state).toBe('secure');
      expect(again.work.signatures).toBe(0);
      expect(verifier.checks).toBe(checks);
      // www.secure.test. A verified once; then the same signature over another address
      const www = await answer('www.secure.test.', 'A');
      expect((await v.validate(www)).state).toBe('secure');
      const forged = www.slice();
      const { records } = walkRecords(forged);
      const a = records.find((r) => r.section === 0 && r.type === RRType.A)!;
      forged[a.rdataOffset + 3] = forged[a.rdataOffset + 3]! ^ 0xff;
      const before = verifier.checks;
      const r = await v.validate(forged);
      expect(r.state).toBe('bogus');
      expect(verifier.checks).toBeGreaterThan(before);
    });

    it('bounds the answer TTL by the record TTL and by the signature expiration', async () => {
      const v = await validatorWith();
      const r = await v.validate(await answer('www.secure.test.', 'A'));
      expect(r.ttl).toBe(300);
      // 30 days ahead, less 50 s: the signatures expire 50 s (+ the hour's slack) later
      const late = await validatorWith({ now: () => Date.now() + (30 * DAY - 3600 - 50) * 1000 });
      const soon = await late.validate(await answer('www.secure.test.', 'A'));
      expect(soon.state).toBe('secure');
      expect(soon.ttl).toBeLessThanOrEqual(3650 + 50);
      expect(soon.ttl).toBeGreaterThan(0);
      const later = await validatorWith({ now: () => Date.now() + (30 * DAY - 3600 + 3600 + 60) * 1000 });
      expect((await later.validate(await answer('www.secure.test.', 'A'))).state).toBe('bogus');
    });

    it('remembers a bogus key set for the bogus TTL only', async () => {
      let offset = 0;
      const log: Array<{ type: number; server: string }> = [];
      const v = await validatorWith({ now: () => Date.now() + offset, bogusTtl: 60 }, log);
      const first = await v.validate(await answer('www.expired.test.', 'A'));
      expect(first.state).toBe('bogus');
      expect(first.ede?.code).toBe(EDE.SIGNATURE_EXPIRED);
      expect(first.ttl).toBe(60);
      const fetched = log.length;
      const again = await v.validate(await answer('www.expired.test.', 'A'));
      expect(again.state).toBe('bogus');
      expect(again.ede?.code).toBe(EDE.SIGNATURE_EXPIRED);
      expect(log.length).toBe(fetched);
      offset = 61_000;
      await v.validate(await answer('www.expired.test.', 'A'));
      expect(log.length).toBeGreaterThan(fetched);
    });
  });

  describe('negative trust anchors (RFC 7646)', () => {
    it('makes a broken zone insecure until the NTA expires, and lists it', async () => {
      let offset = 0;
      const v = await validatorWith({ now: () => Date.now() + offset });
      v.negativeAnchors.set('expired.test', Date.now() + 3_600_000, 'ticket 42');
      expect(v.negativeAnchors.list(Date.now()).map((n) => [n.name, n.reason])).toEqual([['expired.test.', 'ticket 42']]);
      const r = await v.validate(await answer('www.expired.test.', 'A'));
      expect(r.state).toBe('insecure');
      expect(r.reason).toBe('negative-trust-anchor');
      expect(r.text).toMatch(/^www\.expired\.test\. is under the negative trust anchor expired\.test\. \(ticket 42\)$/);
      // the rest of the tree still validates
      expect((await v.validate(await answer('www.secure.test.', 'A'))).state).toBe('secure');
      offset = 3_600_001;
      expect(v.negativeAnchors.list(Date.now() + offset)).toEqual([]);
      expect((await v.validate(await answer('www.expired.test.', 'A'))).state).toBe('bogus');
    });

    it('covers a name below a zone apex too: only that name goes insecure', async () => {
      const v = await validatorWith();
      v.negativeAnchors.set('www.nosig.test.', Date.now() + 60_000);
      expect((await v.validate(await answer('www.nosig.test.', 'A'))).reason).toBe('negative-trust-anchor');
      expect((await v.validate(await answer('nosig.test.', 'SOA'))).state).toBe('secure');
    });

    it('gives way to a positive trust anchor below it (RFC 7646 §2.1)', async () => {
      const island = h.byName.get('island.insecure.test.')!.keys!.ksk.ds;
      const v = await validatorWith({ anchors: await parseTrustAnchors(new TextEncoder().encode(`${readFileSync(h.anchorFile(), 'utf8')}${island}\n`)) });
      v.negativeAnchors.set('insecure.test.', Date.now() + 60_000);
      expect((await v.validate(await answer('www.island.insecure.test.', 'A'))).state).toBe('secure');
      expect((await v.validate(await answer('www.insecure.test.', 'A'))).reason).toBe('negative-trust-anchor');
    });
  });

  it('takes a DNSKEY as a trust anchor as well as a DS', async () => {
    const ksk = h.byName.get('.')!.keys!.ksk.dnskey.replace(/;.*$/, '');
    const v = await validatorWith({ anchors: await parseTrustAnchors(new TextEncoder().encode(`${ksk}\n`)) });
    expect((await v.validate(await answer('www.secure.test.', 'A'))).state).toBe('secure');
    const zsk = h.byName.get('.')!.keys!.zsk.dnskey.replace(/;.*$/, '');
    // a ZSK as the anchor: it does not sign the root's key set, so nothing it vouches for does
    const w = await validatorWith({ anchors: await parseTrustAnchors(new TextEncoder().encode(`${zsk}\n`)) });
    const r = await w.validate(await answer('www.secure.test.', 'A'));
    expect(r.state).toBe('bogus');
    expect(r.ede?.code).toBe(EDE.DNSKEY_MISSING);
  });

  describe('trust anchors for more than one zone', () => {
    it('validates a signed zone below an unsigned one with its own anchor from the same file, as delv does', async () => {
      const island = h.byName.get('island.insecure.test.')!.keys!.ksk.ds;
      const file = join(h.dir, 'two-anchors.ds');
      writeFileSync(file, `${readFileSync(h.anchorFile(), 'utf8')}${island}\n`);
      const anchors = await parseTrustAnchors(readFileSync(file), { file });
      expect(anchors.map((a) => a.owner.length)).toEqual([1, 'island.insecure.test.'.length + 1]);
      const v = await validatorWith({ anchors });
      const r = await v.validate(await answer('www.island.insecure.test.', 'A'));
      expect(r.state).toBe('secure');
      expect(r.zone).toBe('island.insecure.test.');
      // delv with the island's anchor (it uses one anchor, the one +root names)
      const conf = join(h.dir, 'two-anchors.conf');
      const ds = (l: string) => {
        const p = l.split(/\s+/);
        const i = p.indexOf('DS');
        return `  "${p[0]}" static-ds ${p[i + 1]} ${p[i + 2]} ${p[i + 3]} "${p.slice(i + 4).join('')}";`;
      };
      writeFileSync(conf, `trust-anchors {\n${[...h.anchorDs, island].map(ds).join('\n')}\n};\n`);
      expect((await delv(good(), conf, 'www.island.insecure.test.', 'A', 'island.insecure.test.')).verdict).toBe('secure');
      expect((await delv(good(), conf, 'www.island.insecure.test.', 'A')).verdict).toBe('insecure');
      // the zone verifier's reader takes one zone per file and says so
      await expect(parseTrustAnchor(readFileSync(file), { file: 'two-anchors.ds' })).rejects.toThrow(/two-anchors\.ds: anchors for \. and island\.insecure\.test\.; use one file per zone/);
    });
  });

  it('is indeterminate where no trust anchor covers the name', async () => {
    const island = h.byName.get('island.insecure.test.')!.keys!.ksk.ds;
    const v = await validatorWith({ anchors: await parseTrustAnchors(new TextEncoder().encode(`${island}\n`)) });
    const r = await v.validate(await answer('www.secure.test.', 'A'));
    expect(r.state).toBe('indeterminate');
    expect(r.reason).toBe('no-anchor');
    expect(r.text).toBe('no trust anchor covers secure.test.');
    expect(r.work.fetches).toBe(0);
    expect((await v.validate(await answer('www.island.insecure.test.', 'A'))).state).toBe('secure');
  });

  describe('algorithms the runtime lacks', () => {
    it('treats an Ed448 zone as insecure (EDE 1) where WebCrypto has no Ed448, as on Workers', async () => {
      const noEd448: SignatureVerifier = {
        importKey: (info) => (info.algorithm === 16 ? Promise.resolve(null) : webCryptoVerifier.importKey(info)),
        verifyBatch: (requests) => webCryptoVerifier.verifyBatch(requests),
        supports: (alg) => alg !== 16,
      };
      const r = await (await validatorWith({ verifier: noEd448 })).validate(await answer('www.ed448.test.', 'A'));
      expect(r.state).toBe('insecure');
      expect(r.reason).toBe('unsupported-algorithm');
      expect(r.ede?.code).toBe(EDE.UNSUPPORTED_DNSKEY_ALGORITHM);
      expect(r.ede?.text).toMatch(/ed448\.test\.: no DS record uses an algorithm and digest type this validator implements \(DS \d+ algorithm 16 digest type 2\)/);
      expect((await (await validatorWith()).validate(await answer('www.ed448.test.', 'A'))).state).toBe('secure');
    });
  });

  describe('routing key fetches around a bad server', () => {
    it('asks the next server when one serves expired DNSKEY signatures, and names the bad one', async () => {
      const log: Array<{ type: number; server: string }> = [];
      const v = new Validator({ anchors: await parseTrustAnchors(anchorsBytes), fetcher: socketFetcher([{ host: badHost, port: bad.port }, good()], log) });
      const r = await v.validate(await answer('www.secure.test.', 'A'));
      expect(r.state).toBe('secure');
      const dnskey = log.filter((l) => l.type === RRType.DNSKEY).map((l) => l.server);
      // . and test. are good on both; secure.test.'s DNSKEY from the bad one fails, the good one validates
      expect(dnskey.slice(-2)).toEqual([`${badHost}:${bad.port}`, `${host}:${nsd.port}`]);
      // with only the bad server: bogus, EDE 7, and the text names it
      const only = new Validator({ anchors: await parseTrustAnchors(anchorsBytes), fetcher: socketFetcher([{ host: badHost, port: bad.port }]) });
      const b = await only.validate(await answer('www.secure.test.', 'A', { host: badHost, port: bad.port }), { server: `${badHost}:${bad.port}` });
      expect(b.state).toBe('bogus');
      expect(b.ede?.code).toBe(EDE.SIGNATURE_EXPIRED);
      expect(b.ede?.text).toContain(`secure.test.`);
      expect(b.ede?.text).toContain(`${badHost}:${bad.port}`);
    });

    it('gives up at the deadline when no key server answers', async () => {
      const silent: KeyFetcher = { fetch: (_n, _t, deadline) => new Promise((r) => setTimeout(() => r(null), Math.max(0, deadline - Date.now()))) };
      const v = new Validator({ anchors: await parseTrustAnchors(anchorsBytes), fetcher: silent });
      const started = Date.now();
      const r = await v.validate(await answer('www.secure.test.', 'A'), { deadline: Date.now() + 300 });
      expect(r.state).toBe('bogus');
      expect(r.reason).toBe('key-fetch-failed');
      expect(r.ede?.code).toBe(EDE.DNSKEY_MISSING);
      expect(Date.now() - started).toBeLessThan(3000);
    });
  });

  describe('answers for the client', () => {
    function types(msg: Uint8Array): Array<[number, string, number]> {
      return walkRecords(msg).records.map((r) => [r.section, new TextDecoder().decode(readName(msg, r.nameOffset).name), r.type]);
    }

    it('strips RRSIG, NSEC and NSEC3 for a DO=0 client and keeps what was asked for', async () => {
      const a = await answer('www.secure.test.', 'A');
      expect(types(a).some(([, , t]) => t === RRType.RRSIG)).toBe(true);
      const plain = stripDnssec(a, RRType.A);
      expect(types(plain).map(([s, , t]) => [s, t])).toEqual(types(a).filter(([, , t]) => t !== RRType.RRSIG).map(([s, , t]) => [s, t]));
      const nx = stripDnssec(await answer('nope.nsec3.test.', 'A'), RRType.A);
      expect(u16(nx, 2) & 0xf).toBe(3);
      expect(types(nx).map(([s, , t]) => [s, t])).toEqual([[1, RRType.SOA], [2, RRType.OPT]]);
      const keys = stripDnssec(await answer('secure.test.', 'DNSKEY'), RRType.DNSKEY);
      expect(new Set(types(keys).filter(([s]) => s === 0).map(([, , t]) => t))).toEqual(new Set([RRType.DNSKEY]));
      const ds = stripDnssec(await answer('secure.test.', 'DS'), RRType.DS);
      expect(types(ds).filter(([s]) => s === 0).map(([, , t]) => t)).toEqual([RRType.DS]);
      const nsec = stripDnssec(await answer('www.secure.test.', 'NSEC'), RRType.NSEC);
      expect(types(nsec).filter(([s]) => s === 0).map(([, , t]) => t)).toEqual([RRType.NSEC]);
      // a message with nothing to strip comes back as it is
      const bare = stripDnssec(plain, RRType.A);
      expect(bare).toBe(plain);
    });

    it('keeps names intact when the record a name pointed into is dropped', async () => {
      const a = await answer('x.wild.secure.test.', 'TXT');
      const plain = stripDnssec(a, RRType.TXT);
      const names = (m: Uint8Array) => walkRecords(m).records.filter((r) => r.type !== RRType.RRSIG && r.type !== RRType.NSEC).map((r) => readName(m, r.nameOffset).name.join(','));
      expect(names(plain)).toEqual(names(a));
      expect(plain.length).toBeLessThan(a.length);
    });

    it('sets and clears AD on a copy', async () => {
      const a = await answer('www.secure.test.', 'A');
      const on = setAuthenticData(a, true);
      expect(u16(on, 2) & FLAG_AD).toBe(FLAG_AD);
      expect(u16(a, 2) & FLAG_AD).toBe(0);
      expect(setAuthenticData(on, false)).toEqual(a);
      expect(setAuthenticData(a, false)).toBe(a);
    });
  });

  describe('denials that do not prove what they are used for', () => {
    /** The response with its question's first label (same length) or type replaced. */
    function askedAs(msg: Uint8Array, label: string | null, type?: number): Uint8Array {
      const out = msg.slice();
      if (label) out.set(new TextEncoder().encode(label), 13);
      if (type !== undefined) {
        const end = 12 + readName(out, 12).name.length;
        out[end] = type >> 8;
        out[end + 1] = type & 0xff;
      }
      return out;
    }

    it('refuses an NXDOMAIN proof replayed for a name that exists (NSEC and NSEC3)', async () => {
      const v = await validatorWith();
      for (const zone of ['secure.test.', 'nsec3.test.']) {
        const nx = await answer(`nop.${zone}`, 'A');
        expect((await v.validate(nx)).state).toBe('secure');
        const r = await v.validate(askedAs(nx, 'www'));
        expect(r.state, `${zone}: ${r.text}`).toBe('bogus');
        expect(['bad-denial', 'nsec-missing']).toContain(r.reason);
      }
    });

    it('refuses a NODATA proof whose bitmap lists the type asked for', async () => {
      const v = await validatorWith();
      for (const zone of ['secure.test.', 'nsec3.test.']) {
        const r = await v.validate(askedAs(await answer(`www.${zone}`, 'AAAA'), null, RRType.A));
        expect(r.state).toBe('bogus');
        expect(r.reason).toBe('bad-denial');
        expect(r.text).toMatch(/lists A, so it cannot deny it/);
      }
    });

    it("refuses a delegation's NSEC (NS, no SOA) as a NODATA proof for another type", async () => {
      const v = await validatorWith();
      const noDs = await answer('insecure.test.', 'DS');
      expect((await v.validate(noDs)).state).toBe('secure');
      const r = await v.validate(askedAs(noDs, null, RRType.TXT));
      expect(r.state).toBe('bogus');
      expect(r.text).toMatch(/is a delegation seen from the parent: it cannot deny TXT/);
    });

    it('refuses a wildcard answer without the proof that the name itself does not exist', async () => {
      const v = await validatorWith();
      const wild = await answer('x.wild.secure.test.', 'TXT');
      expect((await v.validate(wild)).state).toBe('secure');
      // keep header, question and answer; drop authority (the NSEC) and additional
      const { records } = walkRecords(wild);
      const firstAuthority = records.find((r) => r.section !== 0)!;
      const cut = wild.slice(0, firstAuthority.nameOffset);
      cut.set([0, 0, 0, 0], 8);
      const r = await v.validate(cut);
      expect(r.state).toBe('bogus');
      expect(r.reason).toBe('nsec-missing');
      expect(r.ede?.code).toBe(EDE.NSEC_MISSING);
    });
  });

  it('validates a CNAME-only answer as the chain it is, and still wants a proof when there is an authority section', async () => {
    const v = await validatorWith();
    const full = await answer('cross.secure.test.', 'A');
    const { records } = walkRecords(full);
    // NSD, authoritative for both zones, followed the CNAME; an answer with only the CNAME is what
    // a server for secure.test. alone would give
    const third = records.findIndex((r) => r.section === 0 && r.type !== RRType.CNAME && r.type !== RRType.RRSIG);
    expect(third).toBeGreaterThan(0);
    const only = full.slice(0, records[third]!.nameOffset);
    only.set([0, third, 0, 0, 0, 0], 6);
    const r = await v.validate(only);
    expect(r.state).toBe('secure');
    expect(r.zone).toBe('secure.test.');
    // the full answer, the target's A included, validates through both zones
    const both = await v.validate(full);
    expect(both.state).toBe('secure');
    expect(both.zone).toBe('nsec3.test.');
  });

  it('calls a malformed response bogus instead of throwing', async () => {
    const v = await validatorWith();
    const a = await answer('www.secure.test.', 'A');
    const r = await v.validate(a.subarray(0, a.length - 5));
    expect(r.state).toBe('bogus');
    expect(r.reason).toBe('malformed');
    expect(r.ede?.code).toBe(EDE.DNSSEC_BOGUS);
  });

  it('counts validations by verdict', async () => {
    const metrics = new MemoryMetrics();
    const v = await validatorWith({ metrics });
    await v.validate(await answer('www.secure.test.', 'A'));
    await v.validate(await answer('www.insecure.test.', 'A'));
    await v.validate(await answer('www.nosig.test.', 'A'));
    expect(metrics.snapshot()['edge_dnssec_validations_total']).toEqual({ 'state=secure': 1, 'state=insecure': 1, 'state=bogus': 1 });
    expect(metrics.snapshot()['edge_dnssec_key_fetches_total']).toMatchObject({ 'outcome=ok,type=DNSKEY': expect.any(Number) });
  });
});
