/**
 * One resolver node, the same on every runtime: it applies configs all or nothing, holds the
 * apps' data, follows the zone copy, swaps the chain and the resolver, and reports its status.
 * Everything a runtime differs in comes through its Platform record; the adapters keep only
 * their runtime's I/O (listeners, signals and file watches on Node; the fetch handler, KV
 * polling and the Durable Object on Workers).
 */

import { flushForRuleChange, sha256Hex, type AppDataManager, type DataChange } from '../apps/app-data.js';
import type { WasmAppChain } from '../apps/app-chain.js';
import { buildChain } from '../apps/load-apps.js';
import { ZoneLifecycle, type ZoneSettings } from '../apps/zone-lifecycle.js';
import { ConfigError, type Config } from '../core/config.js';
import { nextResolver, peersFromConfig, upstreamsFromConfig, zoneSettings, type ResolverParts } from '../core/from-config.js';
import type { Logger } from '../core/log.js';
import type { Counter, MetricsSink } from '../core/metrics.js';
import type { Resolver } from '../core/resolver.js';
import { UrlSource, type ZoneSource } from '../core/zone-source.js';
import { IANA_ROOT_HINTS, IterativeResolver, parseRootHints, type RootHints } from '../core/recursion/index.js';
import { IteratorOrigin, RoutedOrigin } from '../core/recursion/origin.js';
import { LocalRoot } from '../apps/local-root.js';
import { anchorFor, parseTrustAnchor, parseTrustAnchors, type TrustAnchor } from '../core/zone/index.js';
import { BogusCache } from '../core/dnssec/bogus-cache.js';
import { KeyCache } from '../core/dnssec/key-cache.js';
import { NegativeTrustAnchors } from '../core/dnssec/negative-anchors.js';
import { rootAnchors } from '../core/dnssec/root-anchors.js';
import { Validator } from '../core/dnssec/validator.js';
import { lowerName, nameFromText, nameToText } from '../core/dns/name.js';
import { SetAside } from '../core/set-aside.js';
import { AnswerValidation } from '../core/pipeline/validation.js';
import { loadData, NodeData, readData, type LoadedData } from './node-data.js';
import type { Platform, RuntimeConfig } from './platform.js';

export type ReloadResult = { ok: boolean; errors: string[] };

const ROOT = new Uint8Array([0]);

/** What a config needs from the outside world, read before anything is built or swapped. */
interface Inputs {
  /** The anchor the zone copy is verified against. */
  anchor: TrustAnchor | null;
  /** `[resolver] root_hints` read and parsed (recursive mode); null: the built-in IANA hints. */
  hints: { hints: RootHints; text: string } | null;
  /** The anchors validation starts from (`[dnssec] trust_anchor`, else the built-in root's). */
  anchors: { list: TrustAnchor[]; key: string };
  data: Awaited<ReturnType<typeof readData>>;
  hash: string;
}

/** A config built and ready to go into service: nothing running has been touched yet. */
interface Built {
  rc: RuntimeConfig;
  chain: WasmAppChain;
  parts: ResolverParts;
  /** Recursive mode's iterator (null: forwarding). */
  iterator: { key: string; it: IterativeResolver } | null;
  loaded: LoadedData[];
  zone: { source: ZoneSource; settings: ZoneSettings } | null;
  hash: string;
  /** `[dnssec] negative_trust_anchors`, checked: name (presentation), expiry (null: nta_lifetime from now), reason. */
  ntas: Array<{ name: string; until: number | null; reason: string }>;
}

export class ResolverNode<M extends MetricsSink = MetricsSink> {
  readonly metrics: M;
  readonly logger: Logger;
  private running!: RuntimeConfig;
  private configText = '';
  private configSource = '';
  private configHash = '';
  private chain!: WasmAppChain;
  private resolver!: Resolver;
  private readonly data: NodeData;
  /** The zone copy static_zone serves, when `[zone] source` is set (and this node serves it). */
  zone: ZoneLifecycle | null = null;
  private readonly startedAt = Date.now();
  private readonly reloads = { ok: 0, failed: 0, lastError: '' };
  private readonly configInfo;
  private readonly reloadFailures: Counter;
  /** The iterator of recursive mode and the settings it was made with (kept across reloads that keep them: its caches). */
  private iterator: { key: string; it: IterativeResolver } | null = null;
  /** Steering rules are in the rule set but no iterator runs them (said once, not per change). */
  private steeringIdle = false;
  /** The local root copy as the iterator's start for the root zone. */
  private readonly localRoot = new LocalRoot(() => this.chain);
  /** Negative trust anchors (RFC 7646): the node's, kept across configs. */
  readonly negativeAnchors = new NegativeTrustAnchors();
  /** Names of the negative trust anchors the running config set (a pushed one is not among them). */
  private fromConfig = new Set<string>();
  /** Upstream servers set aside for a zone (their answers for it keep failing validation): the node's, kept across configs. */
  readonly setAside: SetAside;
  /** Validated keys, kept while the trust anchors they came from stay the same. */
  private keys: { anchors: string; cache: KeyCache } | null = null;
  /** Applies run one after another: each builds on the chain the one before put in service. */
  private applying: Promise<unknown> = Promise.resolve();

  private constructor(readonly platform: Platform<M>) {
    this.metrics = platform.metrics;
    this.logger = platform.logger;
    this.data = new NodeData(() => this.chain, this.metrics, this.logger, platform.limits.dataMaxBytes, (change) => this.flushForRules(change), platform.now);
    this.configInfo = this.metrics.gauge('edge_config_info', 'The running config (value 1), labelled by its hash', ['hash']);
    this.reloadFailures = this.metrics.counter('edge_config_reload_failures_total', 'Config reloads refused (the running config stayed)');
    this.setAside = new SetAside({}, this.metrics, platform.now ?? Date.now, (what, e) =>
      this.logger.log(what === 'set-aside' ? 'warn' : 'info', what === 'set-aside' ? 'upstream set aside for a zone: its answers keep failing DNSSEC validation' : 'upstream back for a zone: its answer validated', {
        server: e.server,
        zone: e.zone,
        reason: e.reason,
        ...(what === 'set-aside' ? { until: new Date(e.until).toISOString() } : {}),
      }),
    );
  }

  /**
   * A node running `text` (already parsed when `parsed` is given), its data loaded and its zone
   * following `[zone]`. Throws ConfigError when the config cannot run: with nothing running
   * yet, there is no previous version to fall back on.
   */
  static async create<M extends MetricsSink>(platform: Platform<M>, text: string, source: string, parsed?: RuntimeConfig): Promise<ResolverNode<M>> {
    const node = new ResolverNode(platform);
    await node.apply(parsed ?? platform.parse(text, source), text, source);
    return node;
  }

  /**
   * Everything `create` and a reload do with a config short of putting it in service: parse it
   * (the schema, the runtime's own checks), read what it names (trust anchor, data files), build
   * the chain (app names, app config schemas, routes to groups, data loads) and the resolver's
   * parts. `config check` runs this, so it refuses exactly what `serve` and a reload refuse, with
   * the same messages. Throws ConfigError; nothing is started.
   */
  static async check<M extends MetricsSink>(platform: Platform<M>, text: string, source: string): Promise<void> {
    const node = new ResolverNode(platform);
    const rc = platform.parse(text, source);
    node.build(rc, await node.inputs(rc, text));
  }

  get currentConfig(): Config {
    return this.running.config;
  }

  get currentResolver(): Resolver {
    return this.resolver;
  }

  get currentChain(): WasmAppChain {
    return this.chain;
  }

  /** The config text in service and where it came from. */
  get config(): { text: string; source: string; hash: string } {
    return { text: this.configText, source: this.configSource, hash: this.configHash };
  }

  /** The data manager of an app (made on first use; the override app's is the rule set). */
  dataOf(app: string): AppDataManager {
    return this.data.of(app);
  }

  /** The override app's rule set (docs/rules.md). */
  get rules(): AppDataManager {
    return this.data.of('override');
  }

  /** The rule set running, or no hash, saying why when the override app is switched off. */
  rulesState() {
    return this.data.rules();
  }

  /**
   * A rule set went in or out: cached answers that the changed rules could have shaped are
   * flushed at once, so a reroute applies to the next query, not after max_ttl (docs/rules.md).
   */
  private flushForRules(change: DataChange): void {
    this.followSteering();
    if (this.resolver) flushForRuleChange(this.resolver, change);
  }

  /**
   * The steering rules of the rule set that runs (avoid-ns / prefer-ns, reported by the override
   * app with its scope) go to the iterator, all of them at once, whenever the rules or the
   * iterator change: a push, a clear, the override app off or on, a new iterator.
   */
  private followSteering(): void {
    const rules: Array<{ zone: Uint8Array; avoid: string[]; prefer: string[] }> = [];
    for (const u of this.rules.currentScope?.values() ?? []) {
      if (u.steer) for (const zone of u.suffixes) rules.push({ zone, ...u.steer });
    }
    const it = this.iterator?.it;
    if (it) it.setSteering(rules);
    const idle = rules.length > 0 && !it;
    if (idle && !this.steeringIdle) this.logger.log('warn', 'the rule set steers nameservers (avoid-ns, prefer-ns), which acts only in recursive mode', { zones: rules.length });
    this.steeringIdle = idle;
  }

  /**
   * Parses `text` (default: the config in service; a function: read it now) and applies it. A
   * config that cannot be read, or is refused anywhere, is counted, logged and reported, and the
   * running one stays.
   */
  async reload(text: string | (() => Promise<string>) = this.configText, source: string = this.configSource): Promise<ReloadResult> {
    try {
      const t = typeof text === 'string' ? text : await text();
      await this.apply(this.platform.parse(t, source), t, source);
      this.reloads.ok++;
      this.logger.log('info', 'config reloaded', { source, hash: this.configHash.slice(0, 16) });
      return { ok: true, errors: [] };
    } catch (e) {
      const errors = e instanceof ConfigError ? e.problems : [(e as Error).message];
      this.reloads.failed++;
      this.reloads.lastError = errors.join('; ');
      this.reloadFailures.inc();
      this.logger.log('error', 'config reload refused; keeping the running config', { source, errors: errors.join('; ') });
      return { ok: false, errors };
    }
  }

  /**
   * Applies a parsed config: what it needs from outside is read first, then everything that
   * can fail is built, then swapped in at once; then the apps' data and the zone follow it.
   * Throws ConfigError and leaves the running node untouched.
   */
  private apply(rc: RuntimeConfig, text: string, source: string): Promise<void> {
    const run = this.applying.then(async () => {
      const inputs = await this.inputs(rc, text);
      const built = this.build(rc, inputs);
      const previous = this.running?.config ?? null;
      this.swap(built, text, source);
      if (this.platform.appData.mode === 'pushed') await this.data.sync(this.platform.appData.of(rc.config));
      else await this.data.adopt(built.loaded);
      await this.followZone(built.zone);
      this.platform.applied?.(rc.config, previous);
    });
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async inputs(rc: RuntimeConfig, text: string): Promise<Inputs> {
    const c = rc.config;
    const [anchors, anchor, hints, data, hash] = await Promise.all([
      this.validationAnchors(c),
      this.trustAnchor(c),
      this.rootHints(c),
      this.platform.appData.mode === 'with-config' ? readData(this.platform.appData.of(c)) : [],
      sha256Hex(new TextEncoder().encode(text)),
    ]);
    // One file serves both: without zone.trust_anchor the copy is verified by the validation
    // anchor of its zone (the root's, or the only one the file has).
    const zoneAnchor = anchor ?? (c.dnssec.trust_anchor ? (anchorFor(anchors.list, ROOT) ?? (anchors.list.length === 1 ? anchors.list[0]! : null)) : null);
    return { anchor: zoneAnchor, anchors, hints, data, hash };
  }

  /**
   * Reads `[dnssec] trust_anchor` (one or more zones), else the built-in root anchors, before
   * anything is swapped, so a bad file refuses the config.
   */
  private async validationAnchors(c: Config): Promise<Inputs['anchors']> {
    const name = c.dnssec.trust_anchor;
    if (!name) return { list: await rootAnchors(), key: 'built-in' };
    try {
      const { bytes, file } = await this.platform.readTrustAnchor(name);
      return { list: await parseTrustAnchors(bytes, { file }), key: await sha256Hex(bytes) };
    } catch (e) {
      throw new ConfigError([`dnssec.trust_anchor: ${(e as Error).message}`]);
    }
  }

  /** Reads `[resolver] root_hints` (recursive mode), before anything is swapped, so a bad file refuses the config. */
  private async rootHints(c: Config): Promise<Inputs['hints']> {
    const name = c.resolver.root_hints;
    if (!name || c.resolver.mode !== 'recursive') return null;
    try {
      if (!this.platform.readRootHints) throw new Error('this runtime has no root hints files');
      const { text, file } = await this.platform.readRootHints(name);
      return { hints: await parseRootHints(text, file), text };
    } catch (e) {
      throw new ConfigError([`resolver.root_hints: ${(e as Error).message}`]);
    }
  }

  /** Reads `[zone] trust_anchor`, before anything is swapped, so a bad one refuses the config. */
  private async trustAnchor(c: Config): Promise<TrustAnchor | null> {
    const name = c.zone.trust_anchor;
    if (!name) return null;
    try {
      const { bytes, file } = await this.platform.readTrustAnchor(name);
      return await parseTrustAnchor(bytes, { file });
    } catch (e) {
      throw new ConfigError([`zone.trust_anchor: ${(e as Error).message}`]);
    }
  }

  /** Everything that can fail, built with nothing awaited between it and the swap. */
  private build(rc: RuntimeConfig, inputs: Inputs): Built {
    const c = rc.config;
    const p = this.platform;
    const chain = buildChain(c, {
      catalog: p.catalog(c),
      metrics: this.metrics,
      logger: this.logger,
      now: p.now,
      previous: this.chain ?? null,
      ...(rc.members?.length ? { members: rc.members } : {}),
    });
    const loaded = loadData(chain, inputs.data);
    const iterator = this.iteratorFor(c, inputs);
    return { rc, chain, iterator, parts: this.resolverParts(c, chain, iterator, inputs), loaded, ntas: configNtas(c), zone: this.zoneFor(rc, inputs.anchor), hash: inputs.hash };
  }

  /**
   * What the resolver for `c` is made of: the one place a config becomes the resolver's
   * components, for every runtime. A new component (the DNSSEC validator with its trust
   * anchors, an iterator with its root hints) is built here and handed to the resolver with the
   * rest.
   */
  private resolverParts(c: Config, chain: WasmAppChain, iterator: Built['iterator'], inputs: Inputs): ResolverParts {
    const p = this.platform;
    const wiring = { transport: p.dnstap ? p.dnstap.transport(p.transport, 'forwarder') : p.transport, metrics: this.metrics, logger: this.logger, now: p.now };
    this.setAside.configure({ after: c.dnssec.set_aside_after, ttlMs: c.dnssec.set_aside_ttl * 1000 });
    const upstreams = upstreamsFromConfig(c, wiring, c.dnssec.validate ? this.setAside : null);
    return {
      chain,
      upstreams,
      ...(iterator ? { origin: new RoutedOrigin(new IteratorOrigin(iterator.it, (ctx) => this.localRoot.forRequest(ctx)), upstreams) } : {}),
      validation: this.validation(c, inputs.anchors),
      peers: peersFromConfig(c, { ...wiring, transport: p.peerTransport ?? p.transport }, { sendContext: !p.testOnlyForwardWithoutContext }),
      metrics: this.metrics,
      logger: this.logger,
      rulesHash: () => this.rules.current?.hash,
      readyForPeers: () => !this.zone?.loading,
      options: p.resolverOptions?.(c),
      now: p.now,
    };
  }

  /**
   * The iterator for recursive mode: the running one when its settings are the same (its RRset
   * cache and server table carry over), else a new one. Put in service by swap().
   */
  private iteratorFor(c: Config, inputs: Inputs): { key: string; it: IterativeResolver } | null {
    if (c.resolver.mode !== 'recursive') return null;
    const key = JSON.stringify([inputs.hints?.text ?? null, c.resolver.qname_minimisation, c.server.udp_payload]);
    if (this.iterator?.key === key) return this.iterator;
    const p = this.platform;
    const it = new IterativeResolver({
      transport: p.dnstap ? p.dnstap.transport(p.transport, 'resolver') : p.transport,
      metrics: this.metrics,
      logger: this.logger,
      hints: inputs.hints?.hints ?? IANA_ROOT_HINTS,
      qnameMinimisation: c.resolver.qname_minimisation,
      udpSize: c.server.udp_payload,
      ...(p.now ? { now: p.now } : {}),
    });
    return { key, it };
  }

  /**
   * The validator for `c`, or null when `[dnssec] validate = false`. Validated keys are kept
   * across reloads while the anchors stay the same; negative trust anchors are the node's and
   * outlive every config.
   */
  private validation(c: Config, anchors: Inputs['anchors']): AnswerValidation | null {
    if (!c.dnssec.validate) return null;
    if (this.keys?.anchors !== anchors.key) this.keys = { anchors: anchors.key, cache: new KeyCache() };
    const now = this.platform.now;
    const validator = new Validator({
      anchors: anchors.list,
      keyCache: this.keys.cache,
      negativeAnchors: this.negativeAnchors,
      bogusTtl: c.dnssec.bogus_ttl,
      timeout: c.server.request_timeout_ms,
      metrics: this.metrics,
      ...(now ? { now } : {}),
    });
    return new AnswerValidation({
      validator,
      bogus: new BogusCache({ ttl: c.dnssec.bogus_ttl }),
      unvalidated: new Set(c.dnssec.unvalidated_groups),
      metrics: this.metrics,
      setAside: this.setAside,
      ...(now ? { now } : {}),
    });
  }

  /** The zone source and settings `[zone]` asks for, or null for no zone copy on this node. */
  private zoneFor(rc: RuntimeConfig, anchor: TrustAnchor | null): Built['zone'] {
    const c = rc.config;
    const name = c.zone.source;
    if (!name || rc.servesZone === false) return null;
    const source = /^https?:\/\//.test(name) ? new UrlSource(name) : this.platform.zoneSource(name);
    if (!source) return null;
    const base = zoneSettings(c);
    const store = c.zone.state_file && this.platform.serialStore ? this.platform.serialStore(c.zone.state_file) : null;
    return { source, settings: { ...base, trustAnchor: anchor, refreshSec: base.refreshSec || (this.platform.zoneRefreshSec ?? 0), store } };
  }

  /** Puts a built config in service. Nothing here can fail or wait. */
  private swap(b: Built, text: string, source: string): void {
    const previous = this.resolver ? { resolver: this.resolver, config: this.running.config } : null;
    this.resolver = nextResolver(b.rc.config, previous, b.parts);
    this.iterator = b.iterator;
    this.followNtas(b.ntas, b.rc.config.dnssec.nta_lifetime);
    this.chain = b.chain;
    this.data.restore();
    this.zone?.restore();
    this.running = b.rc;
    this.followSteering();
    this.configText = text;
    this.configSource = source;
    // The previous hash goes: one node runs one config (the drift alert counts hashes).
    if (this.configHash && this.configHash !== b.hash) this.configInfo.remove({ hash: this.configHash.slice(0, 16) });
    this.configHash = b.hash;
    this.configInfo.set({ hash: b.hash.slice(0, 16) }, 1);
    this.platform.setLogLevel?.(b.rc.config.log.level);
  }

  /**
   * Follows `[zone]`. A reload changes the running lifecycle, never its copy: new settings apply
   * to the copy in service (new verification settings check it again), and a new source leaves
   * it serving until that source gives a newer verified version. Only a removed source (or a
   * node that no longer serves the zone) takes the copy out of service.
   */
  private async followZone(next: Built['zone']): Promise<void> {
    if (!next) {
      if (!this.zone) return;
      // Let a refresh in progress finish (it activates nothing now), then take the copy out.
      await this.zone.stop();
      await this.zone.data.clear();
      this.zone = null;
      return;
    }
    if (this.zone) {
      this.zone.setSource(next.source);
      this.zone.configure(next.settings);
      return;
    }
    const p = this.platform;
    this.zone = new ZoneLifecycle({ source: next.source, chain: () => this.chain, ...next.settings, metrics: this.metrics, logger: this.logger, now: p.now, timers: p.timers, ...(p.zoneCompiler ? { compiler: p.zoneCompiler } : {}) });
    // With timers the copy loads in the background (a URL may take its whole timeout): until a
    // verified copy is in, static_zone passes and the resolver forwards everything. Without
    // them, the request that built the node is the only chance to load it.
    if (p.timers) void this.zone.start();
    else await this.zone.start();
  }

  /** Pushed data read again (runtimes without timers, on their checks). A source that fails is reported, never thrown. */
  async refreshData(): Promise<void> {
    if (this.platform.appData.mode === 'pushed') await this.data.sync(this.platform.appData.of(this.running.config));
  }

  /** Re-evaluates the zone copy's expiry and staleness (runtimes without timers, on requests). */
  tick(): void {
    this.zone?.tick();
  }

  /** Why pushed data is not running, each line prefixed with its app. */
  dataProblems(): string[] {
    return this.data.problems();
  }

  status(): Record<string, unknown> {
    const c = this.running.config;
    const { rules, data } = this.data.status(this.platform.appData.mode === 'pushed');
    const doc: Record<string, unknown> = {
      node_id: c.node_id,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      config: { hash: this.configHash, source: this.configSource, reloads: { ...this.reloads } },
      ...this.running.status,
      apps: this.chain.apps.map((a) => ({ name: a.name, phases: a.manifest.phases, failure: a.manifest.failure, breaker_open: a.breakerOpen, memory_bytes: a.memoryBytes() })),
      upstreams: this.resolver.currentUpstreams.health(),
      peers: this.resolver.peers?.health() ?? {},
      cache: this.resolver.cache.stats,
      rules,
      data,
      zone: this.zone?.status() ?? null,
      resolver: this.resolverStatus(c),
      dnssec: this.dnssecStatus(),
    };
    return this.platform.status ? this.platform.status(doc) : doc;
  }

  /**
   * The resolver's mode, and in recursive mode where iteration starts for the root zone now:
   * `local` while static_zone has a valid copy in service (no query goes to a root server),
   * `root_servers` when it has none (never loaded, refused, expired, switched off), primed
   * from the hints.
   */
  private resolverStatus(c: Config): Record<string, unknown> {
    if (c.resolver.mode !== 'recursive' || !this.iterator) return { mode: c.resolver.mode };
    return {
      mode: c.resolver.mode,
      qname_minimisation: c.resolver.qname_minimisation,
      root_hints: c.resolver.root_hints ?? 'built-in (IANA)',
      root_source: this.localRootInService() ? 'local' : 'root_servers',
      ...this.iterator.it.status(),
    };
  }

  /** A valid copy is in service for the iterator: the lifecycle serves one and static_zone holds it. */
  private localRootInService(): boolean {
    const serving = this.zone ? (this.zone.status() as { serving?: boolean }).serving === true : false;
    return serving && this.localRoot.inService();
  }

  /**
   * The config's negative trust anchors replace the previous config's; pushed ones stay. A name
   * alone keeps the expiry it already had from an earlier config, so a reload does not extend it.
   */
  private followNtas(ntas: Built['ntas'], lifetimeSec: number): void {
    const now = (this.platform.now ?? Date.now)();
    const running = new Map(this.negativeAnchors.list(now).map((n) => [n.name, n]));
    const next = new Set<string>();
    for (const n of ntas) {
      const kept = n.until === null && this.fromConfig.has(n.name) ? running.get(n.name) : undefined;
      const set = this.negativeAnchors.set(n.name, kept?.expires ?? n.until ?? now + lifetimeSec * 1000, n.reason || 'config');
      next.add(set.name);
    }
    for (const name of this.fromConfig) if (!next.has(name)) this.negativeAnchors.remove(name);
    this.fromConfig = next;
  }

  /**
   * Sets a negative trust anchor at run time (the admin API): `name` is served as insecure
   * until `until` (ms since the epoch). Cached answers at and below it are flushed. Throws
   * Error for a bad name or an expiry not in the future.
   */
  setNegativeAnchor(name: string, until: number, reason = ''): { name: string; until: number; reason: string } {
    const now = (this.platform.now ?? Date.now)();
    if (!Number.isFinite(until) || until <= now) throw new Error('a negative trust anchor needs an expiry in the future (RFC 7646 §2)');
    const wire = lowerName(nameFromText(name.endsWith('.') ? name : `${name}.`));
    const nta = this.negativeAnchors.set(wire, until, reason);
    this.fromConfig.delete(nta.name);
    this.resolver.flush({ names: [], suffixes: [wire] }, 'admin');
    this.logger.log('warn', 'negative trust anchor set', { name: nta.name, until: new Date(until).toISOString(), reason });
    return { name: nta.name, until, reason };
  }

  /** Removes a negative trust anchor (pushed or from the config, until the next reload); true when there was one. */
  removeNegativeAnchor(name: string): boolean {
    const wire = lowerName(nameFromText(name.endsWith('.') ? name : `${name}.`));
    const removed = this.negativeAnchors.remove(wire);
    if (removed) {
      this.resolver.flush({ names: [], suffixes: [wire] }, 'admin');
      this.logger.log('info', 'negative trust anchor removed', { name: nameToText(wire) });
    }
    return removed;
  }

  /** Validation as /status shows it: on or off, the anchors, negative trust anchors, servers set aside. */
  private dnssecStatus(): Record<string, unknown> {
    const v = this.resolver.validation;
    const iso = (ms: number) => new Date(ms).toISOString();
    const now = (this.platform.now ?? Date.now)();
    return {
      validate: v !== null,
      trust_anchors: v ? v.validator.anchors.map((a) => nameToText(a.owner)) : [],
      negative_trust_anchors: this.negativeAnchors.list(now).map((n) => ({ name: n.name, until: iso(n.expires), reason: n.reason })),
      set_aside: this.setAside.list().map((e) => ({ server: e.server, zone: e.zone, reason: e.reason, until: iso(e.until), bogus: e.bogus, times: e.times })),
    };
  }

  /** Stops what runs in the background: data watches, the zone's refreshes. */
  async close(): Promise<void> {
    this.data.close();
    await this.zone?.stop();
    await this.platform.zoneCompiler?.close();
  }
}

/** `[dnssec] negative_trust_anchors` as the node sets them; a name that is not one refuses the config. */
function configNtas(c: Config): Built['ntas'] {
  const problems: string[] = [];
  const out: Built['ntas'] = [];
  c.dnssec.negative_trust_anchors.forEach((e, i) => {
    const name = typeof e === 'string' ? e : e.name;
    try {
      const wire = lowerName(nameFromText(name.endsWith('.') ? name : `${name}.`));
      const until = typeof e === 'string' || e.until === undefined ? null : e.until instanceof Date ? e.until.getTime() : Date.parse(e.until);
      out.push({ name: nameToText(wire), until, reason: typeof e === 'string' ? '' : e.reason });
    } catch (err) {
      problems.push(`dnssec.negative_trust_anchors.${i}: "${name}": ${(err as Error).message}`);
    }
  });
  if (problems.length) throw new ConfigError(problems);
  return out;
}
