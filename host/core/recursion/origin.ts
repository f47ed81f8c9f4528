/**
 * Recursive mode as the pipeline sees it: an AnswerOrigin (pipeline/resolve-step.ts) for the
 * iterate route, and one that sends each route to its origin, the upstream groups for the rest.
 * The resolve step stays what it is (coalescing, serve-stale, cache store); only where a
 * route's answer comes from changes.
 */

import type { FlushScope } from '../cache.js';
import { ITERATE_ROUTE } from '../config.js';
import type { RequestContext } from '../context.js';
import { Rcode } from '../dns/rr-types.js';
import type { Question } from '../dns/wire.js';
import type { AnswerOrigin } from '../pipeline/resolve-step.js';
import type { KeyFetcher } from '../dnssec/chain.js';
import { EDE_NETWORK_ERROR, EDE_NO_REACHABLE_AUTHORITY, UpstreamError, type Ede, type Judge } from '../upstream.js';
import type { IterativeResolver, JudgedResponse, RootStart } from './iterator.js';

/**
 * The iterator as the origin of the iterate route. A SERVFAIL from iteration is thrown (as an
 * upstream group throws when all its servers fail), so serve-stale and failure caching apply
 * in recursive mode exactly as they do when forwarding.
 */
export class IteratorOrigin implements AnswerOrigin {
  constructor(
    readonly iterator: IterativeResolver,
    /** This request's start for the root zone: the local root copy, or null (none in service, or switched off for it). */
    private readonly rootStart: (ctx: RequestContext | undefined) => RootStart | null,
  ) {}

  has(route: string): boolean {
    return route === ITERATE_ROUTE;
  }

  /**
   * The iterated answer. With a `judge` (DNSSEC validation, the resolve step's), each
   * nameserver's answer is judged as it arrives: a bogus one sets that server aside for its zone
   * and the iterator asks the zone's other servers (the 9 July 2023 lesson, per nameserver).
   * The answer put together from them is judged once more, whole, under the server that gave
   * its first RRset: the resolve step takes its verdict (AD, or SERVFAIL with the EDE) by these
   * bytes, as the AnswerOrigin contract asks (pipeline/resolve-step.ts).
   */
  async query(_route: string, q: Question, flags: { do: boolean; cd: boolean }, deadline: number, ctx?: RequestContext, judge?: Judge): Promise<{ body: Uint8Array; server?: string }> {
    const perServer = judge ? (j: JudgedResponse) => judge(j.message, j.server) : undefined;
    const r = await this.iterator.resolve(q, { deadline, do: flags.do, rootStart: this.rootStart(ctx), ...(perServer ? { judge: perServer } : {}) });
    if (r.rcode === Rcode.SERVFAIL) {
      const reason = r.failure?.reason ?? 'servfail';
      const text = `iteration failed: ${reason}${r.failure?.detail ? `: ${r.failure.detail}` : ''}`;
      throw new UpstreamError(text, edeFor(reason, text));
    }
    const server = r.provenance[0]?.server ?? ITERATE_ROUTE;
    if (judge) await judge(r.body, server);
    return { body: r.body, server };
  }

  flush(scope: FlushScope | null): number {
    return this.iterator.flush(scope);
  }

  /** DS and DNSKEY queries, resolved by the iterator itself (one path: `attempt` 0 only). */
  keyFetcher(): KeyFetcher {
    return {
      fetch: async (name, type, deadline, attempt) => {
        if (attempt > 0) return null;
        const r = await this.iterator.resolve({ name, type, class: 1 }, { deadline, do: true, rootStart: this.rootStart(undefined) });
        return r.rcode === Rcode.SERVFAIL ? null : { response: r.body, server: ITERATE_ROUTE };
      },
    };
  }
}

/** What a client's SERVFAIL says about a failed iteration (RFC 8914). */
function edeFor(reason: string, text: string): Ede[] {
  if (reason === 'no_reachable_authority' || reason === 'deadline') return [{ code: EDE_NO_REACHABLE_AUTHORITY, text }];
  if (reason === 'bad_response') return [{ code: EDE_NETWORK_ERROR, text }];
  if (reason === 'bogus') return [{ code: 6, text }]; // DNSSEC Bogus
  return [{ code: 0, text }]; // limits, CNAME loops: Other, with the reason
}

/** The iterate route to the iterator, every other route to `others` (the upstream groups). */
export class RoutedOrigin implements AnswerOrigin {
  constructor(
    private readonly iterate: AnswerOrigin,
    private readonly others: AnswerOrigin,
  ) {}

  has(route: string): boolean {
    return route === ITERATE_ROUTE || this.others.has(route);
  }

  query(route: string, q: Question, flags: { do: boolean; cd: boolean }, deadline: number, ctx?: RequestContext, judge?: Judge): Promise<{ body: Uint8Array; server?: string; ede?: Array<{ code: number; text: string }> }> {
    return (route === ITERATE_ROUTE ? this.iterate : this.others).query(route, q, flags, deadline, ctx, judge);
  }

  keyFetcher(route: string): KeyFetcher {
    return (route === ITERATE_ROUTE ? this.iterate : this.others).keyFetcher(route);
  }

  flush(scope: FlushScope | null): number {
    return (this.iterate.flush?.(scope) ?? 0) + (this.others.flush?.(scope) ?? 0);
  }
}
