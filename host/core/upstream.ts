/**
 * Upstream groups and the I/O policy around them: per-try timeout, UDP with a retry over TCP
 * when the answer is truncated, the next server on failure, and health (a server is down after
 * N consecutive failures and gets one probe query per interval until it answers again; the
 * probe runs beside the client's query, so no client waits on a server that may still be dead).
 * The bytes move through an UpstreamTransport that each adapter supplies (Node: dgram/net/tls;
 * Workers: fetch to DoH servers). A group with `tls = true` speaks DNS over TLS (RFC 7858) to
 * every server, checking each certificate's name; a failed handshake fails that server.
 */

import { Rcode } from './dns/rr-types.js';
import {
  EDE_OPTION, FLAG_QR, FLAG_TC, buildQuery, parseQuery, nameEquals, readHeader, readName, stripOpt, u16, HEADER_LEN, WireError, type Question,
} from './dns/wire.js';
import { checkAnswer, isRefusal as refuses } from './answer-check.js';
import type { Logger } from './log.js';
import { parseIPv4, parseIPv6 } from './context.js';
import type { Counter, Gauge, Histogram, MetricsSink } from './metrics.js';
import type { KeyFetcher } from './dnssec/chain.js';
import type { RequestContext } from './context.js';
import type { SetAside } from './set-aside.js';

export type ServerSpec =
  | { kind: 'dns'; host: string; port: number; label: string }
  | { kind: 'doh'; url: string; label: string }
  | ({ kind: 'tls'; label: string } & TlsServer);

/**
 * A DNS-over-TLS server (RFC 7858), as a group with `tls = true` lists it: its address, the name
 * its certificate must carry (none: its IP address must be in the certificate), and the CA file
 * that certificate must chain to (none: the runtime's default roots).
 */
export interface TlsServer {
  host: string;
  port: number;
  name?: string;
  caFile?: string;
}

export interface UpstreamTransport {
  /** Sends a query over UDP and resolves with the first reply that passes `accept`. */
  udp(host: string, port: number, msg: Uint8Array, timeoutMs: number, accept: (reply: Uint8Array) => boolean): Promise<Uint8Array>;
  tcp(host: string, port: number, msg: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  doh?(url: string, msg: Uint8Array, timeoutMs: number, headers?: Record<string, string>): Promise<Uint8Array>;
  /**
   * Sends a query over TLS (RFC 7858) and resolves with the first reply that passes `accept`;
   * connections are kept and reused. A failed handshake (a certificate that does not verify or
   * does not carry the name) rejects with UpstreamTlsError.
   */
  tls?(server: TlsServer, msg: Uint8Array, timeoutMs: number, accept: (reply: Uint8Array) => boolean): Promise<Uint8Array>;
}

/** A TLS handshake with an upstream failed: its certificate, its name, or the protocol. */
export class UpstreamTlsError extends Error {
  override readonly name = 'UpstreamTlsError';
}

/** An Extended DNS Error (RFC 8914) to send with the SERVFAIL a failure becomes. */
export interface Ede {
  code: number;
  text: string;
}

export const EDE_NO_REACHABLE_AUTHORITY = 22;
export const EDE_NETWORK_ERROR = 23;

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    message: string,
    /** What the client's SERVFAIL says about it; none when the failure was ours (a config error). */
    readonly ede: Ede[] = [],
  ) {
    super(message);
  }
}

/** The EDEs of a group none of whose servers gave an answer: 22, and 23 when one answered badly. */
export function failureEde(group: string, last: { server: string; reason: string; detail?: string } | null): Ede[] {
  const out: Ede[] = [];
  if (last && last.reason !== 'timeout') out.push({ code: EDE_NETWORK_ERROR, text: `${last.server}: ${last.reason}${last.detail ? ` (${last.detail})` : ''}` });
  out.push({ code: EDE_NO_REACHABLE_AUTHORITY, text: `no server of upstream group ${group} answered` });
  return out;
}

/** The host a server is reached at: a DNS server's address, a DoH URL's host (IPv6 without brackets). */
export function serverHost(spec: ServerSpec): string {
  return spec.kind === 'doh' ? new URL(spec.url).hostname.replace(/^\[|\]$/g, '') : spec.host;
}

/** Parses `HOST:PORT`, `[V6]:PORT`, a bare host (port 53) or an https:// DoH URL. */
export function parseServer(s: string): ServerSpec {
  if (/^https?:\/\//.test(s)) {
    const u = new URL(s);
    return { kind: 'doh', url: u.toString(), label: u.toString() };
  }
  let m = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(s);
  if (m) return dns(m[1]!, m[2], s);
  m = /^([^:\s]+)(?::(\d{1,5}))?$/.exec(s);
  if (m) return dns(m[1]!, m[2], s);
  if (/^[0-9a-fA-F:]+$/.test(s) && s.includes('::')) return dns(s, undefined, s);
  throw new UpstreamError(`"${s}" is not HOST:PORT, [IPv6]:PORT or an https:// URL`);
}

/** Port of DNS over TLS (RFC 7858 §3.1), the default in a TLS group. */
export const DOT_PORT = 853;

/**
 * A server of a TLS group: `ADDRESS[:PORT]` (port 853 by default), `[V6][:PORT]`, either with
 * `#NAME` for the name its certificate must carry when it is not the group's `tls_name`
 * (as Unbound's `forward-addr: 192.0.2.1@853#dns.example`).
 */
export function parseTlsServer(s: string, group: { name?: string; caFile?: string } = {}): ServerSpec {
  const hash = s.indexOf('#');
  const addr = hash < 0 ? s : s.slice(0, hash);
  const name = hash < 0 ? group.name : s.slice(hash + 1);
  if (/^https?:\/\//.test(addr)) throw new UpstreamError(`"${s}": a DoH server is already over TLS; list it in a group without tls = true`);
  if (name !== undefined && !isTlsName(name)) throw new UpstreamError(`"${s}": "${name}" is not a host name to check the certificate against`);
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(addr) ?? /^([^:\s[\]]+)(?::(\d{1,5}))?$/.exec(addr);
  const host = m ? m[1]! : /^[0-9a-fA-F:]+$/.test(addr) && addr.includes('::') ? addr : null;
  if (host === null) throw new UpstreamError(`"${s}" is not ADDRESS[:PORT] or [IPv6][:PORT], with an optional #NAME`);
  const d = dns(host, m?.[2] ?? String(DOT_PORT), s);
  return {
    kind: 'tls',
    host: d.host,
    port: d.port,
    label: name !== undefined && name !== group.name ? `${d.label}#${name}` : d.label,
    ...(name !== undefined ? { name } : {}),
    ...(group.caFile !== undefined ? { caFile: group.caFile } : {}),
  };
}

/** A DNS name a certificate can be checked against (no IP address: that is the default). */
export function isTlsName(name: string): boolean {
  return name.length <= 253 && /[A-Za-z]/.test(name) && /^[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*\.?$/.test(name);
}

function dns(host: string, port: string | undefined, raw: string): Extract<ServerSpec, { kind: 'dns' }> {
  // A resolver that needed a resolver to find its upstream would depend on itself; and replies
  // are matched against the address they were sent to, which must be an address.
  if (!parseIPv4(host) && !parseIPv6(host)) throw new UpstreamError(`"${raw}": give the server as an IP address (or an https:// DoH URL)`);
  const p = port === undefined ? 53 : Number(port);
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new UpstreamError(`port in "${raw}" is out of range`);
  return { kind: 'dns', host, port: p, label: host.includes(':') ? `[${host}]:${p}` : `${host}:${p}` };
}

export interface HealthPolicy {
  /** Consecutive failures after which a server is considered down. */
  failures: number;
  /** While down, a server gets one probe query per interval (a copy of a client's query to its group). */
  probeIntervalMs: number;
}

export interface UpstreamOptions {
  /** Timeout of one try (one server, one transport), milliseconds. */
  tryTimeoutMs: number;
  /** EDNS payload size we advertise upstream. */
  udpSize: number;
  health: HealthPolicy;
  /** Servers whose answers a judge may find bogus before the query gives up (default 3). */
  bogusTries?: number;
}

export const defaultUpstreamOptions: UpstreamOptions = {
  tryTimeoutMs: 1500,
  udpSize: 1232,
  health: { failures: 3, probeIntervalMs: 5000 },
  bogusTries: 3,
};

/**
 * Says whether one server's answer may be taken: the DNSSEC validator, in the resolve step.
 * `bogus` makes the origin try another server.
 */
export type Judge = (body: Uint8Array, server: string) => Promise<'accept' | 'bogus'>;

class ServerState {
  consecutiveFailures = 0;
  down = false;
  nextProbeAt = 0;
  constructor(readonly spec: ServerSpec) {}
}

export interface UpstreamAnswer {
  /** The response without its OPT record. */
  body: Uint8Array;
  server: string;
  rcode: number;
  /** The Extended DNS Errors the server's SERVFAIL carried (why it failed, in its words). */
  ede?: Ede[];
}

interface UpstreamMetrics {
  queries: Counter;
  failures: Counter;
  tcpRetries: Counter;
  probes: Counter;
  up: Gauge;
  latency: Histogram;
}

export class UpstreamGroup {
  readonly servers: ServerState[];
  constructor(
    readonly name: string,
    servers: ServerSpec[],
  ) {
    this.servers = servers.map((s) => new ServerState(s));
  }
}

/**
 * All upstream groups of a node. `query` tries the servers of one group in order, skipping
 * those that are down (unless a probe is due or every server is down).
 */
export class Upstreams {
  private readonly groups = new Map<string, UpstreamGroup>();
  private readonly m: UpstreamMetrics;
  private readonly probing = new Set<Promise<void>>();

  constructor(
    groups: Record<string, ServerSpec[]>,
    private readonly transport: UpstreamTransport,
    private readonly opts: UpstreamOptions,
    metrics: MetricsSink,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    /** Servers set aside for a zone whose answers for it keep failing validation (set-aside.ts); shared by the node. */
    private readonly setAside: SetAside | null = null,
  ) {
    for (const [name, servers] of Object.entries(groups)) this.groups.set(name, new UpstreamGroup(name, servers));
    this.m = {
      queries: metrics.counter('edge_upstream_queries_total', 'Queries sent upstream, by server and result', ['group', 'server', 'result']),
      failures: metrics.counter('edge_upstream_failures_total', 'Failed upstream tries, by reason', ['group', 'server', 'reason']),
      tcpRetries: metrics.counter('edge_upstream_tcp_retries_total', 'Truncated UDP answers retried over TCP', ['group', 'server']),
      probes: metrics.counter('edge_upstream_probes_total', 'Probe queries to servers that are down, by result', ['group', 'server', 'result']),
      up: metrics.gauge('edge_upstream_up', '1 when the server is considered healthy', ['group', 'server']),
      latency: metrics.histogram('edge_upstream_latency_seconds', 'Upstream round-trip time', ['group', 'server']),
    };
    for (const g of this.groups.values()) for (const s of g.servers) this.m.up.set({ group: g.name, server: s.spec.label }, 1);
  }

  has(group: string): boolean {
    return this.groups.has(group);
  }

  groupNames(): string[] {
    return [...this.groups.keys()];
  }

  health(): Record<string, Array<{ server: string; up: boolean; consecutiveFailures: number }>> {
    const out: Record<string, Array<{ server: string; up: boolean; consecutiveFailures: number }>> = {};
    for (const g of this.groups.values()) {
      out[g.name] = g.servers.map((s) => ({ server: s.spec.label, up: !s.down, consecutiveFailures: s.consecutiveFailures }));
    }
    return out;
  }

  /**
   * Servers to try, in order: the healthy ones, or all of them when every one is down (the
   * client's query is then the probe). Each down server whose probe is due gets one now, in
   * the background, with a copy of this query.
   */
  private order(g: UpstreamGroup, q: Question, flags: { do: boolean; cd: boolean }): ServerState[] {
    const healthy = g.servers.filter((s) => !s.down);
    if (healthy.length === 0) return [...g.servers];
    const now = this.now();
    for (const s of g.servers) if (s.down && now >= s.nextProbeAt) this.probe(g, s, q, flags, now);
    return this.withoutSetAside(healthy, q);
  }

  /**
   * `servers` without those set aside for the zone of `q` (their answers for it keep failing
   * validation); all of them when every one is set aside.
   */
  private withoutSetAside(servers: ServerState[], q: Question): ServerState[] {
    const aside = this.setAside;
    if (!aside) return servers;
    const kept = servers.filter((s) => !aside.isSetAside(s.spec.label, q.name));
    return kept.length > 0 ? kept : servers;
  }

  private probe(g: UpstreamGroup, s: ServerState, q: Question, flags: { do: boolean; cd: boolean }, now: number): void {
    s.nextProbeAt = now + this.opts.health.probeIntervalMs;
    const labels = { group: g.name, server: s.spec.label };
    const run = this.tryServer(g, s, q, flags, this.opts.tryTimeoutMs).then(
      ({ body }) => {
        const rcode = readHeader(body).rcode;
        if (refuses(rcode)) {
          // It answered: up, though it will not serve this (see refused()).
          this.m.probes.inc({ ...labels, result: 'refused' });
          this.refused(g, s, `rcode-${rcode}`);
          return;
        }
        this.m.probes.inc({ ...labels, result: 'ok' });
        this.succeeded(g, s);
      },
      (e: unknown) => {
        const reason = failureReason(e);
        this.m.probes.inc({ ...labels, result: reason });
        if (!isLocalError(e)) this.failed(g, s, reason);
      },
    );
    this.probing.add(run);
    void run.finally(() => this.probing.delete(run));
  }

  /**
   * Settles when the probes in progress have. A runtime that stops a request's work once it is
   * answered (Workers) waits on this, so a probe a request started still brings its server back.
   */
  probesDone(): Promise<void> {
    return Promise.all(this.probing).then(() => undefined);
  }

  private succeeded(g: UpstreamGroup, s: ServerState): void {
    if (s.down) this.logger.log('info', 'upstream back up', { group: g.name, server: s.spec.label });
    s.consecutiveFailures = 0;
    s.down = false;
    this.m.up.set({ group: g.name, server: s.spec.label }, 1);
  }

  /**
   * A server that answered REFUSED, NOTIMP or FORMERR is alive: the try counts as failed (the
   * next server is tried, the failure metric counts it) but not towards marking it down, as
   * BIND and Unbound treat a forwarder that refuses. Timeouts and malformed answers do.
   */
  private refused(g: UpstreamGroup, s: ServerState, reason: string): void {
    this.m.failures.inc({ group: g.name, server: s.spec.label, reason });
    this.succeeded(g, s);
  }

  private failed(g: UpstreamGroup, s: ServerState, reason: string): void {
    this.m.failures.inc({ group: g.name, server: s.spec.label, reason });
    s.consecutiveFailures++;
    if (!s.down && s.consecutiveFailures >= this.opts.health.failures) {
      s.down = true;
      s.nextProbeAt = this.now() + this.opts.health.probeIntervalMs;
      this.m.up.set({ group: g.name, server: s.spec.label }, 0);
      this.logger.log('warn', 'upstream marked down', { group: g.name, server: s.spec.label, failures: s.consecutiveFailures, reason });
    }
  }

  /**
   * Resolves `q` through group `groupName` before `deadline` (ms since epoch). Answers with
   * rcode SERVFAIL, REFUSED or NOTIMP make the next server be tried; the last such answer is
   * returned when no server does better. With a `judge` (the DNSSEC validator), every other
   * answer is judged before it is taken: a bogus one makes the next server be tried too, at most
   * `bogusTries` servers in all, and the last bogus answer is returned when none does better
   * (the caller knows it is bogus: its judge said so). Throws UpstreamError when no server
   * answered at all.
   */
  async query(groupName: string, q: Question, flags: { do: boolean; cd: boolean }, deadline: number, _ctx?: RequestContext, judge?: Judge): Promise<UpstreamAnswer> {
    const g = this.groups.get(groupName);
    if (!g) throw new UpstreamError(`no upstream group "${groupName}"`);
    return this.ask(g, this.order(g, q, flags), q, flags, deadline, judge);
  }

  /**
   * Where the validator's DS and DNSKEY queries for answers of `groupName` go: the same group,
   * with DO=1 and CD=1, attempt k starting at the k-th server in the group's order (so a retry
   * after a bad key set asks another server); null once the attempts outnumber the servers.
   */
  keyFetcher(groupName: string): KeyFetcher {
    return {
      fetch: async (name, type, deadline, attempt) => {
        const g = this.groups.get(groupName);
        if (!g) return null;
        const q: Question = { name, type, class: 1 };
        const flags = { do: true, cd: true };
        const order = this.order(g, q, flags);
        if (attempt >= order.length) return null;
        try {
          const a = await this.ask(g, [...order.slice(attempt), ...order.slice(0, attempt)], q, flags, deadline);
          return { response: a.body, server: a.server };
        } catch {
          return null;
        }
      },
    };
  }

  private async ask(g: UpstreamGroup, servers: ServerState[], q: Question, flags: { do: boolean; cd: boolean }, deadline: number, judge?: Judge): Promise<UpstreamAnswer> {
    let lastAnswer: UpstreamAnswer | null = null;
    let lastBogus: UpstreamAnswer | null = null;
    let bogusTries = 0;
    let lastError = 'no servers';
    let lastFailure: { server: string; reason: string; detail?: string } | null = null;
    for (const s of servers) {
      const left = deadline - this.now();
      if (left <= 0) {
        lastError = 'deadline passed';
        break;
      }
      const timeout = Math.min(this.opts.tryTimeoutMs, left);
      const started = this.now();
      try {
        const { body, ede } = await this.tryServer(g, s, q, flags, timeout);
        const rcode = readHeader(body).rcode;
        this.m.latency.observe({ group: g.name, server: s.spec.label }, (this.now() - started) / 1000);
        if (refuses(rcode)) {
          // The server is up but will not serve us: the next one is tried.
          this.refused(g, s, `rcode-${rcode}`);
          this.m.queries.inc({ group: g.name, server: s.spec.label, result: 'refused' });
          lastAnswer = { body, server: s.spec.label, rcode };
          continue;
        }
        this.succeeded(g, s);
        if (rcode === Rcode.SERVFAIL) {
          // Up, but could not resolve this name (e.g. bogus signatures at its site): try the next.
          this.m.queries.inc({ group: g.name, server: s.spec.label, result: 'servfail' });
          lastAnswer = { body, server: s.spec.label, rcode, ...(ede.length ? { ede } : {}) };
          continue;
        }
        if (judge && (await judge(body, s.spec.label)) === 'bogus') {
          // Up, but its answer failed validation (the 9 July 2023 incident): another server of
          // the group may serve good signatures.
          this.m.queries.inc({ group: g.name, server: s.spec.label, result: 'bogus' });
          lastBogus = { body, server: s.spec.label, rcode };
          if (++bogusTries >= (this.opts.bogusTries ?? 3)) break;
          continue;
        }
        this.m.queries.inc({ group: g.name, server: s.spec.label, result: 'ok' });
        return { body, server: s.spec.label, rcode };
      } catch (e) {
        const reason = failureReason(e);
        lastError = `${s.spec.label}: ${(e as Error).message}`;
        // A TLS failure says which check failed (the certificate's name, its issuer).
        lastFailure = { server: s.spec.label, reason, ...(e instanceof UpstreamTlsError ? { detail: e.message } : {}) };
        this.m.queries.inc({ group: g.name, server: s.spec.label, result: reason });
        // Out of sockets or buffers here says nothing about the server: do not mark it down.
        if (!isLocalError(e)) this.failed(g, s, reason);
      }
    }
    if (lastBogus) return lastBogus;
    if (lastAnswer) return lastAnswer;
    throw new UpstreamError(`all upstreams of group "${g.name}" failed (last: ${lastError})`, failureEde(g.name, lastFailure));
  }

  private async tryServer(g: UpstreamGroup, s: ServerState, q: Question, flags: { do: boolean; cd: boolean }, timeoutMs: number): Promise<{ body: Uint8Array; ede: Ede[] }> {
    const started = this.now();
    const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
    const msg = buildQuery(q, { id, rd: true, cd: flags.cd, udpSize: this.opts.udpSize, do: flags.do });
    const accept = (reply: Uint8Array): boolean => matches(reply, id, q);
    const spec = s.spec;
    let reply: Uint8Array;
    if (spec.kind === 'doh') {
      if (!this.transport.doh) throw new UpstreamError('this runtime has no DoH client');
      // RFC 8484 §4.1: use ID 0 over DoH for cacheability.
      const dohMsg = buildQuery(q, { id: 0, rd: true, cd: flags.cd, udpSize: this.opts.udpSize, do: flags.do });
      reply = await withTimeout(this.transport.doh(spec.url, dohMsg, timeoutMs), timeoutMs);
      if (!matches(reply, 0, q)) throw new WireError('DoH reply does not match the query');
    } else if (spec.kind === 'tls') {
      if (!this.transport.tls) throw new UpstreamError('this runtime has no DNS-over-TLS client');
      // A stream, as TCP: no truncation to retry.
      reply = await withTimeout(this.transport.tls(spec, msg, timeoutMs, accept), timeoutMs);
    } else {
      reply = await withTimeout(this.transport.udp(spec.host, spec.port, msg, timeoutMs, accept), timeoutMs);
      if (readHeader(reply).flags & FLAG_TC) {
        this.m.tcpRetries.inc({ group: g.name, server: spec.label });
        const left = Math.max(1, timeoutMs - (this.now() - started));
        reply = await withTimeout(this.transport.tcp(spec.host, spec.port, msg, left), left);
        if (!accept(reply)) throw new WireError('TCP reply does not match the query');
      }
    }
    // Parsed in full before anything uses it; a malformed answer fails this server ("malformed").
    const rcode = checkAnswer(reply);
    if (rcode > 0xf) throw new ExtendedRcode(rcode);
    return { body: stripOpt(reply), ede: rcode === Rcode.SERVFAIL ? edesOf(reply) : [] };
  }
}

/** The EDE options of a reply (RFC 8914), at most four, their text cut to 120 characters. */
function edesOf(reply: Uint8Array): Ede[] {
  try {
    const options = parseQuery(reply).edns?.options ?? [];
    return options
      .filter((o) => o.code === EDE_OPTION && o.data.length >= 2)
      .slice(0, 4)
      .map((o) => ({ code: (o.data[0]! << 8) | o.data[1]!, text: new TextDecoder().decode(o.data.subarray(2)).slice(0, 120) }));
  } catch {
    return [];
  }
}

/**
 * An answer whose rcode needs the OPT record's upper bits (BADVERS, BADCOOKIE, ...): it is about
 * our exchange with that server, never something to relay (without its OPT it would read as a
 * different rcode), so it fails the try.
 */
export class ExtendedRcode extends Error {
  override readonly name = 'ExtendedRcode';
  constructor(readonly rcode: number) {
    super(`answered with extended rcode ${rcode}`);
  }
}

/** Errors of this host, not of the server asked. */
const LOCAL_ERRORS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL', 'EADDRINUSE']);

function isLocalError(e: unknown): boolean {
  return LOCAL_ERRORS.has((e as { code?: string }).code ?? '');
}

function failureReason(e: unknown): string {
  if (e instanceof ExtendedRcode) return `rcode-${e.rcode}`;
  if (e instanceof UpstreamTlsError) return 'tls-handshake';
  return e instanceof UpstreamTimeout ? 'timeout' : e instanceof WireError ? 'malformed' : 'error';
}


export class UpstreamTimeout extends Error {
  override readonly name = 'UpstreamTimeout';
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UpstreamTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** A reply matches when it is a response with our ID and the same question (RFC 5452 §9.1). */
export function matches(reply: Uint8Array, id: number, q: Question): boolean {
  try {
    if (reply.length < HEADER_LEN || u16(reply, 0) !== id) return false;
    const h = readHeader(reply);
    if (!(h.flags & FLAG_QR) || h.qdcount !== 1) return false;
    const { name, end } = readName(reply, HEADER_LEN);
    return nameEquals(name, q.name) && u16(reply, end) === q.type && u16(reply, end + 2) === q.class;
  } catch {
    return false;
  }
}
