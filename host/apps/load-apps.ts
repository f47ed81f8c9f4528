/**
 * Builds the app chain a config asks for: picks the apps and their order, checks each app's
 * config against its manifest schema, instantiates every app, loads its config and carries over
 * the data (zone image, rule set) of the chain it replaces. All or nothing: a failure anywhere
 * throws ConfigError and the running chain stays.
 */

import { LoadKind } from '../abi/verdict.js';
import { ConfigError, ITERATE_ROUTE, encodeAppConfig, type Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { MetricsSink } from '../core/metrics.js';
import { AppInstance, AppLoadError, appMetrics, type AppMetrics, type AppSource, type BreakerPolicy } from './app-instance.js';
import { WasmAppChain } from './app-chain.js';
import { checkAppConfig, parseManifest, type AppManifest } from './manifest.js';

/** Where apps come from: each adapter supplies compiled modules (Node reads files, Workers imports them). */
export interface AppCatalog {
  names(): string[];
  defaultChain(): readonly string[];
  get(name: string): AppSource | undefined;
}

export interface CatalogEntry {
  manifest: unknown;
  module: WebAssembly.Module;
  minPages: number;
}

/** A catalog over entries already compiled; validates every manifest up front. */
export function catalogOf(entries: Record<string, CatalogEntry>, defaultChain: readonly string[]): AppCatalog {
  const sources = new Map<string, AppSource>();
  for (const [name, e] of Object.entries(entries)) {
    const manifest = parseManifest(e.manifest, `apps/${name}/app.json`);
    sources.set(name, { manifest, module: e.module, minPages: e.minPages });
  }
  return {
    names: () => [...sources.keys()],
    defaultChain: () => defaultChain,
    get: (name) => sources.get(name),
  };
}

export interface BuildOptions {
  catalog: AppCatalog;
  metrics: MetricsSink;
  logger: Logger;
  now?: () => number;
  breaker?: BreakerPolicy;
  /** The chain being replaced: its apps' data loads are carried into the new instances. */
  previous?: WasmAppChain | null;
  /**
   * The site members the forward app hashes a query's owner over. Default: this node and its
   * peers. The Workers ingress passes only its cache shards, so it owns nothing itself and
   * every miss goes to the shard that owns it.
   */
  members?: readonly string[];
}

const metricsBySink = new WeakMap<MetricsSink, AppMetrics>();

export function buildChain(config: Config, opts: BuildOptions): WasmAppChain {
  const { catalog } = opts;
  const { chain: chainNames, dirs: _dirs, ...overrides } = config.apps;
  const order = chainNames ?? catalog.defaultChain();
  const problems: string[] = [];
  const known = new Set(catalog.names());
  const seen = new Set<string>();
  for (const name of order) {
    if (!known.has(name)) problems.push(`apps.chain: "${name}" is not an installed app (installed: ${[...known].join(', ') || 'none'})`);
    if (seen.has(name)) problems.push(`apps.chain: "${name}" appears twice`);
    seen.add(name);
  }
  for (const name of Object.keys(overrides)) {
    if (!known.has(name)) problems.push(`apps.${name}: no installed app of that name`);
  }
  if (problems.length) throw new ConfigError(problems);

  let m = metricsBySink.get(opts.metrics);
  if (!m) {
    m = appMetrics(opts.metrics);
    metricsBySink.set(opts.metrics, m);
  }
  const host = {
    node_id: config.node_id,
    // In recursive mode the iterate route is a target like a group (a route, a forward-to rule).
    upstream_groups: [...Object.keys(config.upstreams), ...(config.resolver.mode === 'recursive' ? [ITERATE_ROUTE] : [])].join(','),
    mode: config.resolver.mode,
    apps: order.join(','),
    installed_apps: catalog.names().join(','),
    // Every node must see the same members, so itself is always one of them.
    peers: [...new Set(opts.members ?? [config.node_id, ...Object.keys(config.site.peers)])].sort().join(','),
    max_hops: String(config.site.max_hops),
  };
  const instances: AppInstance[] = [];
  for (const name of order) {
    const src = catalog.get(name)!;
    const o = overrides[name];
    if (o && !o.enabled) {
      opts.logger.log('info', 'app disabled by config', { app: name });
      continue;
    }
    const manifest: AppManifest = {
      ...src.manifest,
      failure: o?.failure ?? src.manifest.failure,
      memory: { max_pages: Math.min(o?.max_pages ?? src.manifest.memory.max_pages, src.manifest.memory.max_pages) },
    };
    const cfg = o?.config ?? {};
    const cfgProblems = checkAppConfig(manifest, cfg);
    if (cfgProblems.length) {
      problems.push(...cfgProblems);
      continue;
    }
    let app: AppInstance;
    try {
      app = new AppInstance({ ...src, manifest }, opts.logger, m, opts.now, opts.breaker);
    } catch (e) {
      problems.push(e instanceof AppLoadError ? e.message : `app ${name}: ${(e as Error).message}`);
      continue;
    }
    if (manifest.config_schema || Object.keys(cfg).length > 0) {
      const r = app.load(LoadKind.CONFIG, encodeAppConfig(cfg, host));
      if (!r.ok) {
        problems.push(`apps.${name}.config: ${r.error}`);
        continue;
      }
    }
    const carried = opts.previous?.app(name)?.lastLoad(LoadKind.DATA);
    if (carried) {
      const r = app.load(LoadKind.DATA, carried);
      if (!r.ok) problems.push(`app ${name}: its running data does not load into the new instance: ${r.error}`);
    }
    instances.push(app);
  }
  if (problems.length) throw new ConfigError(problems);
  return new WasmAppChain(instances, opts.metrics);
}
