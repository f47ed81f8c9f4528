/**
 * The configuration: one schema, written in TOML, validated at load. Unknown keys and bad values
 * are errors that name the key; the caller keeps the running config when a new one fails.
 * docs/configuration.md lists every key.
 */

import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { parseAccessRule, parseRange } from './access.js';
import { parseIPv4, parseIPv6 } from './context.js';
import { formatIssues } from './schema-errors.js';
import { isTlsName, parseServer, parseTlsServer, serverHost, UpstreamError } from './upstream.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/**
 * A listener's address: an IP address and a port, IPv6 in brackets. A name is refused (what it
 * resolves to can change under a running node), and so is a port past 65535 (Node would bind
 * it modulo 65536: 99999 became 34463). Port 0 takes a free port (tests use it).
 */
function checkListenAddress(s: string, ctx: z.RefinementCtx): void {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  if (!m) return void ctx.addIssue({ code: 'custom', message: `"${s}" is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)` });
  const [, host, port] = m;
  if (s.startsWith('[') ? !parseIPv6(host!) : !parseIPv4(host!)) {
    ctx.addIssue({ code: 'custom', message: `"${s}": ${s.startsWith('[') ? `"${host}" is not an IPv6 address` : `"${host}" is not an IPv4 address (IPv6 goes in brackets, [::1]:53; names are not taken)`}` });
  }
  if (Number(port) > 65535) ctx.addIssue({ code: 'custom', message: `"${s}": port ${port} is out of range (0-65535; 0 takes a free port)` });
}
const hostPort = z.string().superRefine(checkListenAddress);
const groupName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'group names are [A-Za-z0-9_.-], at most 64');
const domainName = z.string().regex(/^(\.|([A-Za-z0-9_*-]([A-Za-z0-9_-]{0,62})?\.?)+)$/, 'a domain name (example.com or example.com.)').refine((v) => v.length <= 254, 'a domain name of at most 253 characters');
const ms = (d: number) => z.number().int().min(0).max(3_600_000).default(d);
const seconds = (d: number, max = 30 * 86_400) => z.number().int().min(0).max(max).default(d);

const upstreamServer = z.string().superRefine((s, ctx) => {
  try {
    parseServer(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof UpstreamError ? e.message : String(e) });
  }
});

const accessRule = z.string().superRefine((s, ctx) => {
  const r = parseAccessRule(s);
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
});
const addressRange = z.string().superRefine((s, ctx) => {
  const r = parseRange(s.trim());
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
});

const groupServers = z.array(upstreamServer).min(1, 'a group needs at least one server');

/**
 * An upstream group as a table: its servers and how they are reached. `tls = true` is DNS over
 * TLS to each (Unbound's `forward-tls-upstream`), port 853 unless a server gives one, every
 * certificate checked against `tls_name` (or a server's own `#NAME`; without either, its IP
 * address) and against the roots in `tls_ca` (a PEM file; default: the runtime's own roots).
 */
const groupTable = z
  .strictObject({
    servers: z.array(z.string()).min(1, 'a group needs at least one server'),
    tls: z.boolean().default(false),
    /** The name every server's certificate must carry, unless the server gives its own as ADDRESS#NAME. */
    tls_name: z.string().refine(isTlsName, 'a host name (dns.example.net) for the certificate check; without it the server\'s IP address is checked').optional(),
    /** PEM file of the CA certificates the servers' certificates must chain to; relative to the config file's folder (Node). */
    tls_ca: z.string().min(1).optional(),
  })
  .superRefine((g, ctx) => {
    if (!g.tls) {
      if (g.tls_name !== undefined) ctx.addIssue({ code: 'custom', path: ['tls_name'], message: 'only for a TLS group: set tls = true' });
      if (g.tls_ca !== undefined) ctx.addIssue({ code: 'custom', path: ['tls_ca'], message: 'only for a TLS group: set tls = true' });
    }
    g.servers.forEach((s, i) => {
      try {
        if (g.tls) parseTlsServer(s, { ...(g.tls_name !== undefined ? { name: g.tls_name } : {}) });
        else parseServer(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['servers', i], message: e instanceof UpstreamError ? e.message : String(e) });
      }
    });
  });

/** A group is a list of servers (`name = ["192.0.2.53", ...]`) or a table (groupTable). */
const upstreamGroup = z.unknown().transform((v, ctx) => {
  if (!Array.isArray(v) && (v === null || typeof v !== 'object')) {
    ctx.addIssue({ code: 'custom', message: 'a list of servers, or a table with servers = [...] (and tls, tls_name, tls_ca)' });
    return z.NEVER;
  }
  const r = Array.isArray(v) ? groupServers.safeParse(v) : groupTable.safeParse(v);
  if (!r.success) {
    for (const issue of r.error.issues) ctx.addIssue({ ...issue });
    return z.NEVER;
  }
  return Array.isArray(r.data) ? { servers: r.data, tls: false } : (r.data as z.infer<typeof groupTable>);
});

export type UpstreamGroupConfig = z.infer<typeof groupTable>;

export const appOverrideSchema = z.strictObject({
  /** The kill switch: false takes the app out of the chain (no restart needed). */
  enabled: z.boolean().default(true),
  failure: z.enum(['fail-open', 'fail-closed']).optional(),
  /** Lower the app's memory cap (in 64 KiB pages) below its manifest's. */
  max_pages: z.number().int().min(1).max(65536).optional(),
  /** The app's own settings, checked against the config_schema in its manifest. */
  config: z.record(z.string(), z.unknown()).default({}),
  /**
   * A file handed to the app as its DATA load (a block list), read when the chain is built and
   * on every reload; relative to the config file's folder.
   */
  data: z.string().min(1).optional(),
});

/**
 * The route that means "resolve by iteration" in recursive mode: where names without a route
 * go, what "." is routed to, and a target a route or a `forward-to` rule may name.
 */
export const ITERATE_ROUTE = 'iterate';

export const configSchema = z.strictObject({
  node_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/).default('node1'),
  server: z
    .strictObject({
      /** UDP and TCP listeners. */
      listen: z.array(hostPort).default(['127.0.0.1:5353']),
      /** DNS-over-HTTPS listeners: HTTPS with HTTP/2 and HTTP/1.1. */
      doh: z.array(hostPort).default([]),
      /** DoH over plain HTTP, for a TLS-terminating proxy in front. */
      doh_http: z.array(hostPort).default([]),
      /** DNS-over-TLS listeners (RFC 7858), with the tls_cert/tls_key certificate and the tcp_* limits. */
      dot: z.array(hostPort).default([]),
      /** A DoT connection that has not finished its TLS handshake by then is closed. */
      dot_handshake_timeout_ms: z.number().int().min(100).max(60_000).default(5000),
      /** PEM certificate and key for the DoH (HTTPS) and DoT listeners; without them a self-signed pair is made at start. */
      tls_cert: z.string().optional(),
      tls_key: z.string().optional(),
      doh_path: z.string().startsWith('/').default('/dns-query'),
      tcp_idle_timeout_ms: ms(10_000),
      tcp_max_connections: z.number().int().min(1).max(100_000).default(1000),
      tcp_max_queries_per_connection: z.number().int().min(1).max(1_000_000).default(1000),
      /** Connections one client address may hold open on one TCP listener. */
      tcp_max_connections_per_client: z.number().int().min(1).max(100_000).default(64),
      /** Answers a TCP connection may have written and the client not read, bytes; past it the connection is closed. */
      tcp_max_output_bytes: z.number().int().min(65_536).max(64 * 1024 * 1024).default(1024 * 1024),
      /** Connections one DoH listener takes at once. */
      doh_max_connections: z.number().int().min(1).max(100_000).default(1000),
      /** Connections one client address may hold open on one DoH listener. */
      doh_max_connections_per_client: z.number().int().min(1).max(100_000).default(64),
      /** A DoH connection with no traffic for this long is closed. */
      doh_idle_timeout_ms: ms(30_000),
      /** EDNS payload size we advertise (1232 avoids IP fragmentation, DNS Flag Day 2020). */
      udp_payload: z.number().int().min(512).max(4096).default(1232),
      /**
       * SO_RCVBUF asked for each UDP listener, bytes (0: the system's default). Queries that arrive
       * while the process is busy wait there; the kernel drops them once it is full.
       */
      udp_receive_buffer: z.number().int().min(0).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
      request_timeout_ms: z.number().int().min(100).max(60_000).default(4000),
      shutdown_grace_ms: ms(3000),
      /** TXT CH answer to hostname.bind and id.server (RFC 4892); default node_id. */
      identity: z.string().max(255).optional(),
      /** TXT CH answer to version.bind and version.server; default "edge-resolver VERSION". */
      version: z.string().max(255).optional(),
      /** REFUSED (EDE 18) for hostname.bind and id.server instead of the identity. */
      hide_identity: z.boolean().default(false),
      /** REFUSED (EDE 18) for version.bind and version.server instead of the version. */
      hide_version: z.boolean().default(false),
      /**
       * Processes answering on the same listeners (Node): 1 is one process; N > 1 forks N
       * workers that share every DNS and DoH socket, under a primary that holds the admin API
       * and relays to them (docs/operations.md, "All the cores"); "auto" is one per core.
       */
      workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
    })
    .prefault({}),
  /**
   * Who may query (Unbound's access-control): "ADDRESS[/PREFIX] allow|refuse|deny", the most
   * specific range wins, over the defaults (loopback allowed, everything else refused) and the
   * site's peers (allowed). docs/configuration.md, [access].
   */
  access: z
    .strictObject({
      rules: z.array(accessRule).default([]),
      /** Listener (as written in server.listen, doh or doh_http) -> its own rules, used instead of `rules`. */
      listeners: z.record(z.string(), z.array(accessRule)).default({}),
    })
    .prefault({}),
  /** Queries per second per client address (a token bucket); off while qps is 0. */
  ratelimit: z
    .strictObject({
      /** Fractions allowed (0.5: one query every two seconds). */
      qps: z.number().min(0).max(1_000_000).default(0),
      /** Bucket size: queries a quiet client may send at once; 0 is one second's worth (qps). */
      burst: z.number().int().min(0).max(10_000_000).default(0),
      /** UDP: every Nth query over the limit gets an empty TC=1 answer (a real client retries over TCP); 0 drops them all. */
      slip: z.number().int().min(0).max(100).default(2),
      /** Clients are counted per IPv4 address and per IPv6 prefix of this length. */
      ipv4_prefix: z.number().int().min(8).max(32).default(32),
      ipv6_prefix: z.number().int().min(16).max(128).default(56),
      /** Clients tracked at once; past it new addresses share one bucket. */
      max_clients: z.number().int().min(1).max(10_000_000).default(100_000),
      /** Ranges never limited (the site's peers never are). */
      exempt: z.array(addressRange).default([]),
    })
    .prefault({}),
  admin: z
    .strictObject({
      /** Admin and metrics HTTP listener; empty to disable. */
      listen: z.string().superRefine((s, ctx) => (s === '' ? undefined : checkListenAddress(s, ctx))).default(''),
      /** Bearer token for admin writes (POST, PUT, DELETE); on Node without it, see token_file. */
      token: z.string().min(16, 'use a token of at least 16 characters').optional(),
      /**
       * Node: without `token`, the file the token is read from, made at first start when missing
       * (default: $STATE_DIRECTORY/admin.token, else ~/.local/state/edge-resolver/admin.token);
       * "" for none (admin writes refused). Relative to the config file's folder.
       */
      token_file: z.string().optional(),
    })
    .prefault({}),
  /**
   * Upstream groups: name -> servers (HOST:PORT, [V6]:PORT, or an https:// DoH URL), or a table
   * with `servers` and the group's transport (`tls = true`: DNS over TLS).
   */
  upstreams: z.record(groupName, upstreamGroup).default({}),
  upstream: z
    .strictObject({
      try_timeout_ms: z.number().int().min(10).max(30_000).default(1500),
      health_failures: z.number().int().min(1).max(100).default(3),
      probe_interval_ms: z.number().int().min(100).max(600_000).default(5000),
      /** Group used when neither a rule nor the forward app picked one. */
      default_group: groupName.default('default'),
    })
    .prefault({}),
  cache: z
    .strictObject({
      max_entries: z.number().int().min(0).max(100_000_000).default(100_000),
      max_bytes: z.number().int().min(0).default(64 * 1024 * 1024),
      max_ttl: seconds(86_400),
      min_ttl: seconds(0, 3600),
      max_negative_ttl: seconds(3600),
      failure_ttl: seconds(5, 300),
      /** RFC 8767 §5: TTL on stale answers (30 s recommended). */
      stale_answer_ttl: seconds(30, 3600),
      /** RFC 8767 §5: how long past expiry data may be served (1 to 3 days recommended). */
      max_stale: seconds(86_400),
      /** RFC 8767 §5: answer with stale data after this long if the upstream is slow (1.8 s). */
      client_response_timer_ms: ms(1800),
      /** RFC 8767 §5: after a failed refresh, serve stale without asking again for this long. */
      failure_recheck_ms: ms(30_000),
    })
    .prefault({}),
  apps: z
    .strictObject({
      /** App order; defaults to apps/chain.json. */
      chain: z.array(z.string().regex(/^[a-z][a-z0-9_]{0,31}$/)).optional(),
      /**
       * Folders of apps built outside the package (DIR/<name>/app.json and <name>.wasm, from
       * `node scripts/build.mjs --apps-dir DIR`); relative to the config file's folder.
       */
      dirs: z.array(z.string().min(1)).optional(),
    })
    .catchall(appOverrideSchema)
    .prefault({}),
  /** The site this node pools its cache with (docs/pooling.md). */
  site: z
    .strictObject({
      /** Node id -> DNS address (HOST:PORT) or DoH URL of every node; a node may list itself. */
      peers: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'node ids are [A-Za-z0-9_.:-]'), upstreamServer).default({}),
      /** Key id -> secret, shared by the site; several at once while rotating. */
      keys: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'key ids are [A-Za-z0-9_.-], at most 32'), z.string().min(16, 'site keys need at least 16 characters')).default({}),
      /** The key id contexts are signed with (default: the first key). */
      signing_key: z.string().optional(),
      /** Longest a query waits on a peer before it is resolved locally, ms. */
      peer_timeout_ms: z.number().int().min(10).max(10_000).default(150),
      /** Unanswered queries in a row after which a peer is down (one slow answer is not an outage). */
      peer_down_after: z.number().int().min(1).max(100).default(3),
      peer_probe_interval_ms: z.number().int().min(100).max(600_000).default(5000),
      /**
       * After this node flushes its cache (a rule change, a reload, an admin flush), answers
       * from peers are passed on but not stored for this long, ms: a peer that has not yet taken
       * the same change would otherwise refill the flushed entries with what the change removed.
       */
      settle_ms: z.number().int().min(0).max(600_000).default(5000),
      /** Peer hops a query may take (1: the owner never forwards again). */
      max_hops: z.number().int().min(1).max(4).default(1),
      /** EDNS option code carrying the context (local-use range, RFC 6891 §9). */
      context_option: z.number().int().min(65001).max(65534).default(65001),
    })
    .prefault({}),
  /** How names are resolved (docs/recursion.md). */
  resolver: z
    .strictObject({
      /**
       * `forward`: to the upstream groups. `recursive`: iterate from the root (the verified
       * local root copy while one is in service, the root servers otherwise); the forward app's
       * routes still send their zones to groups, and "." (or no route) means iterate.
       */
      mode: z.enum(['forward', 'recursive']).default('forward'),
      /** Root hints (a named.root file) to prime from; the IANA hints are built in. */
      root_hints: z.string().min(1).optional(),
      /** RFC 9156 QNAME minimisation (relaxed), recursive mode. */
      qname_minimisation: z.boolean().default(true),
    })
    .prefault({}),
  /** The zone static_zone serves (RFC 8806 local root); docs/zones.md. */
  zone: z
    .strictObject({
      /** A file path (watched) or an http(s):// URL (conditional GET); text, gzip or a zone image. */
      source: z.string().min(1).optional(),
      /**
       * DS or DNSKEY records the zone's DNSKEY RRset must match; default dnssec.trust_anchor
       * (one file for both). Set it only for a copy verified against another anchor.
       */
      trust_anchor: z.string().min(1).optional(),
      zonemd: z.enum(['require', 'verify-if-present', 'ignore']).default('verify-if-present'),
      dnssec: z.enum(['require', 'verify-if-present', 'ignore']).default('require'),
      /** Seconds between refreshes; 0 uses the zone's SOA REFRESH. */
      refresh: z.number().int().min(0).max(7 * 86_400).default(0),
      /** Longest a copy is used after its last successful refresh, seconds; 0 uses SOA EXPIRE (it never extends past it). */
      max_age: z.number().int().min(0).max(365 * 86_400).default(0),
      /** A copy older than this is stale (metric, /status, a log line). */
      stale_age: z.number().int().min(60).max(365 * 86_400).default(172_800),
      /** A copy this close to its expiry is stale. */
      stale_before_expiry: z.number().int().min(0).max(365 * 86_400).default(86_400),
      /**
       * Check a zone image's records and signatures again, as for text, instead of trusting the
       * results it carries. Turn off only for sources authenticated end to end.
       */
      verify_images: z.boolean().default(true),
      /**
       * Node: a file keeping the serial last in service across restarts, so a restart refuses an
       * older copy as a running node does. Without it a restart takes any serial.
       */
      state_file: z.string().min(1).optional(),
    })
    .prefault({}),
  /** DNSSEC validation of upstream answers (docs/dnssec.md). */
  dnssec: z
    .strictObject({
      /** Validate every upstream answer (AD only on what validated; bogus is SERVFAIL with an EDE). */
      validate: z.boolean().default(true),
      /**
       * DS or DNSKEY records, zone-file form, for one or more zones: the anchors validation
       * starts from, and the one that verifies the local root copy (unless zone.trust_anchor
       * names another). Default: the IANA root anchors built in.
       */
      trust_anchor: z.string().min(1).optional(),
      /** Seconds a bogus answer is remembered and answered SERVFAIL without asking again (RFC 4035 §4.7). */
      bogus_ttl: seconds(60, 86_400),
      /**
       * Upstream groups whose answers are passed on unvalidated (an internal zone behind its
       * own servers, unsigned under a signed parent): no AD, never bogus.
       */
      unvalidated_groups: z.array(groupName).default([]),
      /**
       * Negative trust anchors (RFC 7646): names whose answers are served as insecure instead
       * of SERVFAIL while their DNSSEC is known broken. A name alone lasts `nta_lifetime` from
       * when the config is applied; a table gives its own `until` (a TOML date-time or
       * RFC 3339 text) and `reason`.
       */
      negative_trust_anchors: z
        .array(
          z.union([
            domainName,
            z.strictObject({
              name: domainName,
              until: z.union([z.date(), z.string().refine((v) => Number.isFinite(Date.parse(v)), 'an RFC 3339 date-time, e.g. 2026-12-31T00:00:00Z')]).optional(),
              reason: z.string().max(200).default(''),
            }),
          ]),
        )
        .default([]),
      /** Seconds a negative trust anchor given by name alone lasts (RFC 7646 §2: they must expire). */
      nta_lifetime: seconds(86_400, 30 * 86_400),
      /** Bogus answers in a row from one server for one zone after which it is set aside for that zone. */
      set_aside_after: z.number().int().min(1).max(1000).default(3),
      /** Seconds the first set-aside lasts; doubled each time the server is set aside again for the zone, at most 16×. */
      set_aside_ttl: seconds(60, 86_400),
    })
    .prefault({}),
  rules: z
    .strictObject({
      /** Rule file loaded into the override app at start (docs/rules.md). */
      file: z.string().min(1).optional(),
      /** Re-load the file when it changes; a bad version is refused and the running rules stay. */
      watch: z.boolean().default(true),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
      /** `text` (TIME LEVEL message key=value), `logfmt` or `json`; every line has a time and a level. Node: set at start. */
      format: z.enum(['text', 'logfmt', 'json']).default('text'),
      /** The query log: one info line per query (client, question, rcode, flags, latency, source, tags, EDE). */
      queries: z.boolean().default(false),
      /** Share of queries logged when `queries` is on: 1 every one, 0.01 one in a hundred. */
      query_sample: z.number().gt(0).max(1).default(1),
    })
    .prefault({}),
  /** dnstap output (Node): client queries and answers, and what is asked upstream (docs/operations.md). */
  dnstap: z
    .strictObject({
      /** A Frame Streams file, rewritten at start (read it with dnstap-read). */
      file: z.string().min(1).optional(),
      /** A collector's unix socket (Frame Streams bidirectional: fstrm_capture, dnstap-read's peers, go-dnscollector). */
      socket: z.string().min(1).optional(),
      /** Sent in every frame; default the host name, "" for none. */
      identity: z.string().max(255).optional(),
      /** Sent in every frame; default "edge-resolver VERSION", "" for none. */
      version: z.string().max(255).optional(),
      log_client_queries: z.boolean().default(true),
      log_client_responses: z.boolean().default(true),
      /** Recursive mode: each query to an authoritative server and its reply. */
      log_resolver_queries: z.boolean().default(true),
      log_resolver_responses: z.boolean().default(true),
      /** Forwarding: each query to an upstream group's server and its reply. */
      log_forwarder_queries: z.boolean().default(true),
      log_forwarder_responses: z.boolean().default(true),
      /** Frames waiting for the file or the collector, at most; past it frames are dropped and counted. */
      queue_frames: z.number().int().min(16).max(1_000_000).default(10_000),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type AppOverride = z.infer<typeof appOverrideSchema>;

/**
 * Parses and validates TOML text. Throws ConfigError with one line per problem. `adjust` sees
 * the parsed table before validation (the Workers adapter adds the site key from its secret
 * there, so the checks that need a key see it).
 */
export function parseConfig(text: string, source = 'config', adjust?: (raw: Record<string, unknown>) => void): Config {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    if (e instanceof TomlError) throw new ConfigError([`${source}:${e.line}:${e.column}: ${e.message.split('\n')[0]}`]);
    throw new ConfigError([`${source}: ${(e as Error).message}`]);
  }
  adjust?.(raw as Record<string, unknown>);
  return validateConfig(raw, source);
}

export function validateConfig(raw: unknown, source = 'config'): Config {
  const r = configSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(formatIssues(r.error.issues).map((l) => `${source}: ${l}`));
  const cfg = r.data;
  const problems: string[] = [];
  const recursive = cfg.resolver.mode === 'recursive';
  // In recursive mode names without a route are iterated: no group is needed.
  if (!recursive && Object.keys(cfg.upstreams).length === 0) problems.push(`${source}: upstreams: at least one upstream group is required (or resolver.mode = "recursive")`);
  if (recursive && ITERATE_ROUTE in cfg.upstreams) {
    problems.push(`${source}: upstreams.${ITERATE_ROUTE}: in recursive mode "${ITERATE_ROUTE}" is the route that iterates; give the group another name`);
  }
  if (!recursive && !(cfg.upstream.default_group in cfg.upstreams) && Object.keys(cfg.upstreams).length > 0) {
    problems.push(`${source}: upstream.default_group: "${cfg.upstream.default_group}" is not a group in [upstreams]`);
  }
  const overrideData = (cfg.apps as Record<string, unknown>)['override'] as { data?: string } | undefined;
  if (cfg.rules.file && overrideData?.data) problems.push(`${source}: rules.file and apps.override.data both name the rule set; keep one`);
  const others = Object.keys(cfg.site.peers).filter((id) => id !== cfg.node_id);
  const keyIds = Object.keys(cfg.site.keys);
  if (others.length > 0 && keyIds.length === 0) problems.push(`${source}: site.keys: peers are configured, so a site key is required`);
  for (const [id, addr] of Object.entries(cfg.site.peers)) {
    const spec = parseServer(addr);
    if (spec.kind !== 'doh') continue;
    // A context is trusted only from a peer's address, so a peer named by a host could send
    // queries but never be believed. Names under .invalid never resolve (RFC 6761 §6.4): the
    // Workers adapter names its shards so and vouches for them itself (a binding, no address).
    const host = serverHost(spec);
    if (!parseIPv4(host) && !parseIPv6(host) && !host.endsWith('.invalid')) {
      problems.push(`${source}: site.peers.${id}: "${addr}" names the host "${host}"; give the peer's IP address (http://192.0.2.10:8053/dns-query, https://[2001:db8::10]/dns-query): contexts are accepted only from a peer's address`);
    }
  }
  if (cfg.site.signing_key !== undefined && !keyIds.includes(cfg.site.signing_key)) {
    problems.push(`${source}: site.signing_key: "${cfg.site.signing_key}" is not in site.keys`);
  }
  if (cfg.zone.source && cfg.zone.dnssec === 'require' && cfg.zone.verify_images && !cfg.zone.trust_anchor && !cfg.dnssec.trust_anchor) {
    // Every version would be refused, and the node would retry for ever.
    problems.push(`${source}: zone.trust_anchor: required to verify the zone under zone.dnssec = "require" (the default): give dnssec.trust_anchor or zone.trust_anchor (serve: --trust-anchor FILE), or set zone.dnssec = "verify-if-present" or "ignore"`);
  }
  for (const g of cfg.dnssec.unvalidated_groups) {
    if (!(g in cfg.upstreams)) problems.push(`${source}: dnssec.unvalidated_groups: "${g}" is not a group in [upstreams]`);
  }
  const listeners = new Set([...cfg.server.listen, ...cfg.server.dot, ...cfg.server.doh, ...cfg.server.doh_http]);
  for (const l of Object.keys(cfg.access.listeners)) {
    if (!listeners.has(l)) problems.push(`${source}: access.listeners."${l}": not a listener in [server] (listen, dot, doh, doh_http: ${[...listeners].join(', ') || 'none'})`);
  }
  if (cfg.dnstap.file !== undefined && cfg.dnstap.socket !== undefined) problems.push(`${source}: dnstap: file and socket are two outputs; give one`);
  if ((cfg.server.tls_cert === undefined) !== (cfg.server.tls_key === undefined)) {
    problems.push(`${source}: server: tls_cert and tls_key go together`);
  }
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

/**
 * The bytes an app gets in its CONFIG load: `key=value` lines. Host facts come first under
 * `host.` (upstream groups, app names, node id) so apps can check references; then the app's own
 * table, nested keys joined with `.`, arrays joined with `,`.
 */
export function encodeAppConfig(appConfig: Record<string, unknown>, host: Record<string, string>): Uint8Array {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(host)) lines.push(`host.${k}=${v}`);
  const walk = (prefix: string, v: unknown): void => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, sub] of Object.entries(v)) walk(prefix ? `${prefix}.${k}` : k, sub);
      return;
    }
    const s = Array.isArray(v) ? v.map(String).join(',') : String(v);
    if (/[\n\r]/.test(s)) throw new ConfigError([`apps config: value of "${prefix}" contains a line break`]);
    lines.push(`${prefix}=${s}`);
  };
  walk('', appConfig);
  return new TextEncoder().encode(lines.join('\n') + '\n');
}
