/**
 * static_zone under the app harness, on the root-zone lookalike (real 2026082201 data re-signed
 * with test keys): what it answers, what it passes on, what proofs it attaches, and that a bad
 * image changes nothing. The node-level lifecycle is tested in test/node/static-zone.test.ts.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { harnessFor } from '../../test/helpers/apps.js';
import { root } from '../../test/helpers/edge.js';
import type { AppHarness } from '../../host/apps/harness.js';
import { checkZone, compileImage, findName, parseTrustAnchor, readImage } from '../../host/core/zone/index.js';
import { textToName } from '../../host/core/dns/wire.js';

const fixture = (f: string) => new Uint8Array(readFileSync(join(root, 'test/fixtures/zones', f)));

async function image(file: string): Promise<Uint8Array> {
  const trustAnchor = await parseTrustAnchor(fixture('trust-anchor.ds'));
  const { zone, report } = await checkZone(fixture(file), { trustAnchor });
  expect(report.usable).toBe(true);
  return compileImage(zone, report);
}

let v1: Uint8Array;
let v2: Uint8Array;
let h: AppHarness;

beforeAll(async () => {
  v1 = await image('root-lookalike-2026082201.zone.gz');
  v2 = await image('root-lookalike-2026082300.zone.gz');
  h = harnessFor('static_zone');
  expect(h.load(v1)).toEqual({ ok: true });
}, 60_000);

const types = (rrs: Array<{ type: number }>) => rrs.map((r) => r.type);

describe('answers from the local root', () => {
  it('NXDOMAIN for names under top-level domains that do not exist, with the SOA', () => {
    for (const name of ['printer.local', 'wpad.corp', 'x.y.home', 'localhost']) {
      const r = h.query(name, { qtype: 'A' });
      expect(r.verdict, name).toBe('respond');
      expect(r.response!.rcode).toBe(3);
      expect(r.response!.authority.map((a) => [a.name, a.type])).toEqual([['.', 6]]);
    }
  });

  it('with DO: the SOA and NSEC records that prove it, each with its RRSIG (RFC 4035 §3.1.3.2)', () => {
    const r = h.query('printer.local', { qtype: 'A', do: true }).response!;
    expect(r.rcode).toBe(3);
    expect(r.authority.map((a) => `${a.name}/${a.type}`)).toEqual(['./6', './46', 'loans./47', 'loans./46', './47', './46']);
  });

  it('apex data: SOA, NS, DNSKEY, ZONEMD, NSEC; with DO their signatures', () => {
    expect(types(h.query('.', { qtype: 'SOA' }).response!.answer)).toEqual([6]);
    expect(h.query('.', { qtype: 'NS' }).response!.answer.length).toBe(13);
    expect(types(h.query('.', { qtype: 'DNSKEY', do: true }).response!.answer)).toEqual([48, 48, 46]);
    expect(types(h.query('.', { qtype: 'ZONEMD' }).response!.answer)).toEqual([63]);
    expect(types(h.query('.', { qtype: 'NSEC', do: true }).response!.answer)).toEqual([47, 46]);
  });

  it('NODATA at the apex for a type it does not have, with the apex NSEC when DO', () => {
    const r = h.query('.', { qtype: 'MX', do: true }).response!;
    expect([r.rcode, r.answer.length]).toEqual([0, 0]);
    expect(r.authority.map((a) => `${a.name}/${a.type}`)).toEqual(['./6', './46', './47', './46']);
  });

  it('DS at delegations; NODATA with the NSEC for a delegation without DS', () => {
    const ds = h.query('com', { qtype: 'DS', do: true }).response!;
    expect(types(ds.answer)).toEqual([43, 46]);
    // zw. is delegated without DS in this zone: NODATA, and zw.'s NSEC shows NS but no DS.
    const r = h.query('zw', { qtype: 'DS', do: true }).response!;
    expect([r.rcode, r.answer.length]).toEqual([0, 0]);
    expect(r.authority.map((a) => `${a.name}/${a.type}`)).toEqual(['./6', './46', 'zw./47', 'zw./46']);
  });

  it('passes names under existing TLDs, referrals, and glue to the next app', () => {
    expect(h.query('www.example.com', { qtype: 'A' }).verdict).toBe('continue');
    expect(h.query('com', { qtype: 'NS' }).verdict).toBe('continue');
    expect(h.query('a.gtld-servers.net', { qtype: 'A' }).verdict).toBe('continue');
    expect(h.query('.', { qtype: 'ANY' }).verdict).toBe('continue');
  });

  it('agrees with the reference lookup on which names exist, for every TLD and 500 random names', async () => {
    const ref = await readImage(v1);
    const tlds = new Set<string>();
    const text = new TextDecoder().decode(await new Response(new Blob([fixture('root-lookalike-2026082201.zone.gz')]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
    for (const line of text.split('\n')) {
      const m = /^([a-z0-9-]+)\.\s+\d+\s+IN\s+NS\s/i.exec(line);
      if (m) tlds.add(m[1]!.toLowerCase());
    }
    expect(tlds.size).toBeGreaterThan(1000);
    for (const tld of tlds) expect(h.query(`host.${tld}`, { qtype: 'A' }).verdict, tld).toBe('continue');
    let x = 7;
    for (let i = 0; i < 500; i++) {
      let label = '';
      for (let k = 0; k < 2 + (i % 9); k++) label += String.fromCharCode(97 + ((x = (x * 1103515245 + 12345) >>> 0) % 26));
      const exists = findName(ref, textToName(`${label}.`)).exact;
      expect(h.query(`q.${label}`, { qtype: 'A' }).verdict, label).toBe(exists ? 'continue' : 'respond');
    }
  });
});

describe('when it stands aside', () => {
  it('passes a request carrying rec_disable_static and counts it', () => {
    expect(h.query('printer.local', { qtype: 'A', tags: ['rec_disable_static'] }).verdict).toBe('continue');
    expect(h.metrics.value('edge_app_events_total', { app: 'static_zone', event: 'passed_tag' })).toBeGreaterThan(0);
  });

  it('passes once the copy’s signatures have expired', () => {
    const x = harnessFor('static_zone');
    expect(x.load(v1).ok).toBe(true);
    x.setClock(Date.UTC(2035, 0, 1));
    expect(x.query('printer.local').verdict).toBe('respond');
    x.setClock(Date.UTC(2036, 0, 2));
    expect(x.query('printer.local').verdict).toBe('continue');
    expect(x.metrics.value('edge_app_events_total', { app: 'static_zone', event: 'passed_expired' })).toBe(1);
  });

  it('passes everything with no copy loaded', () => {
    expect(harnessFor('static_zone').query('printer.local').verdict).toBe('continue');
  });

  it('uses a configured tag', () => {
    const x = harnessFor('static_zone', { config: { disable_tag: 'no_local_root' } });
    x.load(v1);
    expect(x.query('printer.local', { tags: ['no_local_root'] }).verdict).toBe('continue');
    expect(x.query('printer.local', { tags: ['rec_disable_static'] }).verdict).toBe('respond');
  });
});

describe('what it leaves to others, and how long its answers live', () => {
  it('passes RRSIG queries (signatures go with their RRsets) and ANY', () => {
    expect(h.query('.', { qtype: 'RRSIG', do: true }).verdict).toBe('continue');
    expect(h.query('com', { qtype: 'RRSIG' }).verdict).toBe('continue');
  });

  it('never hands out a TTL that outlives the copy\'s earliest signature', () => {
    const x = harnessFor('static_zone');
    x.load(v1);
    // The lookalike's signatures expire 2036-01-01; an hour before, nothing lives longer than that.
    x.setClock(Date.UTC(2035, 11, 31, 23, 0, 0));
    const ds = x.query('com', { qtype: 'DS', do: true }).response!;
    expect(ds.answer.every((r) => r.TTL <= 3600)).toBe(true);
    const nx = x.query('printer.local', { do: true }).response!;
    expect(nx.authority.every((r) => r.TTL <= 3600)).toBe(true);
  });

  it('builds no NSEC3 proofs: with DO, negative answers of an NSEC3 zone come from upstream', async () => {
    const zoneFile = fixture('ldns/example-nsec3.signed');
    const trustAnchor = await parseTrustAnchor(fixture('ldns/example-nsec3.ds'));
    const { zone, report } = await checkZone(zoneFile, { trustAnchor });
    expect(report.dnssec.status).toBe('verified');
    const x = harnessFor('static_zone');
    expect(x.load(await compileImage(zone, report)).ok).toBe(true);
    expect(x.query('nosuch.example', { do: true }).verdict).toBe('continue');
    expect(x.query('example', { qtype: 'NAPTR', do: true }).verdict).toBe('continue');
    // Without DO no proof is needed; positive answers carry their signatures as usual.
    expect(x.query('nosuch.example').response?.rcode).toBe(3);
    expect(x.query('example', { qtype: 'SOA', do: true }).response?.answer.map((r) => r.type)).toEqual([6, 46]);
    // DS at the apex of a zone other than the root belongs to its parent.
    expect(x.query('example', { qtype: 'DS' }).verdict).toBe('continue');
  });
});

describe('memory under all-new names', () => {
  // A flood of random junk names, each asked once: every call makes garbage. Collected only when
  // it made the memory grow, the app's 2 MiB doubled up to half its 128 MiB cap and then to
  // 108 MiB, with collections of 9-17 ms (the sweep walks the garbage too).
  it('keeps its memory within a few times what the copy takes', () => {
    const fresh = harnessFor('static_zone');
    expect(fresh.load(v1)).toEqual({ ok: true });
    const loaded = fresh.app.memoryBytes();
    let x = 1;
    const letter = () => String.fromCharCode(97 + ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16) % 26);
    const flood = () => {
      for (let i = 0; i < 60_000; i++) {
        const name = `${Array.from({ length: 10 }, letter).join('')}.${Array.from({ length: 6 }, letter).join('')}`;
        expect(fresh.query(name, { do: i % 2 === 0 }).verdict).toBe('respond');
      }
    };
    flood();
    expect(fresh.app.memoryBytes()).toBeLessThanOrEqual(Math.max(16 * 2 ** 20, 8 * loaded));
    // A new version loaded into memory the garbage had grown must not raise the limit: taking
    // the grown size as the data's did (13.5, then 54, then 108 MiB over two swaps).
    for (const version of [v2, v1]) {
      expect(fresh.load(version)).toEqual({ ok: true });
      flood();
    }
    expect(fresh.app.memoryBytes()).toBeLessThanOrEqual(Math.max(16 * 2 ** 20, 8 * loaded));
  }, 120_000);
});

describe('versions', () => {
  it('swaps to the next version atomically: example-new appears, zuerich is gone', () => {
    const x = harnessFor('static_zone');
    x.load(v1);
    expect(x.query('www.example-new').response?.rcode).toBe(3);
    expect(x.query('www.zuerich').verdict).toBe('continue');
    expect(x.load(v2).ok).toBe(true);
    expect(x.query('www.example-new').verdict).toBe('continue');
    expect(x.query('www.zuerich').response?.rcode).toBe(3);
  });

  it('refuses damaged images and keeps serving the previous one', () => {
    const x = harnessFor('static_zone');
    x.load(v1);
    const damaged: Array<[string, Uint8Array]> = [
      ['truncated', v1.slice(0, v1.length - 100)],
      ['bad magic', Uint8Array.from(v1, (b, i) => (i === 0 ? 0 : b))],
      ['offset out of range', (() => { const c = v1.slice(); new DataView(c.buffer).setUint32(136 + 8 * 5, c.length, true); return c; })()],
      ['garbage', new Uint8Array(5000).fill(0x5a)],
      ['empty', new Uint8Array(0)],
    ];
    for (const [what, bytes] of damaged) {
      const r = x.load(bytes);
      expect(r.ok, what).toBe(false);
    }
    expect(x.query('printer.local').response?.rcode).toBe(3);
  });

  it('answers iterative queries with referrals when switched on (for an iterative mode)', () => {
    const x = harnessFor('static_zone', { config: { referrals: true } });
    x.load(v1);
    const r = x.query('www.example.com', { qtype: 'A', rd: false }).response!;
    expect(r.answer).toEqual([]);
    expect(r.flags.aa).toBe(false);
    expect(r.authority.every((a) => a.type === 2 && a.name === 'com.')).toBe(true);
    expect(r.authority.length).toBe(13);
    // A client that wants recursion is passed on, not handed a referral.
    expect(x.query('www.example.com', { qtype: 'A' }).verdict).toBe('continue');
  });

  it('is in referral mode when the host iterates (resolver.mode = "recursive")', () => {
    const x = harnessFor('static_zone', { host: { mode: 'recursive' } });
    x.load(v1);
    const r = x.query('example.com', { qtype: 'A', rd: false, do: true }).response!;
    expect(r.authority.some((a) => a.type === 2 && a.name === 'com.')).toBe(true);
    expect(r.authority.some((a) => a.type === 43 && a.name === 'com.')).toBe(true); // the DS goes with it
    expect(x.query('example.com', { qtype: 'A' }).verdict).toBe('continue');
    expect(x.query('printer.local', { qtype: 'A', rd: false }).response?.rcode).toBe(3);
    expect(x.query('example.com', { qtype: 'A', rd: false, tags: ['rec_disable_static'] }).verdict).toBe('continue');
    // The same app under a forwarding host passes delegations.
    const f = harnessFor('static_zone', { host: { mode: 'forward' } });
    f.load(v1);
    expect(f.query('example.com', { qtype: 'A', rd: false }).verdict).toBe('continue');
  });
});
