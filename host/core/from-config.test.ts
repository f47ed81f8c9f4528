/**
 * nextResolver, the one way both adapters rebuild their resolver on a reload: the cache (and
 * its settle window) survives a reload that keeps the cache settings; a new cache, or new
 * routing, is a flush.
 */

import { describe, expect, it } from 'vitest';
import type { AppChain } from './chain.js';
import { parseConfig } from './config.js';
import { nextResolver, upstreamsFromConfig } from './from-config.js';
import { silentLogger } from './log.js';
import { MemoryMetrics } from './metrics.js';

const chain: AppChain = { runsIn: () => false, run: () => ({ kind: 'continue' }) };
const transport = { udp: () => Promise.reject(new Error('no network')), tcp: () => Promise.reject(new Error('no network')) };

describe('nextResolver', () => {
  it('keeps the cache and its settle window over a reload; a new cache or new routing counts as a flush', () => {
    const metrics = new MemoryMetrics();
    let now = 1_790_000_000_000;
    const build = (text: string, previous: Parameters<typeof nextResolver>[1]) => {
      const c = parseConfig(`[upstreams]\ndefault = ["127.0.0.1:53"]\n${text}`, 'test');
      const upstreams = upstreamsFromConfig(c, { transport, metrics, logger: silentLogger });
      return { c, r: nextResolver(c, previous, { chain, upstreams, peers: null, metrics, logger: silentLogger, rulesHash: () => null, now: () => now }) };
    };
    const flushes = () => metrics.value('edge_cache_flushes_total', { reason: 'config' });
    const a = build('', null);
    expect(flushes()).toBe(0);
    a.r.flush(null, 'admin');
    const settle = a.r.cache.settleUntil;
    expect(settle).toBe(now + 5000);
    now += 1000;
    // Same settings: the same cache, the window still running, nothing flushed.
    const b = build('[log]\nlevel = "warn"\n', { resolver: a.r, config: a.c });
    expect(b.r.cache).toBe(a.r.cache);
    expect(b.r.cache.settleUntil).toBe(settle);
    expect(flushes()).toBe(0);
    // New routing: the same cache, flushed.
    const c = build('[upstream]\ndefault_group = "default"\ntry_timeout_ms = 900\n', { resolver: b.r, config: b.c });
    expect(c.r.cache).toBe(a.r.cache);
    expect(flushes()).toBe(1);
    // New cache settings: a new cache, counted as a flush so peers do not fill it at once.
    const d = build('[upstream]\ntry_timeout_ms = 900\n[cache]\nmax_entries = 1000\n', { resolver: c.r, config: c.c });
    expect(d.r.cache).not.toBe(a.r.cache);
    expect(flushes()).toBe(2);
    expect(d.r.cache.settleUntil).toBe(now + 5000);
  });
});
