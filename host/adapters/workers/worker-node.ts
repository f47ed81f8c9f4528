/**
 * The node of one Workers isolate (the ingress Worker, or one cache shard): the runtime-neutral
 * node (host/node/), built from the config on the first request the isolate serves and kept
 * fresh from KV without timers (a Worker has no background timers): a request that finds the
 * last check older than EDGE_REFRESH_SECONDS starts the next one under waitUntil and is
 * answered at once. Every swap is the node's: a config, rule set or zone copy that fails is
 * refused and what is running stays.
 */

import { ConfigError } from '../../core/config.js';
import type { MemoryMetrics } from '../../core/metrics.js';
import { ResolverNode } from '../../node/resolver-node.js';
import { workersCatalog } from './catalog.js';
import type { Env } from './env.js';
import type { AppCatalog } from '../../apps/load-apps.js';
import { workersPlatform } from './workers-platform.js';
import type { Role } from './workers-config.js';

const DEFAULT_REFRESH_SECONDS = 30;
/** Expiry and staleness of the zone copy are re-evaluated at most this often (on requests). */
const TICK_MS = 1000;
const CONFIG_KEY = 'config';

type WaitUntil = (p: Promise<unknown>) => void;
type Candidate = { text: string; source: string };

export function refreshMs(env: Env): number {
  const raw = env.EDGE_REFRESH_SECONDS?.trim();
  const n = raw ? Number(raw) : DEFAULT_REFRESH_SECONDS;
  if (!Number.isFinite(n) || n < 0 || n > 86_400) throw new ConfigError([`EDGE_REFRESH_SECONDS: "${raw}" is not a number of seconds from 0 to 86400`]);
  return n * 1000;
}

export class WorkerNode {
  node!: ResolverNode<MemoryMetrics>;
  /** Why the last config read was refused (the running config stayed); empty when it was not. */
  private configErrors: string[] = [];
  /** Config texts refused, by source, so an unchanged bad config is not rebuilt on every check. */
  private readonly refusedTexts = new Map<string, Candidate & { errors: string[] }>();
  private readonly refreshEvery: number;
  private nextCheck = 0;
  private checking: Promise<void> | null = null;
  private lastTick = 0;
  private lastCheck: { at: number; ok: boolean; errors: string[] } | null = null;

  private constructor(
    private readonly env: Env,
    readonly role: Role,
  ) {
    this.refreshEvery = refreshMs(env);
  }

  /** Builds the node and loads its data; throws ConfigError when no config can run at all. */
  static async create(env: Env, role: Role, catalog: AppCatalog = workersCatalog()): Promise<WorkerNode> {
    const w = new WorkerNode(env, role);
    const platform = workersPlatform({ env, role, catalog, refreshMs: w.refreshEvery, status: (doc) => w.status(doc) });
    const candidates = await w.configCandidates();
    if (candidates.length === 0) throw new ConfigError(['no config: set the EDGE_CONFIG var in wrangler.toml or put a "config" key in EDGE_KV']);
    const refused: string[] = [];
    for (const cand of candidates) {
      try {
        w.node = await ResolverNode.create(platform, cand.text, cand.source);
        break;
      } catch (e) {
        const errors = e instanceof ConfigError ? e.problems : [`${cand.source}: ${(e as Error).message}`];
        w.refusedTexts.set(cand.source, { ...cand, errors });
        refused.push(...errors);
      }
    }
    if (!w.node) throw new ConfigError(refused);
    w.configErrors = refused;
    if (refused.length) w.node.logger.log('error', 'config refused; running the next source', { errors: refused.join('; ') });
    w.nextCheck = Date.now() + w.refreshEvery;
    return w;
  }

  /** The configs to try, most specific first: the `config` key in KV, then the EDGE_CONFIG var. */
  private async configCandidates(): Promise<Candidate[]> {
    const out: Candidate[] = [];
    const kv = this.env.EDGE_KV ? await this.env.EDGE_KV.get(CONFIG_KEY, 'text') : null;
    if (kv !== null) out.push({ text: kv, source: `kv:${CONFIG_KEY}` });
    if (this.env.EDGE_CONFIG) out.push({ text: this.env.EDGE_CONFIG, source: 'EDGE_CONFIG' });
    return out;
  }

  /**
   * Called on every request: re-evaluates the zone copy's expiry (so it is never served past
   * it) and, when the last check is older than the interval, starts the next under waitUntil.
   */
  beforeRequest(waitUntil: WaitUntil): void {
    const now = Date.now();
    if (this.node.zone && now - this.lastTick >= TICK_MS) {
      this.lastTick = now;
      this.node.tick();
    }
    if (now >= this.nextCheck && !this.checking) {
      this.nextCheck = now + this.refreshEvery;
      const run = this.check().finally(() => (this.checking = null));
      this.checking = run;
      waitUntil(run);
    }
  }

  /** One KV check: the config, every app's data, the zone when its refresh is due. Never throws. */
  async check(): Promise<void> {
    const errors: string[] = [];
    try {
      // The first candidate that applies wins; reaching the running one keeps it.
      const refused: string[] = [];
      let applied = false;
      const running = this.node.config;
      for (const cand of await this.configCandidates()) {
        if (cand.text === running.text && cand.source === running.source) break;
        const known = this.refusedTexts.get(cand.source);
        if (known?.text === cand.text) {
          refused.push(...known.errors);
          continue;
        }
        const r = await this.node.reload(cand.text, cand.source);
        if (r.ok) {
          applied = true;
          break;
        }
        this.refusedTexts.set(cand.source, { ...cand, errors: r.errors });
        refused.push(...r.errors);
      }
      this.configErrors = refused;
      errors.push(...refused);
      // A config applied just now read the data with it.
      if (!applied) await this.node.refreshData();
      await this.node.zone?.refreshIfDue();
    } catch (e) {
      errors.push((e as Error).message);
      this.node.logger.log('error', 'KV check failed; keeping what runs', { error: (e as Error).message });
    }
    errors.push(...this.node.dataProblems());
    this.lastCheck = { at: Date.now(), ok: errors.length === 0, errors };
  }

  /** What Workers add to the node's /status: the role, the KV checks, configs refused. */
  private status(doc: Record<string, unknown>): Record<string, unknown> {
    const { node_id, config, ...rest } = doc;
    return {
      node_id,
      role: this.role.kind,
      runtime: 'workers',
      ...rest,
      config: { ...(config as object), errors: this.configErrors },
      refresh: { every_s: this.refreshEvery / 1000, last_check: this.lastCheck && { ...this.lastCheck, at: new Date(this.lastCheck.at).toISOString() } },
    };
  }
}
