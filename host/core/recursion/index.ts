/**
 * Recursive resolution: the iterator (RFC 1034 §5.3.3) that walks from the root to the
 * authoritative servers itself, runtime-neutral (it speaks through an UpstreamTransport).
 *
 * ## Calling it
 *
 * ```ts
 * const iterator = new IterativeResolver({
 *   transport,                       // UpstreamTransport: nodeTransport on Node (udp + tcp to port 53)
 *   metrics,                         // MetricsSink; metrics are named edge_recursion_*
 *   logger,                          // optional
 *   hints: await parseRootHints(text, file), // optional; IANA's root hints are built in
 *   rootStart,                       // optional RootStart: the verified local root copy (below)
 *   qnameMinimisation: true,         // RFC 9156, relaxed; on by default
 *   judge,                           // optional: the validator's verdict on authoritative answers
 *   limits: {}, selection: {}, cache: {}, // overrides of defaultRecursionLimits, defaultSelectionOptions, defaultRRsetCacheOptions
 * });
 * const r = await iterator.resolve(question, { deadline: ctx.deadline, do: dnssecOk, rootStart });
 * // r.body: the response (ID 0, QR RD RA, question as asked, no OPT: the resolver adds
 * //         its own ID, flags and EDNS exactly as it does for an upstream's body)
 * // r.rcode, r.failure ({ reason, detail } when SERVFAIL: 'limit:<name>', 'no_reachable_authority',
 * //         'bogus', 'deadline', 'cname_loop', 'bad_response'), r.queries (sent for this question),
 * // r.rootSource ('local' | 'root_servers' | null), r.provenance (per RRset: zone, server, rank).
 * ```
 *
 * `resolve` never throws. One iterator per node: its RRset cache and its server table are
 * shared by every question. It does not coalesce identical client questions (the resolver
 * does, before asking it); identical queries to the same server in flight at once are sent once.
 *
 * - **Root start.** A `RootStart` answers questions to the root zone from the verified local
 *   root copy: `query(q, deadline)` returns the response the root would give (referral to the
 *   TLD with glue and DS, or an authoritative answer or NXDOMAIN for root zone data), or null
 *   when no valid copy is in service. Then the iterator primes from the hints (RFC 8109: `. NS`
 *   to a hints address; the answer's NS and addresses, kept by TTL) and asks root servers.
 *   `edge_recursion_root_source_total{source="local"|"root_servers"}` counts which one
 *   answered, so "no query reaches a root server while a valid copy is in service" is checkable.
 *   A per-request `rootStart` (null to switch the copy off, e.g. the `rec_disable_static` tag)
 *   overrides the constructor's.
 * - **Validation seam.** `judge(r)` is called with each authoritative answer or denial that
 *   would be cached or returned (final answers, DS and DNSKEY answers, and the answers to
 *   minimised queries), before anything of it is cached: the question, the message as
 *   received, the zone and the server. `'bogus'` sets that server aside for that zone
 *   (`selection.bogusHoldMs`, 60 s) and asks another server of the zone, within the limits and
 *   the deadline; when every server is bogus the result is SERVFAIL with reason `bogus`.
 *   `fetch(name, type, deadline)` is the validator's KeyFetcher: DS or DNSKEY with DO=1, the
 *   response bytes (RRSIGs kept).
 * - **Steering.** `steer(zone, { avoid: [addr], prefer: [addr] })` (null clears) changes which
 *   nameserver addresses are used for a zone and the zones below it without a rule of their
 *   own, from the next query on: avoided addresses only when nothing else is usable, preferred
 *   ones while any is. `status()` reports the server table and the rules.
 * - **ANY** (RFC 8482): asked of the authority as ANY, every time; whatever it returns (all
 *   RRsets, one, or its synthesized HINFO) is passed on and never cached, since it is not a
 *   complete list. The RRset cache is not read for ANY.
 * - **DNSSEC records.** Authoritative servers are always asked with DO=1, so RRSIGs are cached
 *   beside their RRsets and NSEC/NSEC3 proofs beside negative and wildcard answers; they are in
 *   the response only when the caller asks with `do`.
 *
 * Trust (RFC 2181 §5.4.1): see scrub.ts (what of a response is believed) and rrset-cache.ts
 * (ranks: glue, additional data and referral NS/DS find servers but are never served as an
 * answer; data never replaces better-ranked data). Server selection: servers.ts. Limits and
 * where their values come from: limits.ts.
 */

export {
  IterativeResolver,
  LOCAL_ROOT,
  type IteratorOptions,
  type ResolveOptions,
  type Resolution,
  type Provenance,
  type RootStart,
  type Judge,
  type JudgedResponse,
  type Verdict,
} from './iterator.js';
export {
  defaultRecursionLimits,
  LimitError,
  ResolutionError,
  type RecursionLimits,
  type LimitName,
  type FailureReason,
} from './limits.js';
export { defaultSelectionOptions, ServerSelection, type SelectionOptions, type Steering, type HostStatus } from './servers.js';
export { defaultRRsetCacheOptions, RRsetCache, Rank, MIN_ANSWER_RANK, type RRsetCacheOptions, type Origin } from './rrset-cache.js';
export { IANA_ROOT_HINTS, parseRootHints, hintsFromAddresses, type RootHints, type RootServer } from './root-hints.js';
export { parseResponse, buildResponse, type RRset, type ParsedResponse } from './message.js';
