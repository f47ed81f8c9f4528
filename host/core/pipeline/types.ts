/**
 * What the request pipeline's steps pass between them and hand back to the adapters. Resolver
 * (../resolver.ts) re-exports the public ones.
 */

import type { ChaosAnswers } from './chaos.js';
import type { ClientAddress, TransportName } from '../context.js';

export interface ResolverOptions {
  nodeId: string;
  /** Budget for one client request, ms; becomes the context deadline. */
  requestTimeoutMs: number;
  /** RFC 8767 client response timer: after this long a stale answer is sent if one exists. */
  clientResponseTimerMs: number;
  /** RFC 8767 failure recheck: after a failed refresh, stale data is served without asking upstream. */
  failureRecheckMs: number;
  /** EDNS payload size we advertise to clients. */
  udpSize: number;
  /** Upstream group used when neither a rule nor the forward app chose one. */
  defaultRoute: string;
  /**
   * The forward app's routing table (zone -> group or `iterate`), for the validator's key
   * queries when zones are routed to different groups (pipeline/key-routes.ts).
   */
  routes?: Readonly<Record<string, string>>;
  /** Peer hops a query may take; a context that claims more is refused. */
  maxHops: number;
  /** After a flush, peer answers are not stored for this long (ms; config site.settle_ms). */
  settleMs: number;
  /** Share of queries written to the query log: 0 off (the default), 1 every one (`[log] queries`, `query_sample`). */
  querySample?: number;
  /** What the CHAOS identification names answer (RFC 4892); null hides one (REFUSED). Default: hidden. */
  chaos?: ChaosAnswers;
}

export interface ClientInfo {
  client: ClientAddress | null;
  transport: TransportName;
  /** A signed context that came in an HTTP header (DoH); UDP/TCP carry it in an EDNS option. */
  context?: Uint8Array;
  /**
   * The adapter vouches that the sender is a node of the site without an address to check (a
   * Durable Object is reachable only through its namespace binding, so every caller is the
   * site's own worker). The context must still carry a valid MAC.
   */
  fromPeer?: boolean;
}

export type AnswerSource = 'cache' | 'stale' | 'app' | 'upstream' | 'peer' | 'local';

export interface Reply {
  message: Uint8Array;
  rcode: number;
  source: AnswerSource;
  /** Smallest TTL in the answer, for DoH Cache-Control; 0 for errors. */
  minTtl: number;
  /** Offset just past the question in `message` (for UDP truncation). */
  questionEnd: number;
  /** The OPT record appended to `message`, if the client used EDNS (kept when truncating). */
  opt: Uint8Array | null;
  /** The most the client takes over UDP: its EDNS size (at least 512, at most ours), else 512. */
  udpLimit: number;
}

/** An answer on its way to the client, before shaping. */
export interface Body {
  body: Uint8Array;
  source: AnswerSource;
  minTtl?: number;
  /** True when nobody else holds `body`, so it may be changed in place. */
  owned?: boolean;
  /** Extended DNS Errors (RFC 8914) to send with it, when the client speaks EDNS. */
  ede?: Array<{ code: number; text: string }>;
}
