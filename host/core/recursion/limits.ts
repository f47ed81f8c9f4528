/**
 * Limits against abuse (a client must not be able to make the resolver flood an authoritative
 * server, NXNSAttack and its kin). Each has a metric (`edge_recursion_limit_total{limit}`) and a
 * default taken from a peer's published one:
 *
 * | limit | default | from |
 * |---|---|---|
 * | `maxQueriesPerRequest` | 60 | PowerDNS Recursor `max-qperq` (outgoing queries per client query, sub-queries included). BIND's `max-recursion-queries` is 50 per fetch, Unbound's `max-sent-count` 32 per delegation step. |
 * | `maxNsNamesPerDelegation` | 13 | PowerDNS Recursor `max-ns-per-resolve` (NS names of one delegation considered at all). BIND looks up at most 20 (`NS_PROCESSING_LIMIT`), Unbound 16 (`MAX_DP_TARGET_COUNT`). |
 * | `maxNsAddressLookups` | 10 | PowerDNS Recursor `max-ns-address-qperq` (NS address look-ups per client query, the NXNSAttack fix). Knot Resolver stops after 5 NS names without address. |
 * | `maxReferrals` | 130 | Unbound `MAX_REFERRAL_COUNT` (referrals followed for one name; a referral must also lead strictly down, so a name's label count bounds it too). |
 * | `maxCnameChain` | 11 | Unbound and BIND `max-query-restarts` (CNAME/DNAME links followed). Knot Resolver allows 13, PowerDNS 10. |
 * | `maxDependencyDepth` | 7 | BIND `max-recursion-depth` (an NS name's address needing another zone's NS name's address, ...). |
 * | `maxOutstanding` | 1000 | BIND `recursive-clients` (recursion in progress at once, node-wide): here, queries in flight to authoritative servers. |
 * | `maxOutstandingPerZone` | 200 | ISC's example for `fetches-per-zone`/`fetches-per-server` (`200 fail`); BIND, Unbound and PowerDNS ship with this off. |
 * | `maxOutstandingPerServer` | 200 | the same, per server address. |
 *
 * A limit that trips ends the client's query with SERVFAIL (`failure.reason` names it).
 */

export interface RecursionLimits {
  maxQueriesPerRequest: number;
  maxNsNamesPerDelegation: number;
  maxNsAddressLookups: number;
  maxReferrals: number;
  maxCnameChain: number;
  maxDependencyDepth: number;
  maxOutstanding: number;
  maxOutstandingPerZone: number;
  maxOutstandingPerServer: number;
}

export const defaultRecursionLimits: RecursionLimits = {
  maxQueriesPerRequest: 60,
  maxNsNamesPerDelegation: 13,
  maxNsAddressLookups: 10,
  maxReferrals: 130,
  maxCnameChain: 11,
  maxDependencyDepth: 7,
  maxOutstanding: 1000,
  maxOutstandingPerZone: 200,
  maxOutstandingPerServer: 200,
};

/** The label a tripped limit carries in `edge_recursion_limit_total` and in a failure. */
export type LimitName =
  | 'queries'
  | 'ns_lookups'
  | 'referrals'
  | 'cname_chain'
  | 'dependency_depth'
  | 'outstanding'
  | 'zone_outstanding'
  | 'server_outstanding';

/** Why a resolution ended in SERVFAIL. */
export type FailureReason =
  | `limit:${LimitName}`
  /** Every server of a zone timed out, was dead, lame or set aside; or none had an address. */
  | 'no_reachable_authority'
  /** The judge found every server's answer bogus. */
  | 'bogus'
  /** The client's deadline passed. */
  | 'deadline'
  /** A CNAME/DNAME chain came back to a name already in it. */
  | 'cname_loop'
  /** Servers answered, but nothing usable (malformed, out of bailiwick, contradictory). */
  | 'bad_response';

/** Ends a resolution; caught at the top and turned into a SERVFAIL with `reason`. */
export class ResolutionError extends Error {
  override readonly name = 'ResolutionError';
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
  }
}

export class LimitError extends ResolutionError {
  constructor(
    readonly limit: LimitName,
    message: string,
  ) {
    super(`limit:${limit}`, message);
  }
}
