/**
 * The resolve step of a cache miss, after the resolve apps: the answer from outside this node,
 * asked once per key at a time (in-flight.ts), under serve-stale (serve-stale.ts), and stored in
 * the cache the moment it arrives, so a refresh that outlives its request still fills the cache.
 *
 * The answer comes from an AnswerOrigin for the route: the upstream group of that name in
 * forwarding mode, an iterator in recursive mode. Between the origin's answer and cache.store
 * sits DNSSEC validation (validation.ts): the origin calls the judge on each server's answer,
 * so a bogus answer makes it ask another server before this step gives up with SERVFAIL and an
 * Extended DNS Error.
 */

import type { AnswerCache, FlushScope } from '../cache.js';
import { CtxFlag, type RequestContext } from '../context.js';
import { Rcode, rcodeToName } from '../dns/rr-types.js';
import { buildErrorResponse, nameToText, readHeader, type ParsedQuery, type Question } from '../dns/wire.js';
import { setAuthenticData, stripDnssec } from '../dnssec/answer.js';
import type { KeyFetcher } from '../dnssec/chain.js';
import type { Logger } from '../log.js';
import { EDE_NETWORK_ERROR, EDE_NO_REACHABLE_AUTHORITY, UpstreamError, type Judge } from '../upstream.js';
import { boundTtls, cnameLoop, isRefusal } from '../answer-check.js';
import type { InFlight } from './in-flight.js';
import type { KeyRoutes } from './key-routes.js';
import type { PipelineMetrics } from './metrics.js';
import { serveStale, staleEntry, type StaleTimers } from './serve-stale.js';
import type { Body } from './types.js';
import { bogusEde, type AnswerValidation, type Judged } from './validation.js';

/**
 * Where the answers of one route come from. Upstreams (../upstream.ts) is one: a group of
 * servers per route. An iterator (recursive mode) is another; what it must do:
 *
 * - `has(route)`: whether this origin answers for `route` (a route it does not know is a
 *   configuration error the resolve step reports as SERVFAIL).
 * - `query(route, q, flags, deadline, ctx?, judge?)`: the final answer to `q`, without its OPT
 *   record, before `deadline` (ms since the epoch), or a throw when nothing could be had; `ctx`
 *   is the request's (tags, disabled apps), for an origin that needs them. The
 *   resolve step always asks with `do: true` (it strips DNSSEC records for clients without DO
 *   itself) and with `cd: true` when it validates. When a `judge` is given, call it on every
 *   answer that would be returned (not on referrals, not on SERVFAIL/REFUSED) with the bytes
 *   and who sent them ("192.0.2.53:53"); on `'bogus'`, try another server that could answer
 *   (forwarding: the next server of the group; recursive: another nameserver of the zone that
 *   gave the answer), a bounded number of times and within the deadline, and return the last
 *   bogus answer when none does better. Return `server`, the one whose answer `body` is: the
 *   judge's verdict is looked up by these exact bytes (return them unchanged).
 * - `keyFetcher(route)`: where the validator's DS and DNSKEY queries go for answers of
 *   `route` (dnssec/chain.ts `KeyFetcher`: DO=1, CD=1, `attempt` 0, 1, 2 to another server
 *   each time it can, null when it has no answer). An iterator resolves them itself.
 */
export interface AnswerOrigin {
  has(route: string): boolean;
  query(route: string, q: Question, flags: { do: boolean; cd: boolean }, deadline: number, ctx?: RequestContext, judge?: Judge): Promise<{ body: Uint8Array; server?: string; ede?: Array<{ code: number; text: string }> }>;
  keyFetcher(route: string): KeyFetcher;
  /** Drops what the origin keeps itself over `scope` (all for null): the iterator's RRset cache. Returns how many entries went. */
  flush?(scope: FlushScope | null): number;
}

/** An answer from outside, and the Extended DNS Errors its SERVFAIL carries when it was bogus. */
export interface Fetched {
  body: Uint8Array;
  ede?: Array<{ code: number; text: string }>;
}

export class ResolveStep {
  constructor(
    private readonly origin: AnswerOrigin,
    private readonly cache: AnswerCache,
    private readonly inflight: InFlight,
    private readonly timers: StaleTimers,
    private readonly m: PipelineMetrics,
    private readonly logger: Logger,
    /** DNSSEC validation; null when `[dnssec] validate = false`. */
    private readonly validation: AnswerValidation | null = null,
    /** Where key queries go when zones are routed apart; null: the answer's route. */
    private readonly keyRoutes: KeyRoutes | null = null,
  ) {}

  /** An answer for `key` from `route`; never throws: when nothing can be had, the body is a SERVFAIL. */
  async resolve(key: string, route: string, p: ParsedQuery, ctx: RequestContext): Promise<Body> {
    const stale = staleEntry(this.cache, key);
    if (stale) return serveStale(key, stale, () => this.fetch(key, route, p, ctx), this.cache, this.timers, this.m);
    try {
      const f = await this.fetch(key, route, p, ctx);
      return { body: f.body, source: 'upstream', ...(f.ede ? { ede: f.ede } : {}) };
    } catch (e) {
      this.logger.log('warn', 'resolution failed', { request: ctx.requestId, qname: nameToText(ctx.qname), group: route, error: (e as Error).message });
      const ede = e instanceof UpstreamError && e.ede.length ? e.ede : [{ code: 0, text: (e as Error).message }];
      return { body: buildErrorResponse(new Uint8Array(0), Rcode.SERVFAIL, p), source: 'upstream', ...(ede.length ? { ede } : {}) };
    }
  }

  /**
   * One outside query per key and route at a time, validated unless the client set CD or the
   * route is not validated; the answer is cached as soon as it arrives (a bogus one only in the
   * bogus cache, with its EDE).
   */
  private fetch(key: string, route: string, p: ParsedQuery, ctx: RequestContext): Promise<Fetched> {
    return this.inflight.join(`${key}|${route}`, () => {
      const askedAt = this.cache.generation;
      return (async (): Promise<Fetched> => {
        if (!this.origin.has(route)) {
          const text = `route names upstream group "${route}", which is not configured`;
          throw new UpstreamError(text, [{ code: 0, text }]);
        }
        const q = p.question!;
        const clientCd = (ctx.flags & CtxFlag.cd) !== 0;
        const v = this.validation && !clientCd && this.validation.validates(route) ? this.validation : null;
        if (v) {
          const known = v.remembered(q);
          if (known) return { body: buildErrorResponse(new Uint8Array(0), Rcode.SERVFAIL, p), ede: [bogusEde(known)] };
        }
        const seen = new Map<Uint8Array, Judged>();
        const keys = v && (this.keyRoutes ? this.keyRoutes.fetcher(this.origin, route, q.name) : this.origin.keyFetcher(route));
        const judge = keys ? v!.judge(keys, ctx.deadline, seen) : undefined;
        const ans = await this.origin.query(route, q, { do: true, cd: v !== null || clientCd }, ctx.deadline, ctx, judge);
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
        if (rcode === Rcode.SERVFAIL) {
          // Every server of the group answered SERVFAIL (the cache keeps it for failure_ttl).
          const body = setAuthenticData(ans.body, false);
          this.cache.store(key, body, ctx.ttlCap, askedAt);
          // What the server said about its failure comes first, as its own words.
          const theirs = (ans.ede ?? []).map((e) => ({ code: e.code, text: `${server}: ${e.text}` }));
          return { body, ede: [...theirs, { code: EDE_NO_REACHABLE_AUTHORITY, text: `${server} answered SERVFAIL (and so did every other server of ${route} asked)` }] };
        }
        const judged = seen.get(ans.body);
        if (judged?.result.state === 'bogus') {
          v!.remember(q, judged.result);
          this.logger.log('warn', 'answer failed DNSSEC validation', { request: ctx.requestId, qname: nameToText(ctx.qname), group: route, server: judged.server, reason: judged.result.reason, text: judged.result.text });
          return { body: buildErrorResponse(new Uint8Array(0), Rcode.SERVFAIL, p), ede: [bogusEde(judged.result)] };
        }
        if (cnameLoop(ans.body, q)) throw new UpstreamError(`${server} answered with a CNAME loop`, [{ code: 0, text: 'CNAME loop' }]);
        // The client gets the TTLs the cache keeps, the first answer too.
        boundTtls(ans.body, this.cache.opts.maxTtl, this.cache.opts.maxNegativeTtl);
        const secure = judged?.result.state === 'secure';
        // AD is ours to say: set on what validated, cleared on everything else.
        let body = setAuthenticData(ans.body, secure);
        if ((ctx.flags & CtxFlag.do) === 0) body = stripDnssec(body, q.type);
        let cap = ctx.ttlCap;
        // RFC 4035 §5.3.3: a secure answer is not kept past what its signatures allow.
        if (secure) cap = cap > 0 ? Math.min(cap, judged!.result.ttl ?? 0) : (judged!.result.ttl ?? 0);
        if (!secure || cap > 0) this.cache.store(key, body, cap, askedAt);
        return { body };
      })();
    });
  }
}
