/**
 * The data a node's apps hold (the override app's rule set, block lists), one AppDataManager
 * per app, and how it follows the config: data that is part of the config is read before the
 * chain is built and loaded into it before it serves (a file that does not load refuses the
 * config); pushed data is synced after the config is in service and on every check (a value the
 * app refuses leaves the running data and is reported).
 */

import { LoadKind } from '../abi/verdict.js';
import { AppDataManager, type DataChangeHandler, type DataState } from '../apps/app-data.js';
import type { WasmAppChain } from '../apps/app-chain.js';
import { ConfigError } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { MetricsSink } from '../core/metrics.js';
import type { AppDataSource } from './platform.js';

/** Rule sets above this size are refused before they reach the app (every runtime). */
const RULES_MAX_BYTES = 1024 * 1024;

/** A source read ahead of a build: its bytes, or why they could not be read. */
export type ReadData = { source: AppDataSource; bytes: Uint8Array } | { source: AppDataSource; error: string };

/** A source whose bytes went into the chain being built. */
export interface LoadedData {
  source: AppDataSource;
  bytes: Uint8Array;
}

/** Reads every source, keeping each failure to report if its app turns out to be in the chain. */
export async function readData(sources: AppDataSource[]): Promise<ReadData[]> {
  return Promise.all(
    sources.map(async (source): Promise<ReadData> => {
      try {
        const bytes = await source.read();
        return bytes ? { source, bytes } : { source, error: 'no data' };
      } catch (e) {
        return { source, error: (e as Error).message };
      }
    }),
  );
}

/**
 * Hands each app in `chain` its data as a DATA load, before the chain goes into service. A
 * source that could not be read, or that the app refuses, throws ConfigError with the app's
 * reason (for a block list, the line). An app that is not in the chain (switched off) gets
 * nothing, and its source is not held against the config.
 */
export function loadData(chain: WasmAppChain, read: ReadData[]): LoadedData[] {
  const problems: string[] = [];
  const loaded: LoadedData[] = [];
  for (const r of read) {
    const { app: name, key, description } = r.source;
    const app = chain.app(name);
    if (!app) continue;
    if ('error' in r) {
      problems.push(`${key}: cannot read ${description}: ${r.error}`);
      continue;
    }
    const result = app.load(LoadKind.DATA, r.bytes);
    if (!result.ok) {
      // Apps report "LINE:COL: message"; name the source so the line means something.
      problems.push(...result.error.split('\n').filter(Boolean).map((l) => `${key}: ${/^\d+:\d+: /.test(l) ? `${description}:${l}` : `${description}: ${l}`}`));
      continue;
    }
    loaded.push({ source: r.source, bytes: r.bytes });
  }
  if (problems.length) throw new ConfigError(problems);
  return loaded;
}

export class NodeData {
  private readonly managers = new Map<string, AppDataManager>();
  /** Pushed data refused or unreadable, by app (the running data stayed); shown in /status. */
  private readonly errors = new Map<string, string[]>();
  private readonly watches = new Map<string, { description: string; stop: () => void }>();

  constructor(
    private readonly chain: () => WasmAppChain,
    private readonly metrics: MetricsSink,
    private readonly logger: Logger,
    private readonly dataMaxBytes: number,
    /** Told when the rule set changes, so the node can flush the answers it shaped. */
    private readonly onRulesChange: DataChangeHandler,
    private readonly now?: () => number,
  ) {}

  /** The data manager of an app (made on first use; the override app's is the rule set). */
  of(app: string): AppDataManager {
    let m = this.managers.get(app);
    if (!m) {
      m = new AppDataManager(app, this.chain, this.metrics, this.logger, app === 'override' ? RULES_MAX_BYTES : this.dataMaxBytes, this.now);
      if (app === 'override') m.onChange = this.onRulesChange;
      this.managers.set(app, m);
    }
    return m;
  }

  /** After a chain was rebuilt: each app gets its data again if it came back without it. */
  restore(): void {
    for (const m of this.managers.values()) m.restore();
  }

  /**
   * After a chain with freshly loaded data went into service: record what each app holds, and
   * watch the sources that can be watched, so a change applies without a reload (a bad change
   * is refused and the running data stays).
   */
  async adopt(loaded: LoadedData[]): Promise<void> {
    const watched = new Set<string>();
    for (const { source, bytes } of loaded) {
      await this.of(source.app).adopt(bytes, source.description);
      if (!source.watch) continue;
      watched.add(source.app);
      const current = this.watches.get(source.app);
      if (current?.description === source.description) continue;
      current?.stop();
      this.watches.set(source.app, { description: source.description, stop: source.watch(() => void this.reread(source)) });
    }
    for (const [app, w] of this.watches) {
      if (watched.has(app)) continue;
      w.stop();
      this.watches.delete(app);
    }
  }

  /** A watched source changed: its new bytes are applied, or refused with the running data kept. */
  private async reread(source: AppDataSource): Promise<void> {
    const fields = { app: source.app, file: source.description };
    let bytes: Uint8Array | null;
    try {
      bytes = await source.read();
    } catch (e) {
      this.logger.log('error', 'changed file could not be loaded; keeping the running data', { ...fields, error: (e as Error).message });
      return;
    }
    const r = bytes ? await this.of(source.app).apply(bytes, source.description) : { ok: false as const, errors: [`${source.description}: no data`] };
    if (!r.ok) this.logger.log('error', 'changed file refused; keeping the running data', { ...fields, errors: r.errors.join('; ') });
  }

  /**
   * Pushed data: each app's source read again; a new value is validated and swapped in by the
   * app, a refused one leaves the running data (and is reported), an absent one clears it.
   */
  async sync(sources: AppDataSource[]): Promise<void> {
    await Promise.all(
      sources.map(async (source) => {
        const { app } = source;
        if (!this.chain().app(app)) return;
        const m = this.of(app);
        let value: Uint8Array | null;
        try {
          value = await source.read();
        } catch (e) {
          // Unreachable: keep the running data and say so.
          this.errors.set(app, [`${source.description}: ${(e as Error).message}`]);
          return;
        }
        if (value === null) {
          this.errors.delete(app);
          if (m.current) await m.clear();
          return;
        }
        const r = await m.apply(value, source.description);
        if (r.ok) this.errors.delete(app);
        else this.errors.set(app, r.errors);
      }),
    );
    const named = new Set(sources.map((s) => s.app));
    for (const app of this.errors.keys()) if (!named.has(app)) this.errors.delete(app);
  }

  /** Why pushed data is not running, each line prefixed with its app. */
  problems(): string[] {
    return [...this.errors].flatMap(([app, e]) => e.map((l) => `${app}: ${l}`));
  }

  /** The rule set running, or no hash, saying why when the override app is switched off. */
  rules(): DataState | { hash: null; disabled?: true } {
    return this.of('override').current ?? (this.chain().app('override') ? { hash: null } : { hash: null, disabled: true });
  }

  /** /status `rules` and `data`; pushed data carries its refusals with it. */
  status(pushed: boolean): { rules: object; data: Record<string, unknown> } {
    if (!pushed) {
      return {
        rules: this.rules(),
        data: Object.fromEntries([...this.managers].filter(([, m]) => m.current).map(([app, m]) => [app, m.current])),
      };
    }
    const errors = (app: string) => this.errors.get(app) ?? [];
    return {
      rules: { ...this.rules(), errors: errors('override') },
      data: Object.fromEntries([...this.managers].map(([app, m]) => [app, { ...(m.current ?? { hash: null }), errors: errors(app) }])),
    };
  }

  close(): void {
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
  }
}
