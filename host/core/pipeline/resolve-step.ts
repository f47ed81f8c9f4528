/**
 * The resolve step of a cache miss, after the resolve apps: the answer from outside this node,
 * asked once per key at a time (in-flight.ts), under serve-stale (serve-stale.ts), and stored in
 * the cache the moment it arrives, so a refresh that outlives its request still fills the cache.
 *
 * The answer comes from an AnswerOrigin for the route: today the upstream group of that name
 * (forwarding). Two steps are meant to plug in here and nowhere else: a DNSSEC validator between
 * the origin's answer and cache.store in fetch(), and, for zones routed to recursion, an iterator
 * as the AnswerOrigin of that route in place of an upstream group.
 */

import type { AnswerCache } from '../cache.js';
import { CtxFlag, type RequestContext } from '../context.js';
import { Rcode, rcodeToName } from '../dns/rr-types.js';
import { buildErrorResponse, nameToText, readHeader, type ParsedQuery, type Question } from '../dns/wire.js';
import type { Logger } from '../log.js';
import { EDE_NETWORK_ERROR, EDE_NO_REACHABLE_AUTHORITY, UpstreamError } from '../upstream.js';
import { boundTtls, cnameLoop, isRefusal } from '../answer-check.js';
import type { InFlight } from './in-flight.js';
import type { PipelineMetrics } from './metrics.js';
import { serveStale, staleEntry, type StaleTimers } from './serve-stale.js';
import type { Body } from './types.js';

/** Where the answers of one route come from (Upstreams is one: a group per route). */
export interface AnswerOrigin {
  has(route: string): boolean;
  /** The answer without its OPT record; throws when nothing could be had. `ctx`: the request's (tags, disabled apps). */
  query(route: string, q: Question, flags: { do: boolean; cd: boolean }, deadline: number, ctx?: RequestContext): Promise<{ body: Uint8Array; server?: string }>;
}

export class ResolveStep {
  constructor(
    private readonly origin: AnswerOrigin,
    private readonly cache: AnswerCache,
    private readonly inflight: InFlight,
    private readonly timers: StaleTimers,
    private readonly m: PipelineMetrics,
    private readonly logger: Logger,
  ) {}

  /** An answer for `key` from `route`; never throws: when nothing can be had, the body is a SERVFAIL. */
  async resolve(key: string, route: string, p: ParsedQuery, ctx: RequestContext): Promise<Body> {
    const stale = staleEntry(this.cache, key);
    if (stale) return serveStale(key, stale, () => this.fetch(key, route, p, ctx), this.cache, this.timers, this.m);
    try {
      return { body: await this.fetch(key, route, p, ctx), source: 'upstream' };
    } catch (e) {
      this.logger.log('warn', 'resolution failed', { request: ctx.requestId, qname: nameToText(ctx.qname), group: route, error: (e as Error).message });
      const ede = e instanceof UpstreamError ? e.ede : [];
      return { body: buildErrorResponse(new Uint8Array(0), Rcode.SERVFAIL, p), source: 'upstream', ...(ede.length ? { ede } : {}) };
    }
  }

  /** One outside query per key and route at a time; the answer is cached as soon as it arrives. */
  private fetch(key: string, route: string, p: ParsedQuery, ctx: RequestContext): Promise<Uint8Array> {
    return this.inflight.join(`${key}|${route}`, () => {
      const askedAt = this.cache.generation;
      return (async () => {
        if (!this.origin.has(route)) throw new UpstreamError(`route names upstream group "${route}", which is not configured`);
        const ans = await this.origin.query(route, p.question!, { do: (ctx.flags & CtxFlag.do) !== 0, cd: (ctx.flags & CtxFlag.cd) !== 0 }, ctx.deadline, ctx);
        const server = ans.server ?? route;
        const rcode = readHeader(ans.body).rcode;
        // Every server refused: that is a failure to resolve, not our refusal (which is what a
        // client reads REFUSED as).
        if (isRefusal(rcode)) {
          throw new UpstreamError(`${server} answered ${rcodeToName(rcode)}`, [
            { code: EDE_NETWORK_ERROR, text: `${server} answered ${rcodeToName(rcode)}` },
            { code: EDE_NO_REACHABLE_AUTHORITY, text: `no server of upstream group ${route} would answer` },
          ]);
        }
        if (cnameLoop(ans.body, p.question!)) throw new UpstreamError(`${server} answered with a CNAME loop`, [{ code: 0, text: 'CNAME loop' }]);
        // The client gets the TTLs the cache keeps, the first answer too.
        boundTtls(ans.body, this.cache.opts.maxTtl, this.cache.opts.maxNegativeTtl);
        this.cache.store(key, ans.body, ctx.ttlCap, askedAt);
        return ans.body;
      })();
    });
  }
}
