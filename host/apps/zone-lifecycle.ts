/**
 * The life of the zone copy static_zone serves: fetch, verify, compile, load, swap; and the
 * rules the October 2023 outage taught. Where the copy is in that life is one named state
 * (zone-phases.ts: empty, serving, stale, expired, disabled, stopped) that changes only by the
 * moves its table lists. A version is activated only after it is fully parsed and verified; a
 * failed version leaves the previous one serving; an older serial never replaces a newer one
 * (not after a reload, a new source or, with a serial store, a restart) and an equal serial is
 * a no-op; a copy is never served past its expiry (earliest signature expiration, SOA EXPIRE
 * since the last successful refresh, the operator's maximum age), after which queries are
 * forwarded; and being stale is loud (metrics, /status, one log line per transition).
 */

import type { Logger } from '../core/log.js';
import type { Gauge, MetricsSink, Counter } from '../core/metrics.js';
import type { SourceResult, Validators, ZoneSource } from '../core/zone-source.js';
import { sameBytes } from '../core/dns/bytes.js';
import { nameEquals, nameToText } from '../core/dns/wire.js';
import { IMAGE_MAGIC } from '../core/zone/image-format.js';
import {
  compileImage,
  dnssecAcceptable,
  imageRecords,
  loadZone,
  verifyZone,
  zonemdAcceptable,
  zoneFromRecords,
  type Zone,
  type ZoneImage,
  expiresAt,
  readImage,
  serialNewer,
  type DnssecPolicy,
  type TrustAnchor,
  type ZonemdPolicy,
} from '../core/zone/index.js';
import { inThreadCompiler, type ParsedCopy, type ZoneCompiler } from '../core/zone/compile.js';
import { AppDataManager } from './app-data.js';
import type { WasmAppChain } from './app-chain.js';
import { SERVES, allowed, clockEvent, clockPhase, isStale, judgeSerial, type CopyClock, type ZoneEvent, type ZonePhase } from './zone-phases.js';

/** What a config reload may change in a running lifecycle without losing the copy in service. */
export interface ZoneSettings {
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
  /** Where the serial in service is kept across restarts; without one a restart takes any serial. */
  store?: SerialStore | null;
}

/** The version last in service. */
export interface ServedSerial {
  serial: number;
  origin: string;
}

/**
 * Keeps the serial last in service where a restarted node finds it, so that it refuses an older
 * copy as a running one does. One that cannot be read or written is reported, never fatal.
 */
export interface SerialStore {
  readonly description: string;
  load(): Promise<ServedSerial | null>;
  save(s: ServedSerial): Promise<void>;
}

/** setTimeout and clearTimeout, replaceable so that a test can drive the clock. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface ZoneLifecycleOptions extends ZoneSettings {
  source: ZoneSource;
  chain: () => WasmAppChain;
  metrics: MetricsSink;
  logger: Logger;
  now?: () => number;
  app?: string;
  /**
   * False where timers do not outlive a request (Workers): nothing is scheduled, and the adapter
   * calls refreshIfDue() and tick() from its requests instead. Default: the runtime's timers.
   */
  timers?: boolean | Timers;
  /**
   * Where a fetched copy is parsed, verified and compiled (core/zone/compile.ts): the Node
   * adapter's worker thread, so serving never waits on it; default here, on this thread.
   */
  compiler?: ZoneCompiler;
}

export interface ZoneState {
  serial: number;
  origin: string;
  /** When this copy was loaded, ms. */
  loadedAt: number;
  /** When a source last vouched for this copy being current (loaded it, or confirmed it), ms. */
  lastSuccess: number;
  earliestRrsigExpiration: number | null;
  soaExpire: number;
  soaRefresh: number;
  soaRetry: number;
  expiresAt: number;
  zonemd: string;
  dnssec: string;
  /**
   * For a copy that came as a zone image: when the node that compiled it took it from its
   * origin, ms. Getting the same image again says no more than that; null for zone text.
   */
  imageVerifiedAt: number | null;
}

export type RefreshOutcome =
  | 'loaded'
  | 'unchanged'
  | 'same-serial'
  | 'failed'
  /** static_zone is out of the chain: nothing was fetched, nothing failed. */
  | 'disabled'
  /** The source or the verification settings changed meanwhile; another attempt follows. */
  | 'superseded';

const MIN_RETRY_MS = 5_000;
const TICK_MS = 10_000;

class Superseded extends Error {}

const runtimeTimers: Timers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms);
    // The timer alone must not keep a process alive.
    (t as { unref?: () => void }).unref?.();
    return t;
  },
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The copy held: in service, or kept while it is expired or static_zone is switched off. */
interface HeldCopy {
  info: ZoneState;
  /** Its image, to load it again when it comes back from expiry or from being switched off. */
  image: Uint8Array;
  /** The verification settings it passed (a count that grows with each change of them). */
  checkedUnder: number;
}

export class ZoneLifecycle {
  private settings: ZoneSettings;
  private source: ZoneSource;
  private readonly compiler: ZoneCompiler;
  /** Where the copy is in its life; every change goes through move() and ZONE_TRANSITIONS. */
  private phase: ZonePhase = 'empty';
  private copy: HeldCopy | null = null;
  /** What the source said of the version it last gave (none after the source changed). */
  private validators: Validators | null = null;
  /** The version last in service, here or before a restart: nothing older is taken (RFC 1982). */
  private floor: ServedSerial | null = null;
  private floorLoaded: Promise<void> = Promise.resolve();
  private failures = 0;
  private lastAttempt = 0;
  private lastResult: { outcome: RefreshOutcome; at: number; error?: string } | null = null;
  private nextRefreshAt = 0;
  private timer: unknown;
  private stopWatch: (() => void) | null = null;
  private running: Promise<RefreshOutcome> | null = null;
  /**
   * Why one more attempt is owed: a change came while one ran (it may have begun before the
   * change), or one was skipped while static_zone was out of the chain. It runs as soon as it can.
   */
  private owed: string | null = null;
  /** Bumped when the source or the verification settings change: an older attempt activates nothing. */
  private generation = 0;
  /** Bumped when the verification settings change: a copy checked under fewer is checked again. */
  private verification = 0;
  private readonly timers: Timers | null;
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
    disabled: Gauge;
  };

  constructor(private readonly opts: ZoneLifecycleOptions) {
    this.settings = settingsOf(opts);
    this.source = opts.source;
    this.now = opts.now ?? Date.now;
    this.compiler = opts.compiler ?? inThreadCompiler;
    this.app = opts.app ?? 'static_zone';
    const timers = opts.timers ?? true;
    this.timers = timers === false ? null : timers === true ? runtimeTimers : timers;
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
      serving: g('edge_zone_serving', '1 while queries are answered from the copy: one is loaded, not expired, and the app is not held off by its circuit breaker'),
      disabled: g('edge_zone_disabled', '1 while the app is switched off in the config (nothing is fetched or served)'),
    };
  }

  get current(): ZoneState | null {
    return this.copy?.info ?? null;
  }

  /**
   * True from the start until the first attempt has ended (a copy in service, or a failure):
   * until then the node cannot tell which names its local root will answer, and does not answer
   * its peers (Resolver.readyForPeers).
   */
  get loading(): boolean {
    return this.phase === 'empty' && this.lastResult === null && this.inChain();
  }

  private get stopped(): boolean {
    return this.phase === 'stopped';
  }

  /**
   * The one way the phase changes: a move the table does not list is refused (and logged: it
   * would be a bug here). Entering a state says so once, and an expired copy leaves static_zone.
   */
  private move(event: ZoneEvent, to: ZonePhase): void {
    const from = this.phase;
    if (!allowed(from, event, to)) {
      this.opts.logger.log('error', 'internal: zone copy move refused', { app: this.app, from, event, to });
      return;
    }
    this.phase = to;
    const s = this.copy?.info;
    if (!s || from === to) return;
    const now = this.now();
    if (to === 'expired') {
      this.background(this.data.clear(), 'clear');
      this.opts.logger.log('error', 'zone copy expired: no longer served, queries are forwarded', {
        app: this.app,
        serial: s.serial,
        expired: new Date(s.expiresAt).toISOString(),
        last_success: new Date(s.lastSuccess).toISOString(),
      });
    } else if (to === 'stale' || (from === 'stale' && to === 'serving')) {
      this.opts.logger.log(to === 'stale' ? 'warn' : 'info', to === 'stale' ? 'zone copy is stale' : 'zone copy is fresh again', {
        app: this.app,
        serial: s.serial,
        age_s: Math.round((now - s.lastSuccess) / 1000),
        expires_in_s: Math.round((s.expiresAt - now) / 1000),
      });
    }
  }

  private clockOf(s: ZoneState, now = this.now()): CopyClock {
    return { now, lastSuccess: s.lastSuccess, expiresAt: s.expiresAt, staleAgeSec: this.settings.staleAgeSec, staleBeforeExpirySec: this.settings.staleBeforeExpirySec };
  }

  /** Where a copy goes into service (activated or reinstated): the clock says whether it is stale; tick() expires it. */
  private servingPhase(s: ZoneState): 'serving' | 'stale' {
    return isStale(this.clockOf(s)) ? 'stale' : 'serving';
  }

  /**
   * Starts refreshing (the first attempt right away) and watching the source; resolves with the
   * first attempt's outcome, which nothing has to wait for. Never throws.
   */
  start(): Promise<RefreshOutcome> {
    this.watchSource();
    if (this.settings.store) this.floorLoaded = this.adoptStore(this.settings.store);
    return this.refresh('start');
  }

  /**
   * Stops refreshing; a refresh in progress is let finish but activates nothing. The zone's
   * gauges go with it: a node without a zone source has no copy to report on.
   */
  async stop(): Promise<void> {
    if (!this.stopped) this.move('stop', 'stopped');
    this.timers?.clear(this.timer);
    this.stopWatch?.();
    this.stopWatch = null;
    await this.running?.catch(() => undefined);
    const app = { app: this.app };
    for (const g of [this.m.serial, this.m.age, this.m.expiresIn, this.m.lastRefresh, this.m.lastSuccess, this.m.failures, this.m.stale, this.m.serving, this.m.disabled]) {
      g.remove(app);
    }
  }

  /**
   * A reload's settings, applied to the running lifecycle: the copy stays in service. Changed
   * verification settings (trust anchor, ZONEMD or DNSSEC policy, verify_images) check the copy
   * in service again, and it goes if it fails them; the others apply at once to its expiry, its
   * staleness and the schedule.
   */
  configure(next: ZoneSettings): void {
    const before = this.settings;
    this.settings = settingsOf(next);
    const verification =
      before.zonemd !== next.zonemd || before.dnssec !== next.dnssec || before.verifyImages !== next.verifyImages || !sameAnchor(before.trustAnchor, next.trustAnchor);
    if ((before.store?.description ?? null) !== (next.store?.description ?? null) && next.store) {
      const store = next.store;
      this.floorLoaded = this.floorLoaded.then(() => this.adoptStore(store));
    }
    const c = this.copy;
    if (c) {
      c.info.expiresAt = this.expiryOf(c.info);
      this.background(this.reinstate(), 'reinstate');
    }
    if (before.refreshSec !== next.refreshSec && this.failures === 0 && this.lastResult) {
      this.nextRefreshAt = this.lastResult.at + this.refreshIntervalMs();
    }
    if (verification) {
      this.generation++;
      this.verification++;
      this.kick('settings changed');
    }
    this.tick();
    if (!this.running) this.armTimer();
  }

  /**
   * A reload named another source. The copy in service stays until the new source gives a newer
   * verified version (or the copy expires); what the old source said of it no longer counts.
   */
  setSource(source: ZoneSource): void {
    if (source.description === this.source.description) return;
    this.stopWatch?.();
    this.stopWatch = null;
    const previous = this.source.description;
    this.source = source;
    this.validators = null;
    this.generation++;
    if (!this.stopped) this.watchSource();
    this.opts.logger.log('info', 'zone source changed; the copy in service stays until the new source gives a verified version', {
      app: this.app,
      source: source.description,
      previous,
      serial: this.copy?.info.serial,
    });
    this.kick('source changed');
  }

  private watchSource(): void {
    try {
      this.stopWatch = this.source.watch?.(() => this.kick('source changed')) ?? null;
    } catch (e) {
      // Without a watch the copy is still refreshed on schedule.
      this.opts.logger.log('warn', 'cannot watch the zone source; refreshing on schedule only', { source: this.source.description, error: (e as Error).message });
    }
  }

  /** Takes the newer of the store's serial and ours, and writes it back. */
  private async adoptStore(store: SerialStore): Promise<void> {
    try {
      const saved = await store.load();
      if (saved && (!this.floor || (saved.origin === this.floor.origin && serialNewer(saved.serial, this.floor.serial)))) this.floor = saved;
    } catch (e) {
      this.opts.logger.log('error', 'cannot read the serial last in service; a copy of any serial will be taken', { app: this.app, store: store.description, error: (e as Error).message });
    }
    if (this.floor && this.copy) await this.remember(this.floor);
  }

  private async remember(served: ServedSerial): Promise<void> {
    this.floor = served;
    const store = this.settings.store;
    if (!store) return;
    try {
      await store.save(served);
    } catch (e) {
      this.opts.logger.log('error', 'cannot save the serial in service; after a restart an older copy could be taken', { app: this.app, store: store.description, error: (e as Error).message });
    }
  }

  /**
   * One refresh attempt; concurrent calls share the attempt in progress. A change signalled
   * while one runs gets an attempt of its own afterwards (kick), so it is not missed until the
   * next scheduled refresh.
   */
  refresh(reason = 'scheduled'): Promise<RefreshOutcome> {
    if (this.running) return this.running;
    this.owed = null;
    this.running = this.attempt(reason).finally(() => {
      this.running = null;
      const again = this.owed;
      if (again !== null && !this.stopped && this.inChain()) this.background(this.refresh(again), 'refresh');
      else this.schedule();
    });
    return this.running;
  }

  private kick(reason: string): void {
    if (this.stopped) return;
    if (this.running) this.owed = reason;
    else this.background(this.refresh(reason), 'refresh');
  }

  private inChain(): boolean {
    return !!this.opts.chain().app(this.app);
  }

  private async attempt(reason: string): Promise<RefreshOutcome> {
    await this.floorLoaded;
    if (!this.inChain()) {
      // Switched off in the config: there is nothing to load into, and nothing has failed. The
      // attempt is owed for when the app is back.
      this.owed = reason;
      this.tick();
      return 'disabled';
    }
    const generation = this.generation;
    const verification = this.verification;
    this.lastAttempt = this.now();
    let outcome: RefreshOutcome;
    try {
      if (this.copy && this.copy.checkedUnder !== verification) await this.recheckInService(generation, verification);
      outcome = await this.fetchAndLoad(generation, verification);
      this.failures = 0;
      this.lastResult = { outcome, at: this.now() };
    } catch (e) {
      if (e instanceof Superseded) {
        this.tick();
        return 'superseded';
      }
      outcome = 'failed';
      this.failures++;
      const error = (e as Error).message;
      this.lastResult = { outcome, at: this.now(), error };
      this.opts.logger.log('error', this.copy ? 'zone refresh failed; the copy in service stays' : 'zone refresh failed; no copy in service, queries are forwarded', {
        app: this.app,
        source: this.source.description,
        reason,
        failures: this.failures,
        serial: this.copy?.info.serial,
        error,
      });
    }
    this.m.refreshes.inc({ app: this.app, outcome });
    this.tick();
    return outcome;
  }

  private maxAgeMs(): number | undefined {
    return this.settings.maxAgeSec > 0 ? this.settings.maxAgeSec * 1000 : undefined;
  }

  private async check(zone: Zone, now: number, lastRefresh: number) {
    const maxAgeMs = this.maxAgeMs();
    return verifyZone(zone, {
      trustAnchor: this.settings.trustAnchor,
      zonemd: this.settings.zonemd,
      dnssec: this.settings.dnssec,
      now,
      lastRefresh,
      ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
    });
  }

  /** What the policies say of the results an image carries (verify_images = false), or null. */
  private imageRefusal(img: ZoneImage): string | null {
    // the core's policy functions, the ones a text zone is judged by (an insecure image passes
    // verify-if-present as an insecure text zone does)
    if (!zonemdAcceptable(img.zonemd, this.settings.zonemd)) return `image ZONEMD ${img.zonemd} (policy ${this.settings.zonemd})`;
    if (!dnssecAcceptable(img.dnssec, this.settings.dnssec)) return `image DNSSEC ${img.dnssec} (policy ${this.settings.dnssec})`;
    // As verifyZone judges a text zone: with an anchor for the apex an unsigned copy is bogus,
    // and an anchor for another apex vouches for nothing.
    const anchor = this.settings.trustAnchor;
    if (anchor && this.settings.dnssec !== 'ignore') {
      if (!nameEquals(anchor.owner, img.origin)) return `the trust anchor is for ${nameToText(anchor.owner)}, not for the image's apex ${img.originText}`;
      if (img.dnssec === 'unsigned') return `image DNSSEC unsigned, but the trust anchor says ${img.originText} is signed (bogus)`;
    }
    return null;
  }

  /** The verification settings changed: the copy in service must pass them too, or it goes. */
  private async recheckInService(generation: number, verification: number): Promise<void> {
    const c = this.copy!;
    const s = c.info;
    let refusal: string | null;
    try {
      const img = await readImage(c.image);
      if (s.imageVerifiedAt !== null && !this.settings.verifyImages) refusal = this.imageRefusal(img);
      else {
        const report = await this.check(zoneFromRecords(imageRecords(img)), this.now(), s.lastSuccess);
        refusal = report.usable ? null : report.reasons.join('; ');
        if (report.usable) {
          s.zonemd = report.zonemd.status;
          s.dnssec = report.dnssec.status;
        }
      }
    } catch (e) {
      refusal = (e as Error).message;
    }
    if (this.stopped || generation !== this.generation) throw new Superseded();
    if (refusal === null) {
      c.checkedUnder = verification;
      return;
    }
    this.opts.logger.log('error', 'the copy in service fails the new [zone] settings: taken out of service, queries are forwarded', { app: this.app, serial: s.serial, error: refusal });
    // The floor stays: a copy older than this one is still refused.
    this.copy = null;
    this.validators = null;
    this.move('withdraw', this.phase === 'disabled' ? 'disabled' : 'empty');
    await this.data.clear();
  }

  private async fetchAndLoad(generation: number, verification: number): Promise<RefreshOutcome> {
    const source = this.source;
    const res: SourceResult = await source.fetch(this.validators);
    if (this.stopped || generation !== this.generation) throw new Superseded();
    const now = this.now();
    if (res.kind === 'unchanged') {
      const s = this.copy?.info;
      if (!s) throw new Error('the source reports no change but no copy is loaded');
      // An HTTP 304 says the copy is current; a file nobody touched says nothing (the job that
      // updates it may have died), so it does not restart the SOA EXPIRE clock.
      if (res.confirms) await this.confirm(vouchedAt(now, s.imageVerifiedAt));
      return 'unchanged';
    }
    const maxAgeMs = this.maxAgeMs();
    let image: Uint8Array | null = null;
    let next: Omit<ZoneState, 'loadedAt' | 'lastSuccess' | 'expiresAt' | 'imageVerifiedAt'> | null = null;
    // When the copy was last taken from its origin: now for a zone fetched as text, the compile
    // time for an image another node made (SOA EXPIRE counts from there, not from our fetch).
    let copyTime = now;
    let fromImage = false;
    let parsed: ParsedCopy | null = null;
    if (isImage(res.bytes)) {
      const img = await readImage(res.bytes);
      fromImage = true;
      copyTime = Math.min(now, img.verifiedAt);
      const early = await this.serialVerdict(img.serial, img.originText, res.validators, copyTime);
      if (early) return early;
      if (this.settings.verifyImages) {
        // An image says what the node that compiled it found; anyone who can alter it in transit
        // could say anything. Check its records again and compile it ourselves.
        parsed = await this.compiler.parse(res.bytes, { kind: 'image', file: source.description });
      } else {
        const refusal = this.imageRefusal(img);
        if (refusal) throw new Error(refusal);
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
      parsed = await this.compiler.parse(res.bytes, { kind: 'text', file: source.description });
      const early = await this.serialVerdict(parsed.serial, parsed.origin, res.validators, now).catch((e: unknown) => {
        parsed!.drop();
        throw e;
      });
      if (early) {
        parsed.drop();
        return early;
      }
    }
    if (parsed) {
      if (this.stopped || generation !== this.generation) {
        parsed.drop();
        throw new Superseded();
      }
      const { image: compiled, report } = await parsed.finish({
        trustAnchor: this.settings.trustAnchor,
        zonemd: this.settings.zonemd,
        dnssec: this.settings.dnssec,
        now,
        lastRefresh: copyTime,
        ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
      });
      image = compiled;
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
    const settled = await this.serialVerdict(next.serial, next.origin, res.validators, copyTime);
    if (settled) return settled;
    const expiry = expiresAt({ earliestRrsigExpiration: next.earliestRrsigExpiration, soaExpire: next.soaExpire }, copyTime, maxAgeMs);
    if (now >= expiry) throw new Error(`serial ${next.serial} is already expired (${new Date(expiry).toISOString()})`);
    if (this.stopped || generation !== this.generation) throw new Superseded();
    const r = await this.data.apply(image, source.description);
    if (!r.ok) throw new Error(`static_zone refused serial ${next.serial}: ${r.errors.join('; ')}`);
    if (this.stopped) throw new Superseded();
    const previous = this.copy?.info.serial;
    const info: ZoneState = { ...next, loadedAt: now, lastSuccess: copyTime, expiresAt: expiry, imageVerifiedAt: fromImage ? copyTime : null };
    this.copy = { info, image, checkedUnder: verification };
    this.validators = res.validators;
    this.opts.logger.log('info', 'zone copy activated', {
      app: this.app,
      origin: next.origin,
      serial: next.serial,
      previous,
      zonemd: next.zonemd,
      dnssec: next.dnssec,
      expires: new Date(expiry).toISOString(),
    });
    this.move('activate', this.phase === 'disabled' ? 'disabled' : this.servingPhase(info));
    await this.remember({ serial: next.serial, origin: next.origin });
    return 'loaded';
  }

  /**
   * RFC 1982 against the copy in service (judgeSerial): an equal serial confirms it as of
   * `vouched` ('same-serial'), an older one is refused (throws), a newer one goes on (null).
   * With no copy in service, a serial older than the last one in service is refused all the same.
   */
  private async serialVerdict(serial: number, origin: string, validators: Validators, vouched: number): Promise<RefreshOutcome | null> {
    const s = this.copy?.info ?? null;
    switch (judgeSerial({ serial, origin }, s, this.floor)) {
      case 'take':
        return null;
      case 'same':
        this.validators = validators;
        await this.confirm(vouched);
        return 'same-serial';
      case 'older-than-in-service':
        throw new Error(`serial ${serial} is older than serial ${s!.serial} in service`);
      case 'older-than-floor': {
        const where = this.settings.store ? ` (${this.settings.store.description})` : '';
        throw new Error(`serial ${serial} is older than serial ${this.floor!.serial}, the last in service${where}`);
      }
    }
  }

  /**
   * A source vouched for the copy in service as of `at`: SOA EXPIRE counts from there. Never
   * backwards: an old image given again says nothing newer than what we knew.
   */
  private async confirm(at: number): Promise<void> {
    const s = this.copy!.info;
    s.lastSuccess = Math.max(s.lastSuccess, at);
    s.expiresAt = this.expiryOf(s);
    await this.reinstate();
  }

  private expiryOf(s: ZoneState): number {
    return expiresAt({ earliestRrsigExpiration: s.earliestRrsigExpiration, soaExpire: s.soaExpire }, s.lastSuccess, this.maxAgeMs());
  }

  /** Work started from a timer or a setting: a failure is logged, never an unhandled rejection that ends the process. */
  private background(work: Promise<unknown>, what: string): void {
    work.catch((e: Error) => this.opts.logger.log('error', 'zone lifecycle step failed', { app: this.app, step: what, error: e?.message ?? String(e) }));
  }

  /**
   * A copy taken out at its expiry whose expiry has moved (the source confirmed it after being
   * unreachable, or max_age grew) is served again: its signatures are still valid.
   */
  private async reinstate(): Promise<void> {
    const c = this.copy;
    if (this.phase !== 'expired' || !c || this.now() >= c.info.expiresAt || !this.inChain()) return;
    const r = await this.data.apply(c.image, this.source.description);
    if (!r.ok || this.copy !== c || this.phase !== 'expired') return;
    this.move('reinstate', this.servingPhase(c.info));
    // the clock may have reached the new expiry meanwhile; the timer now watches that one
    this.tick();
    if (!this.running) this.armTimer();
  }

  private refreshIntervalMs(): number {
    if (this.settings.refreshSec > 0) return this.settings.refreshSec * 1000;
    return Math.max(60, this.copy?.info.soaRefresh ?? 1800) * 1000;
  }

  private retryDelayMs(): number {
    const cap = Math.max(MIN_RETRY_MS, (this.copy?.info.soaRetry ?? 900) * 1000);
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
    this.nextRefreshAt = this.now() + (this.failures > 0 ? this.retryDelayMs() : this.refreshIntervalMs());
    this.armTimer();
  }

  /** One timer for whichever comes first: the next refresh, the copy's expiry, the next tick. */
  private armTimer(): void {
    if (this.stopped || !this.timers) return;
    this.timers.clear(this.timer);
    const now = this.now();
    let wait = Math.min(this.nextRefreshAt - now, TICK_MS);
    if (this.copy && SERVES[this.phase]) wait = Math.min(wait, Math.max(0, this.copy.info.expiresAt - now));
    this.timer = this.timers.set(() => this.onTimer(), Math.max(10, wait));
  }

  private onTimer(): void {
    this.tick();
    if (this.now() >= this.nextRefreshAt) this.background(this.refresh('scheduled'), 'refresh');
    else this.armTimer();
  }

  /**
   * Moves the copy where the clock and the chain put it (stale, expired, disabled) and updates
   * the metrics. Runs on the lifecycle's timer and after every attempt; runtimes without timers
   * call it from requests.
   */
  tick(): void {
    if (this.stopped) return;
    const now = this.now();
    if (this.phase !== 'disabled' && !this.inChain()) this.move('disable', 'disabled');
    const app = { app: this.app };
    this.m.disabled.set(app, this.phase === 'disabled' ? 1 : 0);
    this.m.failures.set(app, this.failures);
    if (this.lastResult) {
      this.m.lastRefresh.set(app, Math.floor(this.lastResult.at / 1000));
      this.m.lastSuccess.set(app, this.lastResult.outcome === 'failed' ? 0 : 1);
    }
    const s = this.copy?.info;
    if (!s) {
      this.m.serving.set(app, 0);
      return;
    }
    const clock = this.clockOf(s, now);
    if (this.phase === 'serving' || this.phase === 'stale') {
      const to = clockPhase(clock);
      const event = clockEvent(this.phase, to);
      if (event) this.move(event, to);
    }
    this.m.serial.set(app, s.serial);
    this.m.age.set(app, Math.round((now - s.lastSuccess) / 1000));
    this.m.expiresIn.set(app, Math.round((s.expiresAt - now) / 1000));
    this.m.stale.set(app, isStale(clock) ? 1 : 0);
    // Serving means queries are answered from the copy: not while the app's breaker keeps it
    // out of the chain, whatever the copy's own state.
    const inst = this.opts.chain().app(this.app);
    if (inst) inst.onBreakerChange = () => this.tick();
    this.m.serving.set(app, SERVES[this.phase] && !inst?.breakerOpen ? 1 : 0);
  }

  status(): Record<string, unknown> {
    this.tick();
    const s = this.copy?.info ?? null;
    const now = this.now();
    const phase = this.phase;
    return {
      source: this.source.description,
      // where copies are parsed, verified and compiled: "worker thread" (Node) or "in thread"
      ingestion: this.compiler.where,
      // serving (fresh or stale) | expired | no-copy (forwarding until a verified copy loads) |
      // disabled (switched off in the config) | stopped
      state: phase === 'serving' || phase === 'stale' ? 'serving' : phase === 'empty' ? 'no-copy' : phase,
      phase,
      serving: SERVES[phase] && !this.opts.chain().app(this.app)?.breakerOpen,
      serial: s?.serial ?? null,
      origin: s?.origin ?? null,
      loaded_at: s ? new Date(s.loadedAt).toISOString() : null,
      last_success: s ? new Date(s.lastSuccess).toISOString() : null,
      age_s: s ? Math.round((now - s.lastSuccess) / 1000) : null,
      expires_at: s ? new Date(s.expiresAt).toISOString() : null,
      expires_in_s: s ? Math.round((s.expiresAt - now) / 1000) : null,
      // a copy held while switched off counts as expired once the clock passed its expiry
      expired: !!s && (phase === 'expired' || now >= s.expiresAt),
      stale: !!s && isStale(this.clockOf(s, now)),
      zonemd: s?.zonemd ?? null,
      dnssec: s?.dnssec ?? null,
      serial_floor: this.floor?.serial ?? null,
      state_file: this.settings.store?.description ?? null,
      consecutive_failures: this.failures,
      last_attempt: this.lastAttempt ? new Date(this.lastAttempt).toISOString() : null,
      last_result: this.lastResult ? { ...this.lastResult, at: new Date(this.lastResult.at).toISOString() } : null,
      next_refresh: this.nextRefreshAt ? new Date(this.nextRefreshAt).toISOString() : null,
      image_hash: this.data.current?.hash ?? null,
    };
  }

  /**
   * The chain was rebuilt: give static_zone its copy again unless it is expired. When it comes
   * back after being switched off, the copy is where the clock puts it, and a refresh skipped
   * meanwhile runs at once rather than at the next scheduled time.
   */
  restore(): void {
    if (this.inChain()) {
      if (this.phase === 'disabled') this.move('enable', this.copy ? clockPhase(this.clockOf(this.copy.info)) : 'empty');
      if (this.phase === 'expired') this.background(this.data.clear(), 'clear');
      else this.data.restore();
      if (this.owed !== null && !this.running) this.kick('app enabled');
    }
    this.tick();
  }
}

function settingsOf(o: ZoneSettings): ZoneSettings {
  const { trustAnchor, zonemd, dnssec, refreshSec, verifyImages, maxAgeSec, staleAgeSec, staleBeforeExpirySec, store } = o;
  return { trustAnchor, zonemd, dnssec, refreshSec, verifyImages, maxAgeSec, staleAgeSec, staleBeforeExpirySec, store: store ?? null };
}

/** What a source's word is worth for a copy: now, or for an image no later than its compiler saw it. */
function vouchedAt(now: number, imageVerifiedAt: number | null): number {
  return imageVerifiedAt === null ? now : Math.min(now, imageVerifiedAt);
}

function sameAnchor(a: TrustAnchor | null, b: TrustAnchor | null): boolean {
  if (!a || !b) return a === b;
  const same = (x: Uint8Array[], y: Uint8Array[]) => x.length === y.length && x.every((r, i) => sameBytes(r, y[i]!));
  return sameBytes(a.owner, b.owner) && same(a.ds, b.ds) && same(a.dnskey, b.dnskey);
}

function isImage(b: Uint8Array): boolean {
  return b.length >= 4 && new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) === IMAGE_MAGIC;
}
