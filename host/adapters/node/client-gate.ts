/**
 * The door of every DNS listener (UDP, TCP, DoH): access control by client address and the
 * per-client query rate limit, asked before a query reaches the resolver. Rules follow config
 * reloads (the gate is re-configured, the rate buckets stay); listeners are named by their
 * address as the config writes it ("127.0.0.1:5353"), the key of `[access.listeners]`.
 */

import { AccessList, compileRules, DEFAULT_ACCESS_RULES, hostRules, type AccessRule } from '../../core/access.js';
import type { Config } from '../../core/config.js';
import type { Counter, Gauge, MetricsSink } from '../../core/metrics.js';
import { RateLimiter } from '../../core/rate-limit.js';
import { parseServer, serverHost } from '../../core/upstream.js';
import { parseRange } from '../../core/access.js';

export type GateTransport = 'udp' | 'tcp' | 'doh' | 'dot';

export type GateVerdict =
  | { kind: 'allow' }
  /** Answer REFUSED with EDE 18; `why` is its EXTRA-TEXT. */
  | { kind: 'refuse'; why: string }
  /** Drop: no answer (TCP and DoH: close the connection). */
  | { kind: 'deny' }
  /** Over the rate limit; `slip`: UDP answers this one with an empty TC=1 message. */
  | { kind: 'limited'; slip: boolean };

const ALLOW: GateVerdict = { kind: 'allow' };

export class ClientGate {
  private global!: AccessList;
  private perListener = new Map<string, AccessList>();
  private readonly limiter: RateLimiter;
  private slipEvery = 2;
  private readonly refused: Counter;
  private readonly dropped: Counter;
  private readonly limited: Counter;
  private readonly clients: Gauge;

  constructor(config: Config, metrics: MetricsSink, dropped: Counter) {
    this.refused = metrics.counter('edge_queries_refused_total', 'Queries answered REFUSED before resolution, by transport and reason (access-control)', ['transport', 'reason']);
    this.limited = metrics.counter('edge_ratelimited_total', 'Queries over the per-client rate limit, by transport and action (drop, slip: an empty TC=1 answer, http-429)', ['transport', 'action']);
    this.clients = metrics.gauge('edge_ratelimit_clients', 'Client addresses (IPv6: prefixes) the rate limiter tracks; at most ratelimit.max_clients');
    this.dropped = dropped;
    this.limiter = new RateLimiter(limiterOptions(config, []));
    this.configure(config);
  }

  /** A config went into service: its rules from now on; the rate buckets carry over. */
  configure(c: Config): void {
    const peers = peerAddresses(c);
    const base: AccessRule[][] = [compileRules(DEFAULT_ACCESS_RULES), hostRules(peers)];
    this.global = new AccessList([...base, compileRules(c.access.rules)]);
    this.perListener = new Map(Object.entries(c.access.listeners).map(([l, rules]) => [l, new AccessList([...base, compileRules(rules)])]));
    this.limiter.configure(limiterOptions(c, peers));
    this.slipEvery = c.ratelimit.slip;
  }

  /** The access list a listener runs. */
  list(listener: string): AccessList {
    return this.perListener.get(listener) ?? this.global;
  }

  /** Connection time (TCP, DoH): false when the client is denied; the connection is then closed unread. */
  admitConnection(listener: string, address: string): boolean {
    return this.list(listener).decide(address).action !== 'deny';
  }

  /** One query from `address` on `listener`: what to do with it. Counts what it turns away. */
  check(listener: string, address: string, transport: GateTransport): GateVerdict {
    const d = this.list(listener).decide(address);
    if (d.action === 'deny') {
      this.dropped.inc({ transport, reason: 'access-control' });
      return { kind: 'deny' };
    }
    // Refused clients are limited too: a REFUSED with its EDE is larger than the query, and a
    // spoofed flood from refused addresses must not turn the node into an amplifier.
    if (this.limiter.enabled) {
      const v = this.limiter.take(address);
      this.clients.set({}, this.limiter.size);
      if (v === 'limited') {
        const slip = transport === 'udp' && this.limiter.slip(this.slipEvery);
        this.limited.inc({ transport, action: slip ? 'slip' : transport === 'doh' ? 'http-429' : 'drop' });
        return { kind: 'limited', slip };
      }
    }
    if (d.action === 'refuse') {
      this.refused.inc({ transport, reason: 'access-control' });
      return { kind: 'refuse', why: `client ${address} is not allowed here (access rule ${d.rule})` };
    }
    return ALLOW;
  }
}

/** The addresses of the site's other nodes: allowed, and never rate limited (they carry many clients' queries). */
function peerAddresses(c: Config): string[] {
  const out: string[] = [];
  for (const [id, addr] of Object.entries(c.site.peers)) {
    if (id === c.node_id) continue;
    try {
      out.push(serverHost(parseServer(addr)).replace(/^\[|\]$/g, ''));
    } catch {
      // validated with the config
    }
  }
  return out;
}

function limiterOptions(c: Config, peers: string[]) {
  const r = c.ratelimit;
  const exempt: AccessRule[] = [...hostRules(peers)];
  for (const e of r.exempt) {
    const range = parseRange(e.trim());
    if (typeof range !== 'string') exempt.push({ ...range, action: 'allow', text: e });
  }
  return { qps: r.qps, burst: r.burst || Math.max(1, r.qps), ipv4Prefix: r.ipv4_prefix, ipv6Prefix: r.ipv6_prefix, maxClients: r.max_clients, exempt };
}
