/**
 * Iterative resolution (RFC 1034 §5.3.3) from the root down, over an UpstreamTransport. The
 * module's API and how to call it are described in ./index.ts.
 *
 * One client question is chased through CNAME and DNAME links; each name is looked up in the
 * RRset cache first and otherwise iterated: from the deepest cached zone cut, one query at a
 * time to one server of that zone, following referrals down, QNAME minimisation (RFC 9156)
 * hiding the labels below the next cut. Everything a response says passes the scrubber (bailiwick,
 * chain, referenced additional data) before it is ranked and cached.
 */

import { RRClass, RRType, Rcode, isMetaType } from '../dns/rr-types.js';
import {
  FLAG_RA, FLAG_RD, buildQuery, isSubdomain, countLabels, nameEquals, nameToText, parentName, u32, type Question,
} from '../dns/wire.js';
import { parseIPv4, parseIPv6 } from '../context.js';
import type { FlushScope } from '../cache.js';
import { silentLogger, type Logger } from '../log.js';
import type { Counter, Gauge, Histogram, MetricsSink } from '../metrics.js';
import { UpstreamTimeout, matches, withTimeout, type UpstreamTransport } from '../upstream.js';
import {
  LimitError, ResolutionError, defaultRecursionLimits, type FailureReason, type LimitName, type RecursionLimits,
} from './limits.js';
import { buildResponse, parseResponse, recordsOf, type OutRecord, type ParsedResponse, type RRset } from './message.js';
import { ROOT_NAME, addressOf, nameKey, rdataName, substitute, suffixOf } from './names.js';
import { IANA_ROOT_HINTS, type RootHints } from './root-hints.js';
import {
  MIN_ANSWER_RANK, RRsetCache, Rank, defaultRRsetCacheOptions, type CachedNegative, type CachedSet, type Origin,
  type RRsetCacheOptions,
} from './rrset-cache.js';
import { followChain, proofsIn, referralTo, scrub, soaFor, type Scrubbed } from './scrub.js';
import { ServerSelection, defaultSelectionOptions, type SelectionOptions, type Steering } from './servers.js';

/**
 * Where iteration starts for the root zone. Given a question, the answer the root zone gives
 * (a referral to the TLD, or an authoritative answer or denial for root zone data) as a DNS
 * response message, taken from the verified local root copy; null when no valid copy is in
 * service, and then the root servers are asked (primed from the hints, RFC 8109).
 */
export interface RootStart {
  query(q: Question, deadline: number): Uint8Array | null | Promise<Uint8Array | null>;
}

/** A final authoritative response (and every DS or DNSKEY response) for the judge to look at. */
export interface JudgedResponse {
  /** The question sent. */
  question: Question;
  /** The response as the server sent it. */
  message: Uint8Array;
  /** The zone (cut) the server was asked as. */
  zone: Uint8Array;
  /** The server's address, or `local-root`. */
  server: string;
}

/**
 * 'bogus' sets the server aside for that zone (SelectionOptions.bogusHoldMs) and makes the
 * iterator ask another server of the same zone; nothing of a bogus response is cached.
 */
export type Verdict = 'accept' | 'bogus';
export type Judge = (r: JudgedResponse) => Verdict | Promise<Verdict>;

export interface IteratorOptions {
  transport: UpstreamTransport;
  metrics: MetricsSink;
  logger?: Logger;
  /** Root hints for priming when no local root copy answers; the IANA hints by default. */
  hints?: RootHints;
  /** The default start for the root zone; a resolve call may give its own (or null). */
  rootStart?: RootStart | null;
  /** QNAME minimisation (RFC 9156, relaxed); on by default. */
  qnameMinimisation?: boolean;
  judge?: Judge;
  limits?: Partial<RecursionLimits>;
  selection?: Partial<SelectionOptions>;
  cache?: Partial<RRsetCacheOptions>;
  /** EDNS payload size advertised to authoritative servers (DNS Flag Day 2020: 1232). */
  udpSize?: number;
  /** The port authoritative servers are asked on (53). */
  port?: number;
  ipv4?: boolean;
  ipv6?: boolean;
  now?: () => number;
  random?: () => number;
}

export interface ResolveOptions {
  /** When the answer must be there, ms since the epoch. */
  deadline: number;
  /** Keep RRSIG, NSEC and NSEC3 records in the response (the client's DO bit). */
  do?: boolean;
  /** This request's start for the root zone; undefined: the constructor's. */
  rootStart?: RootStart | null;
  /** This request's judge (the resolve step's validator); undefined: the constructor's, null: none. */
  judge?: Judge | null;
}

/** Where one RRset of the response came from, for the validator. */
export interface Provenance {
  section: 'answer' | 'authority';
  owner: Uint8Array;
  type: number;
  /** The zone (cut) whose server sent it. */
  zone: Uint8Array;
  /** That server's address, or `local-root`. */
  server: string;
  /** RFC 2181 rank (see Rank). */
  rank: number;
  /** Served from the RRset cache rather than fetched for this request. */
  cached: boolean;
}

export interface Resolution {
  /** The response: ID 0, QR RD RA, the question as asked, no OPT record. */
  body: Uint8Array;
  rcode: number;
  /** One entry per RRset of the answer and authority sections, in order. */
  provenance: Provenance[];
  /** Who answered this request's questions to the root zone; null when it needed none. */
  rootSource: 'local' | 'root_servers' | null;
  /** Queries sent to authoritative servers for this request. */
  queries: number;
  /** Why the answer is SERVFAIL; null otherwise. */
  failure: { reason: FailureReason; detail: string } | null;
}

/** The address the local root copy is named by in provenance and judge calls. */
export const LOCAL_ROOT = 'local-root';

const MAX_MINIMISE_COUNT = 10; // RFC 9156 §2.3
/**
 * Rounds over a zone's servers for one name while the misses were timeouts: a zone with one
 * server that dropped one packet is asked again (with the backed-off timeout) rather than
 * failed. Unbound retries a target up to 5 times (OUTBOUND_MSG_RETRY); the deadline and the
 * per-question query limit bound it too.
 */
const MAX_ROUNDS = 3;
const MINIMISE_ONE_LAB = 4;

interface Piece {
  set: RRset;
  rank: number;
  origin: Origin;
  cached: boolean;
  /** Seconds left. */
  ttl: number;
  proofs?: RRset[];
  synthesized?: boolean;
}

interface Outcome {
  rcode: number;
  chain: Piece[];
  answer: Piece[];
  /** For negatives: the SOA (TTL: the negative TTL) and the NSEC/NSEC3 proofs. */
  soa: Piece | null;
  proofs: Piece[];
}

/** What one name's lookup gave: a final outcome, or links and the next name to chase. */
interface Step {
  links: Piece[];
  next: Uint8Array | null;
  outcome: Omit<Outcome, 'chain'> | null;
}

interface Delegation {
  zone: Uint8Array;
  nsNames: Uint8Array[];
  /** NS name key → addresses known for it within this delegation (glue, hints). */
  glue: Map<string, string[]>;
  /** NS names whose addresses this request looked up already. */
  looked: Set<string>;
}

class Request {
  queries = 0;
  nsLookups = 0;
  rootSource: Resolution['rootSource'] = null;
  localRootDeclined = false;
  constructor(
    readonly deadline: number,
    readonly rootStart: RootStart | null,
    readonly judge: Judge | null,
  ) {}
}

interface Metrics {
  requests: Counter;
  queries: Counter;
  tcp: Counter;
  edns: Counter;
  qmin: Counter;
  limits: Counter;
  rootSource: Counter;
  priming: Counter;
  aside: Counter;
  steered: Counter;
  scrubbed: Counter;
  cache: Counter;
  judged: Counter;
  outstanding: Gauge;
  cacheEntries: Gauge;
  cacheBytes: Gauge;
  rtt: Histogram;
}

type Sent =
  | { ok: true; raw: Uint8Array; msg: ParsedResponse }
  | { ok: false; reason: 'timeout' | 'error' | 'malformed' };

export class IterativeResolver {
  readonly cache: RRsetCache;
  readonly servers: ServerSelection;
  readonly limits: RecursionLimits;
  private readonly m: Metrics;
  private readonly transport: UpstreamTransport;
  private readonly logger: Logger;
  private readonly hints: RootHints;
  private readonly rootStart: RootStart | null;
  private readonly qmin: boolean;
  private readonly judge: Judge | null;
  private readonly udpSize: number;
  private readonly port: number;
  private readonly ipv4: boolean;
  private readonly ipv6: boolean;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly inflight = new Map<string, Promise<Sent>>();
  private priming: Promise<boolean> | null = null;
  private outstanding = 0;
  private readonly perZone = new Map<string, number>();
  private readonly perServer = new Map<string, number>();

  constructor(opts: IteratorOptions) {
    this.transport = opts.transport;
    this.logger = opts.logger ?? silentLogger;
    this.hints = opts.hints ?? IANA_ROOT_HINTS;
    this.rootStart = opts.rootStart ?? null;
    this.qmin = opts.qnameMinimisation ?? true;
    this.judge = opts.judge ?? null;
    this.limits = { ...defaultRecursionLimits, ...opts.limits };
    this.udpSize = opts.udpSize ?? 1232;
    this.port = opts.port ?? 53;
    this.ipv4 = opts.ipv4 ?? true;
    this.ipv6 = opts.ipv6 ?? true;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.cache = new RRsetCache({ ...defaultRRsetCacheOptions, ...opts.cache }, this.now);
    this.servers = new ServerSelection({ ...defaultSelectionOptions, ...opts.selection }, this.now, this.random);
    const ms = opts.metrics;
    this.m = {
      requests: ms.counter('edge_recursion_requests_total', 'Questions resolved by iteration, by rcode of the result', ['rcode']),
      queries: ms.counter('edge_recursion_queries_total', 'Queries sent to authoritative servers, by result', ['result']),
      tcp: ms.counter('edge_recursion_tcp_retries_total', 'Truncated UDP answers from authoritative servers asked again over TCP'),
      edns: ms.counter('edge_recursion_edns_fallback_total', 'Authoritative servers found not to do EDNS, by how', ['reason']),
      qmin: ms.counter('edge_recursion_qname_minimisation_fallback_total', 'Minimised queries given up for the full name (RFC 9156 relaxed), by cause', ['reason']),
      limits: ms.counter('edge_recursion_limit_total', 'Resolutions ended by a limit against abuse, by limit', ['limit']),
      rootSource: ms.counter('edge_recursion_root_source_total', 'Questions to the root zone, by who answered: the local root copy or the root servers', ['source']),
      priming: ms.counter('edge_recursion_priming_total', 'Root priming queries (RFC 8109), by result', ['result']),
      aside: ms.counter('edge_recursion_set_aside_total', 'Nameserver addresses set aside, by reason', ['reason']),
      steered: ms.counter('edge_recursion_steered_total', 'Server choices changed by a steering rule, by action', ['action']),
      scrubbed: ms.counter('edge_recursion_scrubbed_total', 'Records dropped from responses: outside the bailiwick, off the answer chain, unreferenced additional data'),
      cache: ms.counter('edge_recursion_cache_lookups_total', 'RRset cache lookups, by result', ['result']),
      judged: ms.counter('edge_recursion_judged_total', 'Authoritative responses the judge looked at, by verdict', ['verdict']),
      outstanding: ms.gauge('edge_recursion_outstanding', 'Queries to authoritative servers in flight'),
      cacheEntries: ms.gauge('edge_recursion_cache_entries', 'Entries in the RRset cache'),
      cacheBytes: ms.gauge('edge_recursion_cache_bytes', 'Approximate bytes held by the RRset cache'),
      rtt: ms.histogram('edge_recursion_upstream_rtt_seconds', 'Round-trip time of answered queries to authoritative servers'),
    };
    this.m.outstanding.set({}, 0);
  }

  /** Resolves one question. Never throws: a failure is a SERVFAIL with `failure` set. */
  async resolve(q: Question, opts: ResolveOptions): Promise<Resolution> {
    const req = new Request(opts.deadline, opts.rootStart === undefined ? this.rootStart : opts.rootStart, opts.judge === undefined ? this.judge : opts.judge);
    const dnssec = opts.do ?? false;
    let result: Resolution;
    if (q.class !== RRClass.IN) {
      result = this.fail(q, req, Rcode.REFUSED, null);
    } else if (isMetaType(q.type) && q.type !== RRType.ANY) {
      // OPT, zone transfers, TKEY/TSIG, MAILA/MAILB: nothing an iterator asks servers for.
      result = this.fail(q, req, Rcode.NOTIMP, null);
    } else {
      try {
        const out = await this.chase(q.name, q.type, req, 0);
        result = this.respond(q, out, dnssec, req);
      } catch (e) {
        if (!(e instanceof ResolutionError)) {
          this.logger.log('error', 'iteration failed unexpectedly', { qname: nameToText(q.name), error: (e as Error).stack ?? String(e) });
          result = this.fail(q, req, Rcode.SERVFAIL, { reason: 'bad_response', detail: (e as Error).message });
        } else {
          if (e instanceof LimitError) this.m.limits.inc({ limit: e.limit });
          this.logger.log('debug', 'iteration failed', { qname: nameToText(q.name), reason: e.reason, error: e.message });
          result = this.fail(q, req, Rcode.SERVFAIL, { reason: e.reason, detail: e.message });
        }
      }
    }
    this.m.requests.inc({ rcode: rcodeName(result.rcode) });
    this.m.cacheEntries.set({}, this.cache.size);
    this.m.cacheBytes.set({}, this.cache.byteSize);
    return result;
  }

  /**
   * The validator's key fetcher: the response to `name`/`type` (DS or DNSKEY) with DO=1, its
   * RRSIGs kept, as bytes. A SERVFAIL response when it cannot be had.
   */
  async fetch(name: Uint8Array, type: number, deadline: number): Promise<Uint8Array> {
    return (await this.resolve({ name, type, class: RRClass.IN }, { deadline, do: true })).body;
  }

  /**
   * Steers server choice for `zone` and the zones below it that have no rule of their own:
   * `avoid` addresses are used only when nothing else is usable, `prefer` addresses while any
   * is. Null clears the rule. Takes effect for the next query sent.
   */
  steer(zone: Uint8Array, rule: Steering | null): void {
    this.servers.steer(zone, rule);
  }

  /** Replaces every steering rule at once (a rule set that changed); an empty list clears them. */
  setSteering(rules: Array<{ zone: Uint8Array } & Steering>): void {
    this.servers.setSteering(rules);
  }

  /**
   * Empties the RRset cache over `scope` (all of it for null): an operator's flush or a rule
   * change reaches the data iteration reuses, not only the assembled answers, so the next
   * question in scope is asked of the authoritative servers again. The server table stays.
   */
  flush(scope: FlushScope | null): number {
    const n = this.cache.flush(scope);
    this.m.cacheEntries.set({}, this.cache.size);
    this.m.cacheBytes.set({}, this.cache.byteSize);
    return n;
  }

  /** For /status: per-address selection state, steering rules, cache size. */
  status(): {
    servers: ReturnType<ServerSelection['status']>;
    steering: ReturnType<ServerSelection['steeringRules']>;
    cache: { entries: number; bytes: number };
    outstanding: number;
  } {
    return {
      servers: this.servers.status(),
      steering: this.servers.steeringRules().map((r) => ({ ...r, zone: keyToText(r.zone) })),
      cache: { entries: this.cache.size, bytes: this.cache.byteSize },
      outstanding: this.outstanding,
    };
  }

  // ---- chasing names ------------------------------------------------------------------------

  private async chase(qname: Uint8Array, qtype: number, req: Request, depth: number): Promise<Outcome> {
    const chain: Piece[] = [];
    const seen = [qname];
    let name = qname;
    for (;;) {
      const step = await this.step(name, qtype, req, depth);
      chain.push(...step.links);
      if (chain.filter((p) => !p.synthesized).length > this.limits.maxCnameChain) {
        throw new LimitError('cname_chain', `CNAME/DNAME chain from ${nameToText(qname)} is longer than ${this.limits.maxCnameChain}`);
      }
      if (step.outcome) return { ...step.outcome, chain };
      const next = step.next!;
      if (seen.some((n) => nameEquals(n, next))) throw new ResolutionError('cname_loop', `CNAME/DNAME chain from ${nameToText(qname)} loops at ${nameToText(next)}`);
      seen.push(next);
      name = next;
    }
  }

  /** One name: from the cache when it can, else by iteration. */
  private async step(name: Uint8Array, qtype: number, req: Request, depth: number): Promise<Step> {
    const cached = this.fromCache(name, qtype);
    this.m.cache.inc({ result: cached ? 'hit' : 'miss' });
    return cached ?? this.iterate(name, qtype, req, depth);
  }

  private fromCache(name: Uint8Array, qtype: number): Step | null {
    if (qtype === RRType.ANY) return null; // always asked (RFC 8482 answers are not a complete list to cache)
    const piece = (h: { entry: CachedSet; ttl: number }): Piece => ({
      set: h.entry.set, rank: h.entry.rank, origin: h.entry.origin, cached: true, ttl: h.ttl, proofs: h.entry.proofs,
    });
    const hit = this.cache.get(name, qtype);
    if (hit) return { links: [], next: null, outcome: { rcode: Rcode.NOERROR, answer: [piece(hit)], soa: null, proofs: [] } };
    // A DNAME at an ancestor applies to every name below it (the highest one occludes the rest).
    if (qtype !== RRType.DNAME) {
      const up: Uint8Array[] = [];
      for (let n = parentName(name); ; n = parentName(n)) {
        up.push(n);
        if (n.length <= 1) break;
      }
      for (let i = up.length - 1; i >= 0; i--) {
        const d = this.cache.get(up[i]!, RRType.DNAME);
        if (!d) continue;
        const target = substitute(name, d.entry.set.owner, rdataName(d.entry.set.rdatas[0]!));
        const dn = piece(d);
        if (!target) return { links: [dn], next: null, outcome: { rcode: Rcode.YXDOMAIN, answer: [], soa: null, proofs: [] } };
        const cname: Piece = { ...dn, set: synthCname(name, target, d.entry.set), synthesized: true };
        if (qtype === RRType.CNAME) return { links: [dn], next: null, outcome: { rcode: Rcode.NOERROR, answer: [cname], soa: null, proofs: [] } };
        return { links: [dn, cname], next: target, outcome: null };
      }
    }
    if (qtype !== RRType.CNAME) {
      const c = this.cache.get(name, RRType.CNAME);
      if (c) return { links: [piece(c)], next: rdataName(c.entry.set.rdatas[0]!), outcome: null };
    }
    const neg = this.cache.getNegative(name, qtype);
    if (neg && neg.entry.rank >= MIN_ANSWER_RANK) return { links: [], next: null, outcome: this.negativeOutcome(neg.entry, neg.ttl, true) };
    return null;
  }

  private negativeOutcome(n: CachedNegative, ttl: number, cached: boolean): Omit<Outcome, 'chain'> {
    const at = (set: RRset): Piece => ({ set, rank: n.rank, origin: n.origin, cached, ttl: Math.min(ttl, set.ttl) });
    return {
      rcode: n.kind === 'nxdomain' ? Rcode.NXDOMAIN : Rcode.NOERROR,
      answer: [],
      soa: n.soa ? { ...at(n.soa), ttl } : null,
      proofs: n.proofs.map(at),
    };
  }

  // ---- iteration ----------------------------------------------------------------------------

  /** The deepest known delegation for `name` (strictly above it for DS); the root when none is cached. */
  private delegationFor(name: Uint8Array, ds: boolean): Delegation {
    const hit = this.cache.delegation(name, ds);
    const zone = hit ? hit.entry.set.owner : ROOT_NAME;
    const nsNames = hit ? hit.entry.set.rdatas.map(rdataName) : [];
    return this.makeDelegation(zone, nsNames, []);
  }

  private makeDelegation(zone: Uint8Array, nsNames: Uint8Array[], glue: RRset[]): Delegation {
    // NXNSAttack: only so many NS names of one delegation are ever considered, picked at random.
    const names = shuffle([...nsNames], this.random).slice(0, this.limits.maxNsNamesPerDelegation);
    const map = new Map<string, string[]>();
    const add = (owner: Uint8Array, addrs: string[]) => {
      const k = nameKey(owner);
      const list = map.get(k) ?? [];
      for (const a of addrs) if (!list.includes(a)) list.push(a);
      map.set(k, list);
    };
    for (const s of glue) add(s.owner, s.rdatas.map((r) => addressOf(s.type, r)).filter((a): a is string => a !== null));
    for (const n of names) {
      for (const t of [RRType.A, RRType.AAAA]) {
        const g = this.cache.getGlue(zone, n, t);
        if (g) add(n, g.entry.set.rdatas.map((r) => addressOf(t, r)).filter((a): a is string => a !== null));
      }
    }
    return { zone, nsNames: names, glue: map, looked: new Set() };
  }

  /** The root servers' delegation: primed (cached) root NS, else the hints. */
  private async rootDelegation(req: Request): Promise<Delegation> {
    let hit = this.cache.get(ROOT_NAME, RRType.NS, 0);
    if (!hit) {
      await this.prime(req);
      hit = this.cache.get(ROOT_NAME, RRType.NS, 0);
    }
    if (hit) {
      const d = this.makeDelegation(ROOT_NAME, hit.entry.set.rdatas.map(rdataName), []);
      if ([...d.glue.values()].some((a) => a.length > 0)) return d;
    }
    // Priming failed: ask the hints' servers directly.
    const glue = this.hints.servers.map((s) => hintGlue(s.name, s.addresses));
    return this.makeDelegation(ROOT_NAME, this.hints.servers.map((s) => s.name), glue.flat());
  }

  /** RFC 8109 priming: `. NS` to a hints address; the answer's NS and addresses become the root delegation. */
  private prime(req: Request): Promise<boolean> {
    if (!this.priming) {
      this.priming = this.runPriming(req).finally(() => {
        this.priming = null;
      });
    }
    return this.priming;
  }

  private async runPriming(req: Request): Promise<boolean> {
    const addrs = this.hints.servers.flatMap((s) => s.addresses).filter((a) => this.family(a));
    const tried = new Set<string>();
    const q: Question = { name: ROOT_NAME, type: RRType.NS, class: RRClass.IN };
    for (let attempt = 0; attempt < 3; attempt++) {
      const pick = this.servers.choose(ROOT_NAME, addrs.filter((a) => !tried.has(a)));
      if (!pick) break;
      tried.add(pick.address);
      this.noteRoot(req, 'root_servers');
      // Priming is the node's, not the client's: its queries do not count against the request.
      const sent = await this.send(pick.address, ROOT_NAME, q, req, false);
      if (!sent.ok || !sent.msg.aa || sent.msg.rcode !== Rcode.NOERROR) continue;
      const s = scrub(sent.msg, ROOT_NAME);
      const ns = s.answer.find((x) => x.type === RRType.NS && x.owner.length === 1);
      if (!ns) continue;
      const origin = { zone: ROOT_NAME, server: pick.address };
      this.cache.put({ set: ns, rank: Rank.ANSWER_AUTH, origin });
      for (const g of s.additional) this.cache.putGlue(ROOT_NAME, { set: g, rank: Rank.ADDITIONAL, origin });
      // Names the answer gave no address for keep the hints' addresses (RFC 8109 §3).
      for (const h of this.hints.servers) {
        if (!ns.rdatas.some((r) => nameEquals(rdataName(r), h.name))) continue;
        if (s.additional.some((g) => nameEquals(g.owner, h.name))) continue;
        for (const g of hintGlue(h.name, h.addresses)) this.cache.putGlue(ROOT_NAME, { set: g, rank: Rank.ADDITIONAL, origin });
      }
      this.m.priming.inc({ result: 'ok' });
      this.logger.log('info', 'primed the root from hints', { server: pick.address, servers: ns.rdatas.length });
      return true;
    }
    this.m.priming.inc({ result: 'failed' });
    this.logger.log('warn', 'root priming failed; asking the hints servers directly', { tried: tried.size });
    return false;
  }

  /**
   * Iterates for `name`/`qtype` from the deepest known delegation: referrals followed down,
   * lame and failing servers left for the others of the zone, minimised queries while the
   * next cut is unknown.
   */
  private async iterate(name: Uint8Array, qtype: number, req: Request, depth: number): Promise<Step> {
    const ds = qtype === RRType.DS && name.length > 1;
    let dp = this.delegationFor(name, ds);
    // QNAME minimisation state: `known` is the deepest name known to exist in dp.zone.
    let minimise = this.qmin;
    let known = dp.zone;
    let minimised = 0;
    let referrals = 0;
    let tried = new Set<string>();
    let lastProblem = 'no server answered';
    let bogus = 0;
    let rounds = 1;
    let timeoutsThisRound = 0;
    // The name the minimised walk ends at: the question's, or for DS its parent (DS lives there).
    const walkTo = ds ? parentName(name) : name;
    const fallBack = (reason: string): void => {
      this.m.qmin.inc({ reason });
      minimise = false;
      tried = new Set();
    };
    for (;;) {
      if (this.now() >= req.deadline) throw new ResolutionError('deadline', `deadline passed resolving ${nameToText(name)}`);
      let qname = name;
      let qt = qtype;
      if (minimise && countLabels(walkTo) > countLabels(known) && minimised < MAX_MINIMISE_COUNT) {
        const left = countLabels(walkTo) - countLabels(known);
        const add = minimised < MINIMISE_ONE_LAB ? 1 : Math.max(1, Math.ceil(left / (MAX_MINIMISE_COUNT - minimised)));
        const next = suffixOf(walkTo, countLabels(known) + add);
        if (ds || !nameEquals(next, name)) {
          qname = next;
          qt = RRType.A;
        }
      }
      const isMin = qname !== name;
      if (isMin && this.existsIn(qname, dp.zone)) {
        // Known from an earlier answer: the name exists in this zone and is no cut.
        known = qname;
        minimised++;
        continue;
      }
      const q: Question = { name: qname, type: qt, class: RRClass.IN };

      let server: string;
      let sent: Sent;
      if (dp.zone.length === 1 && req.rootStart && !req.localRootDeclined) {
        // The root zone: the local copy first, while one is in service.
        const local = await req.rootStart.query(q, req.deadline);
        if (!local) {
          req.localRootDeclined = true;
          continue;
        }
        this.noteRoot(req, 'local');
        server = LOCAL_ROOT;
        try {
          sent = { ok: true, raw: local, msg: parseResponse(local) };
        } catch {
          sent = { ok: false, reason: 'malformed' };
        }
      } else {
        if (dp.zone.length === 1 && !this.hasAddresses(dp)) dp = await this.rootDelegation(req);
        const pick = await this.pickServer(dp, tried, req, depth);
        if (!pick) {
          if (timeoutsThisRound > 0 && rounds < MAX_ROUNDS) {
            // Only timeouts this round: the same servers once more, each with its longer timeout.
            rounds++;
            timeoutsThisRound = 0;
            tried = new Set();
            continue;
          }
          if (isMin && minimise) {
            // Every server failed the minimised question: RFC 9156 relaxed, try the full name.
            fallBack('no_server');
            continue;
          }
          throw new ResolutionError(bogus > 0 ? 'bogus' : 'no_reachable_authority', `no usable server for ${nameToText(dp.zone)} (${lastProblem})`);
        }
        server = pick;
        tried.add(server);
        if (dp.zone.length === 1) this.noteRoot(req, 'root_servers');
        sent = await this.send(server, dp.zone, q, req, true);
      }
      // A local root copy that gives nothing usable is not asked again for this request.
      const unusable = (problem: string): void => {
        lastProblem = `${server}: ${problem}`;
        if (server === LOCAL_ROOT) req.localRootDeclined = true;
      };

      if (!sent.ok) {
        unusable(sent.reason);
        if (sent.reason === 'timeout') timeoutsThisRound++;
        if (isMin && minimise && sent.reason === 'timeout') fallBack('timeout');
        continue;
      }
      const msg = sent.msg;
      const rcode = msg.rcode;
      if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN && rcode !== Rcode.YXDOMAIN) {
        if (isMin && minimise) {
          fallBack('rcode');
          continue;
        }
        unusable(rcodeName(rcode));
        if (rcode === Rcode.REFUSED || rcode === Rcode.NOTIMP) this.lame(dp.zone, server, 'refused');
        continue;
      }
      const s = scrub(msg, dp.zone);
      if (s.dropped > 0) this.m.scrubbed.inc({}, s.dropped);
      const origin: Origin = { zone: dp.zone, server };
      const chain = followChain(s.answer, qname, qt);

      if (!msg.aa) {
        const referral = chain.links.length === 0 && chain.final.length === 0 ? referralTo(s.authority, dp.zone, qname, ds && !isMin) : null;
        if (!referral) {
          // Not authoritative and no referral down (none, or one up or sideways): lame.
          unusable('not authoritative');
          this.lame(dp.zone, server, 'not-authoritative');
          continue;
        }
        if (++referrals > this.limits.maxReferrals) throw new LimitError('referrals', `more than ${this.limits.maxReferrals} referrals for ${nameToText(name)}`);
        dp = this.absorbReferral(referral, s, origin);
        if (countLabels(dp.zone) > countLabels(known)) known = dp.zone;
        tried = new Set();
        rounds = 1;
        timeoutsThisRound = 0;
        continue;
      }
      if (isMin && rcode === Rcode.NXDOMAIN && server !== LOCAL_ROOT) {
        // Broken servers deny empty non-terminals: ask the full name before believing it. The
        // verified local root copy is not such a server: nothing exists below a name it denies (RFC 8020).
        fallBack('nxdomain');
        continue;
      }
      if (isMin && s.answer.some((x) => x.type === RRType.DNAME)) {
        fallBack('dname');
        continue;
      }
      if (!isMin && chain.loop) throw new ResolutionError('cname_loop', `CNAME chain in the answer for ${nameToText(name)} loops`);
      if (!(await this.accepted(q, sent.raw, origin, req))) {
        bogus++;
        unusable('bogus');
        if (server !== LOCAL_ROOT) {
          // For the zone the bogus data is from: a server that also serves a child zone (asked
          // as the parent, it answers from the child) is not set aside for the parent.
          this.servers.setAside(answerZone(msg, dp.zone), server, 'bogus');
          this.m.aside.inc({ reason: 'bogus' });
        }
        continue;
      }
      const step = this.absorbFinal(qname, qt, s, chain, origin, rcode);
      if (!isMin || rcode === Rcode.NXDOMAIN) return step;
      // The minimised name exists in this zone and is no cut: one label further.
      known = qname;
      minimised++;
      tried = new Set();
    }
  }

  private hasAddresses(dp: Delegation): boolean {
    return dp.nsNames.some((n) => this.addressesOf(dp, n).length > 0);
  }

  /** Whether `name` is known (from the cache) to exist in `zone` without being a cut there. */
  private existsIn(name: Uint8Array, zone: Uint8Array): boolean {
    const a = this.cache.get(name, RRType.A);
    if (a && nameEquals(a.entry.origin.zone, zone)) return true;
    const c = this.cache.get(name, RRType.CNAME);
    if (c && nameEquals(c.entry.origin.zone, zone)) return true;
    const n = this.cache.getNegative(name, RRType.A);
    return !!n && n.entry.kind === 'nodata' && isSubdomain(n.entry.origin.zone, zone);
  }

  private async accepted(q: Question, raw: Uint8Array, origin: Origin, req: Request): Promise<boolean> {
    if (!req.judge) return true;
    const verdict = await req.judge({ question: q, message: raw, zone: origin.zone, server: origin.server });
    this.m.judged.inc({ verdict });
    return verdict !== 'bogus';
  }

  private noteRoot(req: Request, source: 'local' | 'root_servers'): void {
    this.m.rootSource.inc({ source });
    if (req.rootSource !== 'root_servers') req.rootSource = source;
  }

  private lame(zone: Uint8Array, server: string, why: string): void {
    if (server === LOCAL_ROOT) return;
    this.servers.setAside(zone, server, 'lame');
    this.m.aside.inc({ reason: 'lame' });
    this.logger.log('debug', 'lame server set aside', { zone: nameToText(zone), server, why });
  }

  /** Caches a referral's NS, glue and DS; returns the new delegation. */
  private absorbReferral(ns: RRset, s: Scrubbed, origin: Origin): Delegation {
    const child = ns.owner;
    this.cache.put({ set: ns, rank: Rank.AUTHORITY_NONAUTH, origin });
    const nsNames = ns.rdatas.map(rdataName);
    // Glue only for this delegation's NS names (scrub kept only what is inside the parent's bailiwick).
    const glue = s.additional.filter((g) => nsNames.some((n) => nameEquals(n, g.owner)));
    for (const g of glue) this.cache.putGlue(child, { set: g, rank: Rank.ADDITIONAL, origin });
    const dsSet = s.authority.find((x) => x.type === RRType.DS && nameEquals(x.owner, child));
    if (dsSet) this.cache.put({ set: dsSet, rank: Rank.AUTHORITY_NONAUTH, origin });
    return this.makeDelegation(child, nsNames, glue);
  }

  /** Caches what an authoritative response says and turns it into a Step. */
  private absorbFinal(
    qname: Uint8Array,
    qtype: number,
    s: Scrubbed,
    chain: ReturnType<typeof followChain>,
    origin: Origin,
    rcode: number,
  ): Step {
    // An ANY answer is whatever the server chose to give (RFC 8482): served, never cached.
    const keep = qtype !== RRType.ANY;
    const rank = Rank.ANSWER_AUTH;
    const links = chain.links.map((l): Piece => {
      if (!l.synthesized && keep) this.cache.put({ set: l.set, rank, origin });
      return { set: l.set, rank, origin, cached: false, ttl: this.ttl(l.set), synthesized: l.synthesized };
    });
    const last = chain.name;
    const soa = soaFor(s.authority, last);
    const settled = chain.final.length > 0 || chain.yxdomain || !!soa || chain.links.length === 0;
    if (!settled) {
      // The chain leaves what this server answers for: chase the target (and keep a referral for it).
      const r = referralTo(s.authority, origin.zone, last, false);
      if (r) this.absorbReferral(r, s, origin);
      return { links, next: last, outcome: null };
    }
    // The zone's own NS (authority of an authoritative answer) and the addresses that came with it.
    for (const x of s.authority) {
      if (x.type !== RRType.NS || !isSubdomain(last, x.owner)) continue;
      this.cache.put({ set: x, rank: Rank.AUTHORITY_AUTH, origin });
      for (const g of s.additional) {
        if (x.rdatas.some((r) => nameEquals(rdataName(r), g.owner))) this.cache.putGlue(x.owner, { set: g, rank: Rank.ADDITIONAL, origin });
      }
    }
    const proofs = proofsIn(s.authority);
    if (chain.yxdomain) return { links, next: null, outcome: { rcode: Rcode.YXDOMAIN, answer: [], soa: null, proofs: [] } };
    if (chain.final.length > 0) {
      const answer = chain.final.map((set): Piece => {
        const p: Piece = { set, rank, origin, cached: false, ttl: this.ttl(set), proofs: proofs.length ? proofs : undefined };
        if (keep) this.cache.put({ set, rank, origin, proofs: p.proofs });
        return p;
      });
      return { links, next: null, outcome: { rcode: Rcode.NOERROR, answer, soa: null, proofs: [] } };
    }
    const kind = rcode === Rcode.NXDOMAIN ? 'nxdomain' : 'nodata';
    const negOrigin = soa ? { zone: soa.owner, server: origin.server } : origin;
    const neg: CachedNegative = { kind, owner: last, type: kind === 'nxdomain' ? 0 : qtype, soa, proofs, rank, origin: negOrigin };
    // RFC 2308 §5: the negative TTL is the smaller of the SOA's TTL and its MINIMUM field; no SOA, no caching.
    const ttl = soa ? Math.min(soa.ttl, soaMinimum(soa)) : 0;
    if (soa && (keep || kind === 'nxdomain')) this.cache.putNegative(neg, ttl);
    return { links, next: null, outcome: this.negativeOutcome(neg, Math.min(ttl, this.cache.opts.maxNegativeTtl), false) };
  }

  private ttl(set: RRset): number {
    return Math.min(set.ttl, this.cache.opts.maxTtl);
  }

  // ---- servers ------------------------------------------------------------------------------

  private family(address: string): boolean {
    return address.includes(':') ? this.ipv6 : this.ipv4;
  }

  /** Addresses known for NS name `n` of `dp`: its glue, else authoritative A/AAAA from the cache. */
  private addressesOf(dp: Delegation, n: Uint8Array): string[] {
    const out = [...(dp.glue.get(nameKey(n)) ?? [])];
    for (const t of [RRType.A, RRType.AAAA]) {
      const hit = this.cache.get(n, t);
      if (!hit) continue;
      for (const r of hit.entry.set.rdatas) {
        const a = addressOf(t, r);
        if (a && !out.includes(a)) out.push(a);
      }
    }
    return out.filter((a) => this.family(a));
  }

  /**
   * The next server to ask for `dp`: the best usable address not yet tried for this question;
   * when none is known, the addresses of one more NS name are looked up (one at a time, at most
   * `maxNsAddressLookups` per request, never for a name inside the zone it would serve).
   */
  private async pickServer(dp: Delegation, tried: Set<string>, req: Request, depth: number): Promise<string | null> {
    for (;;) {
      const candidates = new Set<string>();
      for (const n of dp.nsNames) for (const a of this.addressesOf(dp, n)) if (!tried.has(a)) candidates.add(a);
      const pick = this.servers.choose(dp.zone, [...candidates]);
      if (pick) {
        if (pick.steered) this.m.steered.inc({ action: pick.steered });
        return pick.address;
      }
      const todo = dp.nsNames.filter(
        (n) => !dp.looked.has(nameKey(n)) && this.addressesOf(dp, n).length === 0 && !isSubdomain(n, dp.zone),
      );
      if (todo.length === 0) return null;
      const n = todo[0]!;
      dp.looked.add(nameKey(n));
      if (req.nsLookups >= this.limits.maxNsAddressLookups) {
        throw new LimitError('ns_lookups', `more than ${this.limits.maxNsAddressLookups} NS address look-ups for one question`);
      }
      if (depth + 1 > this.limits.maxDependencyDepth) {
        throw new LimitError('dependency_depth', `NS addresses nested deeper than ${this.limits.maxDependencyDepth} (at ${nameToText(n)})`);
      }
      req.nsLookups++;
      const found = await this.lookupAddresses(n, req, depth + 1);
      if (found.length > 0) dp.glue.set(nameKey(n), found);
    }
  }

  /** A (and, when that gives none or IPv4 is off, AAAA) for an NS name. Limits propagate; other failures give []. */
  private async lookupAddresses(n: Uint8Array, req: Request, depth: number): Promise<string[]> {
    const out: string[] = [];
    const types = this.ipv4 ? [RRType.A, RRType.AAAA] : [RRType.AAAA];
    for (const t of types) {
      if (t === RRType.AAAA && (!this.ipv6 || out.length > 0)) break;
      try {
        const o = await this.chase(n, t, req, depth);
        for (const p of o.answer) for (const r of p.set.rdatas) {
          const a = addressOf(t, r);
          if (a) out.push(a);
        }
      } catch (e) {
        if (e instanceof LimitError) throw e;
        if (e instanceof ResolutionError && e.reason === 'deadline') throw e;
      }
    }
    return out;
  }

  /**
   * One query to one server: the per-request, global, per-zone and per-server limits; UDP with
   * EDNS (DO=1) unless the server is known not to do EDNS; TCP when the answer is truncated;
   * without EDNS again when the server FORMERRs or NOTIMPs it. `counted` queries go against
   * the request's budget.
   */
  private async send(addr: string, zone: Uint8Array, q: Question, req: Request, counted: boolean): Promise<Sent> {
    if (counted && ++req.queries > this.limits.maxQueriesPerRequest) {
      throw new LimitError('queries', `more than ${this.limits.maxQueriesPerRequest} queries for one question`);
    }
    const left = req.deadline - this.now();
    if (left <= 0) throw new ResolutionError('deadline', `deadline passed before asking ${addr}`);
    const edns = this.servers.edns(addr);
    let sent = await this.exchange(addr, zone, q, edns, left);
    if (sent.ok && edns && !sent.msg.edns) {
      const r = sent.msg.rcode;
      if (r === Rcode.FORMERR || r === Rcode.NOTIMP) {
        this.m.edns.inc({ reason: 'formerr' });
        this.servers.noEdns(addr);
        if (counted && ++req.queries > this.limits.maxQueriesPerRequest) {
          throw new LimitError('queries', `more than ${this.limits.maxQueriesPerRequest} queries for one question`);
        }
        sent = await this.exchange(addr, zone, q, false, Math.max(1, req.deadline - this.now()));
      } else {
        this.m.edns.inc({ reason: 'ignored' });
        this.servers.noEdns(addr);
      }
    }
    return sent;
  }

  /** Holds a slot under the global, zone and server caps for one query, or throws the limit that is full. */
  private reserve(zone: Uint8Array, addr: string): () => void {
    const zk = nameKey(zone);
    const z = this.perZone.get(zk) ?? 0;
    const s = this.perServer.get(addr) ?? 0;
    if (this.outstanding >= this.limits.maxOutstanding) {
      throw new LimitError('outstanding', `${this.outstanding} queries in flight (maxOutstanding)`);
    }
    if (z >= this.limits.maxOutstandingPerZone) {
      throw new LimitError('zone_outstanding', `${z} queries in flight to ${nameToText(zone)} (maxOutstandingPerZone)`);
    }
    if (s >= this.limits.maxOutstandingPerServer) {
      throw new LimitError('server_outstanding', `${s} queries in flight to ${addr} (maxOutstandingPerServer)`);
    }
    this.outstanding++;
    this.perZone.set(zk, z + 1);
    this.perServer.set(addr, s + 1);
    this.m.outstanding.set({}, this.outstanding);
    return () => {
      this.outstanding--;
      const zn = (this.perZone.get(zk) ?? 1) - 1;
      if (zn <= 0) this.perZone.delete(zk);
      else this.perZone.set(zk, zn);
      const sn = (this.perServer.get(addr) ?? 1) - 1;
      if (sn <= 0) this.perServer.delete(addr);
      else this.perServer.set(addr, sn);
      this.m.outstanding.set({}, this.outstanding);
    };
  }

  /** The same question to the same server while one is in flight shares its answer. */
  private exchange(addr: string, zone: Uint8Array, q: Question, edns: boolean, left: number): Promise<Sent> {
    const key = `${addr}|${nameKey(q.name)}|${q.type}|${edns ? 1 : 0}`;
    const running = this.inflight.get(key);
    if (running) return running;
    const release = this.reserve(zone, addr);
    const job = this.query(addr, q, edns, left).finally(() => {
      release();
      this.inflight.delete(key);
    });
    this.inflight.set(key, job);
    return job;
  }

  private async query(addr: string, q: Question, edns: boolean, left: number): Promise<Sent> {
    const timeout = Math.max(1, Math.min(this.servers.timeout(addr), left));
    const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
    const msg = buildQuery(q, edns ? { id, rd: false, udpSize: this.udpSize, do: true } : { id, rd: false });
    const accept = (reply: Uint8Array): boolean => matches(reply, id, q);
    const started = this.now();
    let reply: Uint8Array;
    try {
      reply = await withTimeout(this.transport.udp(addr, this.port, msg, timeout, accept), timeout);
      const rtt = this.now() - started;
      this.servers.answered(addr, rtt);
      this.m.rtt.observe({}, rtt / 1000);
      if (reply.length >= 4 && reply[2]! & 0x02) {
        this.m.tcp.inc();
        const tcpTimeout = Math.max(1, Math.min(Math.max(2 * timeout, 1000), left - rtt));
        reply = await withTimeout(this.transport.tcp(addr, this.port, msg, tcpTimeout), tcpTimeout);
        if (!accept(reply)) throw new Error('TCP reply does not match the query');
      }
    } catch (e) {
      const local = LOCAL_ERRORS.has((e as { code?: string }).code ?? '');
      const reason = e instanceof UpstreamTimeout ? 'timeout' : 'error';
      this.m.queries.inc({ result: reason });
      // Out of sockets here says nothing about the server.
      if (!local && this.servers.timedOut(addr, started)) {
        this.m.aside.inc({ reason: 'dead' });
        this.logger.log('info', 'nameserver set aside as dead', { server: addr, timeoutMs: this.servers.timeout(addr) });
      }
      return { ok: false, reason };
    }
    try {
      const parsed = parseResponse(reply);
      this.m.queries.inc({ result: 'ok' });
      return { ok: true, raw: reply, msg: parsed };
    } catch {
      this.m.queries.inc({ result: 'malformed' });
      return { ok: false, reason: 'malformed' };
    }
  }

  // ---- the response -------------------------------------------------------------------------

  private respond(q: Question, out: Outcome, dnssec: boolean, req: Request): Resolution {
    const provenance: Provenance[] = [];
    const answer: OutRecord[] = [];
    const authority: OutRecord[] = [];
    const add = (into: OutRecord[], section: Provenance['section'], p: Piece) => {
      // NSEC/NSEC3 and signatures are for DNSSEC-aware clients (RFC 4035 §3.2.1), or for whoever asked for that type.
      if (!dnssec && p.set.type !== q.type && DNSSEC_TYPES.has(p.set.type)) return;
      into.push(...recordsOf(p.set, p.ttl, dnssec));
      provenance.push({ section, owner: p.set.owner, type: p.set.type, zone: p.origin.zone, server: p.origin.server, rank: p.rank, cached: p.cached });
    };
    for (const p of out.chain) add(answer, 'answer', p);
    for (const p of out.answer) add(answer, 'answer', p);
    if (out.soa) add(authority, 'authority', out.soa);
    for (const p of out.proofs) add(authority, 'authority', p);
    if (dnssec) {
      for (const p of out.answer) for (const proof of p.proofs ?? []) {
        add(authority, 'authority', { ...p, set: proof, ttl: Math.min(p.ttl, proof.ttl) });
      }
    }
    const body = buildResponse(q, FLAG_RD | FLAG_RA, out.rcode, [answer, authority, []]);
    return { body, rcode: out.rcode, provenance, rootSource: req.rootSource, queries: req.queries, failure: null };
  }

  private fail(q: Question, req: Request, rcode: number, failure: Resolution['failure']): Resolution {
    return { body: buildResponse(q, FLAG_RD | FLAG_RA, rcode, [[], [], []]), rcode, provenance: [], rootSource: req.rootSource, queries: req.queries, failure };
  }
}

const DNSSEC_TYPES = new Set<number>([RRType.RRSIG, RRType.NSEC, RRType.NSEC3]);

/** Errors of this host, not of the server asked. */
const LOCAL_ERRORS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL', 'EADDRINUSE']);

function rcodeName(rcode: number): string {
  const names: Record<number, string> = { 0: 'noerror', 1: 'formerr', 2: 'servfail', 3: 'nxdomain', 4: 'notimp', 5: 'refused', 6: 'yxdomain' };
  return names[rcode] ?? `rcode${rcode}`;
}

function soaMinimum(soa: RRset): number {
  const r = soa.rdatas[0]!;
  return r.length >= 4 ? u32(r, r.length - 4) : 0;
}

function shuffle<T>(a: T[], random: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function hintGlue(name: Uint8Array, addresses: string[]): RRset[] {
  const mk = (type: number, rdatas: Uint8Array[]): RRset => ({ owner: name, type, class: RRClass.IN, ttl: 3_600_000, rdatas, sigs: [], sigTtl: 0 });
  const v4 = addresses.map(parseIPv4).filter((b): b is number[] => b !== null).map((b) => Uint8Array.from(b));
  const v6 = addresses.filter((a) => a.includes(':')).map(parseIPv6).filter((b): b is number[] => b !== null).map((b) => Uint8Array.from(b));
  return [...(v4.length ? [mk(RRType.A, v4)] : []), ...(v6.length ? [mk(RRType.AAAA, v6)] : [])];
}

function synthCname(owner: Uint8Array, target: Uint8Array, dname: RRset): RRset {
  return { owner, type: RRType.CNAME, class: dname.class, ttl: dname.ttl, rdatas: [target], sigs: [], sigTtl: 0 };
}

function keyToText(key: string): string {
  const b = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) b[i] = key.charCodeAt(i);
  return nameToText(b);
}

/**
 * The zone an authoritative answer's data is from, as far as the message says: the deepest
 * RRSIG signer or SOA owner at or below `asked` (the zone the server was asked as); `asked`
 * when it says nothing deeper.
 */
function answerZone(msg: ParsedResponse, asked: Uint8Array): Uint8Array {
  let best = asked;
  const consider = (zone: Uint8Array) => {
    if (countLabels(zone) > countLabels(best) && isSubdomain(zone, asked)) best = zone;
  };
  for (const section of msg.sections.slice(0, 2)) {
    for (const set of section) {
      if (set.type === RRType.SOA) consider(set.owner);
      for (const sig of set.sigs) {
        const signer = signerName(sig);
        if (signer) consider(signer);
      }
    }
  }
  return best;
}

/** The signer name of RRSIG RDATA (uncompressed, RFC 4034 §3.1.7), or null when malformed. */
function signerName(rdata: Uint8Array): Uint8Array | null {
  let p = 18;
  while (p < rdata.length) {
    const l = rdata[p]!;
    if (l === 0) return rdata.subarray(18, p + 1);
    if (l > 63) return null;
    p += l + 1;
  }
  return null;
}
