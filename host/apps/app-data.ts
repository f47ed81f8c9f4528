/**
 * Long-lived data pushed into one app (the override app's rule set, a block list): versioned by
 * content hash, validated by the app itself, swapped atomically inside it, and reported. A push
 * that the app refuses changes nothing and comes back with the app's errors, each prefixed with
 * the source name (`rules/site.rules:12:7: unknown action "sett-tag"`). While the app is out of
 * the chain (switched off in the config) it runs no data, and that is what is reported.
 *
 * An app can report the scope of its data as it loads it (`data_scope`, docs/abi/v1.md): per
 * unit (a rule), the phase, whether it answers, and the names it acts on. The manager keeps the
 * report of the data that runs, and tells of each change what it can affect: the union of the
 * scopes of the units added or removed. The app stays the one reader of its data.
 */

import { recordDataScope } from '../abi/imports.js';
import type { DataScope, UnitScope } from '../abi/data-scope.js';
import { LoadKind } from '../abi/verdict.js';
import type { FlushScope } from '../core/cache.js';
import { hex } from '../core/dns/bytes.js';
import type { Logger } from '../core/log.js';
import type { Gauge, MetricsSink, Counter } from '../core/metrics.js';
import { Phase } from '../core/phases.js';
import type { WasmAppChain } from './app-chain.js';

export interface DataState {
  /** SHA-256 of the bytes, hex. */
  hash: string;
  source: string;
  appliedAt: number;
  size: number;
}

export type ApplyResult = { ok: true; hash: string; changed: boolean } | { ok: false; errors: string[] };

/** Which cached answers a change can have made wrong: some names and zones, or all of them. */
export type Affected = FlushScope | 'all';

/** A change of the data an app runs (null: none). */
export interface DataChange {
  before: Uint8Array | null;
  after: Uint8Array | null;
  /** From the app's scope reports; 'all' when it did not report one for either side. */
  affects: Affected;
}

/** Called after the data an app runs changed. */
export type DataChangeHandler = (change: DataChange) => void;

/** The scope of a side of a change: none when there is no data, unknown (null) when the app did not report one. */
const NO_DATA: DataScope = new Map();

/**
 * Whether a unit can shape what the cache holds. A post-cache unit acts on every hit, after
 * the cache, so the answers it sees stay right; a pre-cache unit that answers is never reached
 * by a cached answer. Every other unit runs on a miss, and decides what gets stored (from which
 * upstream group, for how long) for the names it acts on (docs/rules.md, "Rules and the cache").
 */
function shapesCache(u: UnitScope): boolean {
  if (u.phase === Phase['post-cache']) return false;
  return !(u.phase === Phase['pre-cache'] && u.answers);
}

/** The union of the scopes of the units in one report and not in the other, either way. */
export function changedScope(before: DataScope | null, after: DataScope | null): Affected {
  if (!before || !after) return 'all';
  const scope: FlushScope = { names: [], suffixes: [] };
  for (const [a, b] of [[before, after], [after, before]] as const) {
    for (const [key, u] of a) {
      if (b.has(key) || !shapesCache(u)) continue;
      if (u.anyName) return 'all';
      scope.names.push(...u.names);
      scope.suffixes.push(...u.suffixes);
    }
  }
  return scope;
}

/** Anything that can drop cached answers (the Resolver). */
export interface Flushable {
  flush(scope: FlushScope | null, reason: 'rules'): number;
}

/**
 * Flushes what a rule-set change can have made wrong (and, by starting a new cache generation,
 * keeps answers still in flight under the old rules out of the cache); the node (host/node/) calls it
 * when the override app's data changes.
 */
export function flushForRuleChange(target: Flushable, change: DataChange): void {
  const a = change.affects;
  if (a === 'all') target.flush(null, 'rules');
  else if (a.names.length || a.suffixes.length) target.flush(a, 'rules');
}

export async function sha256Hex(data: Uint8Array): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', data.slice())));
}

/** Keeps data where a restart finds it (a rule file); null: what runs is no data at all. */
export type SaveData = (data: Uint8Array | null) => Promise<void>;

export class AppDataManager {
  private state: DataState | null = null;
  private bytes: Uint8Array | null = null;
  /** The scope the app reported for `bytes`; null when it reported none. */
  private scope: DataScope | null = null;
  private readonly info: Gauge;
  private readonly refused: Counter;
  /** Serialises applies so two pushes cannot interleave their validate and swap. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Whether the app was in the chain at the last rebuild. */
  private inChain = true;
  /** Told of every change of what the app runs (the node flushes cached answers a rule change affects). */
  onChange: DataChangeHandler | null = null;

  constructor(
    readonly app: string,
    private readonly chain: () => WasmAppChain,
    metrics: MetricsSink,
    private readonly logger: Logger,
    private readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.info = metrics.gauge('edge_app_data_info', 'Data running in an app (value 1), labelled by its content hash', ['app', 'hash']);
    this.refused = metrics.counter('edge_app_data_refused_total', 'Data pushes an app refused (the running data stayed)', ['app']);
  }

  /** The data the app runs; null when none, or while the app is out of the chain. */
  get current(): DataState | null {
    return this.chain().app(this.app) ? this.state : null;
  }

  /** The scope the app reported for the data it runs (null: no data, none reported, or the app is out of the chain). */
  get currentScope(): DataScope | null {
    return this.current ? this.scope : null;
  }

  get text(): string | null {
    return this.bytes && this.current ? new TextDecoder().decode(this.bytes) : null;
  }

  /** The unit scopes of what the app held before, and of what it holds now. */
  private changed(before: Uint8Array | null, beforeScope: DataScope | null, after: Uint8Array | null, afterScope: DataScope | null): void {
    if (!this.onChange) return;
    const affects = changedScope(before ? beforeScope : NO_DATA, after ? afterScope : NO_DATA);
    if (affects === 'all' && ((before && !beforeScope) || (after && !afterScope))) {
      this.logger.log('info', 'app data changed without a scope report: all cached answers count as affected', { app: this.app });
    }
    try {
      this.onChange({ before, after, affects });
    } catch (e) {
      this.logger.log('error', 'app data change handler failed', { app: this.app, error: (e as Error).message });
    }
  }

  private withSource(source: string, error: string): string[] {
    // Apps report "LINE:COL: message" per line; anything else is passed on as is.
    return error.split('\n').filter(Boolean).map((l) => (/^\d+:\d+: /.test(l) ? `${source}:${l}` : `${source}: ${l}`));
  }

  private check(data: Uint8Array, source: string): string[] | null {
    if (data.length > this.maxBytes) {
      return [`${source}: ${data.length} bytes is larger than the limit of ${this.maxBytes} bytes`];
    }
    if (!this.chain().app(this.app)) return [`${source}: app ${this.app} is not in the chain`];
    return null;
  }

  /** Validates in a scratch instance; the running data is not touched. */
  async validate(data: Uint8Array, source: string): Promise<ApplyResult> {
    const early = this.check(data, source);
    if (early) return { ok: false, errors: early };
    const r = this.chain().app(this.app)!.validate(data);
    if (!r.ok) return { ok: false, errors: this.withSource(source, r.error) };
    const hash = await sha256Hex(data);
    return { ok: true, hash, changed: this.state?.hash !== hash };
  }

  /**
   * Validates and swaps in `data`. With `save`, the data is validated first, then saved (a rule
   * file written), then swapped in; a save that fails applies nothing, so what runs is what a
   * reload or restart would load.
   */
  apply(data: Uint8Array, source: string, save?: SaveData): Promise<ApplyResult> {
    const run = this.queue.then(() => this.applyNow(data, source, save));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(data: Uint8Array, source: string, save?: SaveData): Promise<ApplyResult> {
    const early = this.check(data, source);
    if (early) return this.refuse(early);
    const hash = await sha256Hex(data);
    // looked up after the await: a reload meanwhile may have taken the app out of the chain
    const inst = this.chain().app(this.app);
    if (!inst) return this.refuse([`${source}: app ${this.app} is not in the chain`]);
    if (this.state?.hash === hash && inst.lastLoad(LoadKind.DATA)) {
      try {
        await save?.(data);
      } catch (e) {
        return this.refuse([`${source}: runs already, but cannot be saved (${(e as Error).message})`]);
      }
      return { ok: true, hash, changed: false };
    }
    if (save) {
      const v = inst.validate(data);
      if (!v.ok) return this.refuse(this.withSource(source, v.error));
      try {
        await save(data);
      } catch (e) {
        return this.refuse([`${source}: not applied: cannot save it (${(e as Error).message})`]);
      }
    }
    const { result: r, scope } = recordDataScope(() => inst.load(LoadKind.DATA, data));
    if (!r.ok) {
      // Validated but refused on the real instance (a trap): the saved copy goes back too, to
      // what runs, or to "nothing" when nothing did, so a restart does not stop on it.
      if (save) await save(this.bytes).catch(() => undefined);
      return this.refuse(this.withSource(source, r.error));
    }
    const before = this.bytes;
    const beforeScope = this.scope;
    if (this.state) this.info.set({ app: this.app, hash: this.state.hash }, 0);
    this.state = { hash, source, appliedAt: this.now(), size: data.length };
    this.bytes = data.slice();
    this.scope = scope;
    this.info.set({ app: this.app, hash }, 1);
    this.logger.log('info', 'app data applied', { app: this.app, hash: hash.slice(0, 16), source, bytes: data.length });
    this.changed(before, beforeScope, this.bytes, scope);
    return { ok: true, hash, changed: true };
  }

  private refuse(errors: string[]): ApplyResult {
    this.refused.inc({ app: this.app });
    this.logger.log('warn', 'app data refused; the running data stays', { app: this.app, errors: errors.slice(0, 5).join('; ') });
    return { ok: false, errors };
  }

  /**
   * Records data the app already holds (loaded into a chain before it went into service), so
   * its hash and source are reported as for any push. That load reported its scope to nobody,
   * so, when something is told of changes, the scope is asked for again in a scratch instance.
   */
  async adopt(data: Uint8Array, source: string): Promise<void> {
    const hash = await sha256Hex(data);
    if (this.state?.hash === hash && this.state.source === source) return;
    const same = this.state?.hash === hash;
    const before = this.bytes;
    const beforeScope = this.scope;
    if (this.state) this.info.set({ app: this.app, hash: this.state.hash }, 0);
    this.state = { hash, source, appliedAt: this.now(), size: data.length };
    this.bytes = data.slice();
    this.info.set({ app: this.app, hash }, 1);
    if (same) return;
    const inst = this.onChange ? this.chain().app(this.app) : undefined;
    this.scope = inst ? recordDataScope(() => inst.validate(data)).scope : null;
    this.changed(before, beforeScope, this.bytes, this.scope);
  }

  /** Removes the data: the app runs with none. */
  async clear(): Promise<ApplyResult> {
    const inst = this.chain().app(this.app);
    if (!inst) return { ok: false, errors: [`app ${this.app} is not in the chain`] };
    const r = inst.clearData();
    if (!r.ok) return { ok: false, errors: [r.error] };
    const before = this.bytes;
    const beforeScope = this.scope;
    if (this.state) this.info.set({ app: this.app, hash: this.state.hash }, 0);
    this.state = null;
    this.bytes = null;
    this.scope = null;
    this.changed(before, beforeScope, null, null);
    return { ok: true, hash: '', changed: true };
  }

  /**
   * After the chain was rebuilt: if the app came back without data (it was switched off and on),
   * give it the current data again. An app switched off runs nothing, so its hash is reported
   * as not running until it is back.
   */
  restore(): void {
    const inst = this.chain().app(this.app);
    const was = this.inChain;
    this.inChain = !!inst;
    if (this.state && was !== this.inChain) {
      this.info.set({ app: this.app, hash: this.state.hash }, this.inChain ? 1 : 0);
      // the same bytes in the same module: the scope reported when they loaded still holds
      if (this.inChain) this.changed(null, null, this.bytes, this.scope);
      else this.changed(this.bytes, this.scope, null, null);
    }
    if (!inst || !this.bytes || inst.lastLoad(LoadKind.DATA)) return;
    const r = inst.load(LoadKind.DATA, this.bytes);
    if (!r.ok) this.logger.log('error', 'app data did not reload into the new chain', { app: this.app, error: r.error });
  }
}
