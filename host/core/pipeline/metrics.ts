/** The request pipeline's metrics, registered once per resolver, with the hot ones bound. */

import type { BoundCounter, BoundHistogram, Counter, Histogram, MetricsSink } from '../metrics.js';
import { rcodeToName } from '../dns/rr-types.js';
import type { AnswerSource } from './types.js';

/** Every answer source, in the order of the per-source tables below. */
const SOURCES: readonly AnswerSource[] = ['cache', 'stale', 'app', 'upstream', 'peer', 'local'];

function sourceIndex(source: AnswerSource): number {
  switch (source) {
    case 'cache':
      return 0;
    case 'stale':
      return 1;
    case 'app':
      return 2;
    case 'upstream':
      return 3;
    case 'peer':
      return 4;
    case 'local':
      return 5;
    default:
      return -1;
  }
}

/** Rcodes with a slot of their own in `response` (the header's four bits); others go by name. */
const HEADER_RCODES = 16;

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

export class PipelineMetrics {
  readonly queries: Counter;
  readonly responses: Counter;
  readonly duration: Histogram;
  readonly cacheLookups: Counter;
  readonly malformed: Counter;
  readonly stale: Counter;
  readonly coalesced: Counter;
  readonly received: Counter;
  readonly rejected: Counter;
  readonly local: Counter;
  readonly peerNotStored: Counter;
  readonly flushes: Counter;
  readonly flushed: Counter;
  readonly refused: Counter;
  readonly notReady: BoundCounter;
  readonly queriesBy: BoundSet<BoundCounter>;
  /** Keyed `rcode|source`: what has no slot in responseCells. */
  private readonly responsesBy: BoundSet<BoundCounter>;
  /**
   * `edge_responses_total` handles by rcode and source, `rcode * SOURCES.length + source`, bound
   * on first use as before (so the exposition is the same): a label string built and hashed per
   * answer was a measurable part of a cache hit.
   */
  private readonly responseCells: Array<BoundCounter | undefined> = new Array(HEADER_RCODES * SOURCES.length).fill(undefined);
  /** `edge_request_duration_seconds` handles by source index, bound on first use. */
  private readonly durationCells: Array<BoundHistogram | undefined> = new Array(SOURCES.length).fill(undefined);
  readonly cacheHit: BoundCounter;
  readonly cacheMiss: BoundCounter;

  constructor(metrics: MetricsSink) {
    this.queries = metrics.counter('edge_queries_total', 'Queries received, by transport', ['transport']);
    this.responses = metrics.counter('edge_responses_total', 'Responses sent, by rcode and source', ['rcode', 'source']);
    this.duration = metrics.histogram('edge_request_duration_seconds', 'Time to answer a query', ['source']);
    this.cacheLookups = metrics.counter('edge_cache_lookups_total', 'Cache lookups, by result', ['result']);
    this.malformed = metrics.counter('edge_malformed_queries_total', 'Queries that could not be parsed or were refused early', ['reason']);
    this.stale = metrics.counter('edge_stale_answers_total', 'Stale answers served (RFC 8767), by reason', ['reason']);
    this.coalesced = metrics.counter('edge_coalesced_queries_total', 'Cache misses that joined an upstream query already in flight');
    this.received = metrics.counter('edge_peer_received_total', 'Queries received from peers with a valid context, by ingress node', ['ingress']);
    this.rejected = metrics.counter('edge_context_rejected_total', 'Contexts stripped before any app saw them, by reason', ['reason']);
    this.local = metrics.counter('edge_peer_local_fallback_total', 'Queries resolved locally because their owner was down or did not answer', ['peer']);
    this.peerNotStored = metrics.counter('edge_peer_answers_not_cached_total', 'Cacheable peer answers not stored because the owner ran another rule set', ['reason']);
    this.flushes = metrics.counter('edge_cache_flushes_total', 'Cache flushes, by reason (rules, admin, config)', ['reason']);
    this.flushed = metrics.counter('edge_cache_flushed_entries_total', 'Entries removed by cache flushes, by reason', ['reason']);
    this.refused = metrics.counter('edge_peer_forward_refused_total', 'Peer forwards the host refused (no hops left, or the query is to be resolved here); resolved locally', ['reason']);
    this.notReady = metrics.counter('edge_peer_not_ready_total', 'Peer queries declined (REFUSED, EDE 14) while the local root copy was loading after a start; the asking node resolves them').bind({});
    this.queriesBy = new BoundSet((transport) => this.queries.bind({ transport }));
    this.responsesBy = new BoundSet((k) => {
      const [rcode, source] = k.split('|');
      return this.responses.bind({ rcode: rcode!, source: source! });
    });
    this.cacheHit = this.cacheLookups.bind({ result: 'hit' });
    this.cacheMiss = this.cacheLookups.bind({ result: 'miss' });
  }

  /** Counts one answer sent (edge_responses_total{rcode, source}). */
  response(rcode: number, source: AnswerSource): void {
    const s = sourceIndex(source);
    if (s >= 0 && rcode >= 0 && rcode < HEADER_RCODES) {
      const i = rcode * SOURCES.length + s;
      let c = this.responseCells[i];
      if (!c) {
        c = this.responses.bind({ rcode: rcodeToName(rcode), source });
        this.responseCells[i] = c;
      }
      c.inc();
      return;
    }
    this.responsesBy.get(`${rcodeToName(rcode)}|${source}`).inc();
  }

  /** Observes one answer's time to answer (edge_request_duration_seconds{source}), in seconds. */
  answeredIn(source: AnswerSource, seconds: number): void {
    const i = sourceIndex(source);
    if (i < 0) return this.duration.observe({ source }, seconds);
    let h = this.durationCells[i];
    if (!h) {
      h = this.duration.bind({ source });
      this.durationCells[i] = h;
    }
    h.observe(seconds);
  }
}
