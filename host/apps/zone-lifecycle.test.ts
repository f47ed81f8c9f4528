/**
 * The zone lifecycle on its own: a stand-in for static_zone that holds whatever was loaded last,
 * real zones (the lookalike fixtures, fully verified), a clock and timers the test moves, and a
 * real HTTP server for the URL source. The running resolver is exercised in
 * test/node/static-zone.test.ts.
 */

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import type { LogLevel, Logger } from '../core/log.js';
import { MemoryMetrics } from '../core/metrics.js';
import { UrlSource, type SourceResult, type ZoneSource } from '../core/zone-source.js';
import { compileImage, loadZone, parseTrustAnchor, verifyZone, type TrustAnchor } from '../core/zone/index.js';
import type { WasmAppChain } from './app-chain.js';
import { ZoneLifecycle, type SerialStore, type ServedSerial, type Timers, type ZoneLifecycleOptions } from './zone-lifecycle.js';

const fixtures = join(__dirname, '../../test/fixtures/zones');
const V1 = new Uint8Array(readFileSync(join(fixtures, 'root-lookalike-2026082201.zone.gz')));
const V2 = new Uint8Array(readFileSync(join(fixtures, 'root-lookalike-2026082300.zone.gz')));
/** The lookalike's signatures are valid from 2026-01-01 to 2036-01-01; SOA REFRESH 1800, RETRY 900, EXPIRE 604800. */
const T0 = Date.UTC(2027, 0, 1);
const DAY = 86_400_000;

let anchor: TrustAnchor;
beforeAll(async () => {
  anchor = await parseTrustAnchor(readFileSync(join(fixtures, 'trust-anchor.ds')));
});

/** static_zone as the lifecycle sees it: an app holding the last image loaded, or out of the chain. */
function fakeApp() {
  const app = { held: null as Uint8Array | null, inChain: true };
  const inst = {
    breakerOpen: false,
    onBreakerChange: null as ((open: boolean) => void) | null,
    load: (_kind: number, data: Uint8Array) => ((app.held = data), { ok: true }),
    validate: () => ({ ok: true }),
    clearData: () => ((app.held = null), { ok: true }),
    lastLoad: () => app.held ?? undefined,
  };
  const chain = { app: (name: string) => (app.inChain && name === 'static_zone' ? inst : undefined) } as unknown as WasmAppChain;
  return { app, inst, chain: () => chain };
}

/** A source that gives what the test puts in it (an Error is thrown). */
class TestSource implements ZoneSource {
  fetches: number[] = [];
  constructor(
    public next: () => SourceResult | Error,
    private readonly clock: () => number,
    readonly description = 'test source',
  ) {}
  async fetch(): Promise<SourceResult> {
    this.fetches.push(this.clock());
    const r = this.next();
    if (r instanceof Error) throw r;
    return r;
  }
}

/** A clock and timers the test moves; advance() fires each timer at its time and lets its work finish. */
class ManualClock implements Timers {
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  private id = 0;
  busy: () => boolean = () => false;
  constructor(public t: number) {}
  readonly now = () => this.t;
  set(fn: () => void, ms: number): unknown {
    this.pending.set(++this.id, { at: this.t + ms, fn });
    return this.id;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  async advance(until: number): Promise<void> {
    for (;;) {
      await this.settle();
      const [id, next] = [...this.pending].sort((a, b) => a[1].at - b[1].at)[0] ?? [];
      if (id === undefined || next!.at > until) break;
      this.pending.delete(id);
      this.t = Math.max(this.t, next!.at);
      next!.fn();
    }
    this.t = until;
  }
  private async settle(): Promise<void> {
    for (let i = 0; i < 2000 && this.busy(); i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setImmediate(r));
  }
}

function recordingLogger() {
  const lines: Array<{ level: LogLevel; msg: string }> = [];
  const logger: Logger = { log: (level, msg) => lines.push({ level, msg }) };
  return { lines, logger, count: (msg: string) => lines.filter((l) => l.msg === msg).length };
}

const lifecycles: ZoneLifecycle[] = [];
afterEach(async () => {
  for (const l of lifecycles.splice(0)) await l.stop();
});

function lifecycle(source: ZoneSource, over: Partial<ZoneLifecycleOptions> & { clock?: ManualClock } = {}) {
  const { clock, ...rest } = over;
  const fake = fakeApp();
  const log = recordingLogger();
  const metrics = new MemoryMetrics();
  const lc = new ZoneLifecycle({
    source,
    chain: fake.chain,
    trustAnchor: anchor,
    zonemd: 'verify-if-present',
    dnssec: 'require',
    refreshSec: 0,
    verifyImages: true,
    maxAgeSec: 0,
    staleAgeSec: 172_800,
    staleBeforeExpirySec: 86_400,
    metrics,
    logger: log.logger,
    timers: clock ?? false,
    ...(clock ? { now: clock.now } : {}),
    ...rest,
  });
  if (clock) clock.busy = () => (lc as unknown as { running: unknown }).running !== null;
  lifecycles.push(lc);
  return { lc, app: fake.app, inst: fake.inst, log, metrics, gauge: (name: string) => metrics.value(name, { app: 'static_zone' }) };
}

const data = (bytes: Uint8Array, validators = {}): SourceResult => ({ kind: 'data', bytes, validators });

describe('ZoneLifecycle', () => {
  describe('the URL source', () => {
    let server: Server;
    let url = '';
    const seen: Array<{ inm?: string; ims?: string }> = [];
    let body = V1;
    let etag = '"v1"';
    const lastModified = new Date(T0 - DAY).toUTCString();

    beforeAll(async () => {
      server = createServer((req: IncomingMessage, res) => {
        const inm = req.headers['if-none-match'];
        const ims = req.headers['if-modified-since'];
        seen.push({ ...(inm ? { inm } : {}), ...(ims ? { ims } : {}) });
        if (inm === etag) {
          res.writeHead(304, { etag }).end();
          return;
        }
        res.writeHead(200, { etag, 'last-modified': lastModified, 'content-length': body.length }).end(body);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}/root.zone.gz`;
      return () => new Promise<void>((r) => server.close(() => r()));
    });

    it('sends If-None-Match and If-Modified-Since, and takes a 304 as confirmation', async () => {
      let now = T0;
      const { lc } = lifecycle(new UrlSource(url), { now: () => now });
      expect(await lc.start()).toBe('loaded');
      expect(seen).toEqual([{}]);
      now += DAY;
      expect(await lc.refresh('test')).toBe('unchanged');
      expect(seen[1]).toEqual({ inm: '"v1"', ims: lastModified });
      // A 304 for zone text vouches the copy current now: SOA EXPIRE counts from here.
      expect(lc.current).toMatchObject({ serial: 2026082201, lastSuccess: now, expiresAt: now + 7 * DAY });
      body = V2;
      etag = '"v2"';
      now += 60_000;
      expect(await lc.refresh('test')).toBe('loaded');
      expect(seen[2]).toEqual({ inm: '"v1"', ims: lastModified });
      expect(lc.current?.serial).toBe(2026082300);
      expect(seen.filter((s) => s.inm).length).toBe(2);
      expect(seen.length).toBe(3);
    });
  });

  it('takes an equal serial in a zone image as vouching only for when the image was made', async () => {
    // An image compiled a day before we first get it, and the same image put back three days on.
    const zone = await loadZone(V1);
    const image = await compileImage(zone, await verifyZone(zone, { trustAnchor: anchor, now: T0 - DAY, lastRefresh: T0 - DAY }));
    let now = T0;
    const source = new TestSource(() => data(image, { mtimeMs: now }), () => now);
    const { lc } = lifecycle(source, { now: () => now });
    expect(await lc.start()).toBe('loaded');
    const expires = T0 - DAY + 7 * DAY;
    expect(lc.current).toMatchObject({ lastSuccess: T0 - DAY, expiresAt: expires });
    now = T0 + 3 * DAY;
    expect(await lc.refresh('test')).toBe('same-serial');
    expect(lc.current).toMatchObject({ lastSuccess: T0 - DAY, expiresAt: expires });
    // The same serial as zone text is a fresh word from the origin.
    source.next = () => data(V1, { mtimeMs: now });
    expect(await lc.refresh('test')).toBe('same-serial');
    expect(lc.current).toMatchObject({ lastSuccess: now, expiresAt: now + 7 * DAY });
  });

  it('judges an image it does not verify again (verify_images = false) by the same policy as zone text: insecure passes verify-if-present', async () => {
    // What an image of a zone signed only with an algorithm this verifier lacks carries.
    const zone = await loadZone(V1);
    const report = await verifyZone(zone, { trustAnchor: anchor, now: T0 });
    const image = await compileImage(zone, { ...report, dnssec: { ...report.dnssec, status: 'insecure' } });
    const relaxed = lifecycle(new TestSource(() => data(image), () => T0), { now: () => T0, verifyImages: false, dnssec: 'verify-if-present' });
    expect(await relaxed.lc.start()).toBe('loaded');
    const strict = lifecycle(new TestSource(() => data(image), () => T0), { now: () => T0, verifyImages: false, dnssec: 'require' });
    expect(await strict.lc.start()).not.toBe('loaded');
    expect(strict.app.held).toBeNull();
  });

  it('with an anchor for the apex, refuses an unsigned copy as bogus: verified again, and as an image taken on its word', async () => {
    const text = (await new Response(new Blob([V1]).stream().pipeThrough(new DecompressionStream('gzip'))).text())
      .split('\n')
      .filter((l) => !/\s(RRSIG|DNSKEY|NSEC|NSEC3|NSEC3PARAM|ZONEMD)\s/.test(l))
      .join('\n');
    const zone = await loadZone(text);
    const report = await verifyZone(zone, { now: T0 });
    expect(report.dnssec.status).toBe('unsigned');
    const image = await compileImage(zone, report);
    for (const verifyImages of [true, false]) {
      const t = lifecycle(new TestSource(() => data(image), () => T0), { now: () => T0, verifyImages, dnssec: 'verify-if-present' });
      expect(await t.lc.start(), `verify_images = ${verifyImages}`).not.toBe('loaded');
      expect(t.app.held).toBeNull();
    }
  });

  it('retries with backoff after failures: 5 s, doubling, at most SOA RETRY (900 s without a copy)', async () => {
    const clock = new ManualClock(T0);
    const source = new TestSource(() => new Error('unreachable'), clock.now);
    const { lc, gauge } = lifecycle(source, { clock });
    expect(await lc.start()).toBe('failed');
    await clock.advance(T0 + 3600_000);
    const gaps = source.fetches.slice(1, 11).map((t, i) => (t - source.fetches[i]!) / 1000);
    expect(gaps).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 900, 900]);
    expect(gauge('edge_zone_refresh_failures_consecutive')).toBe(source.fetches.length);
    expect(lc.status()).toMatchObject({ state: 'no-copy', serving: false });
    // The first success resets the backoff: the next refresh is SOA REFRESH (1800 s) away.
    source.next = () => data(V1);
    const at = clock.t;
    await clock.advance(at + 901_000);
    expect(lc.current?.serial).toBe(2026082201);
    const loadedAt = source.fetches.at(-1)!;
    source.next = () => ({ kind: 'unchanged', confirms: false });
    await clock.advance(loadedAt + 1800_000 + 1000);
    expect(source.fetches.at(-1)).toBe(loadedAt + 1800_000);
    expect(gauge('edge_zone_refresh_failures_consecutive')).toBe(0);
  });

  it('is stale when its expiry is less than 24 h away however young it is, and logs each transition once', async () => {
    // Twelve hours before the lookalike's signatures expire: a fresh copy, and already stale.
    const clock = new ManualClock(Date.UTC(2035, 11, 31, 12));
    const source = new TestSource(() => data(V1), clock.now);
    const { lc, log, gauge } = lifecycle(source, { clock });
    expect(await lc.start()).toBe('loaded');
    expect(lc.status()).toMatchObject({ serving: true, stale: true, age_s: 0, expires_in_s: 12 * 3600 });
    expect(gauge('edge_zone_stale')).toBe(1);
    for (let i = 0; i < 5; i++) lc.tick();
    await clock.advance(clock.t + 60_000);
    expect(log.count('zone copy is stale')).toBe(1);
    // A reload lowering stale_before_expiry applies to the copy in service at once.
    lc.configure({ ...settingsOf(lc), staleBeforeExpirySec: 3600 });
    lc.tick();
    expect(lc.status()).toMatchObject({ serving: true, stale: false, serial: 2026082201 });
    expect(log.count('zone copy is fresh again')).toBe(1);
    expect(log.count('zone copy is stale')).toBe(1);
  });

  it('stops serving at the expiry on its own timer, with nobody calling tick()', async () => {
    const clock = new ManualClock(T0);
    const source = new TestSource(() => data(V1), clock.now);
    const { lc, app, gauge } = lifecycle(source, { clock });
    expect(await lc.start()).toBe('loaded');
    expect(app.held).not.toBeNull();
    // The file is never touched again: SOA EXPIRE (7 days) runs out.
    source.next = () => ({ kind: 'unchanged', confirms: false });
    await clock.advance(T0 + 7 * DAY - 1000);
    expect(app.held).not.toBeNull();
    expect(gauge('edge_zone_serving')).toBe(1);
    await clock.advance(T0 + 7 * DAY + 10);
    expect(app.held).toBeNull();
    expect(gauge('edge_zone_serving')).toBe(0);
    expect(gauge('edge_zone_expires_in_seconds')).toBeLessThanOrEqual(0);
  });

  it('applies a shorter max_age from a reload to the copy in service', async () => {
    const clock = new ManualClock(T0);
    const source = new TestSource(() => data(V1), clock.now);
    const { lc, app } = lifecycle(source, { clock });
    await lc.start();
    source.next = () => ({ kind: 'unchanged', confirms: false });
    await clock.advance(T0 + 2 * 3600_000);
    expect(lc.status()).toMatchObject({ state: 'serving', age_s: 7200 });
    lc.configure({ ...settingsOf(lc), maxAgeSec: 3600 });
    expect(lc.status()).toMatchObject({ state: 'expired', serving: false });
    expect(app.held).toBeNull();
  });

  it('checks the copy in service again under a new trust anchor, and takes it out when it fails', async () => {
    const clock = new ManualClock(T0);
    const source = new TestSource(() => data(V1, { mtimeMs: 1 }), clock.now);
    const { lc, app, log } = lifecycle(source, { clock });
    await lc.start();
    // The same anchor, parsed again (a reload re-reads the file): nothing to check.
    lc.configure({ ...settingsOf(lc), trustAnchor: await parseTrustAnchor(readFileSync(join(fixtures, 'trust-anchor.ds'))) });
    await clock.advance(T0 + 1000);
    expect(source.fetches.length).toBe(1);
    // IANA's real root anchor: the lookalike does not verify under it.
    lc.configure({ ...settingsOf(lc), trustAnchor: await parseTrustAnchor(readFileSync(join(fixtures, 'root-anchors.ds'))) });
    await clock.advance(T0 + 2000);
    expect(log.count('the copy in service fails the new [zone] settings: taken out of service, queries are forwarded')).toBe(1);
    expect(app.held).toBeNull();
    expect(lc.status()).toMatchObject({ state: 'no-copy', serving: false, serial_floor: 2026082201 });
    expect(JSON.stringify(lc.status().last_result)).toMatch(/serial 2026082201 refused: DNSSEC bogus/);
  });

  it('keeps the serial last in service in its store: after a restart an older copy is refused', async () => {
    let saved: ServedSerial | null = null;
    const store: SerialStore = { description: 'memory', load: async () => saved, save: async (s) => void (saved = s) };
    const first = lifecycle(new TestSource(() => data(V2), () => T0), { now: () => T0, store });
    expect(await first.lc.start()).toBe('loaded');
    expect(saved).toEqual({ serial: 2026082300, origin: '.' });
    await first.lc.stop();
    const second = lifecycle(new TestSource(() => data(V1), () => T0), { now: () => T0, store });
    expect(await second.lc.start()).toBe('failed');
    expect(second.lc.status()).toMatchObject({ serving: false, serial_floor: 2026082300 });
    expect(JSON.stringify(second.lc.status().last_result)).toContain('serial 2026082201 is older than serial 2026082300, the last in service (memory)');
    // The same serial is taken (it is what was in service), after a full check.
    const third = lifecycle(new TestSource(() => data(V2), () => T0), { now: () => T0, store });
    expect(await third.lc.start()).toBe('loaded');
  });

  it('survives a store it cannot read or write, and says so', async () => {
    const store: SerialStore = {
      description: 'broken',
      load: async () => {
        throw new Error('not JSON');
      },
      save: async () => {
        throw new Error('read-only file system');
      },
    };
    const { lc, log } = lifecycle(new TestSource(() => data(V1), () => T0), { now: () => T0, store });
    expect(await lc.start()).toBe('loaded');
    expect(log.count('cannot read the serial last in service; a copy of any serial will be taken')).toBe(1);
    expect(log.count('cannot save the serial in service; after a restart an older copy could be taken')).toBe(1);
  });

  it('reports "disabled", not failures, while static_zone is out of the chain', async () => {
    const source = new TestSource(() => data(V1), () => T0);
    const { lc, app, gauge, metrics } = lifecycle(source, { now: () => T0 });
    app.inChain = false;
    expect(await lc.start()).toBe('disabled');
    expect(source.fetches.length).toBe(0);
    expect(lc.status()).toMatchObject({ state: 'disabled', serving: false, consecutive_failures: 0, last_result: null });
    expect(gauge('edge_zone_disabled')).toBe(1);
    expect(gauge('edge_zone_refresh_failures_consecutive')).toBe(0);
    expect(metrics.value('edge_zone_refreshes_total', { app: 'static_zone', outcome: 'failed' })).toBe(0);
    // Switched back on: the chain is rebuilt and the copy is fetched at once.
    app.inChain = true;
    lc.restore();
    await expect.poll(() => lc.status().state, { timeout: 10_000 }).toBe('serving');
    expect(gauge('edge_zone_disabled')).toBe(0);
    // Off again with a copy loaded: not served, not reported as serving.
    app.inChain = false;
    lc.restore();
    expect(lc.status()).toMatchObject({ state: 'disabled', serving: false, serial: 2026082201 });
    expect(gauge('edge_zone_serving')).toBe(0);
  });

  it('reports not serving while the app\'s circuit breaker keeps it out of the chain (issue 18)', async () => {
    const { lc, gauge, inst } = lifecycle(new TestSource(() => data(V1), () => T0), { now: () => T0 });
    await lc.start();
    expect(gauge('edge_zone_serving')).toBe(1);
    inst.breakerOpen = true;
    inst.onBreakerChange!(true);
    expect(gauge('edge_zone_serving')).toBe(0);
    expect(lc.status()).toMatchObject({ serving: false });
    inst.breakerOpen = false;
    inst.onBreakerChange!(false);
    expect(gauge('edge_zone_serving')).toBe(1);
  });

  it('drops its gauges when stopped', async () => {
    const { lc, metrics } = lifecycle(new TestSource(() => data(V1), () => T0), { now: () => T0 });
    await lc.start();
    expect(metrics.snapshot()['edge_zone_serving']).toEqual({ 'app=static_zone': 1 });
    await lc.stop();
    for (const name of ['edge_zone_serving', 'edge_zone_serial', 'edge_zone_stale', 'edge_zone_expires_in_seconds', 'edge_zone_age_seconds']) {
      expect(metrics.snapshot()[name], name).toEqual({});
    }
  });

  it('moves serving, stale, expired on the clock, and back into service when a source vouches for it again', async () => {
    let now = T0;
    const source = new TestSource(() => data(V1), () => now);
    const { lc, app, log, gauge } = lifecycle(source, { now: () => now });
    expect(await lc.start()).toBe('loaded');
    expect(lc.status()).toMatchObject({ state: 'serving', phase: 'serving', serving: true, stale: false, expired: false });
    now = T0 + 2 * DAY + 1000; // older than stale_age (48 h)
    lc.tick();
    expect(lc.status()).toMatchObject({ state: 'serving', phase: 'stale', serving: true, stale: true });
    expect(gauge('edge_zone_stale')).toBe(1);
    expect(log.count('zone copy is stale')).toBe(1);
    now = T0 + 7 * DAY; // SOA EXPIRE since the last success: not one moment more
    lc.tick();
    expect(lc.status()).toMatchObject({ state: 'expired', phase: 'expired', serving: false, expired: true, stale: true });
    expect(app.held).toBeNull();
    expect(gauge('edge_zone_serving')).toBe(0);
    expect(log.count('zone copy expired: no longer served, queries are forwarded')).toBe(1);
    // An unchanged file says nothing of the copy: it stays out.
    source.next = () => ({ kind: 'unchanged', confirms: false });
    expect(await lc.refresh('test')).toBe('unchanged');
    expect(lc.status()).toMatchObject({ phase: 'expired', serving: false });
    // A 304 vouches for it now: served again, fresh, with its expiry a week on.
    source.next = () => ({ kind: 'unchanged', confirms: true });
    expect(await lc.refresh('test')).toBe('unchanged');
    await expect.poll(() => lc.status().phase).toBe('serving');
    expect(lc.status()).toMatchObject({ state: 'serving', serving: true, stale: false, expired: false, expires_in_s: 7 * 86_400 });
    expect(app.held).not.toBeNull();
    expect(log.count('zone copy expired: no longer served, queries are forwarded')).toBe(1);
  });

  it('never lets max_age stretch SOA EXPIRE, and applies a shorter one at once', async () => {
    const { lc } = lifecycle(new TestSource(() => data(V1), () => T0), { now: () => T0, maxAgeSec: 30 * 86_400 });
    expect(await lc.start()).toBe('loaded');
    expect(lc.current?.expiresAt).toBe(T0 + 7 * DAY);
    lc.configure({ ...settingsOf(lc), maxAgeSec: 86_400 });
    expect(lc.current?.expiresAt).toBe(T0 + DAY);
    lc.configure({ ...settingsOf(lc), maxAgeSec: 0 });
    expect(lc.current?.expiresAt).toBe(T0 + 7 * DAY);
  });

  it('holds its copy while switched off, and back on puts it where the clock says', async () => {
    let now = T0;
    const { lc, app, log } = lifecycle(new TestSource(() => data(V1), () => now), { now: () => now });
    expect(await lc.start()).toBe('loaded');
    app.inChain = false;
    lc.restore();
    expect(lc.status()).toMatchObject({ state: 'disabled', phase: 'disabled', serving: false, expired: false, serial: 2026082201 });
    // On again a day later: served as it was.
    now = T0 + DAY;
    app.inChain = true;
    lc.restore();
    expect(lc.status()).toMatchObject({ state: 'serving', phase: 'serving', serving: true });
    // Off across its expiry: nothing is said while off but that it is past its expiry; back on, it is expired.
    app.inChain = false;
    lc.restore();
    now = T0 + 8 * DAY;
    lc.tick();
    expect(lc.status()).toMatchObject({ state: 'disabled', serving: false, expired: true });
    expect(log.count('zone copy expired: no longer served, queries are forwarded')).toBe(0);
    app.inChain = true;
    lc.restore();
    expect(lc.status()).toMatchObject({ state: 'expired', phase: 'expired', serving: false, expired: true });
    expect(app.held).toBeNull();
    expect(log.count('zone copy expired: no longer served, queries are forwarded')).toBe(1);
  });

  it('refuses an older serial from a new source and keeps the copy serving', async () => {
    const { lc, app } = lifecycle(new TestSource(() => data(V2), () => T0), { now: () => T0 });
    await lc.start();
    const held = app.held;
    const other = new TestSource(() => data(V1), () => T0, 'other source');
    lc.setSource(other);
    await expect.poll(() => other.fetches.length).toBe(1);
    await expect.poll(() => (lc.status().last_result as { outcome?: string } | null)?.outcome).toBe('failed');
    expect(lc.status()).toMatchObject({ source: 'other source', serving: true, serial: 2026082300 });
    expect(JSON.stringify(lc.status().last_result)).toContain('serial 2026082201 is older than serial 2026082300 in service');
    expect(app.held).toBe(held);
  });
});

/** The settings a lifecycle runs with, to change one of them as a reload would. */
function settingsOf(lc: ZoneLifecycle) {
  return { ...(lc as unknown as { settings: Parameters<ZoneLifecycle['configure']>[0] }).settings };
}
