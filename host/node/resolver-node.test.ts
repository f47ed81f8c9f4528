/**
 * The runtime-neutral node on its own, with a platform record whose files live in a map: a
 * config refused anywhere (schema, app build, app data, trust anchor) leaves everything
 * running; one config hash at a time; applies one after another; pushed data and its refusals;
 * the platform's own /status fields. The real runtimes drive it in test/node/ and test/workers/.
 */

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../core/config.js';
import { silentLogger } from '../core/log.js';
import { MemoryMetrics } from '../core/metrics.js';
import type { ZoneSource } from '../core/zone-source.js';
import { catalogWith } from '../../test/helpers/apps.js';
import type { AppDataSource, Platform } from './platform.js';
import { ResolverNode } from './resolver-node.js';

const catalog = catalogWith({});
const anchor = new Uint8Array(readFileSync(join(__dirname, '../../test/fixtures/zones/trust-anchor.ds')));
const noNetwork = () => Promise.reject(new Error('no network in this test'));
const RULES = 'phase = pre-cache qname-suffix corp respond NXDOMAIN\n';

/** A platform over an in-memory "file system"; `mode` picks how app data follows the config. */
function memoryPlatform(files: Map<string, string | Uint8Array>, mode: 'with-config' | 'pushed' = 'with-config', extra: Partial<Platform<MemoryMetrics>> = {}): Platform<MemoryMetrics> {
  const bytes = (name: string) => {
    const v = files.get(name);
    return v === undefined ? null : typeof v === 'string' ? new TextEncoder().encode(v) : v;
  };
  const source = (app: string, key: string, name: string): AppDataSource => ({
    app,
    key,
    description: `mem:${name}`,
    read: async () => {
      const b = bytes(name);
      if (b === null && mode === 'with-config') throw new Error('ENOENT');
      return b;
    },
  });
  return {
    transport: { udp: noNetwork, tcp: noNetwork },
    timers: false,
    logger: silentLogger,
    metrics: new MemoryMetrics(),
    parse: (text, name) => ({ config: parseConfig(text, name) }),
    catalog: () => catalog,
    appData: { mode, of: (c) => (c.rules.file ? [source('override', 'rules.file', c.rules.file)] : []) },
    zoneSource: (name): ZoneSource | null => (files.has(name) ? { description: `mem:${name}`, fetch: async () => ({ kind: 'data', bytes: bytes(name)!, validators: {} }) } : null),
    readTrustAnchor: async (name) => {
      const b = bytes(name);
      if (!b) throw new Error(`no file "${name}"`);
      return { bytes: b, file: name };
    },
    limits: { dataMaxBytes: 1024 },
    ...extra,
  };
}

const BASE = `[upstreams]\ndefault = ["127.0.0.1:53"]\n[rules]\nfile = "site.rules"\n`;

function hashes(m: MemoryMetrics): string[] {
  return Object.entries(m.snapshot()['edge_config_info'] ?? {})
    .filter(([, v]) => v === 1)
    .map(([k]) => k);
}

describe('ResolverNode', () => {
  it('refuses a config that fails anywhere and leaves the running node as it was', async () => {
    const files = new Map<string, string | Uint8Array>([['site.rules', RULES], ['anchor.ds', anchor]]);
    const p = memoryPlatform(files);
    const node = await ResolverNode.create(p, BASE, 'test');
    const before = { config: node.config, resolver: node.currentResolver, chain: node.currentChain, rules: node.rules.current?.hash };
    expect(before.rules).toMatch(/^[0-9a-f]{64}$/);
    files.set('bad.rules', 'phase = pre-cache sett-tag x\n');
    files.set('garbage.ds', 'not a trust anchor');
    const refused: Array<[string, RegExp]> = [
      // schema
      [`${BASE}[cache]\nmax_entries = -1\n`, /cache\.max_entries/],
      // app build: an app that is not installed, and an app config its schema refuses
      [`${BASE}[apps]\nchain = ["override", "nonesuch"]\n`, /apps\.chain: "nonesuch" is not an installed app/],
      [`${BASE}[apps.forward.config]\nroutes = 7\n`, /apps\.forward/],
      // app data: a rule set the app refuses, and one that cannot be read
      [BASE.replace('site.rules', 'bad.rules'), /^rules\.file: mem:bad\.rules:1:\d+: /],
      [BASE.replace('site.rules', 'missing.rules'), /^rules\.file: cannot read mem:missing\.rules: ENOENT$/],
      // trust anchor: missing, and not one
      [`${BASE}[zone]\nsource = "root.zone"\ntrust_anchor = "none.ds"\n`, /^zone\.trust_anchor: no file "none\.ds"$/],
      [`${BASE}[zone]\nsource = "root.zone"\ntrust_anchor = "garbage.ds"\n`, /^zone\.trust_anchor: /],
    ];
    for (const [text, error] of refused) {
      const r = await node.reload(text, 'pushed');
      expect(r.ok, text).toBe(false);
      expect(r.errors.some((e) => error.test(e)), `${r.errors.join('; ')} should match ${error}`).toBe(true);
      expect(node.config).toEqual(before.config);
      expect(node.currentResolver).toBe(before.resolver);
      expect(node.currentChain).toBe(before.chain);
      expect(node.rules.current?.hash).toBe(before.rules);
      expect(node.zone).toBeNull();
    }
    expect(p.metrics.value('edge_config_reload_failures_total')).toBe(refused.length);
    expect((node.status().config as { reloads: unknown }).reloads).toMatchObject({ ok: 0, failed: refused.length });
    expect(hashes(p.metrics)).toEqual([`hash=${before.config.hash.slice(0, 16)}`]);
  });

  it('reports one config hash at a time: a reload replaces the running hash in edge_config_info', async () => {
    const files = new Map<string, string | Uint8Array>([['site.rules', RULES]]);
    const p = memoryPlatform(files);
    const node = await ResolverNode.create(p, BASE, 'test');
    const first = node.config.hash;
    expect((await node.reload(`${BASE}[log]\nlevel = "warn"\n`)).ok).toBe(true);
    expect(node.config.hash).not.toBe(first);
    expect(hashes(p.metrics)).toEqual([`hash=${node.config.hash.slice(0, 16)}`]);
    // The same text again changes nothing.
    expect((await node.reload()).ok).toBe(true);
    expect(hashes(p.metrics)).toEqual([`hash=${node.config.hash.slice(0, 16)}`]);
  });

  it('applies configs one after another: two reloads at once end on the second, each built on the one before', async () => {
    const files = new Map<string, string | Uint8Array>([['site.rules', RULES], ['other.rules', 'phase = pre-cache qname-suffix home respond NXDOMAIN\n']]);
    const node = await ResolverNode.create(memoryPlatform(files), BASE, 'test');
    const [a, b] = await Promise.all([node.reload(`${BASE}[log]\nlevel = "warn"\n`), node.reload(BASE.replace('site.rules', 'other.rules'))]);
    expect(a.ok && b.ok).toBe(true);
    expect(node.currentConfig.rules.file).toBe('other.rules');
    expect(node.rules.current?.source).toBe('mem:other.rules');
    expect(node.rules.text).toContain('home');
  });

  it('pushed data: applied after the config, a refused value keeps the running data and is reported, an absent one clears it', async () => {
    const files = new Map<string, string | Uint8Array>([['site.rules', RULES]]);
    const node = await ResolverNode.create(memoryPlatform(files, 'pushed'), BASE, 'test');
    const good = node.rules.current?.hash;
    expect(good).toMatch(/^[0-9a-f]{64}$/);
    files.set('site.rules', 'phase = pre-cache sett-tag x\n');
    await node.refreshData();
    expect(node.rules.current?.hash).toBe(good);
    expect(node.dataProblems()).toEqual([expect.stringMatching(/^override: mem:site\.rules:1:\d+: /)]);
    const status = node.status() as { rules: { hash: string; errors: string[] }; data: Record<string, { errors: string[] }> };
    expect(status.rules.hash).toBe(good);
    expect(status.rules.errors).toHaveLength(1);
    expect(status.data.override!.errors).toEqual(status.rules.errors);
    files.delete('site.rules');
    await node.refreshData();
    expect(node.rules.current).toBeNull();
    expect(node.dataProblems()).toEqual([]);
    // A config whose data is refused still applies (the data is not part of it), and says so.
    files.set('site.rules', 'phase = pre-cache sett-tag x\n');
    expect((await node.reload(`${BASE}[log]\nlevel = "warn"\n`)).ok).toBe(true);
    expect(node.dataProblems()).toHaveLength(1);
  });

  it('with-config data is not reported with errors; a config without a rule set runs none', async () => {
    const files = new Map<string, string | Uint8Array>([['site.rules', RULES]]);
    const node = await ResolverNode.create(memoryPlatform(files), BASE, 'test');
    const status = node.status() as { rules: Record<string, unknown>; data: Record<string, unknown> };
    expect(status.rules).not.toHaveProperty('errors');
    expect(Object.keys(status.data)).toEqual(['override']);
    await expect(ResolverNode.create(memoryPlatform(files), '[cache]\nmax_entries = -1\n', 'test')).rejects.toBeInstanceOf(ConfigError);
  });

  it('adds the runtime fields of the platform and of the running config to /status, and follows [log] level', async () => {
    const levels: string[] = [];
    const p = memoryPlatform(new Map([['site.rules', RULES], ['root.zone', '. 300 IN SOA a. b. 1 2 3 4 5\n']]), 'with-config', {
      parse: (text, name) => ({ config: parseConfig(text, name), status: { pooling: { shards: [] } }, servesZone: false }),
      status: (doc) => ({ ...doc, runtime: 'test' }),
      setLogLevel: (l) => levels.push(l),
    });
    const node = await ResolverNode.create(p, `${BASE}[zone]\nsource = "root.zone"\ndnssec = "ignore"\n`, 'test');
    const status = node.status();
    expect(status).toMatchObject({ runtime: 'test', pooling: { shards: [] }, config: { source: 'test', hash: node.config.hash }, zone: null });
    // servesZone: false, so no zone copy although [zone] names a source.
    expect(node.zone).toBeNull();
    await node.reload(`${BASE}[log]\nlevel = "error"\n`);
    expect(levels).toEqual(['info', 'error']);
  });

  it('validates from [dnssec] trust_anchor, and the same file verifies the root copy (one anchor for both)', async () => {
    const root = new Uint8Array(readFileSync(join(__dirname, '../../test/fixtures/zones/root-lookalike-2026082201.zone.gz')));
    const files = new Map<string, string | Uint8Array>([['site.rules', RULES], ['anchor.ds', anchor], ['root.zone.gz', root]]);
    const node = await ResolverNode.create(memoryPlatform(files), `${BASE}[dnssec]\ntrust_anchor = "anchor.ds"\n[zone]\nsource = "root.zone.gz"\n`, 'test');
    expect(node.currentResolver.validation).not.toBeNull();
    expect(node.zone?.status()).toMatchObject({ dnssec: 'verified' });
    // a zone.trust_anchor of its own still wins for the copy (here: the real root's, which the lookalike is not signed with)
    files.set('iana.ds', readFileSync(join(__dirname, '../../test/fixtures/zones/root-anchors.ds')));
    const other = await ResolverNode.create(memoryPlatform(files), `${BASE}[dnssec]\ntrust_anchor = "anchor.ds"\n[zone]\nsource = "root.zone.gz"\ntrust_anchor = "iana.ds"\n`, 'test');
    expect(other.zone?.status()).not.toMatchObject({ dnssec: 'verified' });
    const off = await ResolverNode.create(memoryPlatform(files), `${BASE}[dnssec]\nvalidate = false\n`, 'test');
    expect(off.currentResolver.validation).toBeNull();
    // validation is on by default, from the built-in root anchors
    expect((await ResolverNode.create(memoryPlatform(files), BASE, 'test')).currentResolver.validation).not.toBeNull();
  });

  it('refuses a [dnssec] trust_anchor that cannot be read or parsed, naming the key, and keeps running', async () => {
    const files = new Map<string, string | Uint8Array>([['site.rules', RULES], ['anchor.ds', anchor], ['garbage.ds', 'not a record\n']]);
    const node = await ResolverNode.create(memoryPlatform(files), `${BASE}[dnssec]\ntrust_anchor = "anchor.ds"\n`, 'test');
    const before = node.config.hash;
    for (const [name, want] of [['none.ds', /^dnssec\.trust_anchor: no file "none\.ds"$/], ['garbage.ds', /^dnssec\.trust_anchor: /]] as const) {
      const r = await node.reload(`${BASE}[dnssec]\ntrust_anchor = "${name}"\n`);
      expect(r.ok).toBe(false);
      expect(r.errors[0]).toMatch(want);
    }
    expect(node.config.hash).toBe(before);
  });
});
