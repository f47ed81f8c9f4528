/**
 * The core's MetricsSink for Prometheus. Values live in plain number cells that the hot path
 * bumps directly (prom-client hashes a label object on every update, which profiled at about a
 * tenth of a cache hit); prom-client reads the cells when scraped and does the exposition format,
 * together with its default process metrics. One registry per node, so tests can run several.
 */

import client from 'prom-client';
import type { BoundCounter, BoundHistogram, Counter, Gauge, Histogram, Labels, MetricsSink } from '../../core/metrics.js';

interface Cell {
  labels: Labels;
  value: number;
}

interface HistCell {
  labels: Labels;
  buckets: number[];
  sum: number;
  count: number;
}

const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function cellKey(labelNames: readonly string[], labels: Labels): string {
  let key = '';
  for (const n of labelNames) key += (labels[n] ?? '') + '\u0001';
  return key;
}

function pick(labelNames: readonly string[], labels: Labels): Labels {
  const out: Labels = {};
  for (const n of labelNames) out[n] = labels[n] ?? '';
  return out;
}

/** A counter or gauge as prom-client's registry reads it: name, help, type and `get()`. */
class CellMetric {
  readonly cells = new Map<string, Cell>();
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    readonly labelNames: readonly string[],
  ) {}
  cell(labels: Labels): Cell {
    const key = cellKey(this.labelNames, labels);
    let c = this.cells.get(key);
    if (!c) {
      c = { labels: pick(this.labelNames, labels), value: 0 };
      this.cells.set(key, c);
    }
    return c;
  }
  get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.cells.values()].map((c) => ({ labels: c.labels, value: c.value })) };
  }
  reset(): void {
    this.cells.clear();
  }
}

class HistogramMetric {
  readonly cells = new Map<string, HistCell>();
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly upper: readonly number[],
  ) {}
  cell(labels: Labels): HistCell {
    const key = cellKey(this.labelNames, labels);
    let c = this.cells.get(key);
    if (!c) {
      c = { labels: pick(this.labelNames, labels), buckets: new Array<number>(this.upper.length).fill(0), sum: 0, count: 0 };
      this.cells.set(key, c);
    }
    return c;
  }
  observe(c: HistCell, v: number): void {
    c.sum += v;
    c.count++;
    for (let i = 0; i < this.upper.length; i++) {
      if (v <= this.upper[i]!) {
        c.buckets[i]!++;
        return;
      }
    }
  }
  get() {
    const values: Array<{ metricName: string; labels: Labels; value: number }> = [];
    for (const c of this.cells.values()) {
      let acc = 0;
      this.upper.forEach((le, i) => {
        acc += c.buckets[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...c.labels, le: String(le) }, value: acc });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...c.labels, le: '+Inf' }, value: c.count });
      values.push({ metricName: `${this.name}_sum`, labels: c.labels, value: c.sum });
      values.push({ metricName: `${this.name}_count`, labels: c.labels, value: c.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
  reset(): void {
    this.cells.clear();
  }
}

export class PromMetrics implements MetricsSink {
  readonly registry = new client.Registry();
  private readonly made = new Map<string, Counter | Gauge | Histogram>();

  constructor(defaultMetrics = true) {
    if (defaultMetrics) {
      // prom-client's names already start process_ and nodejs_: edge_ alone gives
      // edge_process_cpu_user_seconds_total, edge_nodejs_eventloop_lag_seconds.
      client.collectDefaultMetrics({ register: this.registry, prefix: 'edge_' });
      // Gauges named _total break the naming rules (the suffix is a counter's); the same counts
      // stay by type in edge_nodejs_active_{handles,requests,resources} (sum() for the total).
      for (const n of ['handles', 'requests', 'resources']) this.registry.removeSingleMetric(`edge_nodejs_active_${n}_total`);
    }
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
      const m = new CellMetric(name, help, 'counter', labelNames);
      this.registry.registerMetric(m as unknown as client.Metric);
      return {
        inc: (labels: Labels = {}, value = 1) => void (m.cell(labels).value += value),
        bind: (labels: Labels): BoundCounter => {
          const c = m.cell(labels);
          return { inc: (value = 1) => void (c.value += value) };
        },
      };
    });
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.once(name, () => {
      const m = new CellMetric(name, help, 'gauge', labelNames);
      this.registry.registerMetric(m as unknown as client.Metric);
      return {
        set: (labels: Labels, value: number) => void (m.cell(labels).value = value),
        remove: (labels: Labels) => void m.cells.delete(cellKey(m.labelNames, labels)),
      };
    });
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: readonly number[]): Histogram {
    return this.once(name, () => {
      const m = new HistogramMetric(name, help, labelNames, buckets ?? DEFAULT_BUCKETS);
      this.registry.registerMetric(m as unknown as client.Metric);
      return {
        observe: (labels: Labels, value: number) => m.observe(m.cell(labels), value),
        bind: (labels: Labels): BoundHistogram => {
          const c = m.cell(labels);
          return { observe: (value: number) => m.observe(c, value) };
        },
      };
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
