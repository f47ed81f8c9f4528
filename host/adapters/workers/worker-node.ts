/**
 * One resolver node in a Workers isolate: the ingress Worker, or one cache shard (a Durable
 * Object). Built from the config on the first request the isolate serves, and kept fresh from
 * KV without timers (a Worker has no background timers): a request that finds the last check
 * older than EDGE_REFRESH_SECONDS starts the next one under waitUntil and is answered at once.
 * Every swap is the one the Node adapter makes: a config, rule set or zone copy that fails is
 * refused and what is running stays.
 */

import { AppDataManager, flushForRuleChange, sha256Hex } from '../../apps/app-data.js';
import type { WasmAppChain } from '../../apps/app-chain.js';
import { buildChain, type AppCatalog } from '../../apps/load-apps.js';
import { ZoneLifecycle } from '../../apps/zone-lifecycle.js';
import { ConfigError, type Config } from '../../core/config.js';
import { nextResolver, peersFromConfig, upstreamsFromConfig, zoneSettings } from '../../core/from-config.js';
import { formatLine, type LogFields, type Logger, type LogLevel } from '../../core/log.js';
import { MemoryMetrics } from '../../core/metrics.js';
import { Resolver } from '../../core/resolver.js';
import { UrlSource, type ZoneSource } from '../../core/zone-source.js';
import { parseTrustAnchor, type TrustAnchor } from '../../core/zone/index.js';
import { workersCatalog } from './catalog.js';
import type { Env } from './env.js';
import { KvSource } from './kv-source.js';
import { fetchTransport, shardTransport } from './transport.js';
import { dataKeys, workersConfig, type Role } from './workers-config.js';

/** Rule sets above this size are refused before they reach the app (as on Node). */
const RULES_MAX_BYTES = 1024 * 1024;
/** Other app data; each app's own max_load_bytes applies too. KV values are at most 25 MiB. */
const DATA_MAX_BYTES = 25 * 1024 * 1024;
const DEFAULT_REFRESH_SECONDS = 30;
/** Expiry and staleness of the zone copy are re-evaluated at most this often (on requests). */
const TICK_MS = 1000;
const CONFIG_KEY = 'config';

type WaitUntil = (p: Promise<unknown>) => void;

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A logger whose level follows the running config, writing each level to its console method
 * (Workers logs and `wrangler tail` show the level from the method, not from the text).
 */
class LevelLogger implements Logger {
  level: LogLevel = 'info';
  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVELS[level] < LEVELS[this.level]) return;
    const line = formatLine(level, msg, fields);
    if (level === 'error') console.error(line);
    else if (level === 'warn') console.warn(line);
    else console.log(line);
  }
}

export function refreshMs(env: Env): number {
  const raw = env.EDGE_REFRESH_SECONDS?.trim();
  const n = raw ? Number(raw) : DEFAULT_REFRESH_SECONDS;
  if (!Number.isFinite(n) || n < 0 || n > 86_400) throw new ConfigError([`EDGE_REFRESH_SECONDS: "${raw}" is not a number of seconds from 0 to 86400`]);
  return n * 1000;
}

export class WorkerNode {
  readonly metrics = new MemoryMetrics();
  private readonly logger = new LevelLogger();
  private config!: Config;
  private configText = '';
  private configSource = '';
  private configHash = '';
  /** Why the last config read was refused (the running config stayed); empty when it was not. */
  private configErrors: string[] = [];
  /** Config texts refused, by source, so an unchanged bad config is not rebuilt on every check. */
  private readonly refusedTexts = new Map<string, { text: string; errors: string[] }>();
  private shards: string[] = [];
  private poolingNote = '';
  private chain!: WasmAppChain;
  private resolver!: Resolver;
  private readonly data = new Map<string, AppDataManager>();
  private readonly dataErrors = new Map<string, string[]>();
  zone: ZoneLifecycle | null = null;
  private readonly refreshEvery: number;
  private nextCheck = 0;
  private checking: Promise<void> | null = null;
  private lastTick = 0;
  private lastCheck: { at: number; ok: boolean; errors: string[] } | null = null;
  private readonly startedAt = Date.now();

  private constructor(
    private readonly env: Env,
    readonly role: Role,
    private readonly catalog: AppCatalog,
  ) {
    this.refreshEvery = refreshMs(env);
  }

  /** Builds the node and loads its data; throws ConfigError when no config can run at all. */
  static async create(env: Env, role: Role, catalog: AppCatalog = workersCatalog()): Promise<WorkerNode> {
    const node = new WorkerNode(env, role, catalog);
    const candidates = await node.configCandidates();
    if (candidates.length === 0) throw new ConfigError(['no config: set the EDGE_CONFIG var in wrangler.toml or put a "config" key in EDGE_KV']);
    const refused: string[] = [];
    for (const { text, source } of candidates) {
      try {
        await node.apply(text, source);
        break;
      } catch (e) {
        const errors = e instanceof ConfigError ? e.problems : [`${source}: ${(e as Error).message}`];
        node.refusedTexts.set(source, { text, errors });
        refused.push(...errors);
      }
    }
    if (!node.config) throw new ConfigError(refused);
    node.configErrors = refused;
    if (refused.length) node.logger.log('error', 'config refused; running the next source', { errors: refused.join('; ') });
    node.nextCheck = Date.now() + node.refreshEvery;
    return node;
  }

  get currentResolver(): Resolver {
    return this.resolver;
  }

  get currentConfig(): Config {
    return this.config;
  }

  /** The configs to try, most specific first: the `config` key in KV, then the EDGE_CONFIG var. */
  private async configCandidates(): Promise<Array<{ text: string; source: string }>> {
    const out: Array<{ text: string; source: string }> = [];
    const kv = this.env.EDGE_KV ? await this.env.EDGE_KV.get(CONFIG_KEY, 'text') : null;
    if (kv !== null) out.push({ text: kv, source: `kv:${CONFIG_KEY}` });
    if (this.env.EDGE_CONFIG) out.push({ text: this.env.EDGE_CONFIG, source: 'EDGE_CONFIG' });
    return out;
  }

  private dataOf(app: string): AppDataManager {
    let m = this.data.get(app);
    if (!m) {
      m = new AppDataManager(app, () => this.chain, this.metrics, this.logger, app === 'override' ? RULES_MAX_BYTES : DATA_MAX_BYTES);
      // as on Node: a rule change flushes the cached answers it can affect (docs/rules.md)
      if (app === 'override') m.onChange = (change) => this.resolver && flushForRuleChange(this.resolver, change);
      this.data.set(app, m);
    }
    return m;
  }

  /**
   * Applies a config: everything that can fail is built first, then swapped in; then the apps'
   * data and the zone follow it. Throws ConfigError and leaves the running config.
   */
  private async apply(text: string, source: string): Promise<void> {
    const wc = workersConfig(text, source, this.env, this.role);
    const c = wc.config;
    const anchor = await this.trustAnchor(c);
    const wiring = { transport: fetchTransport, metrics: this.metrics, logger: this.logger };
    const chain = buildChain(c, {
      catalog: this.catalog,
      metrics: this.metrics,
      logger: this.logger,
      previous: this.chain ?? null,
      ...(wc.shards.length ? { members: wc.shards } : {}),
    });
    const upstreams = upstreamsFromConfig(c, wiring);
    const peers = wc.shards.length && this.env.SHARDS ? peersFromConfig(c, { ...wiring, transport: shardTransport(this.env.SHARDS) }) : null;
    // Each isolate and shard reads KV on its own clock, up to one refresh interval apart.
    const options = { settleMs: Math.max(c.site.settle_ms, 2 * this.refreshEvery) };
    const previous = this.resolver ? { resolver: this.resolver, config: this.config } : null;
    this.resolver = nextResolver(c, previous, { chain, upstreams, peers, metrics: this.metrics, logger: this.logger, rulesHash: () => this.dataOf('override').current?.hash, options });
    this.chain = chain;
    for (const m of this.data.values()) m.restore();
    this.zone?.restore();
    this.config = c;
    this.logger.level = c.log.level;
    this.shards = wc.shards;
    this.poolingNote = wc.poolingNote;
    this.configText = text;
    this.configSource = source;
    this.configHash = await sha256Hex(new TextEncoder().encode(text));
    this.metrics.gauge('edge_config_info', 'The running config (value 1), labelled by its hash').set({ hash: this.configHash.slice(0, 16) }, 1);
    await this.syncData();
    await this.syncZone(c, anchor);
  }

  /** `[zone] trust_anchor` is a KV key on Workers (needed for zone text; images carry their results). */
  private async trustAnchor(c: Config): Promise<TrustAnchor | null> {
    const key = c.zone.trust_anchor;
    if (!key) return null;
    const text = this.env.EDGE_KV ? await this.env.EDGE_KV.get(key, 'arrayBuffer') : null;
    if (text === null) throw new ConfigError([`zone.trust_anchor: no KV key "${key}" in EDGE_KV`]);
    try {
      return await parseTrustAnchor(new Uint8Array(text), { file: `kv:${key}` });
    } catch (e) {
      throw new ConfigError([`zone.trust_anchor: ${(e as Error).message}`]);
    }
  }

  /**
   * Each app's data from its KV key: a new value is validated and swapped in by the app, a
   * refused one leaves the running data (and is reported in /status), a deleted key clears it.
   */
  private async syncData(): Promise<void> {
    const kv = this.env.EDGE_KV;
    if (!kv) return;
    const keys = dataKeys(this.config);
    await Promise.all(
      [...keys].map(async ([app, key]) => {
        if (!this.chain.app(app)) return;
        const m = this.dataOf(app);
        let value: ArrayBuffer | null;
        try {
          value = await kv.get(key, 'arrayBuffer');
        } catch (e) {
          // KV unreachable: keep the running data and say so.
          this.dataErrors.set(app, [`kv:${key}: ${(e as Error).message}`]);
          return;
        }
        if (value === null) {
          this.dataErrors.delete(app);
          if (m.current) await m.clear();
          return;
        }
        const r = await m.apply(new Uint8Array(value), `kv:${key}`);
        if (r.ok) this.dataErrors.delete(app);
        else this.dataErrors.set(app, r.errors);
      }),
    );
    for (const app of this.dataErrors.keys()) if (!keys.has(app)) this.dataErrors.delete(app);
  }

  /** True when this node serves the zone itself: every shard, and an ingress without shards. */
  private servesZone(): boolean {
    return this.role.kind === 'shard' || this.shards.length === 0;
  }

  private zoneSource(source: string): ZoneSource | null {
    if (/^https?:\/\//.test(source)) return new UrlSource(source);
    return this.env.EDGE_KV ? new KvSource(this.env.EDGE_KV, source) : null;
  }

  private async syncZone(c: Config, anchor: TrustAnchor | null): Promise<void> {
    // As on Node: a reload changes the running lifecycle, never its copy (new settings apply to
    // the copy in service, a new source must give a verified version before it replaces it);
    // only a removed source, or a node that no longer serves the zone, takes the copy out.
    const source = c.zone.source && this.servesZone() ? this.zoneSource(c.zone.source) : null;
    if (!source) {
      if (!this.zone) return;
      // Let a refresh in progress finish (it activates nothing now), then take the copy out.
      await this.zone.stop();
      await this.zone.data.clear();
      this.zone = null;
      return;
    }
    const base = zoneSettings(c);
    // `refresh = 0` takes SOA REFRESH on Node, where a file watch sees a new copy at once; KV
    // cannot be watched, so here it means the KV check interval.
    const settings = { ...base, trustAnchor: anchor, refreshSec: base.refreshSec || Math.max(1, Math.round(this.refreshEvery / 1000)) };
    if (this.zone) {
      this.zone.setSource(source);
      this.zone.configure(settings);
      return;
    }
    this.zone = new ZoneLifecycle({ source, chain: () => this.chain, ...settings, metrics: this.metrics, logger: this.logger, timers: false });
    await this.zone.start();
  }

  /**
   * Called on every request: re-evaluates the zone copy's expiry (so it is never served past
   * it) and, when the last check is older than the interval, starts the next under waitUntil.
   */
  beforeRequest(waitUntil: WaitUntil): void {
    const now = Date.now();
    if (this.zone && now - this.lastTick >= TICK_MS) {
      this.lastTick = now;
      this.zone.tick();
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
      let fresh = false;
      for (const cand of await this.configCandidates()) {
        if (cand.text === this.configText && cand.source === this.configSource) break;
        const known = this.refusedTexts.get(cand.source);
        if (known?.text === cand.text) {
          refused.push(...known.errors);
          continue;
        }
        try {
          await this.apply(cand.text, cand.source);
          applied = true;
          this.logger.log('info', 'config applied', { source: cand.source, hash: this.configHash.slice(0, 16) });
          break;
        } catch (e) {
          const problems = e instanceof ConfigError ? e.problems : [`${cand.source}: ${(e as Error).message}`];
          this.refusedTexts.set(cand.source, { text: cand.text, errors: problems });
          refused.push(...problems);
          fresh = true;
        }
      }
      this.configErrors = refused;
      if (fresh) {
        this.metrics.counter('edge_config_reload_failures_total', 'Config reloads refused (the running config stayed)').inc();
        this.logger.log('error', 'config refused; keeping the running config', { errors: refused.join('; ') });
      }
      errors.push(...refused);
      if (!applied) await this.syncData();
      await this.zone?.refreshIfDue();
    } catch (e) {
      errors.push((e as Error).message);
      this.logger.log('error', 'KV check failed; keeping what runs', { error: (e as Error).message });
    }
    for (const [app, e] of this.dataErrors) errors.push(...e.map((l) => `${app}: ${l}`));
    this.lastCheck = { at: Date.now(), ok: errors.length === 0, errors };
  }

  status(): Record<string, unknown> {
    const data: Record<string, unknown> = {};
    for (const [app, m] of this.data) data[app] = { ...(m.current ?? { hash: null }), errors: this.dataErrors.get(app) ?? [] };
    return {
      node_id: this.config.node_id,
      role: this.role.kind,
      runtime: 'workers',
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      config: { hash: this.configHash, source: this.configSource, errors: this.configErrors },
      refresh: { every_s: this.refreshEvery / 1000, last_check: this.lastCheck && { ...this.lastCheck, at: new Date(this.lastCheck.at).toISOString() } },
      pooling: this.shards.length ? { shards: this.shards } : { shards: [], off: this.poolingNote },
      apps: this.chain.apps.map((a) => ({ name: a.name, phases: a.manifest.phases, failure: a.manifest.failure, breaker_open: a.breakerOpen, memory_bytes: a.memoryBytes() })),
      upstreams: this.resolver.currentUpstreams.health(),
      peers: this.resolver.peers?.health() ?? {},
      cache: this.resolver.cache.stats,
      rules: { ...(this.data.get('override')?.current ?? { hash: null }), errors: this.dataErrors.get('override') ?? [] },
      data,
      zone: this.zone?.status() ?? null,
    };
  }
}
