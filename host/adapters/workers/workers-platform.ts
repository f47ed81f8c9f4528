/**
 * The node's platform record on Workers: fetch for DoH upstreams, the shard binding for peers,
 * no background timers, an in-memory metrics registry, the apps bundled at build time, and
 * Workers KV for app data, zone images and the trust anchor.
 */

import type { AppCatalog } from '../../apps/load-apps.js';
import { formatLine, type LogFields, type Logger, type LogLevel } from '../../core/log.js';
import { MemoryMetrics } from '../../core/metrics.js';
import type { Platform } from '../../node/platform.js';
import type { Env } from './env.js';
import { KvSource } from './kv-source.js';
import { fetchTransport, shardTransport } from './transport.js';
import { dataKeys, workersConfig, type Role } from './workers-config.js';

/** Other app data; each app's own max_load_bytes applies too. KV values are at most 25 MiB. */
const DATA_MAX_BYTES = 25 * 1024 * 1024;

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A logger whose level follows the running config, writing each level to its console method
 * (Workers logs and `wrangler tail` show the level from the method, not from the text).
 */
class ConsoleMethodLogger implements Logger {
  level: LogLevel = 'info';
  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVELS[level] < LEVELS[this.level]) return;
    const line = formatLine(level, msg, fields);
    if (level === 'error') console.error(line);
    else if (level === 'warn') console.warn(line);
    else console.log(line);
  }
}

export interface WorkersPlatformOptions {
  env: Env;
  role: Role;
  catalog: AppCatalog;
  /** Milliseconds between KV checks (EDGE_REFRESH_SECONDS). */
  refreshMs: number;
  /** The runtime's own /status fields: the role, the KV checks, configs refused. */
  status(doc: Record<string, unknown>): Record<string, unknown>;
}

export function workersPlatform(o: WorkersPlatformOptions): Platform<MemoryMetrics> {
  const { env, role } = o;
  const kv = env.EDGE_KV;
  const logger = new ConsoleMethodLogger();
  return {
    transport: fetchTransport,
    ...(env.SHARDS ? { peerTransport: shardTransport(env.SHARDS) } : {}),
    timers: false,
    logger,
    setLogLevel: (level) => (logger.level = level),
    metrics: new MemoryMetrics(),
    parse(text, source) {
      const wc = workersConfig(text, source, env, role);
      return {
        config: wc.config,
        members: wc.shards,
        // Every shard serves the zone; an ingress only when it has no shards to ask.
        servesZone: role.kind === 'shard' || wc.shards.length === 0,
        status: { pooling: wc.shards.length ? { shards: wc.shards } : { shards: [], off: wc.poolingNote } },
      };
    },
    catalog: () => o.catalog,
    appData: {
      mode: 'pushed',
      of: (c) =>
        kv
          ? [...dataKeys(c)].map(([app, key]) => ({
              app,
              key: app === 'override' ? 'rules.file' : `apps.${app}.data`,
              description: `kv:${key}`,
              read: async () => {
                const value = await kv.get(key, 'arrayBuffer');
                return value === null ? null : new Uint8Array(value);
              },
            }))
          : [],
    },
    zoneSource: (name) => (kv ? new KvSource(kv, name) : null),
    // `refresh = 0` takes SOA REFRESH on Node, where a file watch sees a new copy at once; KV
    // cannot be watched, so here it means the KV check interval.
    zoneRefreshSec: Math.max(1, Math.round(o.refreshMs / 1000)),
    async readTrustAnchor(key) {
      const bytes = kv ? await kv.get(key, 'arrayBuffer') : null;
      if (bytes === null) throw new Error(`no KV key "${key}" in EDGE_KV`);
      return { bytes: new Uint8Array(bytes), file: `kv:${key}` };
    },
    limits: { dataMaxBytes: DATA_MAX_BYTES },
    // Each isolate and shard reads KV on its own clock, up to one refresh interval apart.
    resolverOptions: (c) => ({ settleMs: Math.max(c.site.settle_ms, 2 * o.refreshMs) }),
    status: o.status,
  };
}
