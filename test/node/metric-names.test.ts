/**
 * Every metric the node exports follows the Prometheus naming rules
 * (https://prometheus.io/docs/practices/naming/, and what `promtool check metrics` lints):
 * [a-zA-Z_][a-zA-Z0-9_]* with no colons (those are for recording rules), one `edge_` prefix
 * (never doubled, as `edge_process_process_*` once was), base units (seconds, bytes), `_total`
 * on counters and only on counters, no reserved histogram suffixes in a name, and label names
 * [a-zA-Z_][a-zA-Z0-9_]* not starting with `__`. Checked on the source (every name written
 * there, so rarely created metrics count too) and on a running node's /metrics.
 */

import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { root, startEdge } from '../helpers/edge.js';
import { dig } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';

type Kind = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped' | 'unknown';

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Units Prometheus wants in base form: seconds, bytes, ratios. */
const NON_BASE_UNITS = /_(ms|msec|millis|milliseconds|us|microseconds|ns|nanoseconds|minutes|hours|days|kb|kib|mb|mib|gb|gib|kilobytes|megabytes|bits|percent)(_|$)/;

/** What is wrong with a metric name (empty when nothing is). */
function nameProblems(name: string, kind: Kind | null): string[] {
  const out: string[] = [];
  if (!NAME.test(name)) out.push('not [a-zA-Z_][a-zA-Z0-9_]* (colons are for recording rules)');
  if (!name.startsWith('edge_')) out.push('not under the edge_ prefix');
  const parts = name.split('_');
  for (let i = 1; i < parts.length; i++) if (parts[i] === parts[i - 1]) out.push(`doubled word "${parts[i]}"`);
  if (NON_BASE_UNITS.test(name)) out.push('a unit not in base form (seconds, bytes)');
  if (/[A-Z]/.test(name)) out.push('camel case');
  if (kind === 'counter' && !name.endsWith('_total')) out.push('a counter without the _total suffix');
  if (kind !== null && kind !== 'counter' && name.endsWith('_total')) out.push(`a ${kind} with the _total suffix (a counter's)`);
  if ((kind === 'histogram' || kind === 'summary') && /_(bucket|count|sum)$/.test(name)) out.push('a reserved histogram suffix');
  if (/_(counter|gauge|histogram|summary)(_|$)/.test(name)) out.push('the metric type in its name');
  return out;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Not metrics: the ABI version export every app carries. */
const NOT_METRICS = new Set(['edge_abi_version']);

describe('metric names', () => {
  it('checks the rules themselves on names that break them', () => {
    expect(nameProblems('edge_process_process_cpu_user_seconds_total', 'counter')).toContain('doubled word "process"');
    expect(nameProblems('edge_queries', 'counter')).toContain('a counter without the _total suffix');
    expect(nameProblems('edge_nodejs_active_handles_total', 'gauge')).toContain('a gauge with the _total suffix (a counter\'s)');
    expect(nameProblems('edge_latency_ms', 'histogram')).toContain('a unit not in base form (seconds, bytes)');
    expect(nameProblems('edge_queries:rate5m', 'gauge')).toHaveLength(1);
    expect(nameProblems('edge_queries_total', 'counter')).toEqual([]);
  });

  it('follows the Prometheus naming rules for every name in the source', () => {
    const problems: string[] = [];
    let names = 0;
    for (const f of sources(join(root, 'host'))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?:\.(counter|gauge|histogram)\(\s*|\b)(['`"])(edge_[^'`"]*)\2/g)) {
        const name = m[3]!;
        if (NOT_METRICS.has(name) || name === 'edge_') continue;
        names++;
        // A name written straight into counter()/gauge()/histogram() is checked against its kind.
        for (const p of nameProblems(name, (m[1] as Kind | undefined) ?? null)) problems.push(`${relative(root, f)}: ${name}: ${p}`);
      }
    }
    expect(names).toBeGreaterThan(50);
    expect(problems).toEqual([]);
  });

  it('names every metric in docs/operations.md as the source does', () => {
    const written = new Set<string>();
    for (const f of sources(join(root, 'host'))) for (const m of readFileSync(f, 'utf8').matchAll(/['`"](edge_[a-z0-9_]+)['`"]/g)) written.add(m[1]!);
    const doc = readFileSync(join(root, 'docs/operations.md'), 'utf8');
    const documented = [...doc.matchAll(/`(edge_[a-z0-9_]+)`/g)].map((m) => m[1]!).filter((n) => !/^edge_(process|nodejs)_/.test(n));
    expect(documented.length).toBeGreaterThan(20);
    expect(documented.filter((n) => !written.has(n))).toEqual([]);
  });

  it.skipIf(!needTools('dig'))('follows the rules for every metric and label a running node exports on /metrics, defaults included', async () => {
    // An upstream nobody listens on: the query fails, which creates the failure series too.
    const n = await startEdge('[upstreams]\ndefault = ["127.0.0.1:9"]\n[upstream]\ntry_timeout_ms = 100\n[apps.forward.config.routes]\n"." = "default"\n');
    try {
      await dig(n.dns, ['metrics.example', 'A', '+tries=1', '+time=2']);
      const text = await n.node.metrics.text();
      const kinds = new Map<string, Kind>();
      for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) kinds.set(m[1]!, m[2] as Kind);
      expect(kinds.size).toBeGreaterThan(30);
      expect([...kinds.keys()]).toContain('edge_process_cpu_user_seconds_total');
      expect([...kinds.keys()]).toContain('edge_queries_total');
      const problems: string[] = [];
      for (const [name, kind] of kinds) for (const p of nameProblems(name, kind)) problems.push(`${name} (${kind}): ${p}`);
      for (const line of text.split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        const labels = /^[^{\s]+\{(.*)\}\s/.exec(line)?.[1];
        if (!labels) continue;
        for (const l of labels.matchAll(/([^=,\s]+)="(?:[^"\\]|\\.)*"/g)) {
          if (!LABEL.test(l[1]!) || l[1]!.startsWith('__')) problems.push(`${line.split('{')[0]}: label "${l[1]}"`);
        }
      }
      expect(problems).toEqual([]);
    } finally {
      await n.stop();
    }
  });
});
