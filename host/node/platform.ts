/**
 * What a runtime gives the node (the Extism "capabilities" idea): everything that differs
 * between Node and Workers, in one record each adapter fills in. The node (resolver-node.ts)
 * holds no runtime code of its own; whatever it needs from the outside world comes from here.
 */

import type { AppCatalog } from '../apps/load-apps.js';
import type { SerialStore } from '../apps/zone-lifecycle.js';
import type { Config } from '../core/config.js';
import type { Logger, LogLevel } from '../core/log.js';
import type { MetricsSink } from '../core/metrics.js';
import type { ResolverOptions } from '../core/resolver.js';
import type { UpstreamTransport } from '../core/upstream.js';
import type { ZoneSource } from '../core/zone-source.js';
import type { ZoneCompiler } from '../core/zone/compile.js';
import type { Dnstap } from '../core/dnstap/tap.js';

/** A config as a runtime reads it: the schema's values plus what the runtime derives from them. */
export interface RuntimeConfig {
  config: Config;
  /** The site members the forward app hashes over, when the runtime names them (Workers: its cache shards). */
  members?: readonly string[];
  /** False when this node leaves the zone copy to others (a Workers ingress with shards). Default true. */
  servesZone?: boolean;
  /** Fields this config adds to /status (Workers: whether pooling is on, and why not). */
  status?: Record<string, unknown>;
}

/** Where one app's data comes from: a file on Node, a KV key on Workers. */
export interface AppDataSource {
  app: string;
  /** Where the bytes are read from, in errors and /status: a path, `kv:KEY`. */
  description: string;
  /** The config key that names it, in errors: `rules.file`, `apps.blocklist.data`. */
  key: string;
  /** The bytes, or null when there are none (a KV key not set). Throws when they cannot be read. */
  read(): Promise<Uint8Array | null>;
  /** Calls `onChange` when the bytes may have changed (a file watch); returns a stop function. */
  watch?(onChange: () => void): () => void;
}

export interface AppDataSources {
  /** The sources the config names. */
  of(c: Config): AppDataSource[];
  /**
   * `with-config`: the data is part of the config (Node's files): read and loaded into the new
   * chain before it goes into service, and data that does not load refuses the config.
   * `pushed`: the data is pushed beside the config (Workers KV): read after the config is in
   * service and again on every check; a refused value leaves the running data and is reported
   * in /status.
   */
  mode: 'with-config' | 'pushed';
}

export interface Platform<M extends MetricsSink = MetricsSink> {
  /** How upstream queries leave (UDP/TCP/DoH sockets on Node, fetch on Workers). */
  transport: UpstreamTransport;
  /**
   * The dnstap tap, where the runtime has an output for it (Node): queries to upstream groups
   * and to authoritative servers go through it (FORWARDER_* and RESOLVER_* messages).
   */
  dnstap?: Dnstap;
  /** How queries reach the site's other nodes; default `transport` (Workers: the shard binding). */
  peerTransport?: UpstreamTransport;
  /** The clock (tests drive it); default Date.now. */
  now?: () => number;
  /** Whether background timers outlive a request. Without them the adapter polls from its requests. */
  timers: boolean;
  logger: Logger;
  /** Follows `[log] level` of each config that goes into service. */
  setLogLevel?(level: LogLevel): void;
  metrics: M;
  /** Parses and checks a config text for this runtime. Throws ConfigError. */
  parse(text: string, source: string): RuntimeConfig;
  /** The apps a config can name (with its extra app folders, where the runtime has them). Throws ConfigError. */
  catalog(c: Config): AppCatalog;
  appData: AppDataSources;
  /** A zone source that is not an http(s) URL (those are fetched the same way everywhere): a file, a KV key. */
  zoneSource(name: string): ZoneSource | null;
  /**
   * What `[zone] refresh = 0` means, in seconds. Absent: the copy's SOA REFRESH (a file watch sees
   * a new copy at once). Workers, whose KV cannot be watched, use their KV check interval.
   */
  zoneRefreshSec?: number;
  /** Where zone copies are parsed, verified and compiled; default on the serving thread. */
  zoneCompiler?: ZoneCompiler;
  /** `[zone] state_file` (the serial in service kept across restarts), where the runtime can keep one. */
  serialStore?(name: string): SerialStore;
  /** The bytes of `[zone] trust_anchor` and the name to report them by. Throws a plain Error. */
  readTrustAnchor(name: string): Promise<{ bytes: Uint8Array; file: string }>;
  /** The text of `[resolver] root_hints` and the name to report it by, where the runtime can iterate. Throws a plain Error. */
  readRootHints?(name: string): Promise<{ text: string; file: string }>;
  limits: {
    /** App data other than the rule set; each app's own max_load_bytes applies too. */
    dataMaxBytes: number;
  };
  /** What the runtime changes in the resolver's options for a config. */
  resolverOptions?(c: Config): Partial<ResolverOptions>;
  /** Called once a config is in service (after its data is in), with the one it replaced. */
  applied?(c: Config, previous: Config | null): void;
  /** Adds the runtime's own fields to the /status document. */
  status?(doc: Record<string, unknown>): Record<string, unknown>;
  /**
   * Test-only: forward to peers without the request context, as the node in the October 2023
   * incident did (the negative control of the incident test). Not reachable from config.
   */
  testOnlyForwardWithoutContext?: boolean;
}
