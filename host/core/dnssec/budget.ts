/**
 * A fixed budget of crypto for one validation (KeyTrap, CVE-2023-50387; NSEC3 hashing,
 * CVE-2023-50868). A response with many keys that share a tag, many signatures, or many
 * NSEC3 records to hash costs at most these numbers of operations; past any of them the
 * answer is bogus (SERVFAIL), says which limit in its EDE text, and is counted.
 *
 * The limits and where they come from (docs/dnssec.md compares them with the peers):
 * - 8 signature checks per RRset (keys x signatures): Unbound 1.19.1's MAX_VALIDATE_RRSIGS.
 * - 4 keys tried for one key tag, for an RRSIG or a DS: Unbound's MAX_DS_MATCH_FAILURES.
 * - 16 signature checks per upstream response: BIND 9.20's max-validations-per-fetch.
 * - 64 signature checks per validation, the whole chain of trust included: a chain of six
 *   zone cuts (DS and DNSKEY at each) and a signed answer with its proofs needs about 20.
 * - 32 NSEC3 name hashes per response, 64 per validation, each of at most `nsec3Iterations + 1`
 *   SHA-1 computations. A closest-encloser proof hashes from the query name up to the closest
 *   encloser, plus the wildcard: one per label below it, so only a name more than 30 labels
 *   below its closest encloser (what a random-subdomain attack sends, CVE-2023-50868) runs out.
 * - NSEC3 iterations above 50 make a proof insecure (RFC 9276 §3.2): Knot Resolver 5.7.1's and
 *   BIND 9.20's limit; Unbound and BIND 9.18 use 150, RFC 9276 asks signers for 0.
 * - 8 NSEC/NSEC3 RRsets considered per response: Knot Resolver 5.7.1 refuses more than 8
 *   NSEC3; no honest proof needs more than 4.
 * - 24 key fetches (DS or DNSKEY) per validation, and 12 CNAME/DNAME steps per answer.
 */

export interface ValidationLimits {
  signaturesPerRRset: number;
  keyTagCollisions: number;
  signaturesPerResponse: number;
  signaturesPerValidation: number;
  nsec3HashesPerResponse: number;
  nsec3HashesPerValidation: number;
  nsec3Iterations: number;
  denialRecordsPerResponse: number;
  keyFetchesPerValidation: number;
  chainLength: number;
}

export const DEFAULT_LIMITS: Readonly<ValidationLimits> = Object.freeze({
  signaturesPerRRset: 8,
  keyTagCollisions: 4,
  signaturesPerResponse: 16,
  signaturesPerValidation: 64,
  nsec3HashesPerResponse: 32,
  nsec3HashesPerValidation: 64,
  nsec3Iterations: 50,
  denialRecordsPerResponse: 8,
  keyFetchesPerValidation: 24,
  chainLength: 12,
});

/** Which limit a validation ran into (the metric label). */
export type BudgetLimit = 'signatures' | 'nsec3-hashes' | 'denial-records' | 'key-fetches' | 'chain-length';

export class BudgetExceeded extends Error {
  override readonly name = 'BudgetExceeded';
  constructor(
    readonly limit: BudgetLimit,
    message: string,
  ) {
    super(message);
  }
}

/** Work counted against one upstream response (the answer, or one DS/DNSKEY response). */
export interface ResponseWork {
  signatures: number;
  hashes: number;
}

/** The work one validation has done, against its limits. Throws BudgetExceeded when one is passed. */
export class WorkBudget {
  signatures = 0;
  hashes = 0;
  fetches = 0;

  constructor(readonly limits: ValidationLimits) {}

  /** A fresh count for one response. */
  response(): ResponseWork {
    return { signatures: 0, hashes: 0 };
  }

  /** One signature verification, the `tries`-th for its RRset, counted against response `work`. */
  signature(tries: number, work: ResponseWork): void {
    const l = this.limits;
    if (tries > l.signaturesPerRRset) throw new BudgetExceeded('signatures', `more than ${l.signaturesPerRRset} signature checks for one RRset`);
    if (work.signatures + 1 > l.signaturesPerResponse) {
      throw new BudgetExceeded('signatures', `more than ${l.signaturesPerResponse} signature checks for one response`);
    }
    if (this.signatures + 1 > l.signaturesPerValidation) {
      throw new BudgetExceeded('signatures', `more than ${l.signaturesPerValidation} signature checks for one answer`);
    }
    work.signatures++;
    this.signatures++;
  }

  /** One NSEC3 name hash. */
  hash(work: ResponseWork): void {
    const l = this.limits;
    if (work.hashes + 1 > l.nsec3HashesPerResponse) throw new BudgetExceeded('nsec3-hashes', `more than ${l.nsec3HashesPerResponse} NSEC3 hashes for one response`);
    if (this.hashes + 1 > l.nsec3HashesPerValidation) throw new BudgetExceeded('nsec3-hashes', `more than ${l.nsec3HashesPerValidation} NSEC3 hashes for one answer`);
    work.hashes++;
    this.hashes++;
  }

  /** One DS or DNSKEY fetch. */
  fetch(): void {
    if (this.fetches + 1 > this.limits.keyFetchesPerValidation) {
      throw new BudgetExceeded('key-fetches', `more than ${this.limits.keyFetchesPerValidation} DS/DNSKEY fetches for one answer`);
    }
    this.fetches++;
  }
}
