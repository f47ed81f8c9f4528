/**
 * One loaded app: its module, its capped memory, its current instance, and what keeps a broken
 * app from taking the resolver down: traps are caught and counted, a trapped instance is never
 * called again (the next call gets a fresh instance with the last good loads replayed), and a
 * circuit breaker stops re-instantiating an app that keeps trapping.
 */

import { AppTrap, buildImports, CallState, importCapability, type Capability, type Effect, type TrapReason } from '../abi/imports.js';
import { ABI_VERSION, LoadKind, MAX_MESSAGE_BYTES, Verdict, phaseNames, verdictNames, type LoadKindCode, type VerdictCode } from '../abi/verdict.js';
import { MAX_CONTEXT_BYTES } from '../core/context.js';
import type { Logger, LogLevel } from '../core/log.js';
import { MemoryMetrics, type MetricsSink, type Counter, type Gauge, type BoundCounter } from '../core/metrics.js';
import type { AppManifest } from './manifest.js';
import { FUEL_EXPORT, START_EXPORT } from '../abi/meter.js';
import { ABI_SECTION, abiMarker } from '../abi/abi-marker.js';

export class AppLoadError extends Error {
  override readonly name = 'AppLoadError';
}

export interface AppSource {
  manifest: AppManifest;
  module: WebAssembly.Module;
  /** Initial pages the module's memory import declares (read from the binary at build time). */
  minPages: number;
}

export interface BreakerPolicy {
  /** Distinct trapping inputs within `windowMs` that open the breaker. */
  traps: number;
  windowMs: number;
  /** How long an open breaker keeps the app out of the chain before it is tried again. */
  cooldownMs: number;
  /**
   * How long a question that made the app trap is answered by the app's failure policy without
   * calling it (default 10 minutes), and how many such questions are kept (default 1,024; the
   * oldest goes first).
   */
  quarantineMs?: number;
  quarantineMax?: number;
}

export const defaultBreaker: BreakerPolicy = { traps: 5, windowMs: 60_000, cooldownMs: 30_000, quarantineMs: 600_000, quarantineMax: 1024 };

/** What identifies the input of a call for quarantine: the question and the DO and CD bits. */
export interface CallInput {
  qname: Uint8Array;
  qtype: number;
  qclass: number;
  /** Context flags: bit 0 DO, bit 1 CD (the others are ignored). */
  flags: number;
}

/** The quarantine key: the name case-folded, type, class, DO and CD. */
export function inputKey(q: CallInput): string {
  let name = '';
  for (const b of q.qname) name += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b | 0x20 : b);
  return `${name}/${q.qtype}/${q.qclass}/${q.flags & 3}`;
}

export type CallResult =
  | { kind: 'ok'; verdict: VerdictCode; response: Uint8Array | null; target: string | null; effects: Effect[] }
  /** The app trapped or broke the ABI; its effects are discarded. */
  | { kind: 'trap'; reason: TrapReason; message: string }
  /** The breaker is open: the app was not called. */
  | { kind: 'open' }
  /** This question made the app trap a short while ago: the app was not called. */
  | { kind: 'quarantined' };

export type LoadResult = { ok: true } | { ok: false; error: string };

interface Exports {
  [FUEL_EXPORT]?: WebAssembly.Global;
  /** The start function of a metered module (run by the host on its start budget). */
  [START_EXPORT]?: () => void;
  abi_version(): number;
  input(size: number): number;
  on_query(phase: number, ctxLen: number, msgLen: number): number;
  on_load?(kind: number, len: number): number;
  gc?(): void;
  phases_wanted?(): number;
}

const REQUIRED_EXPORTS = ['abi_version', 'input', 'on_query'] as const;

export interface AppMetrics {
  calls: Counter;
  verdicts: Counter;
  traps: Counter;
  instantiations: Counter;
  breakerOpen: Gauge;
  events: Counter;
  loads: Counter;
  collections: Counter;
  logs: Counter;
  quarantined: Counter;
  quarantinedInputs: Gauge;
  breakerOpened: Counter;
}

export function appMetrics(sink: MetricsSink): AppMetrics {
  return {
    calls: sink.counter('edge_app_calls_total', 'Calls into an app, by phase', ['app', 'phase']),
    verdicts: sink.counter('edge_app_verdicts_total', 'Verdicts returned by apps', ['app', 'verdict']),
    traps: sink.counter('edge_app_traps_total', 'App traps and ABI violations, by reason', ['app', 'reason']),
    instantiations: sink.counter('edge_app_instantiations_total', 'App instances created (first load and after traps)', ['app']),
    breakerOpen: sink.gauge('edge_app_breaker_open', '1 while an app is kept out of the chain by its circuit breaker', ['app']),
    events: sink.counter('edge_app_events_total', 'Counters apps report through the metrics capability', ['app', 'event']),
    loads: sink.counter('edge_app_loads_total', 'Data and config loads into apps, by result', ['app', 'kind', 'result']),
    collections: sink.counter('edge_app_collections_total', 'Garbage collections the host ran in an app (each walks its whole heap)', ['app']),
    logs: sink.counter('edge_app_log_lines_total', 'Log lines apps wrote through the log capability: written, or dropped over the rate limit', ['app', 'result']),
    quarantined: sink.counter('edge_app_quarantined_total', 'Calls not made because their question made the app trap a short while ago (answered by the failure policy)', ['app']),
    quarantinedInputs: sink.gauge('edge_app_quarantined_inputs', 'Questions in quarantine: each made the app trap and gets its failure policy without a call', ['app']),
    breakerOpened: sink.counter('edge_app_breaker_opened_total', 'Times the circuit breaker opened (traps on distinct questions within its window)', ['app']),
  };
}

const MAX_EVENT_NAMES = 64;
const GC_EVERY_NEAR_CAP = 64;
/**
 * Past this size (and never below the floor), an app's memory is collected on the call interval
 * instead of only when garbage made it grow: four times what it holds after its last load.
 */
const GC_SOFT_FACTOR = 4;
const GC_SOFT_FLOOR = 8 * 1024 * 1024;
const GUEST_LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

let stateVersion = 0;
/**
 * Moves whenever what any app instance holds may have changed (a load tried, its data dropped, a
 * new instance, a trap); it only ever grows. AppChain.answerStamp compares it, one number per
 * query, instead of asking every app.
 */
export function appStateVersion(): number {
  return stateVersion;
}
function appStateChanged(): void {
  stateVersion++;
}

/**
 * An app's log lines, per app: a token bucket of LOG_BURST lines refilled at LOG_PER_SECOND.
 * Lines past it are dropped and counted (edge_app_log_lines_total{result="dropped"}), so an app
 * that logs on every query cannot fill the disk (5 MB for 5 queries before this).
 */
export const LOG_PER_SECOND = 10;
export const LOG_BURST = 50;

/**
 * Checks a module against ABI v1 and its manifest before instantiating it, so a module built
 * for another version is refused before any of its code (its start function) runs; throws
 * AppLoadError. What only a running module can tell (`abi_version()`) is checked at instantiation.
 */
export function checkModule(src: AppSource): Set<Capability> {
  const name = src.manifest.name;
  if (src.manifest.abi_version !== ABI_VERSION) {
    throw new AppLoadError(
      `app ${name}: manifest says ABI version ${src.manifest.abi_version}; this host speaks ABI version ${ABI_VERSION}`,
    );
  }
  let marked: number | null;
  try {
    marked = abiMarker(src.module);
  } catch (e) {
    throw new AppLoadError(`app ${name}: its ${ABI_SECTION} section is malformed: ${(e as Error).message}`);
  }
  if (marked !== null && marked !== ABI_VERSION) {
    throw new AppLoadError(
      `app ${name} was built for ABI version ${marked}; this host speaks ABI version ${ABI_VERSION} (refused before it ran: its ${ABI_SECTION} section says so)`,
    );
  }
  const exports = new Map(WebAssembly.Module.exports(src.module).map((e) => [e.name, e.kind]));
  if (!exports.has('abi_version')) {
    throw new AppLoadError(`app ${name}: no abi_version export (not built with the edge-resolver SDK?)`);
  }
  for (const e of REQUIRED_EXPORTS) {
    if (exports.get(e) !== 'function') throw new AppLoadError(`app ${name}: missing required export function "${e}"`);
  }
  const granted = new Set<Capability>(src.manifest.capabilities);
  let importsMemory = false;
  for (const imp of WebAssembly.Module.imports(src.module)) {
    const what = `${imp.module}.${imp.name}`;
    if (imp.module === 'env' && imp.name === 'memory' && imp.kind === 'memory') {
      importsMemory = true;
      continue;
    }
    if (imp.module === 'env' && imp.name === 'abort' && imp.kind === 'function') continue;
    if (imp.module !== 'edge' || imp.kind !== 'function') {
      throw new AppLoadError(`app ${name}: imports ${what}, which ABI v1 does not provide`);
    }
    if (!Object.hasOwn(importCapability, imp.name)) {
      throw new AppLoadError(
        `app ${name}: imports ${what}, which ABI version ${ABI_VERSION} does not define; this host speaks ABI version ${ABI_VERSION}, so the module was likely built for another ABI version (rebuild it with this edge-resolver's SDK)`,
      );
    }
    const cap = importCapability[imp.name];
    if (cap && !granted.has(cap)) {
      throw new AppLoadError(`app ${name}: imports ${what}, which needs capability "${cap}" not granted in its manifest`);
    }
  }
  if (!importsMemory) {
    throw new AppLoadError(`app ${name}: does not import env.memory; ABI v1 requires it so the host can cap memory (build with --importMemory)`);
  }
  if (exports.has('memory') && exports.get('memory') !== 'memory') throw new AppLoadError(`app ${name}: export "memory" is not a memory`);
  if (src.minPages > src.manifest.memory.max_pages) {
    throw new AppLoadError(
      `app ${name}: needs ${src.minPages} memory pages at start, above its cap of ${src.manifest.memory.max_pages}`,
    );
  }
  return granted;
}

export class AppInstance {
  readonly name: string;
  readonly manifest: AppManifest;
  private readonly granted: Set<Capability>;
  private memory!: WebAssembly.Memory;
  /** A view of the guest memory; growing the memory detaches it, and it is remade then. */
  private heap = new Uint8Array(0);
  private exports: Exports | null = null;
  private readonly state = new CallState();
  /** Last successful load per kind; replayed into every new instance. */
  private readonly loads = new Map<LoadKindCode, Uint8Array>();
  /** Trapping inputs within the breaker's window: input key (or one of its own per unkeyed trap) -> time. */
  private trapInputs = new Map<string, number>();
  private unkeyedTraps = 0;
  /** Questions that made the app trap -> until when they are answered without a call (insertion order: oldest first). */
  private readonly quarantine = new Map<string, number>();
  /** Called when the breaker opens or closes (edge_zone_serving follows it). */
  onBreakerChange: ((open: boolean) => void) | null = null;
  /** What the meter held when the last query call returned, when a collection refilled it since. */
  private fuelBeforeGc: bigint | null = null;
  private openUntil = 0;
  /** Memory size right after the last collection; growth past it triggers the next one. */
  private sizeAfterGc = 0;
  /**
   * Memory size after the last successful load that made the memory grow (and its collection):
   * about what the data takes. A load that fits in memory grown by garbage before it leaves it
   * as it was, since memory never shrinks: taking the size then would ratchet the soft limit up
   * with every zone swap (a flood, a swap, a flood: 1.7, 13.5, 54, 108 MiB). Kept across
   * instances, whose memory is reused.
   */
  private sizeAfterLoad = 0;
  private callsSinceGc = 0;
  /** Calls after a collection until garbage made the memory grow, last time it did (0: not seen). */
  private fillCalls = 0;
  /** The interval near the cap while no fill has been seen; see gcDue(). */
  private probeCalls = GC_EVERY_NEAR_CAP;
  /** Half the calls after which the garbage once ran the memory out (kept across instances). */
  private probeCeiling = Number.MAX_SAFE_INTEGER;
  /** Phases from the manifest, as bits. */
  private readonly manifestPhases: number;
  /** The phases the app wants calls in right now (`phases_wanted`), within the manifest's. */
  private wanted: number;
  // Metric handles bound once: the hot path updates them millions of times.
  private readonly callCounters: BoundCounter[];
  private readonly verdictCounters: BoundCounter[];
  private readonly eventCounters = new Map<string, BoundCounter>();
  private logTokens = LOG_BURST;
  private logRefilledAt = 0;
  private logDropping = false;

  constructor(
    private readonly src: AppSource,
    private readonly logger: Logger,
    private readonly metrics: AppMetrics,
    private readonly now: () => number = Date.now,
    private readonly breaker: BreakerPolicy = defaultBreaker,
  ) {
    this.name = src.manifest.name;
    this.manifest = src.manifest;
    this.granted = checkModule(src);
    this.manifestPhases = src.manifest.phases.reduce((bits, p) => bits | (1 << phaseNames.indexOf(p)), 0);
    this.wanted = this.manifestPhases;
    this.callCounters = phaseNames.map((phase) => metrics.calls.bind({ app: this.name, phase }));
    this.verdictCounters = verdictNames.map((verdict) => metrics.verdicts.bind({ app: this.name, verdict }));
    this.instantiate();
  }

  /** The manifest's phases: where the app may ever run. */
  declares(phase: number): boolean {
    return (this.manifestPhases & (1 << phase)) !== 0;
  }

  /** Where the app wants to be called now: an override app without rules for a phase is skipped there. */
  runsIn(phase: number): boolean {
    return (this.wanted & (1 << phase)) !== 0;
  }

  /** Asks the app which phases it has work in (optional export `phases_wanted`); after every load. */
  private refreshWanted(): void {
    const ex = this.exports;
    if (!ex?.phases_wanted) {
      this.wanted = this.manifestPhases;
      return;
    }
    try {
      this.refuel(this.manifest.fuel.query);
      this.wanted = ex.phases_wanted() & this.manifestPhases;
    } catch (e) {
      this.trapped(e);
      this.wanted = this.manifestPhases;
    }
  }

  /** A line the app logs, within its rate limit. */
  private guestLog(level: number, msg: string): void {
    const now = this.now();
    this.logTokens = Math.min(LOG_BURST, this.logTokens + ((now - this.logRefilledAt) / 1000) * LOG_PER_SECOND);
    this.logRefilledAt = now;
    if (this.logTokens < 1) {
      this.metrics.logs.inc({ app: this.name, result: 'dropped' });
      if (!this.logDropping) {
        this.logDropping = true;
        this.logger.log('warn', `app ${this.name} logs more than ${LOG_PER_SECOND} lines a second; lines over that are dropped and counted`, { app: this.name });
      }
      return;
    }
    this.logTokens -= 1;
    this.logDropping = false;
    this.metrics.logs.inc({ app: this.name, result: 'written' });
    this.logger.log(GUEST_LOG_LEVELS[level] ?? 'info', `${this.name}: ${msg}`, { app: this.name });
  }

  get breakerOpen(): boolean {
    return this.now() < this.openUntil;
  }

  /** Creates a fresh instance and memory, replaying the last good loads. Throws AppLoadError. */
  private instantiate(): void {
    appStateChanged();
    this.exports = null;
    // The previous instance's memory is zeroed and reused, not replaced: a new memory's pages
    // are faulted in and zeroed by the kernel when first written (about 0.5 ms per MiB here,
    // bench/fuel.mjs), in whatever call first writes them, and every dropped memory is
    // external memory that makes the JS engine collect its whole heap sooner (pauses of
    // 100-300 ms seen when a hostile app trapped on every call). Zeroing is a memset.
    let memory: WebAssembly.Memory;
    if (this.memory as WebAssembly.Memory | undefined) {
      memory = this.memory;
      new Uint8Array(memory.buffer).fill(0);
    } else {
      memory = new WebAssembly.Memory({ initial: Math.max(1, this.src.minPages), maximum: this.manifest.memory.max_pages });
    }
    this.memory = memory;
    this.heap = new Uint8Array(memory.buffer);
    this.sizeAfterGc = 0;
    this.callsSinceGc = 0;
    this.fillCalls = 0;
    this.probeCalls = GC_EVERY_NEAR_CAP;
    const imports = buildImports(
      {
        appName: this.name,
        memory: () => memory,
        state: this.state,
        log: (level, msg) => this.guestLog(level, msg),
        now: () => this.now(),
        metric: (event, delta) => this.countEvent(event, delta),
      },
      this.granted,
    );
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(this.src.module, imports);
    } catch (e) {
      throw new AppLoadError(`app ${this.name}: cannot instantiate: ${(e as Error).message}`);
    }
    const ex = instance.exports as unknown as Exports;
    const start = ex[START_EXPORT];
    if (start) {
      // Top-level code, on its own budget: what it spends is no query's.
      this.exports = ex;
      try {
        this.refuel(this.manifest.fuel.start);
        start();
      } catch (e) {
        const fuel = this.outOfFuel();
        const why = fuel ? `ran out of its start budget of ${this.manifest.fuel.start} fuel units` : `trapped: ${(e as Error).message}`;
        this.exports = null;
        this.metrics.traps.inc({ app: this.name, reason: fuel ? 'fuel' : 'trap' });
        throw new AppLoadError(`app ${this.name}: its start code ${why}`);
      }
      this.exports = null;
    }
    let version: number;
    try {
      this.exports = ex;
      this.refuel(this.manifest.fuel.query);
      version = ex.abi_version();
      this.exports = null;
    } catch (e) {
      this.exports = null;
      throw new AppLoadError(`app ${this.name}: abi_version() trapped: ${(e as Error).message}`);
    }
    if (version !== ABI_VERSION) {
      throw new AppLoadError(`app ${this.name} was built for ABI version ${version}; this host speaks ABI version ${ABI_VERSION}`);
    }
    this.metrics.instantiations.inc({ app: this.name });
    this.exports = ex;
    for (const kind of [LoadKind.CONFIG, LoadKind.DATA] as const) {
      const data = this.loads.get(kind);
      if (!data) continue;
      const r = this.rawLoad(kind, data);
      if (!r.ok) {
        // The same bytes loaded before; failing now means the app is broken, not the data.
        this.exports = null;
        throw new AppLoadError(`app ${this.name}: replaying its last good ${kind === 0 ? 'config' : 'data'} failed: ${r.error}`);
      }
    }
    // The instance's own garbage (start code, replayed loads) is collected now, on the
    // collector's budget, so the first query after a new instance does not pay for it.
    const gc = this.collect();
    if (gc) {
      this.exports = null;
      throw new AppLoadError(`app ${this.name}: its collector ${gc}`);
    }
    this.refreshWanted();
  }

  /** Makes sure there is a usable instance; false when the breaker is open or instantiation failed. */
  private ready(): boolean {
    if (this.exports) return true;
    if (this.breakerOpen) return false;
    try {
      const wasOpen = this.openUntil > 0;
      this.instantiate();
      this.metrics.breakerOpen.set({ app: this.name }, 0);
      if (wasOpen) {
        this.openUntil = 0;
        this.onBreakerChange?.(false);
      }
      return true;
    } catch (e) {
      this.logger.log('error', 'app instantiation failed', { app: this.name, error: (e as Error).message });
      this.open();
      return false;
    }
  }

  private open(): void {
    this.openUntil = this.now() + this.breaker.cooldownMs;
    this.trapInputs.clear();
    this.metrics.breakerOpen.set({ app: this.name }, 1);
    this.metrics.breakerOpened.inc({ app: this.name });
    this.onBreakerChange?.(true);
    this.logger.log('warn', 'app circuit breaker open', { app: this.name, cooldown_ms: this.breaker.cooldownMs });
  }

  private refuel(units: number): void {
    const fuel = this.exports?.[FUEL_EXPORT];
    if (fuel) fuel.value = BigInt(units);
  }

  /** Fuel the last query call spent (for tests and bench/fuel.mjs; read from the meter's global). */
  lastCallFuel(): number {
    if (this.fuelBeforeGc !== null) return this.manifest.fuel.query - Number(this.fuelBeforeGc);
    const fuel = this.exports?.[FUEL_EXPORT];
    return fuel ? this.manifest.fuel.query - Number(fuel.value as bigint) : 0;
  }

  private outOfFuel(): boolean {
    const fuel = this.exports?.[FUEL_EXPORT];
    return !!fuel && (fuel.value as bigint) < 0n;
  }

  private trapped(e: unknown, input: string | null = null): { kind: 'trap'; reason: TrapReason; message: string } {
    const outOfFuel = this.outOfFuel();
    // An allocator that cannot grow the memory traps with a plain `unreachable`; a memory at
    // (or within a few pages of) its cap tells what happened.
    const capPages = this.manifest.memory.max_pages;
    const atCap = capPages - this.memory.buffer.byteLength / 65536 <= Math.max(2, capPages / 16);
    const reason: TrapReason = outOfFuel
      ? 'fuel'
      : atCap && !(e instanceof AppTrap)
        ? 'out-of-memory'
        : e instanceof AppTrap
        ? e.reason
        : e instanceof RangeError && /call stack/i.test(String(e.message))
          ? 'stack'
          : /out of bounds memory|memory access/i.test(String((e as Error)?.message))
            ? 'bad-pointer'
            : 'trap';
    const message = outOfFuel
      ? 'ran out of fuel'
      : reason === 'out-of-memory'
        ? `ran out of memory at its cap of ${this.manifest.memory.max_pages} pages (${(e as Error)?.message ?? e})`
        : ((e as Error)?.message ?? String(e));
    this.exports = null; // never call a trapped instance again
    // What it answered before may have come from the state that trapped, and while its breaker
    // is open it answers nothing: the answers kept from it (AppChain.answerStamp) end here.
    appStateChanged();
    this.metrics.traps.inc({ app: this.name, reason });
    // the garbage outran the collections: never wait that long again
    if (reason === 'out-of-memory') this.probeCeiling = Math.max(GC_EVERY_NEAR_CAP, this.callsSinceGc >> 1);
    this.logger.log('warn', 'app trapped', { app: this.name, reason, error: message });
    const t = this.now();
    if (input !== null) this.quarantineInput(input, t);
    // Traps are counted per distinct input over the window, however far apart they come: one
    // question trapping again is in quarantine and never gets here, so only traps across
    // questions (or outside any question: loads, collections) open the breaker.
    for (const [k, at] of this.trapInputs) if (t - at >= this.breaker.windowMs) this.trapInputs.delete(k);
    this.trapInputs.delete(input ?? '');
    this.trapInputs.set(input ?? `#${++this.unkeyedTraps}`, t);
    if (this.trapInputs.size >= this.breaker.traps) this.open();
    return { kind: 'trap', reason, message };
  }

  private quarantineInput(key: string, t: number): void {
    const max = this.breaker.quarantineMax ?? 1024;
    this.quarantine.delete(key);
    this.quarantine.set(key, t + (this.breaker.quarantineMs ?? 600_000));
    while (this.quarantine.size > max) this.quarantine.delete(this.quarantine.keys().next().value!);
    this.metrics.quarantinedInputs.set({ app: this.name }, this.quarantine.size);
  }

  /** True (and counted) when `key` is in quarantine; a quarantine that ran out is lifted here. */
  private inQuarantine(key: string): boolean {
    const until = this.quarantine.get(key);
    if (until === undefined) return false;
    if (this.now() < until) {
      this.metrics.quarantined.inc({ app: this.name });
      return true;
    }
    this.quarantine.delete(key);
    this.metrics.quarantinedInputs.set({ app: this.name }, this.quarantine.size);
    return false;
  }

  /** Questions in quarantine now (for status and tests). */
  quarantinedInputs(): number {
    return this.quarantine.size;
  }

  private bytes(): Uint8Array {
    if (this.heap.byteLength === 0) this.heap = new Uint8Array(this.memory.buffer);
    return this.heap;
  }

  private write(a: Uint8Array, b: Uint8Array | null): void {
    const total = a.length + (b?.length ?? 0);
    const ptr = this.exports!.input(total);
    const heap = this.bytes();
    if (!Number.isInteger(ptr) || ptr <= 0 || ptr + total > heap.length) {
      throw new AppTrap(`input(${total}) returned an invalid pointer ${ptr}`, 'bad-pointer');
    }
    heap.set(a, ptr);
    if (b) heap.set(b, ptr + a.length);
  }

  /** Runs `on_query`. Never throws: traps come back as a result and are already counted. */
  call(phase: number, ctx: Uint8Array, msg: Uint8Array, input?: CallInput): CallResult {
    // The key is made only when it is needed: a quarantine to look in, or a trap to remember.
    let key: string | null = null;
    if (input && this.quarantine.size > 0) {
      key = inputKey(input);
      if (this.inQuarantine(key)) return { kind: 'quarantined' };
    }
    if (!this.ready()) return { kind: 'open' };
    if (ctx.length > MAX_CONTEXT_BYTES || msg.length > MAX_MESSAGE_BYTES) {
      return { kind: 'trap', reason: 'bad-pointer', message: 'input larger than the ABI allows' };
    }
    this.callCounters[phase]?.inc();
    this.state.reset();
    try {
      this.refuel(this.manifest.fuel.query);
      this.write(ctx, msg);
      const v = this.exports!.on_query(phase, ctx.length, msg.length);
      if (!Number.isInteger(v) || v < 0 || v >= verdictNames.length) {
        throw new AppTrap(`on_query returned ${v}, which is not a verdict`, 'bad-verdict');
      }
      if (v === Verdict.RESPOND && !this.state.response) {
        throw new AppTrap('verdict RESPOND without a message (call respond first)', 'bad-verdict');
      }
      if (v === Verdict.FORWARD && !this.state.target) {
        throw new AppTrap('verdict FORWARD without a target (call set_target first)', 'bad-verdict');
      }
      this.verdictCounters[v]!.inc();
      this.fuelBeforeGc = null;
      if (this.gcDue()) {
        this.fuelBeforeGc = (this.exports![FUEL_EXPORT]?.value as bigint | undefined) ?? null;
        this.collect();
      }
      return { kind: 'ok', verdict: v as VerdictCode, response: this.state.response, target: this.state.target, effects: this.state.effects };
    } catch (e) {
      return this.trapped(e, input ? (key ?? inputKey(input)) : null);
    }
  }

  /**
   * A full collection walks every live object (10,000 rules are a lot of them), so collecting
   * on a fixed call count costs more the more data an app holds. Collect when garbage made the
   * memory grow, and note how many calls that took: it is how long the garbage of this app's
   * calls takes to fill the free memory. Once the memory is past four times what the app's data
   * takes (8 MiB at least) or past half its cap, where the allocator can no longer double it to
   * make room, collect after half that many calls, so garbage neither fills a capped memory nor
   * doubles it again. Until a fill has been seen (a load can take the memory past that by
   * itself), the interval starts at 64 calls and doubles at each collection, up to half the
   * calls an out-of-memory trap once came after. (A fixed 64, as before, meant a full walk of
   * 10,000 rules every 64 queries once the allocator's doubling had taken the memory past half
   * its cap: calls became 300 times slower. Doubling up to half the cap, as after that, let
   * static_zone's 2 MiB grow to 108 MiB of garbage under all-new junk names, with collections
   * of 9-17 ms: the sweep walks the garbage too.)
   */
  private gcDue(): boolean {
    this.callsSinceGc++;
    const size = this.bytes().length;
    if (size > this.sizeAfterGc) {
      this.fillCalls = this.callsSinceGc;
      return true;
    }
    const cap = this.manifest.memory.max_pages * 65536;
    if (size < Math.min(cap / 2, Math.max(GC_SOFT_FLOOR, GC_SOFT_FACTOR * this.sizeAfterLoad))) return false;
    const every = this.fillCalls > 0 ? Math.max(GC_EVERY_NEAR_CAP, this.fillCalls >> 1) : this.probeCalls;
    if (this.callsSinceGc < every) return false;
    if (this.fillCalls === 0) this.probeCalls = Math.min(this.probeCalls * 2, this.probeCeiling);
    return true;
  }

  /** Runs the app's collector on its own budget; returns why it failed, or null. */
  private collect(): string | null {
    this.callsSinceGc = 0;
    const gc = this.exports?.gc;
    if (!gc) return null;
    this.metrics.collections.inc({ app: this.name });
    try {
      this.refuel(this.manifest.fuel.gc);
      gc();
    } catch (e) {
      const t = this.trapped(e);
      return t.reason === 'fuel' ? `gc() ran out of its budget of ${this.manifest.fuel.gc} fuel units` : `gc() trapped: ${t.message}`;
    }
    this.sizeAfterGc = this.memory.buffer.byteLength;
    return null;
  }

  private rawLoad(kind: LoadKindCode, data: Uint8Array): LoadResult {
    const ex = this.exports!;
    if (!ex.on_load) return { ok: false, error: `app ${this.name} has no on_load export` };
    this.state.reset();
    this.refuel(this.manifest.fuel.load);
    this.write(data, null);
    const status = ex.on_load(kind, data.length);
    if (status !== 0) return { ok: false, error: this.state.loadError ?? `on_load returned ${status}` };
    return { ok: true };
  }

  /**
   * Loads config or data into the app. On success the app has swapped to it; on failure the
   * previous data keeps serving and the error says why (from the app, or the trap).
   */
  load(kind: LoadKindCode, data: Uint8Array): LoadResult {
    const kindName = kind === LoadKind.CONFIG ? 'config' : 'data';
    const result = this.tryLoad(kind, data);
    this.metrics.loads.inc({ app: this.name, kind: kindName, result: result.ok ? 'ok' : 'error' });
    return result;
  }

  private tryLoad(kind: LoadKindCode, data: Uint8Array): LoadResult {
    appStateChanged();
    if (data.length > this.manifest.max_load_bytes) {
      return { ok: false, error: `${data.length} bytes exceed app ${this.name}'s max_load_bytes of ${this.manifest.max_load_bytes}` };
    }
    if (!this.exports) {
      try {
        this.instantiate();
      } catch (e) {
        return { ok: false, error: (e as Error).message };
      }
    }
    try {
      const before = this.memory.buffer.byteLength;
      const r = this.rawLoad(kind, data);
      // a refused load leaves its garbage too: without a collection, a few refused 10,000-rule
      // sets in a row filled the memory cap and the next good set trapped
      this.collect();
      if (r.ok) {
        this.loads.set(kind, data.slice());
        this.refreshWanted();
        const after = this.memory.buffer.byteLength;
        if (after > before || this.sizeAfterLoad === 0) this.sizeAfterLoad = after;
      }
      return r;
    } catch (e) {
      const t = this.trapped(e);
      return { ok: false, error: `app ${this.name} trapped while loading: ${t.message}` };
    }
  }

  private countEvent(event: string, delta: number): void {
    let c = this.eventCounters.get(event);
    if (!c) {
      if (!/^[a-z][a-z0-9_]{0,47}$/.test(event)) throw new AppTrap(`metric name "${event}" is not snake_case`, 'bad-verdict');
      if (this.eventCounters.size >= MAX_EVENT_NAMES) return;
      c = this.metrics.events.bind({ app: this.name, event });
      this.eventCounters.set(event, c);
    }
    c.inc(delta);
  }

  /**
   * Checks that `data` would load, in a scratch instance with this app's config, without
   * touching the running one (a dry run for rule pushes).
   */
  validate(data: Uint8Array): LoadResult {
    let scratch: AppInstance;
    try {
      scratch = new AppInstance(this.src, this.logger, this.scratchMetrics(), this.now, this.breaker);
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
    const config = this.loads.get(LoadKind.CONFIG);
    if (config) {
      const r = scratch.tryLoad(LoadKind.CONFIG, config);
      if (!r.ok) return r;
    }
    return scratch.tryLoad(LoadKind.DATA, data);
  }

  private scratchMetrics(): AppMetrics {
    return appMetrics(new MemoryMetrics());
  }

  /** Drops the app's data: a fresh instance with only its config. */
  clearData(): LoadResult {
    this.loads.delete(LoadKind.DATA);
    try {
      this.instantiate();
      return { ok: true };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  /** The last data or config this app accepted (carried over when the chain is rebuilt). */
  lastLoad(kind: LoadKindCode): Uint8Array | undefined {
    return this.loads.get(kind);
  }

  /** Bytes of linear memory the current instance uses (for status and tests). */
  memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }
}
