/**
 * The metrics the core records, behind a small interface so the core stays runtime-neutral:
 * the Node adapter backs it with prom-client (Prometheus exposition on the admin port), the
 * Workers adapter with an in-memory registry reported by its status route.
 */

export type Labels = Record<string, string>;

export interface BoundCounter {
  inc(value?: number): void;
}

export interface Counter {
  inc(labels?: Labels, value?: number): void;
  /** A handle for one label set, for hot paths (no per-update label handling). */
  bind(labels: Labels): BoundCounter;
}

export interface Gauge {
  set(labels: Labels, value: number): void;
  /** Drops the series: what it measured is gone (not merely zero). */
  remove(labels: Labels): void;
}

export interface BoundHistogram {
  observe(value: number): void;
}

export interface Histogram {
  observe(labels: Labels, value: number): void;
  bind(labels: Labels): BoundHistogram;
}

export interface MetricsSink {
  counter(name: string, help: string, labelNames?: readonly string[]): Counter;
  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge;
  histogram(name: string, help: string, labelNames?: readonly string[], buckets?: readonly number[]): Histogram;
}

interface Series {
  kind: 'counter' | 'gauge' | 'histogram';
  help: string;
  values: Map<string, number>;
}

/**
 * A dependency-free sink that keeps values in memory. Used on Workers and in tests; `snapshot`
 * gives `{ name: { "label=value,...": number } }`.
 */
export class MemoryMetrics implements MetricsSink {
  private readonly series = new Map<string, Series>();

  private get(name: string, kind: Series['kind'], help: string): Series {
    let s = this.series.get(name);
    if (!s) {
      s = { kind, help, values: new Map() };
      this.series.set(name, s);
    }
    return s;
  }

  counter(name: string, help: string): Counter {
    const s = this.get(name, 'counter', help);
    const add = (k: string, value: number) => s.values.set(k, (s.values.get(k) ?? 0) + value);
    return {
      inc: (labels: Labels = {}, value = 1) => add(key(labels), value),
      bind: (labels) => {
        const k = key(labels);
        return { inc: (value = 1) => add(k, value) };
      },
    };
  }

  gauge(name: string, help: string): Gauge {
    const s = this.get(name, 'gauge', help);
    return { set: (labels, value) => s.values.set(key(labels), value), remove: (labels) => void s.values.delete(key(labels)) };
  }

  histogram(name: string, help: string): Histogram {
    const count = this.get(`${name}_count`, 'counter', help);
    const sum = this.get(`${name}_sum`, 'counter', help);
    const observe = (labels: Labels, value: number) => {
      const k = key(labels);
      count.values.set(k, (count.values.get(k) ?? 0) + 1);
      sum.values.set(k, (sum.values.get(k) ?? 0) + value);
    };
    return { observe, bind: (labels) => ({ observe: (value) => observe(labels, value) }) };
  }

  value(name: string, labels: Labels = {}): number {
    return this.series.get(name)?.values.get(key(labels)) ?? 0;
  }

  snapshot(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, s] of this.series) out[name] = Object.fromEntries(s.values);
    return out;
  }
}

function key(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}
