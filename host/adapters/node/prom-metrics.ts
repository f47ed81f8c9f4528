/** The core's MetricsSink on prom-client, one registry per node (so tests can run several). */

import client from 'prom-client';
import type { Counter, Gauge, Histogram, Labels, MetricsSink } from '../../core/metrics.js';

export class PromMetrics implements MetricsSink {
  readonly registry = new client.Registry();
  private readonly made = new Map<string, Counter | Gauge | Histogram>();

  constructor(defaultMetrics = true) {
    if (defaultMetrics) client.collectDefaultMetrics({ register: this.registry, prefix: 'edge_process_' });
  }

  private once<T extends Counter | Gauge | Histogram>(name: string, make: () => T): T {
    let m = this.made.get(name);
    if (!m) {
      m = make();
      this.made.set(name, m);
    }
    return m as T;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.once(name, () => {
      const c = new client.Counter({ name, help, labelNames: [...labelNames], registers: [this.registry] });
      const child = children(labelNames, (vals) => c.labels(...vals));
      return { inc: (labels: Labels = {}, value = 1) => child(labels).inc(value) };
    });
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.once(name, () => {
      const g = new client.Gauge({ name, help, labelNames: [...labelNames], registers: [this.registry] });
      return { set: (labels: Labels, value: number) => g.set(labels, value) };
    });
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: readonly number[]): Histogram {
    return this.once(name, () => {
      const h = new client.Histogram({
        name,
        help,
        labelNames: [...labelNames],
        buckets: buckets ? [...buckets] : [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [this.registry],
      });
      const child = children(labelNames, (vals) => h.labels(...vals));
      return { observe: (labels: Labels, value: number) => child(labels).observe(value) };
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * prom-client hashes a label object on every update; the hot path updates a few label sets
 * millions of times, so bound children are kept per label-value tuple.
 */
function children<T>(labelNames: readonly string[], make: (values: string[]) => T): (labels: Labels) => T {
  const cache = new Map<string, T>();
  return (labels) => {
    let key = '';
    for (const n of labelNames) key += (labels[n] ?? '') + '\u0001';
    let c = cache.get(key);
    if (!c) {
      c = make(labelNames.map((n) => labels[n] ?? ''));
      cache.set(key, c);
    }
    return c;
  };
}
