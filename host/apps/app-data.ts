/**
 * Long-lived data pushed into one app (the override app's rule set, a block list): versioned by
 * content hash, validated by the app itself, swapped atomically inside it, and reported. A push
 * that the app refuses changes nothing and comes back with the app's errors, each prefixed with
 * the source name (`rules/site.rules:12:7: unknown action "sett-tag"`).
 */

import { LoadKind } from '../abi/verdict.js';
import type { Logger } from '../core/log.js';
import type { Gauge, MetricsSink, Counter } from '../core/metrics.js';
import type { WasmAppChain } from './app-chain.js';

export interface DataState {
  /** SHA-256 of the bytes, hex. */
  hash: string;
  source: string;
  appliedAt: number;
  size: number;
}

export type ApplyResult = { ok: true; hash: string; changed: boolean } | { ok: false; errors: string[] };

export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data.slice()));
  let s = '';
  for (const b of digest) s += b.toString(16).padStart(2, '0');
  return s;
}

export class AppDataManager {
  private state: DataState | null = null;
  private bytes: Uint8Array | null = null;
  private readonly info: Gauge;
  private readonly refused: Counter;
  /** Serialises applies so two pushes cannot interleave their validate and swap. */
  private queue: Promise<unknown> = Promise.resolve();

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

  get current(): DataState | null {
    return this.state;
  }

  get text(): string | null {
    return this.bytes ? new TextDecoder().decode(this.bytes) : null;
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

  apply(data: Uint8Array, source: string): Promise<ApplyResult> {
    const run = this.queue.then(() => this.applyNow(data, source));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(data: Uint8Array, source: string): Promise<ApplyResult> {
    const early = this.check(data, source);
    if (early) return this.refuse(early);
    const hash = await sha256Hex(data);
    const inst = this.chain().app(this.app)!;
    if (this.state?.hash === hash && inst.lastLoad(LoadKind.DATA)) return { ok: true, hash, changed: false };
    const r = inst.load(LoadKind.DATA, data);
    if (!r.ok) return this.refuse(this.withSource(source, r.error));
    if (this.state) this.info.set({ app: this.app, hash: this.state.hash }, 0);
    this.state = { hash, source, appliedAt: this.now(), size: data.length };
    this.bytes = data.slice();
    this.info.set({ app: this.app, hash }, 1);
    this.logger.log('info', 'app data applied', { app: this.app, hash: hash.slice(0, 16), source, bytes: data.length });
    return { ok: true, hash, changed: true };
  }

  private refuse(errors: string[]): ApplyResult {
    this.refused.inc({ app: this.app });
    this.logger.log('warn', 'app data refused; the running data stays', { app: this.app, errors: errors.slice(0, 5).join('; ') });
    return { ok: false, errors };
  }

  /**
   * Records data the app already holds (loaded into a chain before it went into service), so
   * its hash and source are reported as for any push.
   */
  async adopt(data: Uint8Array, source: string): Promise<void> {
    const hash = await sha256Hex(data);
    if (this.state?.hash === hash && this.state.source === source) return;
    if (this.state) this.info.set({ app: this.app, hash: this.state.hash }, 0);
    this.state = { hash, source, appliedAt: this.now(), size: data.length };
    this.bytes = data.slice();
    this.info.set({ app: this.app, hash }, 1);
  }

  /** Removes the data: the app runs with none. */
  async clear(): Promise<ApplyResult> {
    const inst = this.chain().app(this.app);
    if (!inst) return { ok: false, errors: [`app ${this.app} is not in the chain`] };
    const r = inst.clearData();
    if (!r.ok) return { ok: false, errors: [r.error] };
    if (this.state) this.info.set({ app: this.app, hash: this.state.hash }, 0);
    this.state = null;
    this.bytes = null;
    return { ok: true, hash: '', changed: true };
  }

  /**
   * After the chain was rebuilt: if the app came back without data (it was switched off and on),
   * give it the current data again.
   */
  restore(): void {
    const inst = this.chain().app(this.app);
    if (!inst || !this.bytes || inst.lastLoad(LoadKind.DATA)) return;
    const r = inst.load(LoadKind.DATA, this.bytes);
    if (!r.ok) this.logger.log('error', 'app data did not reload into the new chain', { app: this.app, error: r.error });
  }
}
