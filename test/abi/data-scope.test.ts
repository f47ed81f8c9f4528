/**
 * `edge.data_scope` (docs/abi/v1.md, "Data scope"): an app reports, as it loads its data, which
 * cached answers each unit of it can act on, and a change of the data flushes exactly the union
 * of the scopes of the units added or removed. The override app is the one reader of the rule
 * grammar; the host reads only its reports.
 */

import { describe, expect, it } from 'vitest';
import { decodeDataScope, DataScopeError, ScopeFlag } from '../../host/abi/data-scope.js';
import { buildImports, CallState, recordDataScope } from '../../host/abi/imports.js';
import { Status } from '../../host/abi/verdict.js';
import { WasmAppChain } from '../../host/apps/app-chain.js';
import { AppDataManager, flushForRuleChange, type Affected, type DataChange } from '../../host/apps/app-data.js';
import { AppInstance, appMetrics } from '../../host/apps/app-instance.js';
import { parseManifest } from '../../host/apps/manifest.js';
import type { FlushScope } from '../../host/core/cache.js';
import { nameToText, textToName } from '../../host/core/dns/wire.js';
import { silentLogger } from '../../host/core/log.js';
import { MemoryMetrics } from '../../host/core/metrics.js';
import { harnessFor, testManifest, testModule } from '../helpers/apps.js';

const text = (s: string) => new TextEncoder().encode(s);
const show = (a: Affected) => (a === 'all' ? 'all' : { names: a.names.map((n) => nameToText(n).toLowerCase()), suffixes: a.suffixes.map((n) => nameToText(n).toLowerCase()) });

/** An app's data manager over a one-app chain, recording what each change affects. */
function managed(app: AppInstance) {
  const chain = new WasmAppChain([app], new MemoryMetrics());
  const m = new AppDataManager(app.name, () => chain, new MemoryMetrics(), silentLogger, 1 << 20);
  const changes: DataChange[] = [];
  m.onChange = (c) => void changes.push(c);
  return {
    m,
    changes,
    /** Applies `data` and returns what that change affects. */
    async apply(data: string): Promise<Affected | 'refused'> {
      const before = changes.length;
      const r = await m.apply(text(data), 'test');
      if (!r.ok) return 'refused';
      expect(changes.length, 'one change per applied set').toBe(before + 1);
      return changes.at(-1)!.affects;
    },
  };
}

const override = () => managed(harnessFor('override', { host: { upstream_groups: 'default,alt' } }).app);

function scopedApp(): AppInstance {
  const manifest = parseManifest(testManifest('scoped', { max_load_bytes: 1 << 20 }), 'test');
  return new AppInstance({ manifest, module: testModule('scoped'), minPages: 1 }, silentLogger, appMetrics(new MemoryMetrics()));
}

describe('a rule change flushes what the override app reported', () => {
  it('flushes the names of added and removed rules that shape what is cached', async () => {
    const o = override();
    await o.apply('phase = resolve qname-suffix org forward-to alt\nphase = post-resolve qname a.example ttl-cap 10\n');
    const after = '# reroute\nphase = resolve qname-suffix com,NET. forward-to alt\nphase=post-resolve   qname A.example  ttl-cap 10 # same rule\n';
    expect(show((await o.apply(after)) as Affected)).toEqual({ names: [], suffixes: ['org.', 'com.', 'net.'] });
    const p = override();
    expect(show((await p.apply('phase = pre-cache qname x.test qname-suffix test forward-to alt\n')) as Affected)).toEqual({ names: ['x.test.'], suffixes: [] });
  });

  it('flushes nothing for post-cache rules and pre-cache rules that answer; everything for a rule without a name', async () => {
    const answers = 'phase = pre-cache qname-suffix corp respond NXDOMAIN\nphase = pre-cache qname p.test respond TXT "qname x" set-tag t\nphase = post-cache ttl-cap 5\n';
    const o = override();
    expect(show((await o.apply(answers)) as Affected)).toEqual({ names: [], suffixes: [] });
    expect(show((await o.m.clear(), o.changes.at(-1)!.affects))).toEqual({ names: [], suffixes: [] });
    expect(await override().apply('phase = pre-cache set-tag rec_disable_static\n')).toBe('all');
    const t = override();
    await t.apply('phase = resolve tag vip forward-to alt\n');
    expect(await t.apply('# none\n')).toBe('all');
    // A tag value spelled like a keyword is a value.
    expect(show((await override().apply('phase = resolve qname-suffix test set-tag respond forward-to alt\n')) as Affected)).toEqual({ names: [], suffixes: ['test.'] });
  });

  it('changes nothing, and flushes nothing, for a set the app refuses', async () => {
    const o = override();
    await o.apply('phase = resolve qname-suffix org forward-to alt\n');
    expect(await o.apply(`phase = resolve qname-suffix ${'a'.repeat(70)}.com forward-to alt\n`)).toBe('refused');
    expect(o.changes).toHaveLength(1);
  });

  it('reports one unit per rule, keyed by its canonical spelling, with the phase and whether it answers', () => {
    const h = harnessFor('override', { host: { upstream_groups: 'default,alt' } });
    const { result, scope } = recordDataScope(() => h.loadText('phase=pre-cache  qname-suffix Corp respond NXDOMAIN # x\nphase = resolve qname a.test qname-suffix test forward-to alt\n'));
    expect(result).toEqual({ ok: true });
    // the SDK sends a key as its UTF-16 code units
    const utf16 = (key: string) => new TextDecoder('utf-16le').decode(Uint8Array.from(key, (c) => c.charCodeAt(0)));
    expect([...scope!].map(([key, u]) => ({ key: utf16(key), ...u, names: u.names.map(nameToText), suffixes: u.suffixes.map(nameToText) }))).toEqual([
      { key: 'pre-cache qname-suffix corp respond nxdomain', phase: 0, answers: true, anyName: false, names: [], suffixes: ['corp.'] },
      { key: 'resolve qname a.test qname-suffix test forward-to alt', phase: 2, answers: false, anyName: false, names: ['a.test.'], suffixes: [] },
    ]);
  });

  it('a steering rule reports its zones and the addresses to avoid and prefer, as the iterator writes them', async () => {
    const h = harnessFor('override', { host: { upstream_groups: 'default,alt' } });
    const { scope } = recordDataScope(() => h.loadText('phase = resolve qname-suffix Com,net. avoid-ns 192.0.2.1,2001:DB8:0::1 prefer-ns 192.0.2.2\n'));
    expect([...scope!.values()].map((u) => ({ ...u, suffixes: u.suffixes.map(nameToText) }))).toEqual([
      { phase: 2, answers: false, anyName: false, names: [], suffixes: ['com.', 'net.'], steer: { avoid: ['192.0.2.1', '2001:db8::1'], prefer: ['192.0.2.2'] } },
    ]);
    // added or removed, it flushes the answers of its zones (they may have come from the avoided servers)
    expect(show((await override().apply('phase = resolve qname-suffix example avoid-ns 192.0.2.1\n')) as Affected)).toEqual({ names: [], suffixes: ['example.'] });
  });

  it('refuses a steering unit whose addresses are malformed or that names no zone', () => {
    const unit = (suffixes: Uint8Array[], addr: number[]) => {
      // format 1, one unit keyed "k", phase resolve, STEERS, no names, the suffixes, one address to avoid, none to prefer
      const parts = [[1, 0, 0, 0, 1], [0, 0, 0, 1, 0x6b], [2, ScopeFlag.STEERS], [0, 0, 0, 0], [0, 0, 0, suffixes.length], ...suffixes.map((x) => [...x]), [0, 0, 0, 1], addr, [0, 0, 0, 0]];
      return Uint8Array.from(parts.flat());
    };
    expect([...decodeDataScope(unit([textToName('com.')], [4, 192, 0, 2, 1])).values()][0]!.steer).toEqual({ avoid: ['192.0.2.1'], prefer: [] });
    expect(() => decodeDataScope(unit([textToName('com.')], [5, 1, 2, 3, 4, 5]))).toThrow(/address of 5 bytes/);
    expect(() => decodeDataScope(unit([textToName('com.')], [16, 1, 2]))).toThrow(/report ends inside an address/);
    expect(() => decodeDataScope(unit([], [4, 192, 0, 2, 1]))).toThrow(/STEERS names its zones as suffixes/);
  });

  it('switching the app off and on flushes what its rules reported', async () => {
    const app = harnessFor('override', { host: { upstream_groups: 'default,alt' } }).app;
    const chain = new WasmAppChain([app], new MemoryMetrics());
    const without = new WasmAppChain([], new MemoryMetrics());
    let on = true;
    const m = new AppDataManager('override', () => (on ? chain : without), new MemoryMetrics(), silentLogger, 1 << 20);
    const changes: DataChange[] = [];
    m.onChange = (c) => void changes.push(c);
    expect((await m.apply(text('phase = resolve qname-suffix org forward-to alt\n'), 'test')).ok).toBe(true);
    on = false;
    m.restore();
    expect([changes.length, show(changes.at(-1)!.affects), changes.at(-1)!.after]).toEqual([2, { names: [], suffixes: ['org.'] }, null]);
    on = true;
    m.restore();
    expect([changes.length, show(changes.at(-1)!.affects), changes.at(-1)!.before]).toEqual([3, { names: [], suffixes: ['org.'] }, null]);
  });
});

describe('the host flushes exactly what an app reports', () => {
  it('the union of the scopes of the units added and removed, not what the data says', async () => {
    const s = managed(scopedApp());
    expect(show((await s.apply('k1 2 0 a.test -\nk2 3 0 - zone.test\n')) as Affected)).toEqual({ names: ['a.test.'], suffixes: ['zone.test.'] });
    // k1 stays, k2 goes, k3 and k4 come; k4 answers in pre-cache and k5 is post-cache: neither shapes the cache
    const next = 'k1 2 0 a.test -\nk3 0 0 b.test,c.test other.test\nk4 0 1 - d.test\nk5 1 0 - -\n';
    expect(show((await s.apply(next)) as Affected)).toEqual({ names: ['b.test.', 'c.test.'], suffixes: ['zone.test.', 'other.test.'] });
    expect(show((await s.apply(next + 'k6 2 0 - -\n')) as Affected)).toBe('all');
  });

  it('everything when a side of the change has no report: an app that does not report, or a malformed report', async () => {
    const s = managed(scopedApp());
    await s.apply('k1 2 0 a.test -\n');
    expect(await s.apply('no-report\nk1 2 0 a.test -\n')).toBe('all');
    expect(await s.apply('k1 2 0 a.test -\n')).toBe('all');
    expect(show((await s.apply('k1 2 0 a.test -\nk2 2 0 b.test -\n')) as Affected)).toEqual({ names: ['b.test.'], suffixes: [] });
    expect(await s.apply('malformed\nk1 2 0 a.test -\n')).toBe('all');
    // blocklist reports nothing: any change of its list counts as affecting everything
    const b = managed(harnessFor('blocklist').app);
    await b.apply('ads.test\n');
    expect(await b.apply('ads.test\ntrack.test\n')).toBe('all');
  });

  it('keeps the report of the data that runs when a load traps, and reads the next load\'s report after a re-instantiation', async () => {
    const s = managed(scopedApp());
    await s.apply('k1 2 0 a.test -\n');
    expect(await s.apply('k9 2 0 z.test -\ntrap\n')).toBe('refused');
    // the trapped instance is replaced: the next load replays k1 (reporting it again) first
    expect(show((await s.apply('k1 2 0 a.test -\nk2 2 0 b.test -\n')) as Affected)).toEqual({ names: ['b.test.'], suffixes: [] });
  });

  it('flushForRuleChange flushes a scope, everything, or nothing', () => {
    const calls: Array<FlushScope | null> = [];
    const target = { flush: (s: FlushScope | null) => (calls.push(s), 0) };
    const names = { names: [textToName('a.test.')], suffixes: [] };
    flushForRuleChange(target, { before: null, after: null, affects: names });
    flushForRuleChange(target, { before: null, after: null, affects: 'all' });
    flushForRuleChange(target, { before: null, after: null, affects: { names: [], suffixes: [] } });
    expect(calls).toEqual([names, null]);
  });
});

describe('data_scope reports', () => {
  const unit = (key: string, phase: number, flags: number, names: Uint8Array[], suffixes: Uint8Array[]) => {
    const k = text(key);
    const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
    return [...u32(k.length), ...k, phase, flags, ...u32(names.length), ...names.flatMap((n) => [...n]), ...u32(suffixes.length), ...suffixes.flatMap((n) => [...n])];
  };
  const report = (units: number[][], format = 1) => new Uint8Array([format, 0, 0, 0, units.length, ...units.flat()]);
  const a = textToName('a.test.');

  it('decodes units by key', () => {
    const s = decodeDataScope(report([unit('r1', 2, 0, [a], []), unit('r2', 0, 3, [], [])]));
    expect([...s.keys()]).toEqual(['r1', 'r2']);
    expect(s.get('r2')).toEqual({ phase: 0, answers: true, anyName: true, names: [], suffixes: [] });
  });

  it('refuses what is not a well-formed format-1 report', () => {
    const bad = [
      report([], 2),
      report([unit('r', 4, 0, [], [])]),
      report([unit('r', 0, 4, [], [])]),
      report([unit('r', 0, 1, [a], [])]),
      report([unit('r', 0, 0, [], []), unit('r', 1, 0, [], [])]),
      report([unit('r', 0, 0, [new Uint8Array([1, 0x61])], [])]),
      report([unit('r', 0, 0, [new Uint8Array([64, ...new Array(64).fill(0x61), 0])], [])]),
      new Uint8Array([...report([unit('r', 0, 0, [], [])]), 0]),
      new Uint8Array([1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]),
      new Uint8Array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]),
    ];
    for (const b of bad) expect(() => decodeDataScope(b), Buffer.from(b).toString('hex')).toThrow(DataScopeError);
  });

  it('the import returns INVALID for a malformed report and traps on a bad pointer or an oversize one', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const state = new CallState();
    const edge = buildImports({ appName: 't', memory: () => memory, state, log() {}, now: () => 0, metric() {} }, new Set()).edge as Record<string, (...a: number[]) => number>;
    new Uint8Array(memory.buffer).set(report([unit('r', 2, 0, [a], [])]), 16);
    const size = report([unit('r', 2, 0, [a], [])]).length;
    expect(recordDataScope(() => edge.data_scope!(16, size)).result).toBe(Status.OK);
    expect(state.dataScope?.get('r')?.names).toEqual([a]);
    new Uint8Array(memory.buffer)[16] = 2;
    expect(edge.data_scope!(16, size)).toBe(Status.INVALID);
    expect(state.dataScope).toBeNull();
    expect(() => edge.data_scope!(65530, 100)).toThrow(expect.objectContaining({ reason: 'bad-pointer' }));
    expect(() => edge.data_scope!(0, 16 * 1024 * 1024 + 1)).toThrow(expect.objectContaining({ reason: 'bad-pointer' }));
  });
});
