/**
 * One resolver node on Node: the runtime-neutral node (host/node/) with Node's listeners
 * around it: DNS over UDP and TCP, DoH, DNS over TLS, and the admin HTTP API. Config reloads are the node's
 * (all or nothing); what is here is reading the config file and the sockets.
 */

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError, type Config } from '../../core/config.js';
import type { Logger } from '../../core/log.js';
import type { Resolver } from '../../core/resolver.js';
import { Dnstap, type TapSettings } from '../../core/dnstap/tap.js';
import { ResolverNode, type ReloadResult } from '../../node/resolver-node.js';
import { AdminServer } from './admin-server.js';
import { adminToken } from './admin-token.js';
import { adminRoutes } from './admin-routes.js';
import { configBaseDir } from './app-files.js';
import { DohServer } from './doh-server.js';
import { DnstapOutput, type DnstapDestination } from './dnstap-output.js';
import { nodeConfigProblems } from './node-checks.js';
import { nodePlatform, type NodePlatformOptions } from './node-platform.js';
import type { PromMetrics } from './prom-metrics.js';
import { projectRoot } from './paths.js';
import { TcpServer } from './tcp-server.js';
import { ConnectionLimits, type ConnectionMetrics } from './conn-limits.js';
import { ClientGate } from './client-gate.js';
import { loadCertificate } from './tls-cert.js';
import { UdpServer } from './udp-server.js';

export interface EdgeNodeOptions extends NodePlatformOptions {
  /** The config text (for its hash in /status). */
  configText?: string;
  /**
   * A worker process of a node with `server.workers` > 1 (cluster.ts): its primary listens for
   * the admin API and relays requests to `admin.handle`, so the admin routes are built but no
   * admin listener is opened, and the start-up line is the primary's to say.
   */
  worker?: number;
  /** Called once the node and its admin routes exist, before any listener opens (a worker takes its primary's run-time state here). */
  beforeListen?: (edge: EdgeNode) => Promise<void>;
}

export interface Listening {
  dns: Array<{ address: string; port: number }>;
  /** `tls`: HTTPS (HTTP/2 and HTTP/1.1); false: plain HTTP (`doh_http`). */
  doh: Array<{ address: string; port: number; tls: boolean }>;
  /** DNS over TLS (RFC 7858). */
  dot: Array<{ address: string; port: number }>;
  admin: { address: string; port: number } | null;
}

function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(s) ?? /^(.+):(\d+)$/.exec(s);
  if (!m) throw new ConfigError([`"${s}" is not HOST:PORT`]);
  return { host: m[1]!, port: Number(m[2]) };
}

/** An address as HOST:PORT, IPv6 in brackets ([::1]:53), the form the config takes. */
export function hostPortText(a: { address: string; port: number }): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export class EdgeNode {
  private udp: UdpServer[] = [];
  private tcp: TcpServer[] = [];
  private doh: DohServer[] = [];
  private gate: ClientGate | null = null;
  admin: AdminServer | null = null;
  listening: Listening = { dns: [], doh: [], dot: [], admin: null };
  private readonly logger: Logger;
  /** Where the dnstap tap's frames go now; null when `[dnstap]` names no output. */
  private dnstapOut: DnstapOutput | null = null;
  /** Outputs a reload replaced, still writing their last frames and STOP; close() waits for them. */
  private readonly dnstapClosing = new Set<Promise<void>>();

  private constructor(
    readonly node: ResolverNode<PromMetrics>,
    private readonly opts: EdgeNodeOptions,
    private readonly dnstap: Dnstap,
  ) {
    this.logger = node.logger;
  }

  /** Builds the node from a validated config and opens its listeners. Throws ConfigError. */
  static async start(config: Config, opts: EdgeNodeOptions = {}): Promise<EdgeNode> {
    // What the platform's parse checks on every reload, for the config given already parsed.
    const problems = nodeConfigProblems(config, configBaseDir(opts.configPath));
    if (problems.length) throw new ConfigError(problems.map((p) => `${opts.configPath ?? 'config'}: ${p}`));
    let edge: EdgeNode | null = null;
    const dnstap = new Dnstap((payload) => edge?.dnstapOut?.write(payload));
    const platform = nodePlatform({ ...opts, dnstap }, (c, previous) => edge?.applied(c, previous));
    // Data files (a rule file, a block list) load into the chain before it serves: a file that
    // does not load stops the start, as there is no previous version to fall back on.
    const node = await ResolverNode.create(platform, opts.configText ?? JSON.stringify(config), opts.configPath ?? 'embedded', { config });
    edge = new EdgeNode(node, opts, dnstap);
    edge.followDnstap(node.currentConfig);
    await edge.listen();
    return edge;
  }

  /** The query log switched through the admin API (null: as the config says); kept across reloads. */
  private queryLogOverride: number | null = null;
  readonly queryLog = {
    get: () => ({ sample: this.node.currentResolver.querySample, from: this.queryLogOverride === null ? ('config' as const) : ('admin' as const) }),
    set: (sample: number | null) => {
      this.queryLogOverride = sample;
      const c = this.node.currentConfig;
      this.node.currentResolver.querySample = sample ?? (c.log.queries ? c.log.query_sample : 0);
      this.logger.log('info', 'query log switched', { sample: this.node.currentResolver.querySample, from: sample === null ? 'config' : 'admin' });
    },
  };

  /** A config went into service: the admin token follows it; listener addresses wait for a restart. */
  private applied(c: Config, previous: Config | null): void {
    try {
      this.gate?.configure(c);
      if (previous && JSON.stringify(c.access) !== JSON.stringify(previous.access)) this.warnClosedListeners(c);
    } catch (e) {
      this.logger.log('error', 'access rules not changed', { error: (e as Error).message });
    }
    if (this.queryLogOverride !== null) this.node.currentResolver.querySample = this.queryLogOverride;
    this.followDnstap(c);
    if (this.admin) {
      try {
        this.admin.setToken(adminToken(c, configBaseDir(this.opts.configPath), this.logger));
      } catch (e) {
        this.logger.log('error', 'admin token not changed', { error: (e as Error).message });
      }
    }
    if (previous && JSON.stringify(c.server) !== JSON.stringify(previous.server)) {
      this.logger.log('warn', 'server listeners changed in the config; they take effect on restart');
    }
  }

  /**
   * Follows `[dnstap]`: the message types and identity at once; a new file or socket closes the
   * old output (its STOP written) and opens the new one.
   */
  private followDnstap(c: Config): void {
    const d = c.dnstap;
    const base = configBaseDir(this.opts.configPath);
    const dest: DnstapDestination | null = d.file ? { kind: 'file', path: resolve(base, d.file) } : d.socket ? { kind: 'socket', path: resolve(base, d.socket) } : null;
    const cur = this.dnstapOut;
    if (!dest || !cur || cur.dest.kind !== dest.kind || cur.dest.path !== dest.path || cur.queueFrames !== d.queue_frames) {
      if (cur) {
        const closing = cur.close().finally(() => this.dnstapClosing.delete(closing));
        this.dnstapClosing.add(closing);
      }
      this.dnstapOut = null;
      if (dest) {
        this.dnstapOut = new DnstapOutput(dest, { queueFrames: d.queue_frames }, this.node.metrics, this.logger);
        this.dnstapOut.start();
        this.logger.log('info', 'dnstap output', { [dest.kind]: dest.path });
      }
    }
    this.dnstap.configure(dest ? tapSettings(d) : null);
  }

  private async listen(): Promise<void> {
    const c = this.node.currentConfig;
    const dropped = this.node.metrics.counter('edge_dropped_queries_total', 'Queries dropped without an answer', ['transport', 'reason']);
    const truncated = this.node.metrics.counter('edge_truncated_responses_total', 'UDP answers sent truncated (TC)');
    const tcpOpen = this.node.metrics.gauge('edge_tcp_connections', 'Open DNS-over-TCP connections, by listener (each listener takes at most tcp_max_connections)', ['listener']);
    const dohOpen = this.node.metrics.gauge('edge_doh_connections', 'Open DoH connections, by listener (each listener takes at most doh_max_connections)', ['listener']);
    const dotOpen = this.node.metrics.gauge('edge_dot_connections', 'Open DNS-over-TLS connections past their handshake, by listener (each listener takes at most tcp_max_connections)', ['listener']);
    const conns: ConnectionMetrics = {
      refused: this.node.metrics.counter('edge_connections_refused_total', 'TCP, DoT and DoH connections refused at a cap, by reason (listener-limit, client-limit)', ['transport', 'reason']),
      closed: this.node.metrics.counter('edge_connections_closed_total', 'TCP, DoT and DoH connections the node closed, by reason (idle, output-limit, handshake-timeout, handshake-failed)', ['transport', 'reason']),
    };
    const get = () => this.node.currentResolver;
    const gate = new ClientGate(c, this.node.metrics, dropped);
    this.gate = gate;
    try {
      if (c.admin.listen) {
        const { host, port } = splitHostPort(c.admin.listen);
        this.admin = new AdminServer({ host, port, token: adminToken(c, configBaseDir(this.opts.configPath), this.logger) }, this.logger);
        adminRoutes(this.admin, this.node, { baseDir: configBaseDir(this.opts.configPath), reload: () => this.reload(), queryLog: this.queryLog });
      }
      await this.opts.beforeListen?.(this);
      for (const l of c.server.listen) {
        const { host, port } = splitHostPort(l);
        const bound = await this.bindPair(l, host, port, get, dropped, truncated, tcpOpen, conns, gate);
        this.listening.dns.push(bound);
      }
      const certificate = c.server.tls_cert && c.server.tls_key ? { cert: c.server.tls_cert, key: c.server.tls_key } : ('self-signed' as const);
      const dohListeners = [
        ...c.server.doh.map((l) => ({ l, tls: certificate })),
        ...c.server.doh_http.map((l) => ({ l, tls: 'http' as const })),
      ];
      if (c.server.dot.length) {
        const cert = await loadCertificate(certificate);
        if (cert.fingerprint) {
          this.logger.log('info', 'DoT uses a self-signed certificate made at start; set server.tls_cert and tls_key for production', { fingerprint: cert.fingerprint });
        }
        for (const l of c.server.dot) {
          const { host, port } = splitHostPort(l);
          const s = new TcpServer(
            get,
            { ...this.tcpOptions(host, port), listener: l, tls: { cert: cert.cert, key: cert.key, handshakeTimeoutMs: c.server.dot_handshake_timeout_ms } },
            this.logger,
            dropped,
            dotOpen,
            new ConnectionLimits('dot', c.server.tcp_max_connections, c.server.tcp_max_connections_per_client, conns),
            gate,
          );
          this.listening.dot.push(await s.listen());
          this.tcp.push(s);
        }
      }
      for (const { l, tls } of dohListeners) {
        const { host, port } = splitHostPort(l);
        const limits = new ConnectionLimits('doh', c.server.doh_max_connections, c.server.doh_max_connections_per_client, conns);
        const s = new DohServer(get, { host, port, path: c.server.doh_path, tls, idleTimeoutMs: c.server.doh_idle_timeout_ms, listener: l, tap: this.dnstap }, this.logger, limits, dohOpen, gate);
        this.listening.doh.push({ ...(await s.listen()), tls: tls !== 'http' });
        this.doh.push(s);
      }
      if (this.admin && this.opts.worker === undefined) this.listening.admin = await this.admin.listen();
    } catch (e) {
      await this.close(0);
      throw e;
    }
    this.warnClosedListeners(c);
    // Each listener with its protocol, IPv6 in brackets: udp=127.0.0.1:5353 tcp=127.0.0.1:5353
    // doh=https://127.0.0.1:8053/dns-query,http://[::1]:8080/dns-query dot=127.0.0.1:8853
    // admin=http://127.0.0.1:9153
    const dns = this.listening.dns.map(hostPortText).join(',');
    this.logger.log('info', this.opts.worker === undefined ? 'edge-resolver listening' : 'worker listening', {
      ...(this.opts.worker !== undefined ? { worker: this.opts.worker } : {}),
      node: c.node_id,
      udp: dns,
      tcp: dns,
      doh: this.listening.doh.map((a) => `${a.tls ? 'https' : 'http'}://${hostPortText(a)}${c.server.doh_path}`).join(','),
      // Named only when there is one, as most nodes have none.
      ...(this.listening.dot.length ? { dot: this.listening.dot.map(hostPortText).join(',') } : {}),
      admin: this.listening.admin ? `http://${hostPortText(this.listening.admin)}` : 'off',
      apps: this.node.currentChain.apps.map((a) => a.name).join(','),
      // The process to signal (under npm start or npx it is not the one the user started).
      pid: process.pid,
    });
  }

  /**
   * A listener on an address other clients reach (0.0.0.0, ::, a LAN address) whose access rules
   * still allow loopback only: everyone else gets REFUSED, which is safe (no open resolver) but
   * surprising, so it is said at start and on reloads.
   */
  private warnClosedListeners(c: Config): void {
    if (!this.gate) return;
    for (const l of [...c.server.listen, ...c.server.dot, ...c.server.doh, ...c.server.doh_http]) {
      const { host } = splitHostPort(l);
      if (/^127\./.test(host) || host === '::1') continue;
      if (this.gate.list(l).opensBeyondLoopback) continue;
      this.logger.log('warn', 'listener answers loopback clients only; every other client gets REFUSED until [access] rules allow it', {
        listener: l,
        example: 'access.rules = ["192.0.2.0/24 allow"]',
      });
    }
  }

  /** A TCP or DoT listener's settings: the tcp_* ones of the config. */
  private tcpOptions(host: string, port: number) {
    const c = this.node.currentConfig.server;
    return {
      host,
      port,
      idleTimeoutMs: c.tcp_idle_timeout_ms,
      maxConnections: c.tcp_max_connections,
      maxQueriesPerConnection: c.tcp_max_queries_per_connection,
      maxConnectionsPerClient: c.tcp_max_connections_per_client,
      maxOutputBytes: c.tcp_max_output_bytes,
      tap: this.dnstap,
    };
  }

  /** UDP and TCP on the same port; with port 0, the first port free for both. */
  private async bindPair(
    listener: string,
    host: string,
    port: number,
    get: () => Resolver,
    dropped: ReturnType<PromMetrics['counter']>,
    truncated: ReturnType<PromMetrics['counter']>,
    tcpOpen: ReturnType<PromMetrics['gauge']>,
    conns: ConnectionMetrics,
    gate: ClientGate,
  ) {
    const c = this.node.currentConfig;
    for (let attempt = 0; ; attempt++) {
      const udp = new UdpServer(get, { host, port, maxInflight: 10_000, listener, receiveBuffer: c.server.udp_receive_buffer, tap: this.dnstap }, this.logger, dropped, truncated, gate);
      const bound = await udp.listen();
      const tcp = new TcpServer(
        get,
        { ...this.tcpOptions(host, bound.port), listener },
        this.logger,
        dropped,
        tcpOpen,
        new ConnectionLimits('tcp', c.server.tcp_max_connections, c.server.tcp_max_connections_per_client, conns),
        gate,
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

  /**
   * Re-reads the config file (or takes `text`) and applies it. A bad config is reported and the
   * running one stays. Listener addresses are fixed at start; changing them needs a restart.
   */
  async reload(text?: string): Promise<ReloadResult> {
    const path = this.opts.configPath;
    if (text !== undefined) return this.node.reload(text);
    if (!path) return { ok: false, errors: ['this node runs an embedded config; nothing to reload'] };
    return this.node.reload(() => readFile(path, 'utf8'));
  }

  /** Graceful: stop accepting, let requests in progress finish (up to `graceMs`), then close. */
  /** The listeners' addresses as the start-up line gives them (a worker's, for its primary's line). */
  listenerSummary(): Record<string, string> {
    const c = this.node.currentConfig;
    const dns = this.listening.dns.map(hostPortText).join(',');
    return {
      udp: dns,
      tcp: dns,
      doh: this.listening.doh.map((a) => `${a.tls ? 'https' : 'http'}://${hostPortText(a)}${c.server.doh_path}`).join(','),
      ...(this.listening.dot.length ? { dot: this.listening.dot.map(hostPortText).join(',') } : {}),
    };
  }

  async close(graceMs = this.node.currentConfig.server.shutdown_grace_ms): Promise<void> {
    for (const s of this.udp) s.stopAccepting();
    for (const s of this.tcp) s.stopAccepting();
    for (const s of this.doh) s.stopAccepting();
    const deadline = Date.now() + graceMs;
    const pending = () => [...this.udp, ...this.tcp, ...this.doh].reduce((n, s) => n + s.pending, 0);
    while (pending() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([...this.udp.map((s) => s.close()), ...this.tcp.map((s) => s.close()), ...this.doh.map((s) => s.close())]);
    await this.admin?.close();
    await this.node.close();
    this.dnstap.configure(null);
    await Promise.all([this.dnstapOut?.close(), ...this.dnstapClosing]);
    this.dnstapOut = null;
    this.udp = [];
    this.tcp = [];
    this.doh = [];
    this.admin = null;
  }
}

let packageVersion: string | null = null;

/** What `[dnstap]` asks the tap for; identity and version default as Unbound's do (host name, our version). */
function tapSettings(d: Config['dnstap']): TapSettings {
  packageVersion ??= (JSON.parse(readFileSync(`${projectRoot()}/package.json`, 'utf8')) as { version: string }).version;
  return {
    identity: d.identity ?? hostname(),
    version: d.version ?? `edge-resolver ${packageVersion}`,
    clientQueries: d.log_client_queries,
    clientResponses: d.log_client_responses,
    resolverQueries: d.log_resolver_queries,
    resolverResponses: d.log_resolver_responses,
    forwarderQueries: d.log_forwarder_queries,
    forwarderResponses: d.log_forwarder_responses,
  };
}
