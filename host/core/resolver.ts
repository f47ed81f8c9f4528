/**
 * The request pipeline, bytes in and bytes out, the same on every runtime:
 *
 *   parse -> screen -> context -> [pre-cache] -> cache hit  -> [post-cache] -> respond
 *                                             -> cache miss -> [resolve] -> peer owner, or
 *                                                              upstream -> validator -> cache store
 *                                                           -> [post-resolve] -> respond
 *
 * This file is the spine: it runs the phases in order and decides where a query goes next. The
 * steps live beside it in pipeline/: screening (screen.ts), a peer's context and the answer mark
 * (peer-context.ts), asking the owner of a cache slot (peer-forward.ts), the resolve step with
 * coalescing and serve-stale (resolve-step.ts, in-flight.ts, serve-stale.ts), and shaping the
 * answer and its EDNS (answer-shape.ts).
 *
 * Upstream answers are validated (DNSSEC, pipeline/validation.ts) and cached as they arrive
 * (so a refresh that outlives its request still fills the cache), with AD as our verdict says
 * and the records a DO=0 client must not see taken out, but otherwise as the upstream sent
 * them: what a post-resolve app makes of an answer is for its request. A post-resolve TTL cap still bounds the entry. Serve-stale (RFC 8767) kicks in
 * when the upstreams fail or are slower than the client response timer.
 */

import { AnswerCache, cacheKey, type FlushScope } from './cache.js';
import type { AppChain, PhaseOutcome } from './chain.js';
import { CtxFlag, newContext, type RequestContext } from './context.js';
import { DEFAULT_CONTEXT_OPTION } from './context-auth.js';
import { EDE_NOT_READY, rulesVersion, type Peers } from './peers.js';
import { Rcode } from './dns/rr-types.js';
import { EDE_PROHIBITED, EDNS_FLAG_DO, FLAG_CD, FLAG_QR, FLAG_TC, FLAG_RD, HEADER_LEN, WireError, buildErrorResponse, findOption, parseQuery, readHeader, stripOpt, u16, type ParsedQuery } from './dns/wire.js';
import type { Logger } from './log.js';
import type { MetricsSink } from './metrics.js';
import type { Upstreams } from './upstream.js';
import { finish, shape } from './pipeline/answer-shape.js';
import { InFlight } from './pipeline/in-flight.js';
import { PipelineMetrics } from './pipeline/metrics.js';
import { PeerContext, withoutOption } from './pipeline/peer-context.js';
import { PEER_PREFIX, PeerForward } from './pipeline/peer-forward.js';
import { ResolveStep, type AnswerOrigin } from './pipeline/resolve-step.js';
import type { AnswerValidation } from './pipeline/validation.js';
import { KeyRoutes } from './pipeline/key-routes.js';
import { errorReply, screen } from './pipeline/screen.js';
import type { Body, ClientInfo, Reply, ResolverOptions } from './pipeline/types.js';
import type { Ede } from './pipeline/answer-shape.js';
import { PHASE } from './phases.js';
import { logQuery, sampled } from './pipeline/query-log.js';

export type { AnswerSource, ClientInfo, Reply, ResolverOptions } from './pipeline/types.js';

export { PHASE };

export const defaultResolverOptions: ResolverOptions = {
  nodeId: 'node1',
  requestTimeoutMs: 4000,
  clientResponseTimerMs: 1800,
  failureRecheckMs: 30_000,
  udpSize: 1232,
  defaultRoute: 'default',
  maxHops: 1,
  settleMs: 5000,
};

export class Resolver {
  /** Share of queries written to the query log (0 off); the admin API switches it at run time. */
  querySample: number;
  private readonly chain: AppChain;
  /**
   * The version of the rule set this node runs (the adapter sets it: the override app's data
   * hash). A peer's answer is cached here only when the owner ran the same one.
   */
  rulesVersion: () => Uint8Array = () => rulesVersion(null);
  /**
   * Whether this node answers its peers (the adapter sets it): not while its local root copy is
   * still loading after a start, when it would forward names under the root that its peers
   * answer from their copies.
   */
  readyForPeers: () => boolean = () => true;
  private readonly m: PipelineMetrics;
  private readonly peerContext: PeerContext;
  private readonly peerForward: PeerForward;
  private readonly resolveStep: ResolveStep;

  constructor(
    chain: AppChain,
    readonly cache: AnswerCache,
    private readonly upstreams: Upstreams,
    /** The site's other nodes, for cache pooling; null for a node on its own. */
    readonly peers: Peers | null,
    metrics: MetricsSink,
    private readonly logger: Logger,
    readonly opts: ResolverOptions = defaultResolverOptions,
    private readonly now: () => number = Date.now,
    /** Where answers come from, by route (default: the upstream groups). */
    readonly origin: AnswerOrigin = upstreams,
    /** DNSSEC validation of what the upstreams answer; null when `[dnssec] validate = false`. */
    readonly validation: AnswerValidation | null = null,
  ) {
    this.chain = chain;
    this.querySample = opts.querySample ?? 0;
    this.m = new PipelineMetrics(metrics);
    // The cache keeps its own size metrics, so every path that fills or empties it counts.
    cache.reportTo(metrics);
    const inflight = new InFlight(this.m.coalesced);
    const ours = () => this.rulesVersion();
    this.peerContext = new PeerContext(peers, opts, ours, this.m, logger);
    this.peerForward = new PeerForward(peers, cache, inflight, opts, ours, now, this.m, logger);
    const keyRoutes = validation && opts.routes ? new KeyRoutes(opts.routes, opts.defaultRoute) : null;
    this.resolveStep = new ResolveStep(origin, cache, inflight, opts, this.m, logger, validation, keyRoutes?.splits ? keyRoutes : null);
  }

  get currentUpstreams(): Upstreams {
    return this.upstreams;
  }

  /** Removes cached answers (all of them for null); answers asked for before it are not stored. */
  flush(scope: FlushScope | null, reason: 'rules' | 'admin' | 'config'): number {
    const n = this.cache.flush(scope);
    // In recursive mode the iterator's RRsets go too: otherwise the next question in scope is
    // assembled again from what the flush was meant to drop.
    const rrsets = this.origin.flush?.(scope) ?? 0;
    // The other nodes take the same change a little later (a push reaches them one by one, a
    // Worker's isolates read KV on their own clock): until they have, an owner may still answer
    // as before, and that answer must not refill what was just flushed.
    this.cache.settleUntil = this.now() + this.opts.settleMs;
    this.m.flushes.inc({ reason });
    this.m.flushed.inc({ reason }, n);
    if (n > 0 || rrsets > 0) this.logger.log('info', 'cache flushed', { reason, entries: n, ...(rrsets > 0 ? { rrsets } : {}) });
    return n;
  }

  /**
   * Answers one query. Returns null when the query is to be dropped (unparseable, a response).
   * Never throws for anything a client sends; an internal failure becomes SERVFAIL.
   */
  async handle(query: Uint8Array, info: ClientInfo): Promise<Reply | null> {
    return this.respond(query, info);
  }

  /**
   * `handle`, but the answer comes back at once when nothing has to be waited for (a cache hit,
   * an app's answer): the promise and its microtasks were a tenth of a UDP cache hit.
   */
  respond(query: Uint8Array, info: ClientInfo): Reply | null | Promise<Reply | null> {
    let r: Reply | null | Promise<Reply | null>;
    try {
      r = this.answer(query, info);
    } catch (e) {
      return this.internalError(query, e as Error);
    }
    return r instanceof Promise ? r.catch((e: Error) => this.internalError(query, e)) : r;
  }

  private internalError(query: Uint8Array, e: Error): Reply | null {
    this.logger.log('error', 'internal error answering a query', { error: e.message, stack: e.stack });
    this.m.malformed.inc({ reason: 'internal-error' });
    if (query.length < HEADER_LEN) return null;
    let p: ParsedQuery | null = null;
    try {
      p = parseQuery(query);
    } catch {
      // answered without the question
    }
    return errorReply(query, Rcode.SERVFAIL, p, this.opts.udpSize, this.m, [{ code: EDE_OTHER, text: 'internal error (logged)' }]);
  }

  /**
   * The answer for a client that access control refuses: REFUSED with EDE 18 (Prohibited) and
   * `why` as its text, made without any app, cache or upstream. Null for what is not a query
   * (dropped).
   */
  refuse(query: Uint8Array, why: string): Reply | null {
    const p = this.readQuery(query);
    return p && errorReply(query, Rcode.REFUSED, p, this.opts.udpSize, this.m, [{ code: EDE_PROHIBITED, text: why }]);
  }

  /**
   * An empty answer with TC set (the rate limit's slip): a client at a real address retries over
   * TCP; a spoofed source gets a reply no larger than its query. Null for what is not a query.
   */
  truncated(query: Uint8Array): Reply | null {
    const p = this.readQuery(query);
    if (!p) return null;
    const r = errorReply(query, Rcode.NOERROR, p, this.opts.udpSize, this.m);
    r.message[2]! |= FLAG_TC >> 8;
    return r;
  }

  private readQuery(query: Uint8Array): ParsedQuery | null {
    try {
      const p = parseQuery(query);
      return p.header.flags & FLAG_QR ? null : p;
    } catch {
      return null;
    }
  }

  private answer(query: Uint8Array, info: ClientInfo): Reply | null | Promise<Reply | null> {
    const started = this.now();
    this.m.queriesBy.get(info.transport).inc();
    let parsed: ParsedQuery;
    try {
      parsed = parseQuery(query);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.m.malformed.inc({ reason: 'unparseable' });
      if (query.length < HEADER_LEN || u16(query, 2) & FLAG_QR) return null;
      return errorReply(query, Rcode.FORMERR, null, this.opts.udpSize, this.m);
    }
    const early = screen(query, parsed, this.opts.udpSize, this.m, this.opts.chaos);
    if (early !== undefined) return early;
    // A context from another node travels in an EDNS option (or a DoH header). It is taken off
    // the query before anything else looks at it, and used only if it is authentic.
    let carried = info.context ?? null;
    const optionCode = this.peers?.opts.optionCode ?? DEFAULT_CONTEXT_OPTION;
    const option = findOption(parsed.edns, optionCode);
    if (option) {
      carried = option.data;
      query = withoutOption(query, parsed, optionCode);
      parsed = parseQuery(query);
    }
    if (carried) return this.answerCarried(query, parsed, info, carried, optionCode, started);
    const chain = this.chain;
    if (chain.runsIn(PHASE.preCache) || chain.runsIn(PHASE.postCache)) {
      const ctx = this.freshContext(parsed, info, started);
      const reply = this.run(query, parsed, ctx);
      return reply instanceof Promise ? reply.then((r) => this.answered(r, info, ctx, parsed, started)) : this.answered(reply, info, ctx, parsed, started);
    }
    // No app runs before or after the cache, so a hit is answered without a request context
    // (two Sets and a request id per query): all run() does with one here is the lookup and the
    // shaping, which read only the question, its DO and CD bits, and a TTL cap no rule has set.
    // Nothing can have set a tag either, so the apps' kept answers count.
    const hit = this.cache.find(parsed.question!, !!parsed.edns && (parsed.edns.flags & EDNS_FLAG_DO) !== 0, (parsed.header.flags & FLAG_CD) !== 0, chain.answerStamp?.() ?? 0);
    if (hit) {
      this.m.cacheHit.inc();
      return this.answered(finish(shape(hit.body, parsed), hit.fromApp ? 'app' : 'cache', parsed, NO_TTL_CAP, this.opts.udpSize, hit.minTtl), info, null, parsed, started);
    }
    const ctx = this.freshContext(parsed, info, started);
    const reply = this.missed(query, parsed, ctx, CONTINUE, chain);
    return reply instanceof Promise ? reply.then((r) => this.answered(r, info, ctx, parsed, started)) : this.answered(reply, info, ctx, parsed, started);
  }

  /** A query that came with a context (a peer's): restored first, which may wait on its key check. */
  private async answerCarried(query: Uint8Array, parsed: ParsedQuery, info: ClientInfo, carried: Uint8Array, optionCode: number, started: number): Promise<Reply | null> {
    const restored = await this.peerContext.restore(carried, parsed, info, started);
    const ctx = restored ?? this.freshContext(parsed, info, started);
    // A peer's query whose context was refused has been forwarded once already: it is resolved
    // here. Counting its hops from 0 again could send it round a loop between nodes that
    // disagree on the keys, the members or max_hops.
    if (!restored && this.peerContext.fromPeer(info)) ctx.flags |= CtxFlag.local;
    // Not yet ready to answer for the site: the node that asked resolves the query itself.
    let reply =
      restored && !this.readyForPeers()
        ? (this.m.notReady.inc(), errorReply(query, Rcode.REFUSED, parsed, this.opts.udpSize, this.m, [{ code: EDE_NOT_READY, text: 'loading the local root copy' }]))
        : await this.run(query, parsed, ctx);
    if (reply && restored && reply.opt) reply = this.peerContext.mark(reply, optionCode);
    return this.answered(reply, info, ctx, parsed, started);
  }

  private freshContext(parsed: ParsedQuery, info: ClientInfo, started: number): RequestContext {
    const q = parsed.question!;
    const dnssecOk = !!parsed.edns && (parsed.edns.flags & EDNS_FLAG_DO) !== 0;
    const cd = (parsed.header.flags & FLAG_CD) !== 0;
    return newContext({
      qname: q.name,
      qtype: q.type,
      qclass: q.class,
      client: info.client,
      transport: info.transport,
      flags: (dnssecOk ? CtxFlag.do : 0) | (cd ? CtxFlag.cd : 0) | (parsed.header.flags & FLAG_RD ? CtxFlag.rd : 0),
      ingress: this.opts.nodeId,
      deadline: started + this.opts.requestTimeoutMs,
      udpSize: parsed.edns?.udpSize ?? 0,
    });
  }

  /** Metrics and the query log for an answer on its way out; `ctx` is null for a hit answered without one. */
  private answered(reply: Reply | null, info: ClientInfo, ctx: RequestContext | null, parsed: ParsedQuery, started: number): Reply | null {
    if (reply) {
      this.m.response(reply.rcode, reply.source);
      this.m.answeredIn(reply.source, (this.now() - started) / 1000);
    }
    if (sampled(this.querySample)) logQuery(this.logger, info, ctx ?? this.freshContext(parsed, info, started), reply, this.now() - started);
    return reply;
  }

  /** The phases in order: pre-cache, the cache, resolve (a peer owner, or the resolve step), post-resolve. */
  private run(query: Uint8Array, p: ParsedQuery, ctx: RequestContext): Reply | null | Promise<Reply | null> {
    const chain = this.chain;
    const pre = chain.runsIn(PHASE.preCache) ? chain.run(PHASE.preCache, ctx, query) : CONTINUE;
    if (pre.kind !== 'continue' && pre.kind !== 'forward') return this.fromOutcome(query, p, ctx, pre, chain);

    const dnssecOk = (ctx.flags & CtxFlag.do) !== 0;
    const cd = (ctx.flags & CtxFlag.cd) !== 0;
    const hit = this.cache.find(p.question!, dnssecOk, cd, plainContext(ctx) ? (chain.answerStamp?.() ?? 0) : 0);
    if (hit) {
      this.m.cacheHit.inc();
      return this.post(PHASE.postCache, query, p, ctx, { body: hit.body, source: hit.fromApp ? 'app' : 'cache', minTtl: hit.minTtl, owned: true }, chain);
    }
    return this.missed(query, p, ctx, pre, chain);
  }

  /** Not in the cache (after pre-cache): the resolve phase, then a peer owner or the resolve step. */
  private missed(query: Uint8Array, p: ParsedQuery, ctx: RequestContext, pre: PhaseOutcome, chain: AppChain): Reply | null | Promise<Reply | null> {
    this.m.cacheMiss.inc();
    const key = cacheKey(p.question!, (ctx.flags & CtxFlag.do) !== 0, (ctx.flags & CtxFlag.cd) !== 0);

    const stamp = chain.answerStamp?.() ?? 0;
    const outcome = chain.runsIn(PHASE.resolve) ? chain.run(PHASE.resolve, ctx, query) : CONTINUE;
    if (isPeerForward(outcome)) return this.viaPeer(query, p, ctx, key, pre, outcome, chain);
    return this.resolved(query, p, ctx, key, pre, outcome, chain, stamp);
  }

  /** The resolve phase sent the query to the peer that owns its slot. */
  private async viaPeer(query: Uint8Array, p: ParsedQuery, ctx: RequestContext, key: string, pre: PhaseOutcome, forward: Extract<PhaseOutcome, { kind: 'forward' }>, chain: AppChain): Promise<Reply | null> {
    const answer = await this.peerForward.ask(forward.target, key, p, ctx);
    if (answer) {
      // A stale answer from the owner is stale here too (EDE 3 on it).
      const reply = this.post(PHASE.postResolve, query, p, ctx, { body: answer.body, source: answer.stale ? 'stale' : 'peer', ...(answer.ede.length ? { ede: answer.ede } : {}) }, chain);
      if (ctx.ttlCap > 0) this.cache.cap(key, ctx.ttlCap);
      return reply;
    }
    // Resolve here: the chain again from the top of the phase, now with forwarding to peers
    // off for this request.
    const stamp = chain.answerStamp?.() ?? 0;
    let outcome = chain.run(PHASE.resolve, ctx, query);
    if (isPeerForward(outcome)) outcome = CONTINUE;
    return this.resolved(query, p, ctx, key, pre, outcome, chain, stamp);
  }

  /**
   * After the resolve phase: an app's answer now, or the resolve step's later. `stamp` is the
   * chain's answer stamp from before the phase ran (0: the app's answer is not kept).
   */
  private resolved(query: Uint8Array, p: ParsedQuery, ctx: RequestContext, key: string, pre: PhaseOutcome, outcome: PhaseOutcome, chain: AppChain, stamp: number): Reply | null | Promise<Reply | null> {
    if (outcome.kind === 'respond' || outcome.kind === 'rcode' || outcome.kind === 'drop') {
      // A question-only app's answer to a plain request is everyone's answer to that question
      // until the chain changes: kept under the stamp, as an upstream's answer is kept.
      // Only from the question's second sighting on (cache.admit): a name asked once never is.
      const keep =
        stamp !== 0 &&
        outcome.kind === 'respond' &&
        plainContext(ctx) &&
        (ctx.flags & CtxFlag.rd) !== 0 &&
        chain.questionOnly?.(outcome.app) === true &&
        chain.answerStamp?.() === stamp &&
        this.cache.admit(p.question!, (ctx.flags & CtxFlag.do) !== 0, (ctx.flags & CtxFlag.cd) !== 0);
      return this.fromOutcome(query, p, ctx, outcome, chain, keep ? { key, stamp } : null);
    }
    const target = outcome.kind === 'forward' ? outcome.target : pre.kind === 'forward' ? pre.target : '';
    return this.fromResolveStep(query, p, ctx, key, target || ctx.route || this.opts.defaultRoute, chain);
  }

  private async fromResolveStep(query: Uint8Array, p: ParsedQuery, ctx: RequestContext, key: string, route: string, chain: AppChain): Promise<Reply | null> {
    const body = await this.resolveStep.resolve(key, route, p, ctx);
    const reply = this.post(PHASE.postResolve, query, p, ctx, body, chain);
    // A post-resolve TTL cap bounds the entry too, not only this answer.
    if (body.source === 'upstream' && ctx.ttlCap > 0) this.cache.cap(key, ctx.ttlCap);
    return reply;
  }

  /**
   * An app answered or refused: the message goes through post-resolve like any answer. With
   * `keep`, a NOERROR or NXDOMAIN answer is also stored in the cache under its stamp.
   */
  private fromOutcome(query: Uint8Array, p: ParsedQuery, ctx: RequestContext, o: PhaseOutcome, chain: AppChain, keep: { key: string; stamp: number } | null = null): Reply | null {
    if (o.kind === 'drop') return null;
    let body: Uint8Array;
    let ede: Ede[] | undefined;
    if (o.kind === 'respond') {
      try {
        body = stripOpt(o.message);
        const h = readHeader(body);
        if (!(h.flags & FLAG_QR)) throw new WireError('app response has QR clear');
        if (!keep || (h.rcode !== Rcode.NOERROR && h.rcode !== Rcode.NXDOMAIN) || !this.cache.store(keep.key, body, ctx.ttlCap, this.cache.generation, keep.stamp)) keep = null;
      } catch (e) {
        keep = null;
        this.logger.log('warn', 'app returned an unparseable response', { app: o.app, error: (e as Error).message });
        body = buildErrorResponse(query, Rcode.SERVFAIL, p);
        ede = [{ code: EDE_OTHER, text: `app ${o.app} returned an unparseable response` }];
      }
    } else {
      body = buildErrorResponse(query, o.kind === 'rcode' ? o.rcode : Rcode.SERVFAIL, p);
      if (o.kind === 'rcode' && o.why) ede = [{ code: EDE_OTHER, text: o.why }];
    }
    ede ??= appEde(body, 'app' in o ? o.app : 'app');
    const reply = this.post(PHASE.postResolve, query, p, ctx, { body, source: 'app', owned: true, ...(ede ? { ede } : {}) }, chain);
    // A post-resolve TTL cap bounds the kept answer too.
    if (keep && ctx.ttlCap > 0) this.cache.cap(keep.key, ctx.ttlCap);
    return reply;
  }

  /** Runs a post phase (post-cache or post-resolve) on the shaped answer; an app may replace it. */
  private post(phase: number, query: Uint8Array, p: ParsedQuery, ctx: RequestContext, b: Body, chain: AppChain): Reply | null {
    let out = shape(b.owned ? b.body : b.body.slice(), p);
    let source = b.source;
    let minTtl = b.minTtl;
    let ede = b.ede;
    if (chain.runsIn(phase)) {
      const o = chain.run(phase, ctx, out);
      if (o.kind === 'drop') return null;
      if (o.kind === 'respond' || o.kind === 'rcode') {
        source = 'app';
        minTtl = undefined;
        ede = undefined;
        let body: Uint8Array;
        try {
          body = o.kind === 'respond' ? stripOpt(o.message) : buildErrorResponse(query, o.rcode, p);
          if (o.kind === 'rcode' && o.why) ede = [{ code: EDE_OTHER, text: o.why }];
        } catch {
          body = buildErrorResponse(query, Rcode.SERVFAIL, p);
          ede = [{ code: EDE_OTHER, text: `app ${o.app} returned an unparseable response` }];
        }
        ede ??= appEde(body, o.app);
        out = shape(body.slice(), p);
      }
    }
    return finish(out, source, p, ctx, this.opts.udpSize, minTtl, ede);
  }
}

const CONTINUE: PhaseOutcome = { kind: 'continue' };

/**
 * A request no rule or app has marked: no tags and no app switched off for it. Only such a
 * request is given an app's kept answer, or has its app answer kept, since a tag
 * (`rec_disable_static`) or a `disable-app` may change what the apps would say.
 */
function plainContext(ctx: RequestContext): boolean {
  return ctx.tags.size === 0 && ctx.disabledApps.size === 0;
}

/** The TTL cap of a hit answered without a context: none (only a rule sets one). */
const NO_TTL_CAP = { ttlCap: 0 } as const;

/** RFC 8914 §4.1. */
const EDE_OTHER = 0;

/** What an app's REFUSED or SERVFAIL says (a rule's `respond REFUSED` is the override app's). */
function appEde(body: Uint8Array, app: string): Ede[] | undefined {
  const rcode = body.length > 3 ? body[3]! & 0xf : 0;
  if (rcode === Rcode.REFUSED) return [{ code: EDE_PROHIBITED, text: `refused by ${app === 'override' ? 'a rule (override)' : `app ${app}`}` }];
  if (rcode === Rcode.SERVFAIL) return [{ code: EDE_OTHER, text: `${app === 'override' ? 'a rule (override)' : `app ${app}`} answered SERVFAIL` }];
  return undefined;
}

function isPeerForward(o: PhaseOutcome): o is Extract<PhaseOutcome, { kind: 'forward' }> {
  return o.kind === 'forward' && o.target.startsWith(PEER_PREFIX);
}
