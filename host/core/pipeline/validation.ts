/**
 * DNSSEC validation in the resolve step: the judge an AnswerOrigin calls on each server's
 * answer, the bogus answers remembered (RFC 4035 §4.7), and what a verdict does to the answer
 * that is cached and sent: AD from our verdict only (the upstream's is never trusted), and for
 * clients without DO the DNSSEC records taken out (RFC 4035 §3.2.1).
 *
 * Who is validated: every route, unless validation is off (`[dnssec] validate = false`) or the
 * route is a non-validating group (`[upstreams.NAME] validate = false`, an internal zone), and
 * never a query with CD=1 (RFC 6840 §5.9: the client validates; it gets the data as it came,
 * without AD, and that answer is cached under its own key, never as secure).
 */

import { lowerName } from '../dns/name.js';
import type { Question } from '../dns/wire.js';
import { BogusCache } from '../dnssec/bogus-cache.js';
import type { KeyFetcher } from '../dnssec/chain.js';
import type { Ede } from '../dnssec/ede.js';
import type { ValidationResult, Validator } from '../dnssec/validator.js';
import type { Counter, MetricsSink } from '../metrics.js';
import type { SetAside } from '../set-aside.js';
import type { Judge } from '../upstream.js';

export interface ValidationOptions {
  validator: Validator;
  /** Bogus answers, remembered for `[dnssec] bogus_ttl` seconds. */
  bogus: BogusCache;
  /** Routes (upstream groups) whose answers are passed on unvalidated. */
  unvalidated?: ReadonlySet<string>;
  metrics: MetricsSink;
  now?: () => number;
  /** Where bogus and good answers are counted per server and zone, to set bad servers aside. */
  setAside?: SetAside | null;
}

/** What the judge made of the answer the origin returned. */
export interface Judged {
  result: ValidationResult;
  server: string;
}

export class AnswerValidation {
  readonly validator: Validator;
  readonly bogus: BogusCache;
  private readonly unvalidated: ReadonlySet<string>;
  private readonly bogusTotal: Counter;
  private readonly now: () => number;
  private readonly setAside: SetAside | null;

  constructor(o: ValidationOptions) {
    this.setAside = o.setAside ?? null;
    this.validator = o.validator;
    this.bogus = o.bogus;
    this.unvalidated = o.unvalidated ?? new Set();
    this.now = o.now ?? Date.now;
    this.bogusTotal = o.metrics.counter('edge_dnssec_bogus_total', 'Upstream answers that failed DNSSEC validation, by server and reason', ['server', 'reason']);
  }

  /** Whether answers from `route` are validated (a query with CD=1 never is). */
  validates(route: string): boolean {
    return !this.unvalidated.has(route);
  }

  /**
   * The bogus result remembered for this question, while it lives and no negative trust anchor
   * set since covers the name (an NTA is how an operator says: serve it anyway, now).
   */
  remembered(q: Question): ValidationResult | undefined {
    const now = this.now();
    const r = this.bogus.get(q.name, q.type, q.class, now);
    if (r && this.validator.negativeAnchors.covering(lowerName(q.name.slice()), now)) return undefined;
    return r;
  }

  remember(q: Question, result: ValidationResult): void {
    this.bogus.put(q.name, q.type, q.class, result, this.now());
  }

  /**
   * A judge for one query, validating each server's answer with keys from `keys`; every
   * verdict is kept in `seen` by the answer's bytes, so the caller knows what the answer it
   * got back was judged.
   */
  judge(keys: KeyFetcher, deadline: number, seen: Map<Uint8Array, Judged>): Judge {
    return async (body, server) => {
      const result = await this.validator.validate(body, { deadline, server, fetcher: keys });
      seen.set(body, { result, server });
      if (result.state !== 'bogus') {
        if (result.state !== 'indeterminate') this.setAside?.good(server, result.zone);
        return 'accept';
      }
      this.bogusTotal.inc({ server, reason: result.reason });
      this.setAside?.bogus(server, result.zone, result.reason);
      return 'bogus';
    };
  }
}

/** The EDE a remembered or fresh bogus result puts on its SERVFAIL. */
export function bogusEde(r: ValidationResult): Ede {
  return r.ede ?? { code: 6, text: r.text };
}
