/**
 * A validated config turned into the core's objects, the same way on every runtime: the Node
 * adapter and the Workers adapter both build their cache, resolver, upstream groups and peers
 * from here, so a key means the same thing wherever the config runs.
 */

import { SOFTWARE, SOFTWARE_VERSION } from './version.js';
import { AnswerCache, type CacheOptions } from './cache.js';
import type { AppChain } from './chain.js';
import { ITERATE_ROUTE, type Config } from './config.js';
import { ContextAuth } from './context-auth.js';
import type { Logger } from './log.js';
import type { MetricsSink } from './metrics.js';
import { Peers, rulesVersion } from './peers.js';
import { Resolver, type ResolverOptions } from './resolver.js';
import type { AnswerValidation } from './pipeline/validation.js';
import type { SetAside } from './set-aside.js';
import { parseServer, parseTlsServer, Upstreams, type ServerSpec, type UpstreamTransport } from './upstream.js';
import type { AnswerOrigin } from './pipeline/resolve-step.js';

export function cacheOptions(c: Config): CacheOptions {
  return {
    maxEntries: c.cache.max_entries,
    maxBytes: c.cache.max_bytes,
    maxTtl: c.cache.max_ttl,
    minTtl: c.cache.min_ttl,
    maxNegativeTtl: c.cache.max_negative_ttl,
    failureTtl: c.cache.failure_ttl,
    staleAnswerTtl: c.cache.stale_answer_ttl,
    maxStaleSec: c.cache.max_stale,
  };
}

export function resolverOptions(c: Config): ResolverOptions {
  return {
    nodeId: c.node_id,
    requestTimeoutMs: c.server.request_timeout_ms,
    clientResponseTimerMs: c.cache.client_response_timer_ms,
    failureRecheckMs: c.cache.failure_recheck_ms,
    udpSize: c.server.udp_payload,
    // In recursive mode a name without a route is iterated.
    defaultRoute: c.resolver.mode === 'recursive' ? ITERATE_ROUTE : c.upstream.default_group,
    routes: forwardRoutes(c),
    maxHops: c.site.max_hops,
    settleMs: c.site.settle_ms,
    querySample: c.log.queries ? c.log.query_sample : 0,
    chaos: {
      identity: c.server.hide_identity ? null : (c.server.identity ?? c.node_id),
      version: c.server.hide_version ? null : (c.server.version ?? `${SOFTWARE} ${SOFTWARE_VERSION}`),
    },
  };
}

/**
 * The forward app's routing table as the forward app reads it: zone -> group, and in recursive
 * mode `.` means iterate whatever it names.
 */
export function forwardRoutes(c: Config): Record<string, string> {
  const raw = c.apps['forward']?.config?.['routes'];
  const routes: Record<string, string> = {};
  if (raw && typeof raw === 'object') for (const [zone, group] of Object.entries(raw)) if (typeof group === 'string') routes[zone] = group;
  if (c.resolver.mode === 'recursive') routes['.'] = ITERATE_ROUTE;
  return routes;
}

export interface Wiring {
  transport: UpstreamTransport;
  metrics: MetricsSink;
  logger: Logger;
  now?: () => number;
}

/** A group's servers as the Upstreams take them: over TLS to each in a `tls = true` group. */
export function groupServers(g: Config['upstreams'][string]): ServerSpec[] {
  if (!g.tls) return g.servers.map(parseServer);
  const opts = { ...(g.tls_name !== undefined ? { name: g.tls_name } : {}), ...(g.tls_ca !== undefined ? { caFile: g.tls_ca } : {}) };
  return g.servers.map((s) => parseTlsServer(s, opts));
}

export function upstreamsFromConfig(c: Config, w: Wiring, setAside: SetAside | null = null): Upstreams {
  const groups = Object.fromEntries(Object.entries(c.upstreams).map(([k, g]) => [k, groupServers(g)]));
  return new Upstreams(
    groups,
    w.transport,
    {
      tryTimeoutMs: c.upstream.try_timeout_ms,
      udpSize: c.server.udp_payload,
      health: { failures: c.upstream.health_failures, probeIntervalMs: c.upstream.probe_interval_ms },
    },
    w.metrics,
    w.logger,
    w.now,
    setAside,
  );
}

/**
 * The site's other nodes, or null for a node on its own. `sendContext: false` is the test-only
 * negative control of the incident test (forward as the October 2023 node did).
 */
export function peersFromConfig(c: Config, w: Wiring, o: { sendContext?: boolean } = {}): Peers | null {
  const keys = c.site.keys;
  const others = Object.keys(c.site.peers).filter((id) => id !== c.node_id);
  if (others.length === 0) return null;
  const auth = new ContextAuth({ keys, signing: c.site.signing_key ?? Object.keys(keys)[0]! }, c.server.request_timeout_ms);
  return new Peers(
    c.node_id,
    c.site.peers,
    auth,
    w.transport,
    {
      timeoutMs: c.site.peer_timeout_ms,
      downAfter: c.site.peer_down_after,
      probeIntervalMs: c.site.peer_probe_interval_ms,
      optionCode: c.site.context_option,
      udpSize: c.server.udp_payload,
      sendContext: o.sendContext ?? true,
    },
    w.metrics,
    w.logger,
    w.now,
  );
}

/** The `[zone]` settings the zone lifecycle takes (the source and trust anchor are the adapter's). */
export function zoneSettings(c: Config) {
  return {
    zonemd: c.zone.zonemd,
    dnssec: c.zone.dnssec,
    refreshSec: c.zone.refresh,
    maxAgeSec: c.zone.max_age,
    staleAgeSec: c.zone.stale_age,
    staleBeforeExpirySec: c.zone.stale_before_expiry,
    verifyImages: c.zone.verify_images,
  };
}

/** Config sections that decide where an answer comes from, or what is made of it (validation). */
const ROUTING_SECTIONS = ['upstreams', 'upstream', 'apps', 'resolver', 'dnssec'] as const;

/**
 * Whether a new config can send a query somewhere other than the old one did: new upstreams,
 * routes or apps. Answers cached under the old config are then flushed (as unbound drops its
 * cache on reload).
 */
export function routingChanged(before: Config, after: Config): boolean {
  const routing = (x: Config) => JSON.stringify(ROUTING_SECTIONS.map((k) => x[k]));
  return routing(before) !== routing(after);
}

export interface ResolverParts {
  chain: AppChain;
  upstreams: Upstreams;
  /** Where answers come from, by route; default the upstream groups (recursive mode adds the iterator). */
  origin?: AnswerOrigin;
  peers: Peers | null;
  metrics: MetricsSink;
  logger: Logger;
  /** The hash of the rule set the node runs (null: none), for the mark on answers to peers. */
  rulesHash: () => string | null | undefined;
  /** False while the node should not answer its peers (its local root copy is loading); default always ready. */
  readyForPeers?: () => boolean;
  /** What the runtime changes in resolverOptions(c). */
  options?: Partial<ResolverOptions>;
  now?: () => number;
  /** DNSSEC validation; null when `[dnssec] validate = false`. */
  validation?: AnswerValidation | null;
}

/**
 * The Resolver for config `c` after `previous` (null at start), the same way in both adapters:
 * the previous cache is kept when the cache settings are the same, and flushed when the new
 * config can send queries elsewhere; a new cache counts as a flush too, so peers do not fill it
 * from the old config either.
 */
export function nextResolver(c: Config, previous: { resolver: Resolver; config: Config } | null, parts: ResolverParts): Resolver {
  const sameCache = previous !== null && JSON.stringify(cacheOptions(c)) === JSON.stringify(previous.resolver.cache.opts);
  const cache = sameCache ? previous.resolver.cache : new AnswerCache(cacheOptions(c), parts.now);
  const options = { ...resolverOptions(c), ...parts.options };
  const resolver = new Resolver(parts.chain, cache, parts.upstreams, parts.peers, parts.metrics, parts.logger, options, parts.now, parts.origin, parts.validation ?? null);
  resolver.rulesVersion = () => rulesVersion(parts.rulesHash());
  if (parts.readyForPeers) resolver.readyForPeers = parts.readyForPeers;
  if (previous && (!sameCache || routingChanged(previous.config, c))) resolver.flush(null, 'config');
  return resolver;
}
