/**
 * Cache pooling, the asking side: a query whose cache slot another node owns goes to that node
 * with its context, and the owner's answer fills this node's cache too when the owner had it
 * from its cache or upstream and ran the same rule set. The host keeps the hop budget, whatever
 * an app asks.
 */

import type { AnswerCache } from '../cache.js';
import { CtxFlag, type RequestContext } from '../context.js';
import type { ParsedQuery } from '../dns/wire.js';
import type { Logger } from '../log.js';
import type { Peers } from '../peers.js';
import type { InFlight } from './in-flight.js';
import type { PipelineMetrics } from './metrics.js';

export const PEER_PREFIX = 'peer:';

/** The owner's answer, and whether it served stale data (RFC 8767: EDE 3 on it), which this node's answer must say too. */
export interface OwnerAnswer {
  body: Uint8Array;
  stale: boolean;
  /** The owner's Extended DNS Errors, other than Stale Answer. */
  ede: Array<{ code: number; text: string }>;
}

export class PeerForward {
  constructor(
    private readonly peers: Peers | null,
    private readonly cache: AnswerCache,
    private readonly inflight: InFlight,
    private readonly opts: { maxHops: number },
    private readonly rulesVersion: () => Uint8Array,
    private readonly now: () => number,
    private readonly m: PipelineMetrics,
    private readonly logger: Logger,
  ) {}

  /**
   * The owner's answer for a resolve app's `forward peer:<name>`; null when the query is to be
   * resolved here instead (no hops left, already refused once, the owner down or slow), and
   * then the request is marked local so no app sends it to a peer again.
   */
  async ask(target: string, key: string, p: ParsedQuery, ctx: RequestContext): Promise<OwnerAnswer | null> {
    const peer = target.slice(PEER_PREFIX.length);
    // The hop budget is the host's to keep, whatever an app asks: no loop depends on every
    // app (and every node's view of the site) getting it right.
    const refused = ctx.flags & CtxFlag.local ? 'local' : ctx.hops >= this.opts.maxHops ? 'hops' : null;
    if (refused) this.m.refused.inc({ reason: refused });
    const answer = refused ? null : await this.viaPeer(peer, key, p, ctx);
    if (answer) return answer;
    // Resolved here: the owner is down, did not answer in time, or may not be asked.
    if (!refused) this.m.local.inc({ peer });
    ctx.flags |= CtxFlag.local;
    return null;
  }

  /**
   * Asks the peer that owns the key; its answer fills this node's cache too. Null when the peer
   * is down or does not answer within the bound.
   */
  private async viaPeer(peer: string, key: string, p: ParsedQuery, ctx: RequestContext): Promise<OwnerAnswer | null> {
    const peers = this.peers;
    if (!peers || !peers.usable(peer)) return null;
    // Only requests with the same context share a peer query: the owner's answer may depend on
    // the tags, the client or the route.
    const fingerprint = `${[...ctx.tags].sort().join(',')}|${[...ctx.disabledApps].sort().join(',')}|${ctx.route}|${ctx.ttlCap}|${ctx.client?.address ?? ''}`;
    const job = this.inflight.join<OwnerAnswer>(`${key}|peer:${peer}|${fingerprint}`, () => {
      const askedAt = this.cache.generation;
      return peers.forward(peer, p.question!, ctx, ctx.deadline).then(({ body, cacheable, rulesVersion: theirs, stale, ede }) => {
        // Only what the owner had from its cache or the upstream fills this node's cache: an
        // answer a rule or an app made for this request's context (a local-root NXDOMAIN, a
        // client-specific rewrite, a stale answer) is not everyone's answer. And only when the
        // owner ran this node's rule set: mid-push, its answer is what the new rules replace.
        const mine = this.rulesVersion();
        const sameRules = theirs !== null && theirs.every((b, i) => b === mine[i]);
        if (cacheable && sameRules && this.now() >= this.cache.settleUntil) this.cache.store(key, body, ctx.ttlCap, askedAt);
        else if (cacheable && !sameRules) this.m.peerNotStored.inc({ reason: 'rules' });
        return { body, stale, ede };
      });
    });
    try {
      return await job;
    } catch (e) {
      this.logger.log('debug', 'peer forward failed', { peer, error: (e as Error).message });
      return null;
    }
  }
}
