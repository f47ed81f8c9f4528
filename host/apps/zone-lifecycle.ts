/**
 * The life of the zone copy static_zone serves: fetch, verify, compile, load, swap; and the
 * rules the October 2023 outage taught. A version is activated only after it is fully parsed and
 * verified; a failed version leaves the previous one serving; an older serial never replaces a
 * newer one and an equal serial is a no-op; a copy is never served past its expiry (earliest
 * signature expiration, SOA EXPIRE since the last successful refresh, the operator's maximum
 * age), after which queries are forwarded; and being stale is loud (metrics, /status, one log
 * line per transition).
 */

import type { Logger } from '../core/log.js';
import type { Gauge, MetricsSink, Counter } from '../core/metrics.js';
import type { SourceResult, Validators, ZoneSource } from '../core/zone-source.js';
import {
  compileImage,
  dnssecAcceptable,
  imageRecords,
  loadZone,
  verifyZone,
  zoneFromRecords,
  type Zone,
  expiresAt,
  readImage,
  serialNewer,
  type DnssecPolicy,
  type TrustAnchor,
  type ZonemdPolicy,
  zonemdAcceptable,
} from '../core/zone/index.js';
import { AppDataManager } from './app-data.js';
import type { WasmAppChain } from './app-chain.js';

export interface ZoneLifecycleOptions {
  source: ZoneSource;
  chain: () => WasmAppChain;
  trustAnchor: TrustAnchor | null;
  zonemd: ZonemdPolicy;
  dnssec: DnssecPolicy;
  /** Seconds between refreshes; 0 takes the copy's SOA REFRESH. */
  refreshSec: number;
  /** Check a zone image's records and signatures again instead of trusting what it says of itself. */
  verifyImages: boolean;
  /** Operator cap on a copy's age in seconds (never above SOA EXPIRE); 0 for SOA EXPIRE alone. */
  maxAgeSec: number;
  /** A copy older than this (since its last successful refresh) is stale. */
  staleAgeSec: number;
  /** A copy this close to its expiry is stale. */
  staleBeforeExpirySec: number;
  metrics: MetricsSink;
  logger: Logger;
  now?: () => number;
  app?: string;
  /**
   * False where timers do not outlive a request (Workers): nothing is scheduled, and the adapter
   * calls refreshIfDue() and tick() from its requests instead. Default true.
   */
  timers?: boolean;
}

export interface ZoneState {
  serial: number;
  origin: string;
  /** When this copy was loaded, ms. */
  loadedAt: number;
  /** When the source last confirmed this copy current (loaded it, or answered "unchanged"), ms. */
  lastSuccess: number;
  earliestRrsigExpiration: number | null;
  soaExpire: number;
  soaRefresh: number;
  soaRetry: number;
  expiresAt: number;
  zonemd: string;
  dnssec: string;
  validators: Validators;
}

export type RefreshOutcome = 'loaded' | 'unchanged' | 'same-serial' | 'failed';

const MIN_RETRY_MS = 5_000;
const TICK_MS = 10_000;

export class ZoneLifecycle {
  private state: ZoneState | null = null;
  /** The image of the copy in service, kept to serve it again if it comes back from expiry. */
  private image: Uint8Array | null = null;
  private expired = false;
  private stale = false;
  private failures = 0;
  private lastAttempt = 0;
  private lastResult: { outcome: RefreshOutcome; at: number; error?: string } | null = null;
  private nextRefreshAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopWatch: (() => void) | null = null;
  private running: Promise<RefreshOutcome> | null = null;
  private stopped = false;
  private again = false;
  readonly data: AppDataManager;
  private readonly now: () => number;
  private readonly app: string;
  private readonly m: {
    serial: Gauge;
    age: Gauge;
    expiresIn: Gauge;
    lastRefresh: Gauge;
    lastSuccess: Gauge;
    failures: Gauge;
    refreshes: Counter;
    stale: Gauge;
    serving: Gauge;
  };

  constructor(private readonly opts: ZoneLifecycleOptions) {
    this.now = opts.now ?? Date.now;
    this.app = opts.app ?? 'static_zone';
    this.data = new AppDataManager(this.app, opts.chain, opts.metrics, opts.logger, 256 * 1024 * 1024, this.now);
    const g = (name: string, help: string) => opts.metrics.gauge(name, help, ['app']);
    this.m = {
      serial: g('edge_zone_serial', 'SOA serial of the zone copy in service'),
      age: g('edge_zone_age_seconds', 'Seconds since the source last confirmed the copy current'),
      expiresIn: g('edge_zone_expires_in_seconds', 'Seconds until the copy must stop being served (negative: expired)'),
      lastRefresh: g('edge_zone_last_refresh_timestamp_seconds', 'When the last refresh attempt ended'),
      lastSuccess: g('edge_zone_last_refresh_success', '1 when the last refresh attempt succeeded'),
      failures: g('edge_zone_refresh_failures_consecutive', 'Refresh attempts that failed in a row'),
      refreshes: opts.metrics.counter('edge_zone_refreshes_total', 'Refresh attempts by outcome', ['app', 'outcome']),
      stale: g('edge_zone_stale', '1 when the copy is older than the stale age or close to its expiry'),
      serving: g('edge_zone_serving', '1 while a copy is loaded and not expired'),
    };
  }

  get current(): ZoneState | null {
    return this.state;
  }

  /** Starts refreshing (the first attempt right away) and watching the source. Never throws. */
  start(): Promise<RefreshOutcome> {
    try {
      this.stopWatch = this.opts.source.watch?.(() => void this.refresh('source changed')) ?? null;
    } catch (e) {
      // Without a watch the copy is still refreshed on schedule.
      this.opts.logger.log('warn', 'cannot watch the zone source; refreshing on schedule only', { source: this.opts.source.description, error: (e as Error).message });
    }
    return this.refresh('start');
  }

  /** Stops refreshing; a refresh in progress is let finish but activates nothing. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopWatch?.();
    await this.running?.catch(() => undefined);
  }

  /**
   * One refresh attempt; concurrent calls share the attempt in progress. A change signalled
   * while one runs gets an attempt of its own afterwards, so it is not missed until the next
   * scheduled refresh.
   */
  refresh(reason = 'scheduled'): Promise<RefreshOutcome> {
    if (this.running) {
      if (reason === 'source changed') this.again = true;
      return this.running;
    }
    this.running = this.attempt(reason).finally(() => {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.refresh('source changed');
      } else this.schedule();
    });
    return this.running;
  }

  private async attempt(reason: string): Promise<RefreshOutcome> {
    const started = this.now();
    this.lastAttempt = started;
    let outcome: RefreshOutcome;
    try {
      outcome = await this.fetchAndLoad();
      this.failures = 0;
      this.lastResult = { outcome, at: this.now() };
    } catch (e) {
      outcome = 'failed';
      this.failures++;
      const error = (e as Error).message;
      this.lastResult = { outcome, at: this.now(), error };
      this.opts.logger.log('error', 'zone refresh failed; the copy in service stays', {
        app: this.app,
        source: this.opts.source.description,
        reason,
        failures: this.failures,
        serial: this.state?.serial,
        error,
      });
    }
    this.m.refreshes.inc({ app: this.app, outcome });
    this.tick();
    return outcome;
  }

  private async fetchAndLoad(): Promise<RefreshOutcome> {
    const res: SourceResult = await this.opts.source.fetch(this.state?.validators ?? null);
    const now = this.now();
    if (res.kind === 'unchanged') {
      if (!this.state) throw new Error('the source reports no change but no copy is loaded');
      // An HTTP 304 says the copy is current; a file nobody touched says nothing (the job that
      // updates it may have died), so it does not restart the SOA EXPIRE clock.
      if (res.confirms) this.confirm(now);
      return 'unchanged';
    }
    const maxAgeMs = this.opts.maxAgeSec > 0 ? this.opts.maxAgeSec * 1000 : undefined;
    let image: Uint8Array | null = null;
    let next: Omit<ZoneState, 'validators' | 'loadedAt' | 'lastSuccess' | 'expiresAt'> | null = null;
    // When the copy was last taken from its origin: now for a zone fetched as text, the compile
    // time for an image another node made (SOA EXPIRE counts from there, not from our fetch).
    let copyTime = now;
    let zone: Zone | null = null;
    if (isImage(res.bytes)) {
      const img = await readImage(res.bytes);
      const early = this.serialVerdict(img.serial, res.validators, now);
      if (early) return early;
      copyTime = Math.min(now, img.verifiedAt);
      if (this.opts.verifyImages) {
        // An image says what the node that compiled it found; anyone who can alter it in transit
        // could say anything. Check its records again and compile it ourselves.
        zone = zoneFromRecords(imageRecords(img));
      } else {
        if (!zonemdAcceptable(img.zonemd, this.opts.zonemd)) {
          throw new Error(`image ZONEMD ${img.zonemd} (policy ${this.opts.zonemd})`);
        }
        if (!dnssecAcceptable(img.dnssec, this.opts.dnssec)) {
          throw new Error(`image DNSSEC ${img.dnssec} (policy ${this.opts.dnssec})`);
        }
        image = res.bytes;
        next = {
          serial: img.serial,
          origin: img.originText,
          earliestRrsigExpiration: img.earliestRrsigExpiration,
          soaExpire: img.soa.expire,
          soaRefresh: img.soa.refresh,
          soaRetry: img.soa.retry,
          zonemd: img.zonemd,
          dnssec: img.dnssec,
        };
      }
    } else {
      // Parse first and look at the serial: an equal or older copy is settled without the cost
      // of verifying it.
      zone = await loadZone(res.bytes, { file: this.opts.source.description });
      const early = this.serialVerdict(zone.soa.serial, res.validators, now);
      if (early) return early;
    }
    if (zone) {
      const report = await verifyZone(zone, {
        trustAnchor: this.opts.trustAnchor,
        zonemd: this.opts.zonemd,
        dnssec: this.opts.dnssec,
        now,
        lastRefresh: copyTime,
        ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
      });
      if (!report.usable) throw new Error(`serial ${report.serial} refused: ${report.reasons.join('; ')}`);
      image = await compileImage(zone, report);
      next = {
        serial: report.serial,
        origin: report.origin,
        earliestRrsigExpiration: report.earliestRrsigExpiration,
        soaExpire: report.soa.expire,
        soaRefresh: report.soa.refresh,
        soaRetry: report.soa.retry,
        zonemd: report.zonemd.status,
        dnssec: report.dnssec.status,
      };
    }
    if (!image || !next) throw new Error('internal: no image was made');
    const settled = this.serialVerdict(next.serial, res.validators, now);
    if (settled) return settled;
    const expiry = expiresAt({ earliestRrsigExpiration: next.earliestRrsigExpiration, soaExpire: next.soaExpire }, copyTime, maxAgeMs);
    if (now >= expiry) throw new Error(`serial ${next.serial} is already expired (${new Date(expiry).toISOString()})`);
    if (this.stopped) throw new Error('the zone source changed while this version was checked; not activated');
    const r = await this.data.apply(image, this.opts.source.description);
    if (!r.ok) throw new Error(`static_zone refused serial ${next.serial}: ${r.errors.join('; ')}`);
    const previous = this.state?.serial;
    this.image = image;
    this.state = { ...next, validators: res.validators, loadedAt: now, lastSuccess: copyTime, expiresAt: expiry };
    this.expired = false;
    this.opts.logger.log('info', 'zone copy activated', {
      app: this.app,
      origin: next.origin,
      serial: next.serial,
      previous,
      zonemd: next.zonemd,
      dnssec: next.dnssec,
      expires: new Date(expiry).toISOString(),
    });
    return 'loaded';
  }

  /**
   * RFC 1982 against the copy in service: an equal serial confirms it ('same-serial'), an older
   * one is refused (throws), a newer one goes on (null).
   */
  private serialVerdict(serial: number, validators: Validators, now: number): RefreshOutcome | null {
    const s = this.state;
    if (!s || serialNewer(serial, s.serial)) return null;
    if (serial === s.serial) {
      s.validators = validators;
      this.confirm(now);
      return 'same-serial';
    }
    throw new Error(`serial ${serial} is older than serial ${s.serial} in service`);
  }

  /** The source confirmed the copy in service: SOA EXPIRE counts again from now. */
  private confirm(now: number): void {
    const s = this.state!;
    s.lastSuccess = now;
    const maxAgeMs = this.opts.maxAgeSec > 0 ? this.opts.maxAgeSec * 1000 : undefined;
    s.expiresAt = expiresAt({ earliestRrsigExpiration: s.earliestRrsigExpiration, soaExpire: s.soaExpire }, now, maxAgeMs);
    if (this.expired && now < s.expiresAt && this.image) {
      // Confirmed current after it had expired (the source was unreachable for a while): its
      // signatures are still valid, so it may be served again.
      void this.data.apply(this.image, this.opts.source.description).then((r) => {
        if (r.ok) this.expired = false;
      });
    }
  }

  private refreshIntervalMs(): number {
    if (this.opts.refreshSec > 0) return this.opts.refreshSec * 1000;
    return Math.max(60, this.state?.soaRefresh ?? 1800) * 1000;
  }

  private retryDelayMs(): number {
    const cap = Math.max(MIN_RETRY_MS, (this.state?.soaRetry ?? 900) * 1000);
    return Math.min(cap, MIN_RETRY_MS * 2 ** Math.min(10, this.failures - 1));
  }

  /**
   * Starts a refresh when one is due and none is running (runtimes without timers call this
   * from requests); null when nothing was started.
   */
  refreshIfDue(reason = 'scheduled'): Promise<RefreshOutcome> | null {
    if (this.stopped || this.running || this.now() < this.nextRefreshAt) return null;
    return this.refresh(reason);
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const now = this.now();
    this.nextRefreshAt = now + (this.failures > 0 ? this.retryDelayMs() : this.refreshIntervalMs());
    if (this.opts.timers === false) return;
    let wait = Math.min(this.nextRefreshAt - now, TICK_MS);
    if (this.state && !this.expired) wait = Math.min(wait, Math.max(0, this.state.expiresAt - now));
    this.timer = setTimeout(() => this.onTimer(), Math.max(10, wait));
    (this.timer as { unref?: () => void }).unref?.();
  }

  private onTimer(): void {
    this.tick();
    if (this.now() >= this.nextRefreshAt) void this.refresh('scheduled');
    else this.schedule();
  }

  /**
   * Re-evaluates expiry and staleness against the clock and updates the metrics. Runs on a
   * timer; tests with a moved clock call it directly.
   */
  tick(): void {
    const now = this.now();
    const s = this.state;
    const app = { app: this.app };
    this.m.failures.set(app, this.failures);
    if (this.lastResult) {
      this.m.lastRefresh.set(app, Math.floor(this.lastResult.at / 1000));
      this.m.lastSuccess.set(app, this.lastResult.outcome === 'failed' ? 0 : 1);
    }
    if (!s) {
      this.m.serving.set(app, 0);
      return;
    }
    if (!this.expired && now >= s.expiresAt) {
      this.expired = true;
      void this.data.clear();
      this.opts.logger.log('error', 'zone copy expired: no longer served, queries are forwarded', {
        app: this.app,
        serial: s.serial,
        expired: new Date(s.expiresAt).toISOString(),
        last_success: new Date(s.lastSuccess).toISOString(),
      });
    }
    const ageSec = (now - s.lastSuccess) / 1000;
    const expiresInSec = (s.expiresAt - now) / 1000;
    const stale = ageSec > this.opts.staleAgeSec || expiresInSec < this.opts.staleBeforeExpirySec;
    if (stale !== this.stale) {
      this.stale = stale;
      this.opts.logger.log(stale ? 'warn' : 'info', stale ? 'zone copy is stale' : 'zone copy is fresh again', {
        app: this.app,
        serial: s.serial,
        age_s: Math.round(ageSec),
        expires_in_s: Math.round(expiresInSec),
      });
    }
    this.m.serial.set(app, s.serial);
    this.m.age.set(app, Math.round(ageSec));
    this.m.expiresIn.set(app, Math.round(expiresInSec));
    this.m.stale.set(app, stale ? 1 : 0);
    this.m.serving.set(app, this.expired ? 0 : 1);
  }

  status(): Record<string, unknown> {
    this.tick();
    const s = this.state;
    const now = this.now();
    return {
      source: this.opts.source.description,
      serving: !!s && !this.expired,
      serial: s?.serial ?? null,
      origin: s?.origin ?? null,
      loaded_at: s ? new Date(s.loadedAt).toISOString() : null,
      last_success: s ? new Date(s.lastSuccess).toISOString() : null,
      age_s: s ? Math.round((now - s.lastSuccess) / 1000) : null,
      expires_at: s ? new Date(s.expiresAt).toISOString() : null,
      expires_in_s: s ? Math.round((s.expiresAt - now) / 1000) : null,
      expired: this.expired,
      stale: this.stale,
      zonemd: s?.zonemd ?? null,
      dnssec: s?.dnssec ?? null,
      consecutive_failures: this.failures,
      last_attempt: this.lastAttempt ? new Date(this.lastAttempt).toISOString() : null,
      last_result: this.lastResult ? { ...this.lastResult, at: new Date(this.lastResult.at).toISOString() } : null,
      next_refresh: this.nextRefreshAt ? new Date(this.nextRefreshAt).toISOString() : null,
      image_hash: this.data.current?.hash ?? null,
    };
  }

  /** The chain was rebuilt: give static_zone its copy again unless it is expired. */
  restore(): void {
    if (!this.expired) this.data.restore();
  }
}

function isImage(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x45 && b[1] === 0x5a && b[2] === 0x49 && b[3] === 0x4d;
}

