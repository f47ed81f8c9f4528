/**
 * The October 2023 incident, re-enacted against a running resolver: a local root copy (the
 * lookalike fixtures) loads and answers junk-TLD queries with DNSSEC proofs that delv accepts,
 * the next version swaps in, a broken version is refused while the last good one keeps
 * serving, a record type nobody knows loads, the copy stops being served at its expiry without
 * a restart, a corrupt copy at startup leaves the resolver forwarding, and a rule's tag makes
 * the app stand aside. The upstream is an NSD serving a small fake root whose answers differ
 * from the real zone's, so every answer shows where it came from.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { dig, kdig, run } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { root, startEdge, type TestNode } from '../helpers/edge.js';
import { waitFor } from '../helpers/net.js';
import { compileImage, formatRecords, loadZone, parsePresentationAll, parseTrustAnchor, verifyZone, zoneFromRecords, zoneRecords } from '../../host/core/zone/index.js';
import { nameToText } from '../../host/core/dns/wire.js';
import { makeKey, signZone } from '../zone/support/zone-signer.js';

const fixtures = join(root, 'test/fixtures/zones');
const V1 = join(fixtures, 'root-lookalike-2026082201.zone.gz');
const V2 = join(fixtures, 'root-lookalike-2026082300.zone.gz');

/** The upstream: a fake root with an answer for every name the local copy should not answer. */
const upstreamRoot = `$ORIGIN .
$TTL 300
. IN SOA ns.upstream. hostmaster.upstream. 1 3600 900 604800 60
. IN NS ns.upstream.
ns.upstream. IN A 127.0.0.1
printer.local. IN A 192.0.2.99
wpad.corp. IN A 192.0.2.95
www.example-new. IN A 192.0.2.98
www.zuerich. IN A 192.0.2.97
www.example.com. IN A 192.0.2.96
`;

async function metric(node: TestNode, name: string, match = ''): Promise<number> {
  const text = await node.node.metrics.text();
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(match));
  return line ? Number(line.split(' ').pop()) : NaN;
}

function zoneStatus(node: TestNode): Record<string, unknown> {
  return (node.node.status() as { zone: Record<string, unknown> }).zone;
}

/** delv's trust anchor file from the fixture's DS record. */
function delvAnchor(dir: string): string {
  const ds = readFileSync(join(fixtures, 'trust-anchor.ds'), 'utf8').trim().split(/\s+/);
  const [tag, alg, digestType, ...digest] = ds.slice(ds.indexOf('DS') + 1);
  const file = join(dir, 'anchor.conf');
  writeFileSync(file, `trust-anchors {\n  . static-ds ${tag} ${alg} ${digestType} "${digest.join('')}";\n};\n`);
  return file;
}

describe.skipIf(!needTools('nsd', 'dig', 'kdig', 'delv'))('static_zone in a running resolver', () => {
  let upstream: Nsd;
  let edge: TestNode;
  // The node's clock: real time plus an offset the tests move (cache TTLs are 1 s, so a step of
  // a few seconds also empties the cache).
  let offset = 0;
  const step = (ms = 3000) => (offset += ms);
  const dir = mkdtempSync(join(tmpdir(), 'edge-root-'));
  const source = join(dir, 'root.zone.gz');
  const rulesFile = join(dir, 'site.rules');

  beforeAll(async () => {
    upstream = await startNsd({ '.': upstreamRoot });
    copyFileSync(V1, source);
    writeFileSync(rulesFile, 'phase = pre-cache qname-suffix corp disable-app static_zone\n');
    edge = await startEdge(
      `
[upstreams]
default = ["${upstream.address}"]
[zone]
source = "${source}"
trust_anchor = "${join(fixtures, 'trust-anchor.ds')}"
[rules]
file = "${rulesFile}"
[cache]
max_ttl = 1
max_negative_ttl = 1
[apps.forward.config.routes]
"." = "default"
`,
      { now: () => Date.now() + offset },
    );
  }, 60_000);

  afterAll(async () => {
    await edge?.stop();
    await upstream?.stop();
  });

  it('loads the first version and answers junk TLDs itself, with NSEC proofs (kdig +dnssec)', async () => {
    expect(zoneStatus(edge)).toMatchObject({ serving: true, serial: 2026082201, dnssec: 'verified', zonemd: 'verified', stale: false });
    const r = await kdig(edge.dns, ['+dnssec', 'printer.local', 'A']);
    expect(r.status).toBe('NXDOMAIN');
    expect(r.authority.map((a) => `${a.name} ${a.type}`)).toEqual(['. SOA', '. RRSIG', 'loans. NSEC', 'loans. RRSIG', '. NSEC', '. RRSIG']);
    expect(r.flags).toContain('ad');
    expect(await metric(edge, 'edge_zone_serial')).toBe(2026082201);
    expect(await metric(edge, 'edge_app_events_total', 'event="answered"')).toBeGreaterThan(0);
  });

  it('gives answers delv validates against the lookalike trust anchor', async () => {
    const anchor = delvAnchor(dir);
    const nx = await run('delv', [`@${edge.dns.host}`, '-p', String(edge.dns.port), '-a', anchor, '+root=.', 'printer.local', 'A']);
    expect(nx.stdout + nx.stderr).toMatch(/; negative response, fully validated/);
    expect(nx.stdout + nx.stderr).toMatch(/NXDOMAIN|ncache nxdomain/i);
    const ds = await run('delv', [`@${edge.dns.host}`, '-p', String(edge.dns.port), '-a', anchor, '+root=.', 'com', 'DS']);
    expect(ds.stdout).toMatch(/; fully validated/);
    expect(ds.stdout).toMatch(/^com\.\s+\d+\s+IN\s+DS\s/m);
  });

  it('passes names under existing TLDs to the upstream', async () => {
    expect((await dig(edge.dns, ['www.example.com', 'A'])).answers[0]?.data).toBe('192.0.2.96');
  });

  it('swaps in the next version without a gap: example-new appears, zuerich disappears', async () => {
    expect((await dig(edge.dns, ['www.example-new', 'A'])).status).toBe('NXDOMAIN');
    expect((await dig(edge.dns, ['www.zuerich', 'A'])).answers[0]?.data).toBe('192.0.2.97');
    // Keep asking while the new version is written, checked and swapped in: no SERVFAIL, ever.
    let stop = false;
    const statuses = new Set<string>();
    const asking = (async () => {
      while (!stop) statuses.add((await dig(edge.dns, ['printer.local', 'A'])).status);
    })();
    copyFileSync(V2, source);
    await waitFor(async () => zoneStatus(edge).serial === 2026082300, 20_000);
    stop = true;
    await asking;
    expect([...statuses]).toEqual(['NXDOMAIN']);
    step();
    expect((await dig(edge.dns, ['www.example-new', 'A'])).answers[0]?.data).toBe('192.0.2.98');
    expect((await dig(edge.dns, ['www.zuerich', 'A'])).status).toBe('NXDOMAIN');
  });

  it('refuses a version that fails verification and keeps serving the last good one', async () => {
    // v2's text with a newer serial and one record changed: the signatures no longer match.
    const text = gunzipSync(readFileSync(V2)).toString('utf8');
    const tampered = text.replace(/2026082300/g, '2026082301').replace(/(\bcom\.\s+\d+\s+IN\s+DS\s+\d+\s+\d+\s+\d+\s+)([0-9A-F])/, (_, a, c) => a + (c === 'A' ? 'B' : 'A'));
    writeFileSync(source, gzipSync(tampered));
    await waitFor(async () => (zoneStatus(edge).consecutive_failures as number) >= 1, 20_000);
    const status = zoneStatus(edge);
    expect(status).toMatchObject({ serving: true, serial: 2026082300 });
    expect(JSON.stringify(status.last_result)).toMatch(/refused|bogus|mismatch/);
    expect(await metric(edge, 'edge_zone_last_refresh_success')).toBe(0);
    expect(await metric(edge, 'edge_zone_refresh_failures_consecutive')).toBeGreaterThanOrEqual(1);
    expect((await dig(edge.dns, ['www.zuerich', 'A'])).status).toBe('NXDOMAIN');
    // An older serial is refused too.
    copyFileSync(V1, source);
    await waitFor(async () => JSON.stringify(zoneStatus(edge).last_result).includes('older'), 20_000);
    expect(zoneStatus(edge).serial).toBe(2026082300);
  });

  it('stands aside for a rule: disable-app static_zone, and the tag rec_disable_static', async () => {
    expect((await dig(edge.dns, ['wpad.corp', 'A'])).answers[0]?.data).toBe('192.0.2.95');
    expect((await dig(edge.dns, ['printer.local', 'A'])).status).toBe('NXDOMAIN');
    writeFileSync(rulesFile, 'phase = pre-cache qname-suffix corp disable-app static_zone\nphase = pre-cache qname-suffix local set-tag rec_disable_static\n');
    await waitFor(async () => (await metric(edge, 'edge_app_events_total', 'event="rule_sets_loaded"')) >= 2, 5000);
    step();
    expect((await dig(edge.dns, ['printer.local', 'A'])).answers[0]?.data).toBe('192.0.2.99');
    expect(await metric(edge, 'edge_app_events_total', 'event="passed_tag"')).toBeGreaterThan(0);
  });

  it('stops serving at SOA EXPIRE since the last successful refresh, without a restart, and is loud about it', async () => {
    const z = edge.node.zone!;
    const expires = Date.parse(zoneStatus(edge).expires_at as string);
    offset += expires - 12 * 3600_000 - (Date.now() + offset);
    z.tick();
    expect(zoneStatus(edge)).toMatchObject({ stale: true, serving: true });
    expect(await metric(edge, 'edge_zone_stale')).toBe(1);
    offset += expires + 1000 - (Date.now() + offset);
    z.tick();
    await waitFor(async () => zoneStatus(edge).serving === false, 5000);
    expect(await metric(edge, 'edge_zone_serving')).toBe(0);
    expect(await metric(edge, 'edge_zone_expires_in_seconds')).toBeLessThan(0);
    // The answer now comes from the upstream.
    expect((await dig(edge.dns, ['www.zuerich', 'A'])).answers[0]?.data).toBe('192.0.2.97');
  });

  it('serves again once the source confirms the copy (its signatures are still valid)', async () => {
    copyFileSync(V2, source); // the same serial as in service
    const outcome = await edge.node.zone!.refresh('test');
    expect(outcome).toBe('same-serial');
    await waitFor(async () => zoneStatus(edge).serving === true, 5000);
    step();
    expect((await dig(edge.dns, ['www.zuerich', 'A'])).status).toBe('NXDOMAIN');
  });

  it('stops at the earliest signature expiration too, even if the source keeps confirming', async () => {
    offset += Date.UTC(2036, 0, 2) - (Date.now() + offset);
    // Whichever sees the clock first (the app on the query, or the lifecycle's timer) stops it;
    // the app's own check is unit-tested in apps/static_zone.
    expect((await dig(edge.dns, ['www.zuerich', 'A'])).answers[0]?.data).toBe('192.0.2.97');
    edge.node.zone!.tick();
    expect(zoneStatus(edge)).toMatchObject({ serving: false, expired: true });
  });
});

describe.skipIf(!needTools('nsd', 'dig'))('static_zone at startup and with new record types', () => {
  let upstream: Nsd;
  const dir = mkdtempSync(join(tmpdir(), 'edge-root2-'));

  beforeAll(async () => {
    upstream = await startNsd({ '.': upstreamRoot });
  });
  afterAll(async () => upstream?.stop());

  it('starts with only a corrupt copy: forwards everything, then serves once a good copy arrives', async () => {
    const source = join(dir, 'corrupt.zone');
    writeFileSync(source, '. 86400 IN SOA a. b. 1 2 3 4 5\n\u0000\u0001\u0002 garbage ( unbalanced\n');
    const edge = await startEdge(`
[upstreams]
default = ["${upstream.address}"]
[zone]
source = "${source}"
trust_anchor = "${join(fixtures, 'trust-anchor.ds')}"
[cache]
max_ttl = 0
max_negative_ttl = 0
[apps.forward.config.routes]
"." = "default"
`);
    try {
      expect(zoneStatus(edge)).toMatchObject({ serving: false, consecutive_failures: 1 });
      expect((await dig(edge.dns, ['printer.local', 'A'])).answers[0]?.data).toBe('192.0.2.99');
      copyFileSync(V1, source);
      await waitFor(async () => zoneStatus(edge).serving === true, 30_000);
      expect((await dig(edge.dns, ['printer.local', 'A'])).status).toBe('NXDOMAIN');
    } finally {
      await edge.stop();
    }
  });

  it('does not take an untouched file as proof that the copy is current', async () => {
    const source = join(dir, 'untouched.zone.gz');
    copyFileSync(V1, source);
    let offset = 0;
    const edge = await startEdge(
      `
[upstreams]
default = ["${upstream.address}"]
[zone]
source = "${source}"
trust_anchor = "${join(fixtures, 'trust-anchor.ds')}"
[apps.forward.config.routes]
"." = "default"
`,
      { now: () => Date.now() + offset },
    );
    try {
      const expires = zoneStatus(edge).expires_at;
      offset = 86_400_000;
      expect(await edge.node.zone!.refresh('test')).toBe('unchanged');
      // The job that updates the file may have died: the age keeps growing, the expiry stays.
      expect(zoneStatus(edge).age_s as number).toBeGreaterThanOrEqual(86_000);
      expect(zoneStatus(edge).expires_at).toBe(expires);
    } finally {
      await edge.stop();
    }
  });

  it('checks a zone image again instead of trusting the results it carries', async () => {
    // A forged image: com.'s DS records dropped, the report claiming everything verified.
    const trustAnchor = await parseTrustAnchor(readFileSync(join(fixtures, 'trust-anchor.ds')));
    const real = await loadZone(readFileSync(V1));
    const good = await verifyZone(real, { trustAnchor });
    const forgedZone = zoneFromRecords([...zoneRecords(real)].filter((r) => !(r.type === 43 && nameToText(r.owner) === 'com.')));
    const forged = join(dir, 'forged.image');
    writeFileSync(forged, await compileImage(forgedZone, good));
    const config = (verify: boolean) => `
[upstreams]
default = ["${upstream.address}"]
[zone]
source = "${forged}"
trust_anchor = "${join(fixtures, 'trust-anchor.ds')}"
verify_images = ${verify}
[apps.forward.config.routes]
"." = "default"
`;
    const checking = await startEdge(config(true));
    try {
      expect(zoneStatus(checking)).toMatchObject({ serving: false, consecutive_failures: 1 });
      expect(JSON.stringify(zoneStatus(checking).last_result)).toMatch(/DNSSEC bogus/);
    } finally {
      await checking.stop();
    }
    // Trusting images (for sources authenticated end to end) takes the forged results at face value.
    const trusting = await startEdge(config(false));
    try {
      expect(zoneStatus(trusting)).toMatchObject({ serving: true, dnssec: 'verified' });
    } finally {
      await trusting.stop();
    }
  });

  it('loads a zone with a record type the parser has never seen (RFC 3597 generic form) and serves it', async () => {
    const ksk = await makeKey(13, 257);
    const zsk = await makeKey(13, 256);
    const records = await parsePresentationAll(`$ORIGIN .
$TTL 3600
. IN SOA ns.root. hostmaster.root. 2026112301 1800 900 604800 86400
. IN NS ns.root.
ns.root. IN A 127.0.0.1
. IN TYPE65280 \\# 4 0a0b0c0d
`);
    const t = Math.floor(Date.now() / 1000);
    const signed = await signZone(records, { origin: '.', ksk, zsk, inception: t - 3600, expiration: t + 30 * 86400 });
    const source = join(dir, 'newtype.zone');
    writeFileSync(source, formatRecords(signed));
    const anchor = join(dir, 'newtype.key');
    writeFileSync(anchor, `. 3600 IN DNSKEY 257 3 13 ${Buffer.from(ksk.rdata.subarray(4)).toString('base64')}\n`);
    const edge = await startEdge(`
[upstreams]
default = ["${upstream.address}"]
[zone]
source = "${source}"
trust_anchor = "${anchor}"
[apps.forward.config.routes]
"." = "default"
`);
    try {
      expect(zoneStatus(edge)).toMatchObject({ serving: true, serial: 2026112301, dnssec: 'verified' });
      const r = await dig(edge.dns, ['.', 'TYPE65280']);
      expect(r.status).toBe('NOERROR');
      expect(r.answers[0]).toMatchObject({ type: 'TYPE65280', data: '\\# 4 0A0B0C0D' });
      expect((await dig(edge.dns, ['printer.local', 'A'])).status).toBe('NXDOMAIN');
    } finally {
      await edge.stop();
    }
  });
});
