/**
 * The other nodes of a site, for cache pooling: who they are, whether they answer, and how a
 * query travels to the one that owns its cache slot — with the whole request context, signed,
 * in an EDNS(0) option (UDP/TCP) or an HTTP header (DoH). A query the peer does not answer
 * within the bound (150 ms by default) is resolved locally; after `downAfter` of those in a row
 * the peer is marked down and gets one probe query per interval until it answers again.
 */

import { checkAnswer } from './answer-check.js';
import { CONTEXT_HEADER, type ContextAuth } from './context-auth.js';
import { encodeContext, parseIPv4, parseIPv6, type RequestContext } from './context.js';
import { EDE_OPTION, EDE_STALE_ANSWER, FLAG_TC, base64UrlEncode, buildQuery, parseQuery, readHeader, stripOpt, type EdnsOption, type Question } from './dns/wire.js';
import { Rcode } from './dns/rr-types.js';
import type { Logger } from './log.js';
import type { Counter, Gauge, Histogram, MetricsSink } from './metrics.js';
import { UpstreamTimeout, matches, parseServer, serverHost, withTimeout, type ServerSpec, type UpstreamTransport } from './upstream.js';

export interface PeerOptions {
  /** Longest a query waits on a peer, ms. */
  timeoutMs: number;
  /** Failed tries in a row after which a peer is down (queries go local without trying it). */
  downAfter: number;
  probeIntervalMs: number;
  /** EDNS option code carrying the context (a local-use code, 65001-65534). */
  optionCode: number;
  udpSize: number;
  /**
   * Test-only: forward without the context, as the node in the October 2023 incident did. Never
   * set from config; tests use it as the negative control of the incident test.
   */
  sendContext: boolean;
}

export const defaultPeerOptions: PeerOptions = { timeoutMs: 150, downAfter: 3, probeIntervalMs: 5000, optionCode: 65001, udpSize: 1232, sendContext: true };

interface PeerState {
  id: string;
  spec: ServerSpec;
  failures: number;
  down: boolean;
  nextProbeAt: number;
}

export class PeerError extends Error {
  override readonly name = 'PeerError';
}

/**
 * The owner is up but not ready to answer for the site (RFC 8914 EDE 14, Not Ready): it is still
 * loading its local root copy, so what it would answer for a name under the root is not what a
 * node serving the copy answers. The query is resolved by the asking node; the owner is not
 * counted as failing.
 */
export class PeerNotReady extends Error {
  override readonly name = 'PeerNotReady';
}

/** EDE 14, Not Ready (RFC 8914 §4.15): sent with the REFUSED an owner gives a peer while it loads its local root. */
export const EDE_NOT_READY = 14;

export class Peers {
  private readonly peers = new Map<string, PeerState>();
  private readonly addresses = new Set<string>();
  private readonly m: { forwarded: Counter; up: Gauge; latency: Histogram };

  constructor(
    readonly selfId: string,
    peers: Record<string, string>,
    readonly auth: ContextAuth,
    private readonly transport: UpstreamTransport,
    readonly opts: PeerOptions,
    metrics: MetricsSink,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    for (const [id, addr] of Object.entries(peers)) {
      const spec = parseServer(addr);
      this.peers.set(id, { id, spec, failures: 0, down: false, nextProbeAt: 0 });
      // The sender check compares addresses: a DoH peer counts by its URL's host, an address (config
      // refuses a name), except a Workers shard, which the adapter vouches for (ClientInfo.fromPeer).
      const host = serverHost(spec);
      if (parseIPv4(host) || parseIPv6(host)) this.addresses.add(normalizeIp(host));
    }
    this.m = {
      forwarded: metrics.counter('edge_peer_forwarded_total', 'Queries sent to the peer owning their cache slot, by result', ['peer', 'result']),
      up: metrics.gauge('edge_peer_up', '1 when the peer is considered up', ['peer']),
      latency: metrics.histogram('edge_peer_latency_seconds', 'Round trip of a query through a peer', ['peer']),
    };
    for (const id of this.peers.keys()) if (id !== selfId) this.m.up.set({ peer: id }, 1);
  }

  ids(): string[] {
    return [...this.peers.keys()];
  }

  /** True when `address` is one of the site's peers (the sender check before a MAC check). */
  isPeerAddress(address: string): boolean {
    return this.addresses.has(normalizeIp(address));
  }

  has(id: string): boolean {
    return this.peers.has(id);
  }

  /** False while the peer is down and no probe is due (the query is then resolved locally). */
  usable(id: string): boolean {
    const p = this.peers.get(id);
    if (!p || id === this.selfId) return false;
    if (!p.down) return true;
    if (this.now() < p.nextProbeAt) return false;
    p.nextProbeAt = this.now() + this.opts.probeIntervalMs;
    return true;
  }

  health(): Record<string, { up: boolean; address: string }> {
    const out: Record<string, { up: boolean; address: string }> = {};
    for (const p of this.peers.values()) if (p.id !== this.selfId) out[p.id] = { up: !p.down, address: p.spec.label };
    return out;
  }

  /**
   * A query that got no answer in time is resolved locally at once (no query waits longer than
   * the bound); the peer is marked down only after several in a row, since one slow answer (an
   * owner resolving a cold name upstream) is not an outage.
   */
  private failed(p: PeerState, result: string, error: string): void {
    this.m.forwarded.inc({ peer: p.id, result });
    p.failures++;
    if (!p.down && p.failures >= this.opts.downAfter) {
      p.down = true;
      p.nextProbeAt = this.now() + this.opts.probeIntervalMs;
      this.m.up.set({ peer: p.id }, 0);
      this.logger.log('warn', 'peer marked down; its queries are resolved locally', { peer: p.id, error });
    }
  }

  /**
   * Sends `q` to peer `id` with the context (hop count incremented) and returns the answer
   * without its OPT record, with the owner's mark (see PeerAnswer). Throws PeerError when the
   * peer does not answer in time.
   */
  async forward(id: string, q: Question, ctx: RequestContext, deadline: number): Promise<PeerAnswer> {
    const p = this.peers.get(id);
    if (!p) throw new PeerError(`no peer "${id}"`);
    const timeout = Math.max(1, Math.min(this.opts.timeoutMs, deadline - this.now()));
    const started = this.now();
    const hopped: RequestContext = { ...ctx, hops: ctx.hops + 1, tags: new Set(ctx.tags), disabledApps: new Set(ctx.disabledApps) };
    const signed = this.opts.sendContext ? await this.auth.sign(encodeContext(hopped)) : null;
    const flags = { do: (ctx.flags & 1) !== 0, cd: (ctx.flags & 2) !== 0 };
    try {
      let reply: Uint8Array;
      if (p.spec.kind === 'doh') {
        if (!this.transport.doh) throw new PeerError('this runtime has no DoH client');
        const msg = buildQuery(q, { id: 0, rd: true, cd: flags.cd, udpSize: this.opts.udpSize, do: flags.do });
        reply = await withTimeout(
          this.transport.doh(p.spec.url, msg, timeout, signed ? { [CONTEXT_HEADER]: base64UrlEncode(signed) } : undefined),
          timeout,
        );
        if (!matches(reply, 0, q)) throw new PeerError('DoH reply does not match the query');
      } else {
        const id16 = crypto.getRandomValues(new Uint16Array(1))[0]!;
        const options: EdnsOption[] = signed ? [{ code: this.opts.optionCode, data: signed }] : [];
        const msg = buildQuery(q, { id: id16, rd: true, cd: flags.cd, udpSize: this.opts.udpSize, do: flags.do, options });
        const accept = (r: Uint8Array) => matches(r, id16, q);
        reply = await withTimeout(this.transport.udp(p.spec.host, p.spec.port, msg, timeout, accept), timeout);
        if (readHeader(reply).flags & FLAG_TC) {
          const left = Math.max(1, timeout - (this.now() - started));
          reply = await withTimeout(this.transport.tcp(p.spec.host, p.spec.port, msg, left), left);
          if (!accept(reply)) throw new PeerError('TCP reply does not match the query');
        }
      }
      // Parsed in full before it is cached or relayed, as an upstream's answer is (answer-check.ts).
      const rcode = checkAnswer(reply);
      if (rcode > 0xf) throw new PeerError('answered with an extended rcode');
      if (p.down) {
        this.logger.log('info', 'peer back up', { peer: p.id });
        this.m.up.set({ peer: p.id }, 1);
      }
      p.down = false;
      p.failures = 0;
      p.nextProbeAt = 0;
      if (rcode === Rcode.REFUSED && notReady(reply)) {
        this.m.forwarded.inc({ peer: p.id, result: 'not-ready' });
        throw new PeerNotReady(`peer ${id} is not ready (loading its local root)`);
      }
      this.m.forwarded.inc({ peer: p.id, result: 'ok' });
      this.m.latency.observe({ peer: p.id }, (this.now() - started) / 1000);
      return { body: stripOpt(reply), ...ownerMark(reply, this.opts.optionCode) };
    } catch (e) {
      if (e instanceof PeerNotReady) throw e;
      const result = e instanceof UpstreamTimeout ? 'timeout' : 'error';
      this.failed(p, result, (e as Error).message);
      throw new PeerError(`peer ${id}: ${(e as Error).message}`);
    }
  }
}

/** The owner's REFUSED says Not Ready (EDE 14). */
function notReady(reply: Uint8Array): boolean {
  try {
    return (parseQuery(reply).edns?.options ?? []).some((o) => o.code === EDE_OPTION && o.data.length >= 2 && ((o.data[0]! << 8) | o.data[1]!) === EDE_NOT_READY);
  } catch {
    return false;
  }
}

function normalizeIp(a: string): string {
  return a.replace(/^::ffff:/, '').toLowerCase();
}

/**
 * The owner's mark on an answer to a peer: an EDNS option with the context's code, one flag byte
 * then the first RULES_VERSION_BYTES bytes of the owner's rule-set hash (zeros for none).
 */
export const ANSWER_CACHEABLE = 1;
export const RULES_VERSION_BYTES = 8;

export interface PeerAnswer {
  body: Uint8Array;
  /** From the owner's cache or upstream, not made by a rule or an app for this request's context. */
  cacheable: boolean;
  /** The owner's rule-set version when it answered; null when the mark carries none. */
  rulesVersion: Uint8Array | null;
  /** The owner served stale data (RFC 8767: EDE 3 on its answer), which this node's answer must say too. */
  stale: boolean;
  /** The owner's other Extended DNS Errors (why its SERVFAIL or REFUSED), passed on to the client. */
  ede: Array<{ code: number; text: string }>;
}

/** A rule-set hash (hex, or null for no rules) as the version the peer mark carries. */
export function rulesVersion(hash: string | null | undefined): Uint8Array {
  // asked on every peer query and answer; the rule set changes rarely, so the last one is kept
  // (callers only read the bytes)
  const h = hash ?? null;
  if (h === lastHash) return lastVersion;
  const v = new Uint8Array(RULES_VERSION_BYTES);
  if (h) for (let i = 0; i < RULES_VERSION_BYTES; i++) v[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16) || 0;
  lastHash = h;
  lastVersion = v;
  return v;
}

let lastHash: string | null = null;
let lastVersion = new Uint8Array(RULES_VERSION_BYTES);

function ownerMark(reply: Uint8Array, code: number): Omit<PeerAnswer, 'body'> {
  try {
    const options = parseQuery(reply).edns?.options ?? [];
    const stale = options.some((o) => o.code === EDE_OPTION && o.data.length >= 2 && ((o.data[0]! << 8) | o.data[1]!) === EDE_STALE_ANSWER);
    const ede = options
      .filter((o) => o.code === EDE_OPTION && o.data.length >= 2 && ((o.data[0]! << 8) | o.data[1]!) !== EDE_STALE_ANSWER)
      .map((o) => ({ code: (o.data[0]! << 8) | o.data[1]!, text: new TextDecoder().decode(o.data.subarray(2)) }));
    const mark = options.find((o) => o.code === code);
    if (!mark || mark.data.length < 1) return { cacheable: false, rulesVersion: null, stale, ede };
    const version = mark.data.length === 1 + RULES_VERSION_BYTES ? mark.data.slice(1) : null;
    return { cacheable: mark.data[0] === ANSWER_CACHEABLE, rulesVersion: version, stale, ede };
  } catch {
    return { cacheable: false, rulesVersion: null, stale: false, ede: [] };
  }
}
