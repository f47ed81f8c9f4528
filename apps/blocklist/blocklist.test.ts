/**
 * blocklist: exact and suffix matching on label boundaries, case, the two answer modes, list
 * loading (comments, errors with their line, atomic swap), and the same through a running
 * resolver with `[apps.blocklist] data = "PATH"` and a real upstream.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harnessFor } from '../../test/helpers/apps.js';
import { startNsd, type Nsd } from '../../test/helpers/nsd.js';
import { dig } from '../../test/helpers/dig.js';
import { needTools } from '../../test/helpers/tools.js';
import { startEdge, type TestNode } from '../../test/helpers/edge.js';
import { ConfigError } from '../../host/core/config.js';

const LIST = `# ads and trackers
ads.example.com
Tracker.Example.NET.   # trailing dot and upper case are fine

  spaced.example.org
`;

function app(config: Record<string, unknown> = {}, list = LIST) {
  const h = harnessFor('blocklist', { config });
  const r = h.loadText(list);
  if (!r.ok) throw new Error(r.error);
  return h;
}

describe('blocklist under the harness', () => {
  it('blocks a listed name and every name below it with NXDOMAIN, the question copied', () => {
    const h = app();
    for (const [name, listed] of [
      ['ads.example.com', 'ads.example.com.'],
      ['x.ads.example.com', 'ads.example.com.'],
      ['a.b.c.ads.example.com', 'ads.example.com.'],
      ['spaced.example.org', 'spaced.example.org.'],
    ]) {
      const r = h.query(name!);
      expect(r.verdict, name).toBe('respond');
      expect(r.response?.rcode, name).toBe(3);
      expect(r.response?.answer, name).toEqual([]);
      // The SOA a downstream cache needs to keep the NXDOMAIN, owned by the listed name.
      expect(r.response?.authority, name).toEqual([{ name: listed, type: 6, TTL: 60, data: expect.any(String) }]);
    }
    const q = h.query('x.ads.example.com', { qtype: 'AAAA' });
    const msg = q.message!;
    // One question, the client's: name and type as asked.
    expect((msg[4]! << 8) | msg[5]!).toBe(1);
    expect(new TextDecoder().decode(msg.subarray(13, 14))).toBe('x');
    expect(h.metrics.value('edge_app_events_total', { app: 'blocklist', event: 'blocked' })).toBe(5);
  });

  it('matches on whole labels only: a name that merely ends with the same text passes', () => {
    const h = app();
    for (const name of ['xads.example.com', 'example.com', 'ads.example.com.evil.test', 'com', 'ads-example.com', 'racker.example.net']) {
      expect(h.query(name).verdict, name).toBe('continue');
    }
  });

  it('puts a synthetic SOA in negative answers: negative_ttl as its TTL and MINIMUM, none with 0 (RFC 2308)', () => {
    const soa = (h: ReturnType<typeof app>, name: string, qtype = 'A') => {
      const r = h.query(name, { qtype });
      const rec = r.response!.authority[0];
      if (!rec) return null;
      // Presentation form: MNAME (the listed name), RNAME nobody.invalid., then five numbers.
      const [, rname, ...fields] = rec.data.split(' ');
      return { rcode: r.response!.rcode, owner: rec.name, ttl: rec.TTL, rname, fields: fields.map(Number) };
    };
    expect(soa(app(), 'www.tracker.example.net')).toEqual({
      rcode: 3,
      owner: 'tracker.example.net.',
      ttl: 60,
      rname: 'nobody.invalid.',
      fields: [1, 3600, 1200, 604800, 60],
    });
    expect(soa(app({ negative_ttl: 300 }), 'ads.example.com')).toMatchObject({ rcode: 3, ttl: 300, fields: [1, 3600, 1200, 604800, 300] });
    // 0: no SOA, the NXDOMAIN as before (downstream caches do not keep it).
    const off = app({ negative_ttl: 0 }).query('ads.example.com');
    expect(off.response).toMatchObject({ rcode: 3, answer: [], authority: [] });
    // Address mode: NODATA carries the SOA too; an address answer does not.
    const addr = app({ mode: 'address', address_v4: '0.0.0.0', negative_ttl: 120 });
    expect(soa(addr, 'x.ads.example.com', 'MX')).toMatchObject({ rcode: 0, owner: 'ads.example.com.', ttl: 120 });
    expect(soa(addr, 'x.ads.example.com', 'AAAA')).toMatchObject({ rcode: 0, ttl: 120 });
    expect(addr.query('x.ads.example.com').response).toMatchObject({ rcode: 0, authority: [] });
    expect(() => harnessFor('blocklist', { config: { negative_ttl: 86401 } })).toThrow(/negative_ttl/);
    // An IN SOA says nothing to a CH query: NXDOMAIN alone.
    expect(app().query('ads.example.com', { qclass: 3 }).response).toMatchObject({ rcode: 3, authority: [] });
  });

  it('ignores case in the list and in the query', () => {
    const h = app();
    expect(h.query('ADS.Example.COM').response?.rcode).toBe(3);
    expect(h.query('www.tracker.example.net').response?.rcode).toBe(3);
    expect(h.query('WWW.TRACKER.EXAMPLE.NET').response?.rcode).toBe(3);
  });

  it('lets everything through with no list loaded', () => {
    const h = harnessFor('blocklist');
    expect(h.query('ads.example.com').verdict).toBe('continue');
  });

  it('answers with the configured addresses in address mode, and NODATA for other types', () => {
    const h = app({ mode: 'address', address_v4: '0.0.0.0', address_v6: '::', ttl: 30 });
    const a = h.query('x.ads.example.com');
    expect(a.response?.rcode).toBe(0);
    expect(a.response?.answer).toEqual([{ name: 'x.ads.example.com.', type: 1, TTL: 30, data: '0.0.0.0' }]);
    const aaaa = h.query('ads.example.com', { qtype: 'AAAA' });
    expect(aaaa.response?.answer.map((r) => [r.type, r.TTL])).toEqual([[28, 30]]);
    expect(aaaa.message!.subarray(-16)).toEqual(new Uint8Array(16));
    const mx = h.query('ads.example.com', { qtype: 'MX' });
    expect(mx.response).toMatchObject({ rcode: 0, answer: [] });
    expect(mx.response?.authority.map((r) => r.type)).toEqual([6]);
    // Only an A address: AAAA questions get NODATA.
    const v4only = app({ mode: 'address', address_v4: '192.0.2.7' });
    expect(v4only.query('ads.example.com').response?.answer[0]).toMatchObject({ data: '192.0.2.7', TTL: 60 });
    expect(v4only.query('ads.example.com', { qtype: 'AAAA' }).response).toMatchObject({ rcode: 0, answer: [] });
    const v6 = app({ mode: 'address', address_v6: '2001:db8::53' });
    const r6 = v6.query('ads.example.com', { qtype: 'AAAA' }).message!;
    expect([...r6.subarray(-16)]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53]);
  });

  it('refuses bad config with a reason', () => {
    expect(() => harnessFor('blocklist', { config: { mode: 'address' } })).toThrow(/needs address_v4, address_v6 or both/);
    expect(() => harnessFor('blocklist', { config: { mode: 'address', address_v4: '300.1.1.1' } })).toThrow(/address_v4: "300.1.1.1" is not an IPv4 address/);
    expect(() => harnessFor('blocklist', { config: { mode: 'address', address_v6: '2001:db8:::1' } })).toThrow(/address_v6: "2001:db8:::1" is not an IPv6 address/);
    expect(() => harnessFor('blocklist', { config: { mode: 'sinkhole' } })).toThrow(/mode/);
    expect(() => harnessFor('blocklist', { config: { list: 'x' } })).toThrow(/unknown key "list"|Unrecognized key/);
  });

  it('refuses a bad list naming the line, and keeps the running list (atomic swap)', () => {
    const h = app();
    const cases: Array<[string, RegExp]> = [
      ['good.example\nbad name.example\n', /^line 2: "bad name\.example": one name per line/],
      ['# c\n\nok.example\n0.0.0.0 ads.example\n', /^line 4: .*hosts-file lines are not supported/],
      ['a..b.example\n', /^line 1: "a\.\.b\.example" has an empty label/],
      ['*.ads.example\n', /^line 1: .*no wildcards needed/],
      ['ok.example\n.\n', /^line 2: .*the root/],
      [`${'a'.repeat(64)}.example\n`, /^line 1: .*label longer than 63/],
      [`${'abcdefghi.'.repeat(26)}example\n`, /^line 1: .*longer than 255 bytes/],
      ['ok.example\nbücher.example\n', /^line 2: "bücher\.example" is not a domain name/],
    ];
    for (const [list, err] of cases) {
      const r = h.loadText(list);
      expect(r.ok, list).toBe(false);
      expect(r.ok ? '' : r.error, list).toMatch(err);
    }
    // Every refused load left the first list in place.
    expect(h.query('ads.example.com').response?.rcode).toBe(3);
    expect(h.query('good.example').verdict).toBe('continue');
    expect(h.query('ok.example').verdict).toBe('continue');
    // A good load replaces the list as a whole.
    expect(h.loadText('new.example\n').ok).toBe(true);
    expect(h.query('ads.example.com').verdict).toBe('continue');
    expect(h.query('www.new.example').response?.rcode).toBe(3);
    // An empty list (comments only) is a valid list that blocks nothing.
    expect(h.loadText('# nothing today\n').ok).toBe(true);
    expect(h.query('www.new.example').verdict).toBe('continue');
  });

  it('takes a list of 100,000 names and still matches exactly', () => {
    const names: string[] = [];
    for (let i = 0; i < 100_000; i++) names.push(`host${i}.zone${i % 97}.example`);
    const h = harnessFor('blocklist');
    const r = h.loadText(names.join('\n') + '\n');
    expect(r).toEqual({ ok: true });
    expect(h.query(names[99_999]!).verdict).toBe('respond');
    expect(h.query(`deep.below.${names[0]}`).verdict).toBe('respond');
    expect(h.query('host99999.zone90.example').verdict).toBe('continue');
    expect(h.query('host100000.zone0.example').verdict).toBe('continue');
    expect(h.query('zone0.example').verdict).toBe('continue');
  });
});

describe.skipIf(!needTools('nsd', 'dig'))('blocklist in a running resolver', () => {
  let nsd: Nsd;
  let edge: TestNode;
  const dir = mkdtempSync(join(tmpdir(), 'edge-blocklist-'));
  const list = join(dir, 'block.txt');
  const config = (extra = '') => `[upstreams]
default = ["${nsd.address}"]
[apps]
chain = ["blocklist", "forward"]
[apps.blocklist]
data = "${list}"
${extra}`;

  beforeAll(async () => {
    nsd = await startNsd({
      'example.test.': `$ORIGIN example.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 604800 60
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
ads IN A 192.0.2.66
x.ads IN A 192.0.2.67
xads IN A 192.0.2.68
later IN A 192.0.2.69
fine IN A 192.0.2.70
`,
    });
    writeFileSync(list, '# test list\nads.example.test\n');
    edge = await startEdge(config());
  });

  afterAll(async () => {
    await edge?.stop();
    await nsd?.stop();
  });

  it('answers NXDOMAIN for listed names and below, and forwards the rest', async () => {
    const blocked = await dig(edge.dns, ['ads.example.test', 'A']);
    expect(blocked.status).toBe('NXDOMAIN');
    expect(blocked.raw).toMatch(/QUESTION SECTION:\n;ads\.example\.test\.\s+IN\s+A/);
    // With the SOA a downstream resolver may keep the NXDOMAIN for 60 s (RFC 2308).
    expect(blocked.raw).toMatch(/AUTHORITY SECTION:\nads\.example\.test\.\s+60\s+IN\s+SOA\s+ads\.example\.test\. nobody\.invalid\. 1 3600 1200 604800 60/);
    expect((await dig(edge.dns, ['X.ADS.example.test', 'A'])).status).toBe('NXDOMAIN');
    expect((await dig(edge.dns, ['xads.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.68');
    expect((await dig(edge.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
    expect(await edge.node.metrics.text()).toMatch(/edge_app_events_total\{app="blocklist",event="blocked"\} 2/);
  });

  it('re-reads the list on reload, and keeps the running list when the new one is bad', async () => {
    writeFileSync(list, 'later.example.test\n');
    expect(await edge.node.reload(config())).toEqual({ ok: true, errors: [] });
    expect((await dig(edge.dns, ['later.example.test', 'A'])).status).toBe('NXDOMAIN');
    expect((await dig(edge.dns, ['ads.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.66');

    writeFileSync(list, 'fine.example.test\nnot a name\n');
    const bad = await edge.node.reload(config());
    expect(bad.ok).toBe(false);
    expect(bad.errors.join('\n')).toMatch(/apps\.blocklist\.data: .*block\.txt: line 2: "not a name": one name per line/);
    expect((await dig(edge.dns, ['later.example.test', 'A'])).status).toBe('NXDOMAIN');
    expect((await dig(edge.dns, ['fine.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.70');
  });

  it('answers with an address in address mode', async () => {
    writeFileSync(list, 'ads.example.test\n');
    expect((await edge.node.reload(config('[apps.blocklist.config]\nmode = "address"\naddress_v4 = "0.0.0.0"\nttl = 10\n'))).ok).toBe(true);
    const r = await dig(edge.dns, ['deep.ads.example.test', 'A']);
    expect(r.status).toBe('NOERROR');
    expect(r.answers).toEqual([{ name: 'deep.ads.example.test.', ttl: 10, type: 'A', data: '0.0.0.0' }]);
  });

  it('refuses to start with a missing or bad list', async () => {
    const missing = await startEdge(`[upstreams]\ndefault = ["${nsd.address}"]\n[apps]\nchain = ["blocklist"]\n[apps.blocklist]\ndata = "${join(dir, 'nope.txt')}"\n`).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect(String(missing)).toMatch(/apps\.blocklist\.data: cannot read .*nope\.txt/);
    const badPath = join(dir, 'bad.txt');
    writeFileSync(badPath, 'ok.example\n\n\nbad..example\n');
    const bad = await startEdge(`[upstreams]\ndefault = ["${nsd.address}"]\n[apps]\nchain = ["blocklist"]\n[apps.blocklist]\ndata = "${badPath}"\n`).catch((e: unknown) => e);
    expect(String(bad)).toMatch(/bad\.txt: line 4: "bad\.\.example" has an empty label/);
  });
});
