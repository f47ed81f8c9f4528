/**
 * The request pipeline, bytes in and bytes out, the same on every runtime:
 *
 *   parse -> context -> [pre-cache] -> cache hit  -> [post-cache] -> respond
 *                                   -> cache miss -> [resolve] -> upstream -> cache store
 *                                                 -> [post-resolve] -> respond
 *
 * Upstream answers are cached as they arrive (so a refresh that outlives its request still
 * fills the cache), as the upstream sent them: what a post-resolve app makes of an answer is for
 * its request. A post-resolve TTL cap still bounds the entry. Serve-stale (RFC 8767) kicks in
 * when the upstreams fail or are slower than the client response timer.
 */

import { AnswerCache, cacheKey, type CacheHit, type FlushScope } from './cache.js';
import type { AppChain, PhaseOutcome } from './chain.js';
import { CtxFlag, newContext, type ClientAddress, type RequestContext, type TransportName } from './context.js';
import { DEFAULT_CONTEXT_OPTION, type RejectReason } from './context-auth.js';
import { ANSWER_CACHEABLE, RULES_VERSION_BYTES, rulesVersion, type Peers } from './peers.js';
import { Opcode, Rcode, RRType, rcodeToName } from './dns/rr-types.js';
import {
  EDNS_FLAG_DO, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, HEADER_LEN, WireError, appendOpt, buildErrorResponse, concat, encodeOpt,
  nameEquals, nameToText, parseQuery, put16, put32, readHeader, readName, stripOpt, u16, walkRecords, type EdnsOption, type ParsedQuery,
} from './dns/wire.js';
import type { Logger } from './log.js';
import type { BoundCounter, BoundHistogram, Counter, Histogram, MetricsSink } from './metrics.js';
import { UpstreamError, type Upstreams } from './upstream.js';

export const PHASE = { preCache: 0, postCache: 1, resolve: 2, postResolve: 3 } as const;

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
  /** Peer hops a query may take; a context that claims more is refused. */
  maxHops: number;
  /** After a flush, peer answers are not stored for this long (ms; config site.settle_ms). */
  settleMs: number;
}

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

const EDE_OPTION = 15;
const EDE_STALE_ANSWER = 3;
const EDE_PROHIBITED = 18;

interface Metrics {
  queries: Counter;
  responses: Counter;
  duration: Histogram;
  cacheLookups: Counter;
  malformed: Counter;
  stale: Counter;
  coalesced: Counter;
  received: Counter;
  rejected: Counter;
  local: Counter;
  peerNotStored: Counter;
  refused: Counter;
  flushes: Counter;
  flushed: Counter;
}

/** Bound metric handles per label value, made on first use (label sets here are small and fixed). */
class BoundSet<T> {
  private readonly made = new Map<string, T>();
  constructor(private readonly make: (key: string) => T) {}
  get(key: string): T {
    let b = this.made.get(key);
    if (!b) {
      b = this.make(key);
      this.made.set(key, b);
    }
    return b;
  }
}

interface Body {
  body: Uint8Array;
  source: AnswerSource;
  minTtl?: number;
  /** True when nobody else holds `body`, so it may be changed in place. */
  owned?: boolean;
}

export class Resolver {
  private readonly chain: AppChain;
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  /**
   * The version of the rule set this node runs (the adapter sets it: the override app's data
   * hash). A peer's answer is cached here only when the owner ran the same one.
   */
  rulesVersion: () => Uint8Array = () => rulesVersion(null);
  private readonly m: Metrics;
  private readonly queriesBy: BoundSet<BoundCounter>;
  private readonly responsesBy: BoundSet<BoundCounter>;
  private readonly durationBy: BoundSet<BoundHistogram>;
  private readonly cacheHit: BoundCounter;
  private readonly cacheMiss: BoundCounter;

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
  ) {
    this.chain = chain;
    this.m = {
      queries: metrics.counter('edge_queries_total', 'Queries received, by transport', ['transport']),
      responses: metrics.counter('edge_responses_total', 'Responses sent, by rcode and source', ['rcode', 'source']),
      duration: metrics.histogram('edge_request_duration_seconds', 'Time to answer a query', ['source']),
      cacheLookups: metrics.counter('edge_cache_lookups_total', 'Cache lookups, by result', ['result']),
      malformed: metrics.counter('edge_malformed_queries_total', 'Queries that could not be parsed or were refused early', ['reason']),
      stale: metrics.counter('edge_stale_answers_total', 'Stale answers served (RFC 8767), by reason', ['reason']),
      coalesced: metrics.counter('edge_coalesced_queries_total', 'Cache misses that joined an upstream query already in flight'),
      received: metrics.counter('edge_peer_received_total', 'Queries received from peers with a valid context, by ingress node', ['ingress']),
      rejected: metrics.counter('edge_context_rejected_total', 'Contexts stripped before any app saw them, by reason', ['reason']),
      local: metrics.counter('edge_peer_local_fallback_total', 'Queries resolved locally because their owner was down or did not answer', ['peer']),
      peerNotStored: metrics.counter('edge_peer_answers_not_cached_total', 'Cacheable peer answers not stored because the owner ran another rule set', ['reason']),
      flushes: metrics.counter('edge_cache_flushes_total', 'Cache flushes, by reason (rules, admin, config)', ['reason']),
      flushed: metrics.counter('edge_cache_flushed_entries_total', 'Entries removed by cache flushes, by reason', ['reason']),
      refused: metrics.counter('edge_peer_forward_refused_total', 'Peer forwards the host refused (no hops left, or the query is to be resolved here); resolved locally', ['reason']),
    };
    this.queriesBy = new BoundSet((transport) => this.m.queries.bind({ transport }));
    this.responsesBy = new BoundSet((k) => {
      const [rcode, source] = k.split('|');
      return this.m.responses.bind({ rcode: rcode!, source: source! });
    });
    this.durationBy = new BoundSet((source) => this.m.duration.bind({ source }));
    this.cacheHit = this.m.cacheLookups.bind({ result: 'hit' });
    this.cacheMiss = this.m.cacheLookups.bind({ result: 'miss' });
    // The cache keeps its own size metrics, so every path that fills or empties it counts.
    cache.reportTo(metrics);
  }

  get currentUpstreams(): Upstreams {
    return this.upstreams;
  }

  /** Removes cached answers (all of them for null); answers asked for before it are not stored. */
  flush(scope: FlushScope | null, reason: 'rules' | 'admin' | 'config'): number {
    const n = this.cache.flush(scope);
    // The other nodes take the same change a little later (a push reaches them one by one, a
    // Worker's isolates read KV on their own clock): until they have, an owner may still answer
    // as before, and that answer must not refill what was just flushed.
    this.cache.settleUntil = this.now() + this.opts.settleMs;
    this.m.flushes.inc({ reason });
    this.m.flushed.inc({ reason }, n);
    if (n > 0) this.logger.log('info', 'cache flushed', { reason, entries: n });
    return n;
  }

  /**
   * Checks a context that came with a query: from a peer, authentic, fresh, for this question.
   * Returns it ready to use (the hop already counted by the sender), or null after counting why
   * it was refused; the query then runs as a plain client query.
   */
  private async restoreContext(bytes: Uint8Array, p: ParsedQuery, info: ClientInfo, now: number): Promise<RequestContext | null> {
    const reject = (reason: RejectReason): null => {
      this.m.rejected.inc({ reason });
      this.logger.log('debug', 'context stripped', { reason, client: info.client?.address });
      return null;
    };
    if (!this.peers || !this.fromPeer(info)) return reject('not-peer');
    const v = await this.peers.auth.verify(bytes, now);
    if (!v.ok) return reject(v.reason);
    const ctx = v.ctx;
    const q = p.question!;
    if (ctx.qtype !== q.type || ctx.qclass !== q.class || !nameEquals(ctx.qname, q.name)) return reject('question-mismatch');
    if (ctx.hops > this.opts.maxHops) return reject('hops');
    // The question as this message spells it; the deadline no later than our own budget.
    ctx.qname = q.name;
    ctx.deadline = Math.min(ctx.deadline, now + this.opts.requestTimeoutMs);
    this.m.received.inc({ ingress: ctx.ingress || 'unknown' });
    return ctx;
  }

  private fromPeer(info: ClientInfo): boolean {
    return !!this.peers && (!!info.fromPeer || (!!info.client && this.peers.isPeerAddress(info.client.address)));
  }

  /**
   * Answers one query. Returns null when the query is to be dropped (unparseable, a response).
   * Never throws for anything a client sends; an internal failure becomes SERVFAIL.
   */
  async handle(query: Uint8Array, info: ClientInfo): Promise<Reply | null> {
    try {
      return await this.answer(query, info);
    } catch (e) {
      this.logger.log('error', 'internal error answering a query', { error: (e as Error).message, stack: (e as Error).stack });
      this.m.malformed.inc({ reason: 'internal-error' });
      if (query.length < HEADER_LEN) return null;
      return this.errorReply(query, Rcode.SERVFAIL, null);
    }
  }

  private async answer(query: Uint8Array, info: ClientInfo): Promise<Reply | null> {
    const started = this.now();
    this.queriesBy.get(info.transport).inc();
    let parsed: ParsedQuery;
    try {
      parsed = parseQuery(query);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.m.malformed.inc({ reason: 'unparseable' });
      if (query.length < HEADER_LEN || u16(query, 2) & FLAG_QR) return null;
      return this.errorReply(query, Rcode.FORMERR, null);
    }
    const early = this.screen(query, parsed);
    if (early !== undefined) return early;
    // A context from another node travels in an EDNS option (or a DoH header). It is taken off
    // the query before anything else looks at it, and used only if it is authentic.
    let carried = info.context ?? null;
    const optionCode = this.peers?.opts.optionCode ?? DEFAULT_CONTEXT_OPTION;
    const option = parsed.edns?.options.find((o) => o.code === optionCode);
    if (option) {
      carried = option.data;
      query = withoutOption(query, parsed, optionCode);
      parsed = parseQuery(query);
    }
    const restored = carried ? await this.restoreContext(carried, parsed, info, started) : null;
    const q = parsed.question!;
    const dnssecOk = !!parsed.edns && (parsed.edns.flags & EDNS_FLAG_DO) !== 0;
    const cd = (parsed.header.flags & FLAG_CD) !== 0;
    const ctx =
      restored ??
      newContext({
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
    // A peer's query whose context was refused has been forwarded once already: it is resolved
    // here. Counting its hops from 0 again could send it round a loop between nodes that
    // disagree on the keys, the members or max_hops.
    if (carried && !restored && this.fromPeer(info)) ctx.flags |= CtxFlag.local;
    let reply = await this.run(query, parsed, ctx);
    if (reply && restored && reply.opt) reply = this.markForPeer(reply, optionCode);
    if (reply) {
      this.responsesBy.get(`${rcodeToName(reply.rcode)}|${reply.source}`).inc();
      this.durationBy.get(reply.source).observe((this.now() - started) / 1000);
    }
    return reply;
  }

  /**
   * Tells the node that forwarded a query whether it may cache the answer: yes for what came
   * from this node's cache or its upstream, no for what a rule or an app made for this request;
   * and which rule set this node ran, so a node that runs another one (a push half way through
   * the site) does not keep it.
   */
  private markForPeer(reply: Reply, optionCode: number): Reply {
    const cacheable = reply.source === 'cache' || reply.source === 'upstream';
    const opt = reply.opt!;
    const len = 1 + RULES_VERSION_BYTES;
    const mark = new Uint8Array(opt.length + 4 + len);
    mark.set(opt, 0);
    put16(mark, 9, u16(opt, 9) + 4 + len);
    put16(mark, opt.length, optionCode);
    put16(mark, opt.length + 2, len);
    mark[opt.length + 4] = cacheable ? ANSWER_CACHEABLE : 0;
    mark.set(this.rulesVersion(), opt.length + 5);
    const body = reply.message.subarray(0, reply.message.length - opt.length);
    return { ...reply, message: concat([body, mark]), opt: mark };
  }

  /** Refuses what a recursive service does not do, with the rcode the RFCs ask for. */
  private screen(query: Uint8Array, p: ParsedQuery): Reply | null | undefined {
    if (p.header.flags & FLAG_QR) {
      this.m.malformed.inc({ reason: 'response' });
      return null;
    }
    if (p.header.opcode !== Opcode.QUERY) {
      this.m.malformed.inc({ reason: 'opcode' });
      return this.errorReply(query, Rcode.NOTIMP, p);
    }
    if (p.header.qdcount !== 1 || !p.question) {
      this.m.malformed.inc({ reason: 'qdcount' });
      return this.errorReply(query, Rcode.FORMERR, p);
    }
    if (p.edns && p.edns.version > 0) {
      // RFC 6891 §6.1.3: BADVERS is extended rcode 16 (upper bits 1 in the OPT, lower 0).
      this.m.malformed.inc({ reason: 'edns-version' });
      const opt = encodeOpt(this.opts.udpSize, 0, [], 1);
      const msg = buildErrorResponse(query, 0, p, opt);
      return { message: msg, rcode: Rcode.BADVERS, source: 'local', minTtl: 0, questionEnd: p.questionEnd, opt, udpLimit: 512 };
    }
    const t = p.question.type;
    if (t === RRType.OPT || t === 0) {
      this.m.malformed.inc({ reason: 'qtype' });
      return this.errorReply(query, Rcode.FORMERR, p);
    }
    if (t === RRType.AXFR || t === RRType.IXFR || t === RRType.MAILA || t === RRType.MAILB) {
      this.m.malformed.inc({ reason: 'qtype' });
      return this.errorReply(query, Rcode.NOTIMP, p);
    }
    if (p.question.class !== 1) {
      this.m.malformed.inc({ reason: 'qclass' });
      return this.errorReply(query, Rcode.REFUSED, p);
    }
    return undefined;
  }

  private udpLimit(p: ParsedQuery | null): number {
    return p?.edns ? Math.max(512, Math.min(p.edns.udpSize, this.opts.udpSize)) : 512;
  }

  private errorReply(query: Uint8Array, rcode: number, p: ParsedQuery | null): Reply {
    const opt = p?.edns ? encodeOpt(this.opts.udpSize, p.edns.flags & EDNS_FLAG_DO) : null;
    const message = buildErrorResponse(query, rcode, p, opt ?? undefined);
    this.m.responses.inc({ rcode: rcodeToName(rcode), source: 'local' });
    return { message, rcode, source: 'local', minTtl: 0, questionEnd: p?.questionEnd ?? HEADER_LEN, opt, udpLimit: this.udpLimit(p) };
  }

  private async run(query: Uint8Array, p: ParsedQuery, ctx: RequestContext): Promise<Reply | null> {
    const chain = this.chain;
    const pre = chain.runsIn(PHASE.preCache) ? chain.run(PHASE.preCache, ctx, query) : CONTINUE;
    if (pre.kind !== 'continue' && pre.kind !== 'forward') return this.fromOutcome(query, p, ctx, pre, chain);

    const key = cacheKey(p.question!, (ctx.flags & CtxFlag.do) !== 0, (ctx.flags & CtxFlag.cd) !== 0);
    const hit = this.cache.get(key);
    if (hit) {
      this.cacheHit.inc();
      return this.post(PHASE.postCache, query, p, ctx, { body: hit.body, source: 'cache', minTtl: hit.minTtl, owned: true }, chain);
    }
    this.cacheMiss.inc();

    let outcome = chain.runsIn(PHASE.resolve) ? chain.run(PHASE.resolve, ctx, query) : CONTINUE;
    if (isPeerForward(outcome)) {
      const peer = outcome.target.slice(PEER_PREFIX.length);
      // The hop budget is the host's to keep, whatever an app asks: no loop depends on every
      // app (and every node's view of the site) getting it right.
      const refused = ctx.flags & CtxFlag.local ? 'local' : ctx.hops >= this.opts.maxHops ? 'hops' : null;
      if (refused) this.m.refused.inc({ reason: refused });
      const body = refused ? null : await this.viaPeer(peer, key, p, ctx);
      if (body) {
        const reply = this.post(PHASE.postResolve, query, p, ctx, { body, source: 'peer' }, chain);
        if (ctx.ttlCap > 0) this.cache.cap(key, ctx.ttlCap);
        return reply;
      }
      // Resolve here: the chain again from the top of the phase, now with forwarding to peers
      // off for this request (the owner is down, did not answer in time, or may not be asked).
      if (!refused) this.m.local.inc({ peer });
      ctx.flags |= CtxFlag.local;
      outcome = chain.run(PHASE.resolve, ctx, query);
      if (isPeerForward(outcome)) outcome = CONTINUE;
    }
    if (outcome.kind === 'respond' || outcome.kind === 'rcode' || outcome.kind === 'drop') {
      return this.fromOutcome(query, p, ctx, outcome, chain);
    }
    const target = outcome.kind === 'forward' ? outcome.target : pre.kind === 'forward' ? pre.target : '';
    const group = target || ctx.route || this.opts.defaultRoute;
    const body = await this.resolveUpstream(key, group, p, ctx);
    const reply = this.post(PHASE.postResolve, query, p, ctx, body, chain);
    // A post-resolve TTL cap bounds the entry too, not only this answer.
    if (body.source === 'upstream' && ctx.ttlCap > 0) this.cache.cap(key, ctx.ttlCap);
    return reply;
  }

  /** An app answered or refused: the message goes through post-resolve like any answer. */
  private fromOutcome(query: Uint8Array, p: ParsedQuery, ctx: RequestContext, o: PhaseOutcome, chain: AppChain): Reply | null {
    if (o.kind === 'drop') return null;
    let body: Uint8Array;
    if (o.kind === 'respond') {
      try {
        body = stripOpt(o.message);
        const h = readHeader(body);
        if (!(h.flags & FLAG_QR)) throw new WireError('app response has QR clear');
      } catch (e) {
        this.logger.log('warn', 'app returned an unparseable response', { app: o.app, error: (e as Error).message });
        body = buildErrorResponse(query, Rcode.SERVFAIL, p);
      }
    } else {
      body = buildErrorResponse(query, o.kind === 'rcode' ? o.rcode : Rcode.SERVFAIL, p);
    }
    return this.post(PHASE.postResolve, query, p, ctx, { body, source: 'app', owned: true }, chain);
  }

  private post(phase: number, query: Uint8Array, p: ParsedQuery, ctx: RequestContext, b: Body, chain: AppChain): Reply | null {
    let out = this.shape(b.owned ? b.body : b.body.slice(), p);
    let source = b.source;
    let minTtl = b.minTtl;
    if (chain.runsIn(phase)) {
      const o = chain.run(phase, ctx, out);
      if (o.kind === 'drop') return null;
      if (o.kind === 'respond' || o.kind === 'rcode') {
        source = 'app';
        minTtl = undefined;
        let body: Uint8Array;
        try {
          body = o.kind === 'respond' ? stripOpt(o.message) : buildErrorResponse(query, o.rcode, p);
        } catch {
          body = buildErrorResponse(query, Rcode.SERVFAIL, p);
        }
        out = this.shape(body.slice(), p);
      }
    }
    return this.finish(out, source, p, ctx, minTtl);
  }

  /** Gives a body the client's ID, flags and question spelling, in place (callers pass a copy they own). */
  private shape(out: Uint8Array, p: ParsedQuery): Uint8Array {
    put16(out, 0, p.header.id);
    const qflags = p.header.flags;
    // TC, AD and the rcode stay; AA is cleared: a resolver is not the authority for its answers.
    const keep = u16(out, 2) & (0x000f | 0x0200 | FLAG_AD);
    let flags = FLAG_QR | FLAG_RA | (qflags & (0x7800 | FLAG_RD | FLAG_CD)) | keep;
    // RFC 6840 §5.8: AD only for clients that asked with AD or DO.
    const dnssecOk = !!p.edns && (p.edns.flags & EDNS_FLAG_DO) !== 0;
    if (!(qflags & FLAG_AD) && !dnssecOk) flags &= ~FLAG_AD;
    put16(out, 2, flags);
    if (u16(out, 4) === 1 && out.length >= p.questionEnd) {
      try {
        const { name } = readName(out, HEADER_LEN);
        if (name.length === p.question!.name.length && nameEquals(name, p.question!.name)) out.set(p.question!.name, HEADER_LEN);
      } catch {
        // leave the body's own question
      }
    }
    return out;
  }

  /** Applies the TTL cap and EDNS to a shaped answer. */
  private finish(out: Uint8Array, source: AnswerSource, p: ParsedQuery, ctx: RequestContext, knownMinTtl?: number): Reply {
    let minTtl = knownMinTtl ?? Number.MAX_SAFE_INTEGER;
    // The answer's question is the query's (same name length), so it ends where the query's did.
    let questionEnd = p.questionEnd;
    if (knownMinTtl === undefined || ctx.ttlCap > 0) {
      try {
        const { records, questionEnd: qe } = walkRecords(out);
        questionEnd = qe;
        let computed = Number.MAX_SAFE_INTEGER;
        for (const r of records) {
          if (r.type === RRType.OPT) continue;
          let ttl = r.ttl;
          if (ctx.ttlCap > 0 && ttl > ctx.ttlCap) {
            ttl = ctx.ttlCap;
            put32(out, r.ttlOffset, ttl);
          }
          computed = Math.min(computed, ttl);
        }
        minTtl = Math.min(minTtl, computed);
      } catch {
        // an app's answer we could not walk: send as is
      }
    }
    if (minTtl === Number.MAX_SAFE_INTEGER) minTtl = 0;
    const rcode = out[3]! & 0xf;
    let message = out;
    let opt: Uint8Array | null = null;
    if (p.edns) {
      const options: EdnsOption[] = [];
      if (source === 'stale') options.push(ede(EDE_STALE_ANSWER));
      if (source === 'app' && rcode === Rcode.REFUSED) options.push(ede(EDE_PROHIBITED));
      opt = encodeOpt(this.opts.udpSize, p.edns.flags & EDNS_FLAG_DO, options);
      message = appendOpt(out, opt);
    }
    return { message, rcode, source, minTtl, questionEnd, opt, udpLimit: this.udpLimit(p) };
  }

  /**
   * Gets an answer from upstream group `group`, with request coalescing and serve-stale. Never
   * throws: when nothing can be had, the body is a SERVFAIL.
   */
  private async resolveUpstream(key: string, group: string, p: ParsedQuery, ctx: RequestContext): Promise<Body> {
    const stale = this.cache.get(key, true);
    const staleHit: CacheHit | null = stale && stale.stale ? stale : null;
    if (staleHit && this.cache.inStaleRefresh(key)) {
      this.m.stale.inc({ reason: 'recheck' });
      return { body: staleHit.body, source: 'stale', minTtl: staleHit.minTtl };
    }
    const fetch = this.fetch(key, group, p, ctx);
    if (staleHit) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timed = new Promise<'timer'>((resolve) => {
        timer = setTimeout(() => resolve('timer'), this.opts.clientResponseTimerMs);
      });
      const first = await Promise.race([fetch.then((b) => ({ b }), (e: unknown) => ({ e })), timed]);
      clearTimeout(timer);
      if (first === 'timer') {
        this.m.stale.inc({ reason: 'timer' });
        // The refresh goes on in the background; if it fails, stale answers are served without
        // asking again until the recheck window ends.
        fetch.then(
          (b) => {
            if ((b[3]! & 0xf) === Rcode.SERVFAIL) this.cache.markRefreshFailed(key, this.opts.failureRecheckMs);
          },
          () => this.cache.markRefreshFailed(key, this.opts.failureRecheckMs),
        );
        return { body: staleHit.body, source: 'stale', minTtl: staleHit.minTtl };
      }
      if ('b' in first && (first.b[3]! & 0xf) !== Rcode.SERVFAIL) return { body: first.b, source: 'upstream' };
      this.cache.markRefreshFailed(key, this.opts.failureRecheckMs);
      this.m.stale.inc({ reason: 'upstream-failure' });
      return { body: staleHit.body, source: 'stale', minTtl: staleHit.minTtl };
    }
    try {
      return { body: await fetch, source: 'upstream' };
    } catch (e) {
      this.logger.log('warn', 'resolution failed', { request: ctx.requestId, qname: nameToText(ctx.qname), group, error: (e as Error).message });
      return { body: buildErrorResponse(new Uint8Array(0), Rcode.SERVFAIL, p), source: 'upstream' };
    }
  }

  /**
   * Asks the peer that owns the key; its answer fills this node's cache too. Null when the peer
   * is down or does not answer within the bound.
   */
  private async viaPeer(peer: string, key: string, p: ParsedQuery, ctx: RequestContext): Promise<Uint8Array | null> {
    const peers = this.peers;
    if (!peers || !peers.usable(peer)) return null;
    // Only requests with the same context share a peer query: the owner's answer may depend on
    // the tags, the client or the route.
    const fingerprint = `${[...ctx.tags].sort().join(',')}|${[...ctx.disabledApps].sort().join(',')}|${ctx.route}|${ctx.ttlCap}|${ctx.client?.address ?? ''}`;
    const flightKey = `${key}|peer:${peer}|${fingerprint}`;
    let job = this.inflight.get(flightKey);
    if (job) this.m.coalesced.inc();
    else {
      const askedAt = this.cache.generation;
      job = peers.forward(peer, p.question!, ctx, ctx.deadline).then(({ body, cacheable, rulesVersion: theirs }) => {
        // Only what the owner had from its cache or the upstream fills this node's cache: an
        // answer a rule or an app made for this request's context (a local-root NXDOMAIN, a
        // client-specific rewrite, a stale answer) is not everyone's answer. And only when the
        // owner ran this node's rule set: mid-push, its answer is what the new rules replace.
        const mine = this.rulesVersion();
        const sameRules = theirs !== null && theirs.every((b, i) => b === mine[i]);
        if (cacheable && sameRules && this.now() >= this.cache.settleUntil) this.cache.store(key, body, ctx.ttlCap, askedAt);
        else if (cacheable && !sameRules) this.m.peerNotStored.inc({ reason: 'rules' });
        return body;
      });
      this.inflight.set(flightKey, job);
      const done = () => this.inflight.delete(flightKey);
      job.then(done, done);
    }
    try {
      return await job;
    } catch (e) {
      this.logger.log('debug', 'peer forward failed', { peer, error: (e as Error).message });
      return null;
    }
  }

  /** One upstream query per key at a time; the answer is cached as soon as it arrives. */
  private fetch(key: string, group: string, p: ParsedQuery, ctx: RequestContext): Promise<Uint8Array> {
    const flightKey = `${key}|${group}`;
    const running = this.inflight.get(flightKey);
    if (running) {
      this.m.coalesced.inc();
      return running;
    }
    const askedAt = this.cache.generation;
    const job = (async () => {
      if (!this.upstreams.has(group)) throw new UpstreamError(`route names upstream group "${group}", which is not configured`);
      const ans = await this.upstreams.query(
        group,
        p.question!,
        { do: (ctx.flags & CtxFlag.do) !== 0, cd: (ctx.flags & CtxFlag.cd) !== 0 },
        ctx.deadline,
      );
      this.cache.store(key, ans.body, ctx.ttlCap, askedAt);
      return ans.body;
    })();
    this.inflight.set(flightKey, job);
    job.then(
      () => this.inflight.delete(flightKey),
      () => this.inflight.delete(flightKey),
    );
    return job;
  }
}

const CONTINUE: PhaseOutcome = { kind: 'continue' };
const PEER_PREFIX = 'peer:';

function isPeerForward(o: PhaseOutcome): o is Extract<PhaseOutcome, { kind: 'forward' }> {
  return o.kind === 'forward' && o.target.startsWith(PEER_PREFIX);
}

/** The query with one EDNS option removed (the rest of the message byte for byte). */
function withoutOption(query: Uint8Array, p: ParsedQuery, code: number): Uint8Array {
  const edns = p.edns!;
  const rest = edns.options.filter((o) => o.code !== code);
  return appendOpt(stripOpt(query), encodeOpt(edns.udpSize, edns.flags, rest, edns.extendedRcode));
}

function ede(code: number): EdnsOption {
  return { code: EDE_OPTION, data: new Uint8Array([code >>> 8, code & 0xff]) };
}
