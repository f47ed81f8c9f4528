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
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { dig, kdig, run } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { root, startCli, startEdge, type TestNode } from '../helpers/edge.js';
import { freePort, sleep, udpExchange, waitFor } from '../helpers/net.js';
import { compileImage, formatRecords, loadZone, parsePresentationAll, parseTrustAnchor, verifyZone, zoneFromRecords, zoneRecords } from '../../host/core/zone/index.js';
import { buildQuery, nameToText, textToName } from '../../host/core/dns/wire.js';
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

/** One series of an app's (NaN when there is none): `name{app="static_zone",...match...}`. */
async function metric(node: TestNode, name: string, match = '', app = 'static_zone'): Promise<number> {
  const text = await node.node.metrics.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`app="${app}"`) && l.includes(match));
  return line ? Number(line.split(' ').pop()) : NaN;
}

function zoneStatus(node: TestNode): Record<string, unknown> {
  return (node.node.status() as { zone: Record<string, unknown> }).zone;
}

/** The zone loads in the background after the node starts: wait for the first attempt to end. */
async function firstRefresh(node: TestNode): Promise<Record<string, unknown>> {
  await waitFor(async () => zoneStatus(node).last_result !== null, 20_000);
  return zoneStatus(node);
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
    await firstRefresh(edge);
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

  // Its collector walks a heap that holds the whole root copy. On the default gc() budget it ran
  // out of fuel after some thousands of queries; five such traps opened the breaker and the local
  // root went dark for 30 s (a dnsperf run of junk names showed it; edge_zone_serving said 0).
  it('answers 20,000 junk-TLD queries over UDP (50 in flight, DO on half) without a trap', async () => {
    const before = await metric(edge, 'edge_app_traps_total', 'reason="fuel"');
    let next = 0;
    let nx = 0;
    const worker = async () => {
      while (next < 20_000) {
        const i = next++;
        const q = buildQuery({ name: textToName(`n${i}.junk${i % 97}x.`), type: 1, class: 1 }, { id: i & 0xffff, udpSize: 1232, do: i % 2 === 0 });
        const r = await udpExchange(edge.dns.port, q, 3000, edge.dns.host);
        if ((r[3]! & 0x0f) === 3) nx++;
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    const after = await metric(edge, 'edge_app_traps_total', 'reason="fuel"');
    expect(Number.isNaN(after) ? 0 : after - (Number.isNaN(before) ? 0 : before)).toBe(0);
    expect(nx).toBe(20_000);
  }, 120_000);

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
    // Refused by the checks, not for any other reason (a parse error, a serial, a load): the
    // changed DS breaks the zone digest and its signature, the new serial the SOA's.
    const error = (status.last_result as { error: string }).error;
    expect(error).toMatch(/^serial 2026082301 refused: ZONEMD mismatch \(policy verify-if-present\): the zone digest does not match/);
    expect(error).toMatch(/; DNSSEC bogus \(policy require\): 3 verification failures; first: \. SOA: signature by key 10425 does not verify/);
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
    await waitFor(async () => (await metric(edge, 'edge_app_events_total', 'event="rule_sets_loaded"', 'override')) >= 2, 5000);
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
      expect(await firstRefresh(edge)).toMatchObject({ serving: false, state: 'no-copy', consecutive_failures: 1 });
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
      const expires = (await firstRefresh(edge)).expires_at;
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
      expect(await firstRefresh(checking)).toMatchObject({ serving: false, consecutive_failures: 1 });
      expect(JSON.stringify(zoneStatus(checking).last_result)).toMatch(/DNSSEC bogus/);
    } finally {
      await checking.stop();
    }
    // Trusting images (for sources authenticated end to end) takes the forged results at face value.
    const trusting = await startEdge(config(false));
    try {
      expect(await firstRefresh(trusting)).toMatchObject({ serving: true, dnssec: 'verified' });
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
      expect(await firstRefresh(edge)).toMatchObject({ serving: true, serial: 2026112301, dnssec: 'verified' });
      const r = await dig(edge.dns, ['.', 'TYPE65280']);
      expect(r.status).toBe('NOERROR');
      expect(r.answers[0]).toMatchObject({ type: 'TYPE65280', data: '\\# 4 0A0B0C0D' });
      expect((await dig(edge.dns, ['printer.local', 'A'])).status).toBe('NXDOMAIN');
    } finally {
      await edge.stop();
    }
  });
});

/** What startEdge puts before a test's TOML; a reload's text needs it too. */
const SERVER = '[server]\nlisten = ["127.0.0.1:0"]\nrequest_timeout_ms = 3000\n';
const ANCHOR = join(fixtures, 'trust-anchor.ds');

describe.skipIf(!needTools('nsd', 'dig'))('static_zone across reloads, restarts and switches', () => {
  let upstream: Nsd;
  const dir = mkdtempSync(join(tmpdir(), 'edge-root3-'));
  const config = (zone: string, extra = '') => `
[upstreams]
default = ["${upstream.address}"]
${zone ? `[zone]\n${zone}\n` : ''}[cache]
max_ttl = 0
max_negative_ttl = 0
[apps.forward.config.routes]
"." = "default"
${extra}`;
  /** Asks for a junk TLD until stopped; the set of rcodes seen shows whether anything was forwarded. */
  const keepAsking = (edge: TestNode) => {
    let stop = false;
    const seen = new Set<string>();
    const done = (async () => {
      while (!stop) seen.add((await dig(edge.dns, ['printer.local', 'A'])).status);
    })();
    return async () => {
      stop = true;
      await done;
      return [...seen];
    };
  };

  beforeAll(async () => {
    upstream = await startNsd({ '.': upstreamRoot });
  });
  afterAll(async () => upstream?.stop());

  it('applies a reload that changes [zone] settings to the copy in service: no gap, and still no older serial', async () => {
    const source = join(dir, 'settings.zone.gz');
    copyFileSync(V2, source);
    let offset = 0;
    const zone = (extra = '') => `source = "${source}"\ntrust_anchor = "${ANCHOR}"\n${extra}`;
    const edge = await startEdge(config(zone()), { now: () => Date.now() + offset });
    try {
      expect(await firstRefresh(edge)).toMatchObject({ serving: true, serial: 2026082300, stale: false });
      const loadedAt = zoneStatus(edge).loaded_at;
      // An older copy at the source is refused.
      copyFileSync(V1, source);
      await waitFor(async () => JSON.stringify(zoneStatus(edge).last_result).includes('older'), 20_000);
      offset = 120_000;
      const asked = keepAsking(edge);
      expect(await edge.node.reload(SERVER + config(zone('stale_age = 60')))).toEqual({ ok: true, errors: [] });
      // At once: the same copy, loaded when it was, under the new stale age (two minutes old).
      expect(zoneStatus(edge)).toMatchObject({ state: 'serving', serial: 2026082300, loaded_at: loadedAt, stale: true });
      expect(await asked()).toEqual(['NXDOMAIN']);
      // The older copy at the source is still refused.
      expect(await edge.node.zone!.refresh('test')).toBe('failed');
      expect(zoneStatus(edge).serial).toBe(2026082300);
      expect((zoneStatus(edge).last_result as { error: string }).error).toBe('serial 2026082201 is older than serial 2026082300 in service');
    } finally {
      await edge.stop();
    }
  });

  it('keeps the copy in service across a reload to a new source, until that source gives a verified version', async () => {
    const first = join(dir, 'first.zone.gz');
    const second = join(dir, 'second.zone.gz');
    copyFileSync(V2, first);
    copyFileSync(V1, second);
    const zone = (source: string) => `source = "${source}"\ntrust_anchor = "${ANCHOR}"`;
    const edge = await startEdge(config(zone(first)));
    try {
      expect(await firstRefresh(edge)).toMatchObject({ serving: true, serial: 2026082300 });
      const asked = keepAsking(edge);
      expect((await edge.node.reload(SERVER + config(zone(second)))).ok).toBe(true);
      await waitFor(async () => JSON.stringify(zoneStatus(edge).last_result).includes('older'), 20_000);
      expect(await asked()).toEqual(['NXDOMAIN']);
      expect(zoneStatus(edge)).toMatchObject({ source: second, serving: true, serial: 2026082300 });
      // The new source catches up: its copy confirms the one in service.
      copyFileSync(V2, second);
      await waitFor(async () => (zoneStatus(edge).last_result as { outcome: string }).outcome === 'same-serial', 20_000);
      expect(zoneStatus(edge)).toMatchObject({ source: second, serving: true, serial: 2026082300, consecutive_failures: 0 });
    } finally {
      await edge.stop();
    }
  });

  it('with a state_file, refuses after a restart a copy older than the one in service before it', async () => {
    const source = join(dir, 'restart.zone.gz');
    const state = join(dir, 'zone-state.json');
    copyFileSync(V2, source);
    const text = config(`source = "${source}"\ntrust_anchor = "${ANCHOR}"\nstate_file = "${state}"`);
    const before = await startEdge(text);
    try {
      expect(await firstRefresh(before)).toMatchObject({ serving: true, serial: 2026082300, state_file: state });
      expect(JSON.parse(readFileSync(state, 'utf8'))).toMatchObject({ serial: 2026082300, origin: '.' });
    } finally {
      await before.stop();
    }
    copyFileSync(V1, source);
    const after = await startEdge(text);
    try {
      expect(await firstRefresh(after)).toMatchObject({ serving: false, state: 'no-copy', serial_floor: 2026082300 });
      expect((zoneStatus(after).last_result as { error: string }).error).toBe(`serial 2026082201 is older than serial 2026082300, the last in service (${state})`);
      expect((await dig(after.dns, ['printer.local', 'A'])).answers[0]?.data).toBe('192.0.2.99');
    } finally {
      await after.stop();
    }
  });

  it('listens at once and forwards while the first copy is still on its way', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      void held.then(() => res.writeHead(200).end(readFileSync(V1)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/root.zone.gz`;
    const starting = startEdge(config(`source = "${url}"\ntrust_anchor = "${ANCHOR}"`));
    try {
      // The URL source would wait up to 30 s for this server; the node must not.
      const edge = await Promise.race([starting, sleep(10_000).then(() => Promise.reject(new Error('the node waited for the zone before listening')))]);
      await waitFor(async () => requests === 1, 5000);
      expect(zoneStatus(edge)).toMatchObject({ state: 'no-copy', serving: false, last_result: null });
      expect((await dig(edge.dns, ['printer.local', 'A'])).answers[0]?.data).toBe('192.0.2.99');
      release();
      await waitFor(async () => zoneStatus(edge).serving === true, 20_000);
      expect((await dig(edge.dns, ['printer.local', 'A'])).status).toBe('NXDOMAIN');
    } finally {
      release();
      await (await starting).stop();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('reports a static_zone switched off as disabled, not as failing; a removed source leaves no zone series', async () => {
    const source = join(dir, 'disabled.zone.gz');
    copyFileSync(V1, source);
    const zone = `source = "${source}"\ntrust_anchor = "${ANCHOR}"`;
    const edge = await startEdge(config(zone, '[apps.static_zone]\nenabled = false\n'));
    try {
      expect(await edge.node.zone!.refresh('test')).toBe('disabled');
      expect(zoneStatus(edge)).toMatchObject({ state: 'disabled', serving: false, consecutive_failures: 0, last_result: null });
      expect(await metric(edge, 'edge_zone_disabled')).toBe(1);
      expect(await metric(edge, 'edge_zone_serving')).toBe(0);
      expect(await metric(edge, 'edge_zone_refresh_failures_consecutive')).toBe(0);
      expect(await metric(edge, 'edge_zone_refreshes_total', 'outcome="failed"')).toBeNaN();
      expect((await dig(edge.dns, ['printer.local', 'A'])).answers[0]?.data).toBe('192.0.2.99');
      // Switched on: the copy is fetched at once, not at the next scheduled refresh.
      expect((await edge.node.reload(SERVER + config(zone))).ok).toBe(true);
      await waitFor(async () => zoneStatus(edge).serving === true, 20_000);
      expect(await metric(edge, 'edge_zone_disabled')).toBe(0);
      expect(await metric(edge, 'edge_zone_serving')).toBe(1);
      expect((await dig(edge.dns, ['printer.local', 'A'])).status).toBe('NXDOMAIN');
      // No [zone] source: no copy, and no gauge saying otherwise.
      expect((await edge.node.reload(SERVER + config(''))).ok).toBe(true);
      expect(edge.node.status().zone).toBeNull();
      for (const name of ['edge_zone_serving', 'edge_zone_serial', 'edge_zone_stale', 'edge_zone_expires_in_seconds', 'edge_zone_disabled']) {
        expect(await metric(edge, name), name).toBeNaN();
      }
      expect((await dig(edge.dns, ['printer.local', 'A'])).answers[0]?.data).toBe('192.0.2.99');
    } finally {
      await edge.stop();
    }
  });
});

describe.skipIf(!needTools('nsd', 'dig', 'kdig'))('edge-resolver serve --root-zone (the real CLI, from dist/)', () => {
  let upstream: Nsd;
  const main = join(root, 'dist/host/adapters/node/main.js');
  beforeAll(async () => {
    upstream = await startNsd({ '.': upstreamRoot });
  });
  afterAll(async () => upstream?.stop());

  it('serve --root-zone FILE --trust-anchor FILE answers a junk TLD with a signed NXDOMAIN and shows the copy on GET /zone', async () => {
    const [doh, dohHttp, admin] = [await freePort(), await freePort(), await freePort()];
    // Validation on (the default): --trust-anchor is the one anchor, for the copy and for answers.
    const node = await startCli(['--root-zone', V1, '--trust-anchor', ANCHOR, '--upstream', upstream.address, '--doh', `127.0.0.1:${doh}`, '--doh-http', `127.0.0.1:${dohHttp}`, '--admin', `127.0.0.1:${admin}`], 'www.example.test', true);
    try {
      // The copy loads after the node listens; ask once it is in (a junk name asked before is
      // forwarded, and its answer cached).
      const zone = async () => (await (await fetch(`http://127.0.0.1:${admin}/zone`)).json()) as Record<string, unknown>;
      await waitFor(async () => (await zone()).state === 'serving', 20_000);
      expect(await zone()).toMatchObject({ serial: 2026082201, dnssec: 'verified', zonemd: 'verified' });
      const r = await kdig(node.dns, ['+dnssec', 'printer.local', 'A']);
      expect(r.status).toBe('NXDOMAIN');
      expect(r.authority.map((a) => `${a.name} ${a.type}`)).toEqual(['. SOA', '. RRSIG', 'loans. NSEC', 'loans. RRSIG', '. NSEC', '. RRSIG']);
      // the copy's answers were verified when it loaded: AD without validating them again
      expect(r.flags).toContain('ad');
    } finally {
      expect(await node.stop()).toBe(0);
    }
  });

  it('refuses --root-zone without --trust-anchor at start, with the reason, instead of retrying for ever', async () => {
    const r = await run(process.execPath, [main, 'serve', '--root-zone', V1, '--listen', `127.0.0.1:${await freePort()}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('zone.trust_anchor: required to verify the zone under zone.dnssec = "require"');
  });
});

describe.skipIf(!needTools('nsd', 'dig', 'kdig'))("static_zone's answers kept in the answer cache", () => {
  let upstream: Nsd;
  let edge: TestNode;
  let offset = 0;
  const dir = mkdtempSync(join(tmpdir(), 'edge-root4-'));
  const source = join(dir, 'root.zone.gz');
  // The cache's own limits (a day for NXDOMAIN), as operators run it.
  const config = (extra = '') => `
[upstreams]
default = ["${upstream.address}"]
[zone]
source = "${source}"
trust_anchor = "${ANCHOR}"
[apps.forward.config.routes]
"." = "default"
${extra}`;
  const lookups = async (result: string) => Number((await edge.node.metrics.text()).match(new RegExp(`^edge_cache_lookups_total\\{result="${result}"\\} (\\d+)`, 'm'))?.[1] ?? 0);
  const calls = () => metric(edge, 'edge_app_calls_total', 'phase="resolve"');

  beforeAll(async () => {
    upstream = await startNsd({ '.': upstreamRoot });
    copyFileSync(V1, source);
    edge = await startEdge(config(), { now: () => Date.now() + offset });
    await firstRefresh(edge);
  }, 60_000);
  afterAll(async () => {
    await edge?.stop();
    await upstream?.stop();
  });

  it('answers a junk TLD asked a third time from the cache without calling the app: the same records, TTLs counted down', async () => {
    // The first answer is not kept (a name asked once, as a random name is, never is), the second is.
    const first = await kdig(edge.dns, ['+dnssec', 'printer.local', 'A']);
    expect(first.status).toBe('NXDOMAIN');
    expect(await lookups('hit')).toBe(0);
    await kdig(edge.dns, ['+dnssec', 'printer.local', 'A']);
    expect(await lookups('hit')).toBe(0);
    const [called, hits] = [await calls(), await lookups('hit')];
    offset += 5000;
    const again = await kdig(edge.dns, ['+dnssec', 'PRINTER.local', 'A']);
    expect(await calls()).toBe(called);
    expect(await lookups('hit')).toBe(hits + 1);
    expect(again.status).toBe('NXDOMAIN');
    expect(again.flags).toContain('ad');
    expect(again.authority.map((a) => `${a.name} ${a.type} ${a.data}`)).toEqual(first.authority.map((a) => `${a.name} ${a.type} ${a.data}`));
    // Kept as any negative answer is: for at most cache.max_negative_ttl (an hour by default).
    expect(again.authority.map((a) => a.ttl)).toEqual(first.authority.map((a) => Math.min(a.ttl, 3600) - 5));
    // Counted as the app's answer, not the cache's: a peer is told not to keep it.
    const responses = async (source: string) => Number((await edge.node.metrics.text()).match(new RegExp(`^edge_responses_total\\{rcode="NXDOMAIN",source="${source}"\\} (\\d+)`, 'm'))?.[1] ?? 0);
    const [app, cache] = [await responses('app'), await responses('cache')];
    await kdig(edge.dns, ['+dnssec', 'printer.local', 'A']);
    expect([await responses('app'), await responses('cache')]).toEqual([app + 1, cache]);
    // DO=0 is its own entry: asked twice, kept, then found.
    for (let i = 0; i < 2; i++) await dig(edge.dns, ['printer.local', 'A']);
    const c2 = await calls();
    expect((await dig(edge.dns, ['printer.local', 'A'])).status).toBe('NXDOMAIN');
    expect(await calls()).toBe(c2);
  });

  it('drops what it kept at once when the next version swaps in: a new TLD answers at the next query', async () => {
    for (let i = 0; i < 2; i++) expect((await dig(edge.dns, ['www.example-new', 'A'])).status).toBe('NXDOMAIN');
    copyFileSync(V2, source);
    await waitFor(async () => zoneStatus(edge).serial === 2026082300, 20_000);
    // No clock step: the kept NXDOMAIN still has most of a day to run, and is not used.
    expect((await dig(edge.dns, ['www.example-new', 'A'])).answers[0]?.data).toBe('192.0.2.98');
  });

  it('does not give out what it kept once the app is switched off by a reload, nor after it is switched on again', async () => {
    for (let i = 0; i < 2; i++) expect((await dig(edge.dns, ['printer.local', 'A'])).status).toBe('NXDOMAIN');
    expect((await edge.node.reload(SERVER + config('[apps.static_zone]\nenabled = false\n'))).ok).toBe(true);
    expect((await dig(edge.dns, ['printer.local', 'A'])).answers[0]?.data).toBe('192.0.2.99');
    expect((await edge.node.reload(SERVER + config())).ok).toBe(true);
    await waitFor(async () => zoneStatus(edge).serving === true, 20_000);
    // The upstream's answer (kept for its TTL) stands until it expires; then the copy answers.
    offset += 301_000;
    expect((await dig(edge.dns, ['printer.local', 'A'])).status).toBe('NXDOMAIN');
  });

  it('does not give out what it kept to a request a rule tags', async () => {
    // The rule is in place before anything is kept, and tags one client only.
    const rules = 'phase = pre-cache client 127.0.0.2 set-tag rec_disable_static\n';
    expect((await edge.node.rules.apply(new TextEncoder().encode(rules), 'test')).ok).toBe(true);
    for (let i = 0; i < 3; i++) expect((await dig(edge.dns, ['wpad.corp', 'A'])).status).toBe('NXDOMAIN');
    const [called, hits] = [await calls(), await lookups('hit')];
    expect((await dig(edge.dns, ['wpad.corp', 'A'])).status).toBe('NXDOMAIN');
    expect([await calls(), await lookups('hit')]).toEqual([called, hits + 1]);
    // From the tagged client: past what was kept, to the app, which stands aside; the upstream answers.
    expect((await dig(edge.dns, ['-b', '127.0.0.2', 'wpad.corp', 'A'])).answers[0]?.data).toBe('192.0.2.95');
    expect(await calls()).toBe(called + 1);
    expect(await metric(edge, 'edge_app_events_total', 'event="passed_tag"')).toBeGreaterThanOrEqual(1);
    await edge.node.rules.clear();
  });

  it('does not give out what it kept once the copy is taken away at SOA EXPIRE, though its TTL has not run out', async () => {
    const expires = Date.parse(zoneStatus(edge).expires_at as string);
    // Half an hour before the copy expires: what is kept now has up to an hour to run.
    offset += expires - 30 * 60_000 - (Date.now() + offset);
    edge.node.zone!.tick();
    for (let i = 0; i < 3; i++) expect((await dig(edge.dns, ['www.example-gone', 'A'])).status).toBe('NXDOMAIN');
    const hits = await lookups('hit');
    expect((await dig(edge.dns, ['www.example-gone', 'A'])).status).toBe('NXDOMAIN');
    expect(await lookups('hit')).toBe(hits + 1);
    offset += 31 * 60_000;
    edge.node.zone!.tick();
    await waitFor(async () => zoneStatus(edge).serving === false, 5000);
    // The upstream knows no such name either, but says so with its own SOA.
    const after = await dig(edge.dns, ['www.example-gone', 'A']);
    expect(after.authority.map((a) => a.data).join(' ')).toContain('ns.upstream.');
  });
});
