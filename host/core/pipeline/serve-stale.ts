/**
 * Serve-stale (RFC 8767) around one refresh of an expired entry: the stale answer goes out when
 * the refresh fails, or when it is slower than the client response timer (the refresh goes on
 * and fills the cache), and, for a while after a refresh failed, without asking again at all.
 */

import type { AnswerCache, CacheHit } from '../cache.js';
import { Rcode } from '../dns/rr-types.js';
import type { PipelineMetrics } from './metrics.js';
import type { Body } from './types.js';

export interface StaleTimers {
  /** RFC 8767 client response timer, ms. */
  clientResponseTimerMs: number;
  /** RFC 8767 failure recheck, ms. */
  failureRecheckMs: number;
}

/** The expired entry under `key` that may still be served, or null. */
export function staleEntry(cache: AnswerCache, key: string): CacheHit | null {
  const hit = cache.get(key, true);
  return hit && hit.stale ? hit : null;
}

/** Answers from `refresh` or, per RFC 8767, from `stale`; never throws. */
export async function serveStale(
  key: string,
  stale: CacheHit,
  refresh: () => Promise<{ body: Uint8Array }>,
  cache: AnswerCache,
  t: StaleTimers,
  m: PipelineMetrics,
): Promise<Body> {
  if (cache.inStaleRefresh(key)) {
    m.stale.inc({ reason: 'recheck' });
    return served(stale);
  }
  const fetch = refresh();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timed = new Promise<'timer'>((resolve) => {
    timer = setTimeout(() => resolve('timer'), t.clientResponseTimerMs);
  });
  const first = await Promise.race([fetch.then((b) => ({ b }), (e: unknown) => ({ e })), timed]);
  clearTimeout(timer);
  if (first === 'timer') {
    m.stale.inc({ reason: 'timer' });
    // The refresh goes on in the background; if it fails, stale answers are served without
    // asking again until the recheck window ends.
    fetch.then(
      (b) => {
        if ((b.body[3]! & 0xf) === Rcode.SERVFAIL) cache.markRefreshFailed(key, t.failureRecheckMs);
      },
      () => cache.markRefreshFailed(key, t.failureRecheckMs),
    );
    return served(stale);
  }
  // A bogus answer is a failure like any SERVFAIL: the stale answer validated when it came.
  if ('b' in first && (first.b.body[3]! & 0xf) !== Rcode.SERVFAIL) return { body: first.b.body, source: 'upstream' };
  cache.markRefreshFailed(key, t.failureRecheckMs);
  m.stale.inc({ reason: 'upstream-failure' });
  return served(stale);
}

function served(stale: CacheHit): Body {
  return { body: stale.body, source: 'stale', minTtl: stale.minTtl };
}
