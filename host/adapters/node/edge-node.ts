/**
 * One resolver node on Node: builds the core from a config, opens the listeners, and applies
 * config reloads atomically (a config that fails to validate or to load into the apps leaves
 * the running one in place).
 */

import { access, constants as fsConstants, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { buildChain, type AppCatalog } from '../../apps/load-apps.js';
import type { WasmAppChain } from '../../apps/app-chain.js';
import { ConfigError, parseConfig, type Config } from '../../core/config.js';
import { consoleLogger, type Logger } from '../../core/log.js';
import { Resolver } from '../../core/resolver.js';
import type { Peers } from '../../core/peers.js';
import type { Upstreams, UpstreamTransport } from '../../core/upstream.js';
import { nextResolver, peersFromConfig, upstreamsFromConfig, zoneSettings } from '../../core/from-config.js';
import { AdminServer } from './admin-server.js';
import { AppDataManager, flushForRuleChange, type DataChange, type DataState } from '../../apps/app-data.js';
import { textToName, WireError } from '../../core/dns/wire.js';
import { DataFile, writeFileAtomically } from './data-file.js';
import { FileSource } from './zone-file-source.js';
import { SerialFile } from './zone-serial-file.js';
import { ZoneLifecycle } from '../../apps/zone-lifecycle.js';
import { UrlSource } from '../../core/zone-source.js';
import { parseTrustAnchor, type TrustAnchor } from '../../core/zone/index.js';
import { nodeCatalog } from './catalog.js';
import { catalogForConfig, configBaseDir, dataFiles, loadAppData, type LoadedData } from './app-files.js';
import { DohServer } from './doh-server.js';
import { PromMetrics } from './prom-metrics.js';
import { TcpServer } from './tcp-server.js';
import { nodeTransport } from './transport.js';
import { UdpServer } from './udp-server.js';

export interface EdgeNodeOptions {
  /** Where the config came from, for reloads; absent for an embedded config. */
  configPath?: string;
  /** The config text (for its hash in /status). */
  configText?: string;
  logger?: Logger;
  catalog?: AppCatalog;
  transport?: UpstreamTransport;
  now?: () => number;
  /** Applied to every config the node loads (serve's command-line flags over the file). */
  overrides?: (c: Config) => Config;
  /**
   * Test-only: forward to peers without the request context, as the node in the October 2023
   * incident did (the negative control of the incident test). Not reachable from config.
   */
  testOnlyForwardWithoutContext?: boolean;
}

export interface Listening {
  dns: Array<{ address: string; port: number }>;
  doh: Array<{ address: string; port: number }>;
  admin: { address: string; port: number } | null;
}

/** Rule sets above this size are refused before they reach the app. */
const RULES_MAX_BYTES = 1024 * 1024;
/** Other app data (block lists); each app's own max_load_bytes applies too. */
const DATA_MAX_BYTES = 64 * 1024 * 1024;
/** What `DELETE /rules` leaves in a configured rule file: a set with no rules, the same on every node. */
const NO_RULES = new TextEncoder().encode('# No rules: cleared with DELETE /rules.\n');

function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(s) ?? /^(.+):(\d+)$/.exec(s);
  if (!m) throw new ConfigError([`"${s}" is not HOST:PORT`]);
  return { host: m[1]!, port: Number(m[2]) };
}

export { cacheOptions } from '../../core/from-config.js';

export class EdgeNode {
  readonly metrics = new PromMetrics();
  readonly logger: Logger;
  private config!: Config;
  private configHash = '';
  private chain!: WasmAppChain;
  private resolver!: Resolver;
  private readonly catalog: AppCatalog;
  private readonly transport: UpstreamTransport;
  private udp: UdpServer[] = [];
  private tcp: TcpServer[] = [];
  private doh: DohServer[] = [];
  admin: AdminServer | null = null;
  listening: Listening = { dns: [], doh: [], admin: null };
  private readonly startedAt = Date.now();
  private reloads = { ok: 0, failed: 0, lastError: '' };
  /** Data held by apps (rule sets, block lists, ...), by app: hash, source, push and watch. */
  private readonly data = new Map<string, AppDataManager>();
  private readonly dataWatches = new Map<string, DataFile>();
  /** The zone copy static_zone serves, when `[zone] source` is set. */
  zone: ZoneLifecycle | null = null;

  private constructor(private readonly opts: EdgeNodeOptions) {
    this.logger = opts.logger ?? consoleLogger();
    this.catalog = opts.catalog ?? nodeCatalog();
    this.transport = opts.transport ?? nodeTransport;
  }

  /** The data manager of an app (made on first use; the override app's is the rule set). */
  dataOf(app: string): AppDataManager {
    let m = this.data.get(app);
    if (!m) {
      m = new AppDataManager(app, () => this.chain, this.metrics, this.logger, app === 'override' ? RULES_MAX_BYTES : DATA_MAX_BYTES, this.opts.now);
      if (app === 'override') m.onChange = (change) => this.flushForRules(change);
      this.data.set(app, m);
    }
    return m;
  }

  /**
   * A rule set went in or out: cached answers that the changed rules could have shaped are
   * flushed at once, so a reroute applies to the next query, not after max_ttl (docs/rules.md).
   */
  private flushForRules(change: DataChange): void {
    if (this.resolver) flushForRuleChange(this.resolver, change);
  }

  /**
   * The rule file the config names (`[rules] file` or `[apps.override] data`), or null. With one,
   * a pushed rule set is written to it, so a reload, a restart and the file watch all keep it.
   */
  private rulesFile(): string | null {
    return dataFiles(this.config, configBaseDir(this.opts.configPath)).find((f) => f.app === 'override')?.path ?? null;
  }

  /** The override app's rule set (docs/rules.md). */
  get rules(): AppDataManager {
    return this.dataOf('override');
  }

  /** Builds the node from a validated config and opens its listeners. Throws ConfigError. */
  static async start(config: Config, opts: EdgeNodeOptions = {}): Promise<EdgeNode> {
    const node = new EdgeNode(opts);
    // Data files (a rule file, a block list) load into the chain before it serves: a file that
    // does not load stops the start, as there is no previous version to fall back on.
    await node.adoptData(node.build(config, opts.configText ?? JSON.stringify(config)));
    // The zone loads in the background (a URL may take its whole timeout, then verification):
    // until a verified copy is in, static_zone passes and the resolver forwards everything.
    await node.syncZone(config, await EdgeNode.trustAnchor(config));
    await node.listen();
    return node;
  }

  get currentConfig(): Config {
    return this.config;
  }

  get currentResolver(): Resolver {
    return this.resolver;
  }

  get currentChain(): WasmAppChain {
    return this.chain;
  }

  private wiring() {
    return { transport: this.transport, metrics: this.metrics, logger: this.logger, now: this.opts.now };
  }

  private upstreams(c: Config): Upstreams {
    return upstreamsFromConfig(c, this.wiring());
  }

  /**
   * After a chain with freshly loaded data files went into service: record what each app holds,
   * and watch the files, so a change applies without a reload (a bad change is refused and the
   * running data stays).
   */
  private async adoptData(loaded: LoadedData[]): Promise<void> {
    const watched = new Set<string>();
    for (const f of loaded) {
      await this.dataOf(f.app).adopt(f.bytes, f.path);
      if (!f.watch) continue;
      watched.add(f.app);
      const current = this.dataWatches.get(f.app);
      if (current?.path === f.path) continue;
      current?.close();
      const w = new DataFile(f.path, this.dataOf(f.app), this.logger);
      w.watch();
      this.dataWatches.set(f.app, w);
    }
    for (const [app, w] of this.dataWatches) {
      if (watched.has(app)) continue;
      w.close();
      this.dataWatches.delete(app);
    }
  }

  /** Reads `[zone] trust_anchor` (before anything is swapped, so a bad file refuses the config). */
  private static async trustAnchor(c: Config): Promise<TrustAnchor | null> {
    const file = c.zone.trust_anchor;
    if (!file) return null;
    try {
      return await parseTrustAnchor(new Uint8Array(await readFile(file)), { file });
    } catch (e) {
      throw new ConfigError([`zone.trust_anchor: ${(e as Error).message}`]);
    }
  }

  /**
   * Follows `[zone]`. A reload changes the running lifecycle, never its copy: new settings apply
   * to the copy in service (new verification settings check it again), and a new source leaves
   * it serving until that source gives a newer verified version. Only a removed source takes the
   * copy out of service. Nothing here waits for a zone to load.
   */
  private async syncZone(c: Config, anchor: TrustAnchor | null): Promise<void> {
    const source = c.zone.source;
    if (!source) {
      if (!this.zone) return;
      // Let a refresh in progress finish (it activates nothing now), then take the copy out.
      await this.zone.stop();
      await this.zone.data.clear();
      this.zone = null;
      return;
    }
    const settings = { trustAnchor: anchor, ...zoneSettings(c), store: c.zone.state_file ? new SerialFile(c.zone.state_file) : null };
    const from = /^https?:\/\//.test(source) ? new UrlSource(source) : new FileSource(source);
    if (this.zone) {
      this.zone.setSource(from);
      this.zone.configure(settings);
      return;
    }
    this.zone = new ZoneLifecycle({ source: from, chain: () => this.chain, ...settings, metrics: this.metrics, logger: this.logger, now: this.opts.now });
    void this.zone.start();
  }

  private peers(c: Config): Peers | null {
    return peersFromConfig(c, this.wiring(), { sendContext: !this.opts.testOnlyForwardWithoutContext });
  }

  /** Everything that can fail is built before anything is swapped; returns the data files it loaded. */
  private build(c: Config, text: string): LoadedData[] {
    const baseDir = configBaseDir(this.opts.configPath);
    const catalog = catalogForConfig(this.catalog, c, baseDir);
    const chain = buildChain(c, { catalog, metrics: this.metrics, logger: this.logger, now: this.opts.now, previous: this.chain ?? null });
    const loaded = loadAppData(chain, c, baseDir);
    const upstreams = this.upstreams(c);
    const peers = this.peers(c);
    const previous = this.resolver ? { resolver: this.resolver, config: this.config } : null;
    const parts = { chain, upstreams, peers, metrics: this.metrics, logger: this.logger, rulesHash: () => this.rules.current?.hash, now: this.opts.now };
    this.resolver = nextResolver(c, previous, parts);
    this.chain = chain;
    for (const m of this.data.values()) m.restore();
    this.zone?.restore();
    this.config = c;
    this.configHash = createHash('sha256').update(text).digest('hex');
    this.metrics.gauge('edge_config_info', 'The running config (value 1), labelled by its hash', ['hash']).set({ hash: this.configHash.slice(0, 16) }, 1);
    return loaded;
  }

  private async listen(): Promise<void> {
    const c = this.config;
    const dropped = this.metrics.counter('edge_dropped_queries_total', 'Queries dropped without an answer', ['transport', 'reason']);
    const truncated = this.metrics.counter('edge_truncated_responses_total', 'UDP answers sent truncated (TC)');
    const tcpOpen = this.metrics.gauge('edge_tcp_connections', 'Open DNS-over-TCP connections, by listener (each listener takes at most tcp_max_connections)', ['listener']);
    const get = () => this.resolver;
    try {
      for (const l of c.server.listen) {
        const { host, port } = splitHostPort(l);
        const bound = await this.bindPair(host, port, get, dropped, truncated, tcpOpen);
        this.listening.dns.push(bound);
      }
      const certificate = c.server.tls_cert && c.server.tls_key ? { cert: c.server.tls_cert, key: c.server.tls_key } : ('self-signed' as const);
      const dohListeners = [
        ...c.server.doh.map((l) => ({ l, tls: certificate })),
        ...c.server.doh_http.map((l) => ({ l, tls: 'http' as const })),
      ];
      for (const { l, tls } of dohListeners) {
        const { host, port } = splitHostPort(l);
        const s = new DohServer(get, { host, port, path: c.server.doh_path, tls }, this.logger);
        this.listening.doh.push(await s.listen());
        this.doh.push(s);
      }
      if (c.admin.listen) {
        const { host, port } = splitHostPort(c.admin.listen);
        this.admin = new AdminServer({ host, port, token: c.admin.token }, this.logger);
        this.adminRoutes(this.admin);
        this.listening.admin = await this.admin.listen();
      }
    } catch (e) {
      await this.close(0);
      throw e;
    }
    this.logger.log('info', 'edge-resolver listening', {
      node: c.node_id,
      dns: this.listening.dns.map((a) => `${a.address}:${a.port}`).join(','),
      doh: this.listening.doh.map((a) => `${a.address}:${a.port}`).join(','),
      admin: this.listening.admin ? `${this.listening.admin.address}:${this.listening.admin.port}` : '',
      apps: this.chain.apps.map((a) => a.name).join(','),
    });
  }

  /** UDP and TCP on the same port; with port 0, the first port free for both. */
  private async bindPair(
    host: string,
    port: number,
    get: () => Resolver,
    dropped: ReturnType<PromMetrics['counter']>,
    truncated: ReturnType<PromMetrics['counter']>,
    tcpOpen: ReturnType<PromMetrics['gauge']>,
  ) {
    const c = this.config;
    for (let attempt = 0; ; attempt++) {
      const udp = new UdpServer(get, { host, port, maxInflight: 10_000 }, this.logger, dropped, truncated);
      const bound = await udp.listen();
      const tcp = new TcpServer(
        get,
        {
          host,
          port: bound.port,
          idleTimeoutMs: c.server.tcp_idle_timeout_ms,
          maxConnections: c.server.tcp_max_connections,
          maxQueriesPerConnection: c.server.tcp_max_queries_per_connection,
        },
        this.logger,
        dropped,
        tcpOpen,
      );
      try {
        await tcp.listen();
      } catch (e) {
        await udp.close();
        if (port !== 0 || attempt > 20) throw e;
        continue;
      }
      this.udp.push(udp);
      this.tcp.push(tcp);
      return bound;
    }
  }

  private adminRoutes(admin: AdminServer): void {
    admin.route('GET', '/metrics', async () => ({ status: 200, body: await this.metrics.text(), type: 'text/plain; version=0.0.4' }));
    admin.route('GET', '/health', async () => ({ status: 200, body: 'ok\n', type: 'text/plain' }));
    admin.route('GET', '/status', async () => ({ status: 200, body: this.status() }));
    admin.route('GET', '/rules', async () => ({ status: 200, body: { ...this.rulesStatus(), text: this.rules.text } }), 'read');
    admin.route('PUT', '/rules', async (req, body) => {
      const data = new TextEncoder().encode(body);
      const dryRun = new URL(req.url ?? '/', 'http://admin').searchParams.get('check') === '1';
      const file = this.rulesFile();
      let r = dryRun ? await this.rules.validate(data, 'pushed rules') : await this.rules.apply(data, 'pushed rules', file ? (d) => writeFileAtomically(file, d ?? NO_RULES) : undefined);
      // A dry run answers for the save too, so `rules push` applies nowhere when one node could not keep the set.
      if (dryRun && r.ok && file) {
        r = await access(dirname(file), fsConstants.W_OK).then(
          () => r,
          (e: Error) => ({ ok: false, errors: [`pushed rules: cannot be saved to ${file} (${e.message})`] }),
        );
      }
      return r.ok ? { status: 200, body: { hash: r.hash, changed: r.changed, applied: !dryRun } } : { status: 422, body: { errors: r.errors, hash: this.rules.current?.hash ?? null } };
    });
    admin.route('DELETE', '/rules', async () => {
      const file = this.rulesFile();
      // With a rule file the file stays the truth: it gets a set with no rules, not removed (a
      // reload would then refuse the config for a missing file).
      const r = file ? await this.rules.apply(NO_RULES, 'DELETE /rules', (d) => writeFileAtomically(file, d ?? NO_RULES)) : await this.rules.clear();
      return r.ok ? { status: 200, body: { hash: file ? r.hash : null } } : { status: 500, body: { errors: r.errors } };
    });
    admin.route('POST', '/cache/flush', async (req) => {
      const name = new URL(req.url ?? '/', 'http://admin').searchParams.get('name');
      let zone: Uint8Array | null = null;
      if (name) {
        try {
          zone = textToName(name.endsWith('.') ? name : `${name}.`);
        } catch (e) {
          if (!(e instanceof WireError)) throw e;
          return { status: 400, body: { error: `name: "${name}" is not a domain name (${e.message})` } };
        }
      }
      const flushed = this.resolver.flush(zone ? { names: [], suffixes: [zone] } : null, 'admin');
      return { status: 200, body: { flushed, name: name ?? null } };
    });
    admin.route('GET', '/zone', async () => ({ status: this.zone ? 200 : 404, body: this.zone?.status() ?? { error: 'no [zone] source configured' } }));
    admin.route('POST', '/zone/refresh', async () => {
      if (!this.zone) return { status: 404, body: { error: 'no [zone] source configured' } };
      const outcome = await this.zone.refresh('admin');
      return { status: outcome === 'failed' ? 422 : 200, body: { outcome, ...this.zone.status() } };
    });
    admin.route('POST', '/reload', async () => {
      const r = await this.reload();
      return { status: r.ok ? 200 : 422, body: r };
    });
  }

  status(): Record<string, unknown> {
    return {
      node_id: this.config.node_id,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      config: { hash: this.configHash, source: this.opts.configPath ?? 'embedded', reloads: this.reloads },
      apps: this.chain.apps.map((a) => ({ name: a.name, phases: a.manifest.phases, failure: a.manifest.failure, breaker_open: a.breakerOpen, memory_bytes: a.memoryBytes() })),
      upstreams: this.resolver.currentUpstreams.health(),
      peers: this.resolver.peers?.health() ?? {},
      cache: this.resolver.cache.stats,
      rules: this.rulesStatus(),
      data: Object.fromEntries([...this.data].filter(([, m]) => m.current).map(([app, m]) => [app, m.current])),
      zone: this.zone?.status() ?? null,
    };
  }

  /** The rule set running, or no hash, saying why when the override app is switched off. */
  private rulesStatus(): DataState | { hash: null; disabled?: true } {
    return this.rules.current ?? (this.chain.app('override') ? { hash: null } : { hash: null, disabled: true });
  }

  /**
   * Re-reads the config file (or takes `text`) and applies it. A bad config is reported and the
   * running one stays. Listener addresses are fixed at start; changing them needs a restart.
   */
  async reload(text?: string): Promise<{ ok: boolean; errors: string[] }> {
    let src = text;
    try {
      if (src === undefined) {
        if (!this.opts.configPath) return { ok: false, errors: ['this node runs an embedded config; nothing to reload'] };
        src = await readFile(this.opts.configPath, 'utf8');
      }
      const parsed = parseConfig(src, this.opts.configPath ?? 'config');
      // The command line's flags go on top of every version of the file, as at start.
      const c = this.opts.overrides ? this.opts.overrides(parsed) : parsed;
      if (JSON.stringify(c.server) !== JSON.stringify(this.config.server)) {
        this.logger.log('warn', 'server listeners changed in the config; they take effect on restart');
      }
      const anchor = await EdgeNode.trustAnchor(c);
      const loaded = this.build(c, src);
      this.admin?.setToken(c.admin.token);
      await this.adoptData(loaded);
      await this.syncZone(c, anchor);
      this.reloads.ok++;
      this.logger.log('info', 'config reloaded', { hash: this.configHash.slice(0, 16) });
      return { ok: true, errors: [] };
    } catch (e) {
      const errors = e instanceof ConfigError ? e.problems : [(e as Error).message];
      this.reloads.failed++;
      this.reloads.lastError = errors.join('; ');
      this.metrics.counter('edge_config_reload_failures_total', 'Config reloads refused (the running config stayed)').inc();
      this.logger.log('error', 'config reload refused; keeping the running config', { errors: errors.join('; ') });
      return { ok: false, errors };
    }
  }

  /** Graceful: stop accepting, let requests in progress finish (up to `graceMs`), then close. */
  async close(graceMs = this.config?.server.shutdown_grace_ms ?? 0): Promise<void> {
    for (const s of this.udp) s.stopAccepting();
    for (const s of this.tcp) s.stopAccepting();
    for (const s of this.doh) s.stopAccepting();
    const deadline = Date.now() + graceMs;
    const pending = () => [...this.udp, ...this.tcp, ...this.doh].reduce((n, s) => n + s.pending, 0);
    while (pending() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([...this.udp.map((s) => s.close()), ...this.tcp.map((s) => s.close()), ...this.doh.map((s) => s.close())]);
    await this.admin?.close();
    for (const w of this.dataWatches.values()) w.close();
    await this.zone?.stop();
    this.udp = [];
    this.tcp = [];
    this.doh = [];
    this.admin = null;
  }
}
