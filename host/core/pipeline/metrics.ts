/** The request pipeline's metrics, registered once per resolver, with the hot ones bound. */

import type { BoundCounter, BoundHistogram, Counter, Histogram, MetricsSink } from '../metrics.js';

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
  /** Keyed `rcode|source`. */
  readonly responsesBy: BoundSet<BoundCounter>;
  readonly durationBy: BoundSet<BoundHistogram>;
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
    this.durationBy = new BoundSet((source) => this.duration.bind({ source }));
    this.cacheHit = this.cacheLookups.bind({ result: 'hit' });
    this.cacheMiss = this.cacheLookups.bind({ result: 'miss' });
  }
}
