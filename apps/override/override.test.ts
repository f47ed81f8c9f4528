/**
 * override under the app harness: the rule language (every matcher, action and error), the
 * precedence rules, and the index (10,000 rules without a linear scan per query).
 */

import { describe, expect, it } from 'vitest';
import { harnessFor } from '../../test/helpers/apps.js';
import type { AppHarness } from '../../host/apps/harness.js';
import { decodeContext, encodeContext } from '../../host/core/context.js';

const enc = (s: string) => new TextEncoder().encode(s);

function app(rules?: string): AppHarness {
  const h = harnessFor('override', { host: { upstream_groups: 'default,alt', installed_apps: 'override,forward,static_zone' } });
  if (rules !== undefined) {
    const r = h.load(enc(rules));
    if (!r.ok) throw new Error(r.error);
  }
  return h;
}

function errors(rules: string | Uint8Array): string[] {
  const r = app().load(typeof rules === 'string' ? enc(rules) : rules);
  if (r.ok) throw new Error('rule set was accepted');
  return r.error.split('\n');
}

describe('matchers', () => {
  it('qname matches exactly, any case, and qname-suffix on label boundaries', () => {
    const h = app('phase = pre-cache qname www.example.com set-tag exact\nphase = pre-cache qname-suffix com,net set-tag suffix\n');
    expect(h.query('WWW.Example.COM', { phase: 'pre-cache' }).tags).toEqual(['exact', 'suffix']);
    expect(h.query('a.www.example.com', { phase: 'pre-cache' }).tags).toEqual(['suffix']);
    expect(h.query('example.net', { phase: 'pre-cache' }).tags).toEqual(['suffix']);
    expect(h.query('com', { phase: 'pre-cache' }).tags).toEqual(['suffix']);
    expect(h.query('notcom', { phase: 'pre-cache' }).tags).toEqual([]);
    expect(h.query('example.org', { phase: 'pre-cache' }).tags).toEqual([]);
  });

  it('qtype, transport, client (v4 and v6 CIDR) and tag', () => {
    const h = app(`phase = pre-cache qtype AAAA,TYPE65 set-tag t6
phase = pre-cache transport doh set-tag via_doh
phase = pre-cache client 192.0.2.0/25 set-tag low
phase = pre-cache client 2001:db8::/32 set-tag v6
phase = pre-cache tag vip set-tag seen_vip
`);
    expect(h.query('a.test', { phase: 'pre-cache', qtype: 'AAAA' }).tags).toContain('t6');
    expect(h.query('a.test', { phase: 'pre-cache', qtype: 'HTTPS' }).tags).toContain('t6');
    expect(h.query('a.test', { phase: 'pre-cache', qtype: 'A' }).tags).not.toContain('t6');
    expect(h.query('a.test', { phase: 'pre-cache', transport: 'doh' }).tags).toContain('via_doh');
    expect(h.query('a.test', { phase: 'pre-cache', transport: 'udp' }).tags).not.toContain('via_doh');
    expect(h.query('a.test', { phase: 'pre-cache', client: '192.0.2.100' }).tags).toContain('low');
    expect(h.query('a.test', { phase: 'pre-cache', client: '192.0.2.200' }).tags).not.toContain('low');
    expect(h.query('a.test', { phase: 'pre-cache', client: '2001:db8:1::5' }).tags).toContain('v6');
    expect(h.query('a.test', { phase: 'pre-cache', client: '2001:db9::5' }).tags).not.toContain('v6');
    expect(h.query('a.test', { phase: 'pre-cache', tags: ['vip'] }).tags).toContain('seen_vip');
  });

  it('rcode in post phases', () => {
    const h = app('phase = post-resolve rcode SERVFAIL,REFUSED respond NXDOMAIN\n');
    const servfail = new Uint8Array([0, 1, 0x81, 0x82, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 1, 0, 1]);
    expect(h.query('a', { phase: 'post-resolve', message: servfail }).response?.rcode).toBe(3);
    const ok = servfail.slice();
    ok[3] = 0x80;
    expect(h.query('a', { phase: 'post-resolve', message: ok }).verdict).toBe('continue');
  });
});

describe('actions', () => {
  it('set-tag and clear-tag', () => {
    const h = app('phase = pre-cache qname-suffix example set-tag a\nphase = pre-cache qname-suffix example clear-tag b\n');
    expect(h.query('x.example', { phase: 'pre-cache', tags: ['b', 'c'] }).tags.sort()).toEqual(['a', 'c']);
  });

  it('respond with an rcode and with records, NODATA for other types', () => {
    const h = app(`phase = pre-cache qname-suffix corp respond NXDOMAIN
phase = pre-cache qname blocked.test respond REFUSED
phase = pre-cache qname pinned.test respond A 192.0.2.7 respond AAAA 2001:db8::7 respond TXT "hello world"
phase = pre-cache qname alias.test respond CNAME target.test ttl-cap 30
`);
    expect(h.query('wpad.corp', { phase: 'pre-cache' }).response?.rcode).toBe(3);
    expect(h.query('blocked.test', { phase: 'pre-cache' }).verdict).toBe('respond');
    expect(h.query('blocked.test', { phase: 'pre-cache' }).response?.rcode).toBe(5);
    expect(h.query('pinned.test', { phase: 'pre-cache' }).response?.answer).toEqual([{ name: 'pinned.test.', type: 1, TTL: 60, data: '192.0.2.7' }]);
    expect(h.query('pinned.test', { phase: 'pre-cache', qtype: 'AAAA' }).response?.answer[0]?.data).toBe('2001:db8::7');
    expect(h.query('pinned.test', { phase: 'pre-cache', qtype: 'TXT' }).response?.answer[0]?.data).toBe('"hello world"');
    const nodata = h.query('pinned.test', { phase: 'pre-cache', qtype: 'MX' }).response!;
    expect([nodata.rcode, nodata.answer.length]).toEqual([0, 0]);
    const alias = h.query('alias.test', { phase: 'pre-cache', qtype: 'AAAA' }).response!;
    expect(alias.answer).toEqual([{ name: 'alias.test.', type: 5, TTL: 30, data: 'target.test.' }]);
  });

  it('forward-to, disable-app and ttl-cap change the context', () => {
    const h = app('phase = resolve qname-suffix com,net forward-to alt\nphase = pre-cache qname-suffix example disable-app static_zone ttl-cap 120\n');
    expect(h.query('www.example.com', { phase: 'resolve' }).ctx.route).toBe('alt');
    expect(h.query('www.example.org', { phase: 'resolve' }).ctx.route).toBe('');
    const pre = h.query('a.example', { phase: 'pre-cache' }).ctx;
    expect([...pre.disabledApps]).toEqual(['static_zone']);
    expect(pre.ttlCap).toBe(120);
  });

  it('keeps a request to 32 tags, so its context always encodes and travels whole', () => {
    const h = app(`phase = pre-cache ${Array.from({ length: 40 }, (_, i) => `set-tag t${i}`).join(' ')}\n`);
    const r = h.query('a.test', { phase: 'pre-cache' });
    expect(r.tags).toHaveLength(32);
    expect(decodeContext(encodeContext(r.ctx)).ctx.tags.size).toBe(32);
  });

  it('the incident rule: phase = pre-cache set-tag rec_disable_static', () => {
    const h = app('phase = pre-cache set-tag rec_disable_static\n');
    expect(h.query('printer.local', { phase: 'pre-cache' }).tags).toEqual(['rec_disable_static']);
    // Rules of one phase do not act in another.
    expect(h.query('printer.local', { phase: 'resolve' }).tags).toEqual([]);
  });
});

describe('precedence', () => {
  it('evaluates in file order; a tag set by a rule is seen by the rules after it, not before', () => {
    const h = app(`phase = pre-cache tag later respond REFUSED
phase = pre-cache qname-suffix test set-tag later
phase = pre-cache tag later set-tag chained
`);
    const r = h.query('a.test', { phase: 'pre-cache' });
    expect(r.verdict).toBe('continue');
    expect(r.tags).toEqual(['later', 'chained']);
  });

  it('the first matching forward-to wins; ttl-caps combine to the smallest', () => {
    const h = app(`phase = resolve qname-suffix example.com forward-to alt ttl-cap 300
phase = resolve qname-suffix com forward-to default ttl-cap 60
`);
    const ctx = h.query('www.example.com', { phase: 'resolve' }).ctx;
    expect(ctx.route).toBe('alt');
    expect(ctx.ttlCap).toBe(60);
  });

  it('post-resolve rules act on cache hits too, before the post-cache rules', () => {
    const h = app(`phase = post-resolve qname-suffix test set-tag resolved ttl-cap 30
phase = post-resolve qname rewrite.test rcode NXDOMAIN respond REFUSED
phase = post-cache tag resolved set-tag then_cached
`);
    const nx = new Uint8Array([0, 1, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0, 7, ...enc('rewrite'), 4, ...enc('test'), 0, 0, 1, 0, 1]);
    const hit = h.query('a.test', { phase: 'post-cache' });
    expect(hit.tags).toEqual(['resolved', 'then_cached']);
    expect(hit.ctx.ttlCap).toBe(30);
    expect(h.query('rewrite.test', { phase: 'post-cache', message: nx }).response?.rcode).toBe(5);
    expect(h.query('rewrite.test', { phase: 'post-resolve', message: nx }).response?.rcode).toBe(5);
    // Post-cache rules stay out of post-resolve.
    expect(h.query('a.test', { phase: 'post-resolve' }).tags).toEqual(['resolved']);
  });

  it('the first rule that responds ends evaluation, after its own other actions', () => {
    const h = app(`phase = pre-cache qname-suffix test set-tag first respond NXDOMAIN
phase = pre-cache qname-suffix test set-tag never
`);
    const r = h.query('a.test', { phase: 'pre-cache' });
    expect(r.response?.rcode).toBe(3);
    expect(r.tags).toEqual(['first']);
  });
});

describe('validation', () => {
  it('reports line and column for unknown phases, matchers and actions', () => {
    expect(errors('# ok\n\nphase = early set-tag a\n')).toEqual(['3:9: unknown phase "early" (phases: pre-cache, post-cache, resolve, post-resolve)']);
    expect(errors('phase = pre-cache qnam x set-tag a\n')).toEqual(['1:19: unknown matcher or action "qnam"']);
    expect(errors('phase = pre-cache sett-tag a\n')[0]).toBe('1:19: unknown matcher or action "sett-tag"');
    expect(errors('phase=pre-cache qtype NOSUCH set-tag a\n')[0]).toMatch(/^1:23: unknown type "NOSUCH"/);
    expect(errors('qname foo set-tag a\n')[0]).toMatch(/^1:1: a rule starts with "phase = /);
    expect(errors('phase = pre-cache set-tag "Bad Tag"\n')[0]).toMatch(/^1:27: "Bad Tag" is not a tag/);
    expect(errors('phase = pre-cache client 10.0.0.0/33 set-tag a\n')[0]).toMatch(/^1:26: "10.0.0.0\/33" is not an address/);
    expect(errors('phase = pre-cache respond TXT "unterminated\n')[0]).toMatch(/^1:31: unterminated quoted string/);
  });

  it('refuses duplicates, rules that can never match, and rules that do nothing', () => {
    expect(errors('phase = pre-cache qname-suffix com set-tag a\nphase = pre-cache  qname-suffix COM set-tag a\n')).toEqual([
      '2:1: duplicate of the rule on line 1',
    ]);
    expect(errors('phase = pre-cache rcode SERVFAIL set-tag a\n')[0]).toMatch(/rcode only matches in post-cache and post-resolve: this rule can never match/);
    expect(errors('phase = pre-cache qname a.org qname-suffix com set-tag a\n')[0]).toMatch(/can never match/);
    expect(errors('phase = pre-cache qname-suffix com\n')[0]).toMatch(/rule has no action/);
    expect(errors('phase = pre-cache respond NXDOMAIN forward-to alt\n')[0]).toMatch(/cannot both respond and forward-to/);
  });

  it('refuses references to upstream groups and apps that do not exist', () => {
    expect(errors('phase = resolve qname-suffix com forward-to nope\n')[0]).toBe(
      '1:45: forward-to names upstream group "nope", which is not configured (groups: default, alt)',
    );
    expect(errors('phase = pre-cache disable-app statc_zone\n')[0]).toMatch(/^1:31: disable-app names app "statc_zone", which is not installed/);
  });

  it('refuses an empty rule set and keeps the running one after any refusal', () => {
    const h = app('phase = pre-cache qname-suffix test set-tag running\n');
    for (const bad of ['', ' \n\t\n', 'phase = pre-cache bogus\n', '\u0000\u0001binary garbage\n']) {
      expect(h.load(enc(bad)).ok).toBe(false);
    }
    expect(errors('')).toEqual([expect.stringMatching(/^1:1: the rule set is empty \(a set with no rules is a file of comments/)]);
    expect(h.query('a.test', { phase: 'pre-cache' }).tags).toEqual(['running']);
  });

  it('takes a file of only comments as a set with no rules', () => {
    const h = app('phase = pre-cache qname-suffix test set-tag running\n');
    expect(h.load(enc('# no rules for now\n\n')).ok).toBe(true);
    expect(h.query('a.test', { phase: 'pre-cache' }).tags).toEqual([]);
  });

  it('refuses ttl-cap 0, which would cap nothing', () => {
    expect(errors('phase = post-resolve qname-suffix com ttl-cap 0\n')).toEqual(['1:47: ttl-cap takes seconds, 1 to 604800']);
    expect(errors('phase = post-resolve qname-suffix com ttl-cap 604801\n')[0]).toMatch(/ttl-cap takes seconds, 1 to 604800/);
  });

  it('refuses a 10 MB rule set before the app sees it', () => {
    const h = app('phase = pre-cache qname-suffix test set-tag running\n');
    const big = enc('# padding\n'.repeat(1_048_576));
    const r = h.load(big);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/exceed app override's max_load_bytes/);
    expect(h.query('a.test', { phase: 'pre-cache' }).tags).toEqual(['running']);
  });

  it('stops collecting errors at 50 and reports them all with lines', () => {
    const text = Array.from({ length: 80 }, (_, i) => `phase = nope${i} set-tag a`).join('\n');
    const e = errors(text);
    expect(e).toHaveLength(50);
    expect(e[49]).toMatch(/^50:9: /);
  });
});

describe('steering (avoid-ns, prefer-ns)', () => {
  it('is accepted, acts on no request (the host steers its iterator from the scope report) and is not called for', () => {
    const h = app('phase = resolve qname-suffix com,net avoid-ns 192.0.2.1,2001:DB8::1 prefer-ns 192.0.2.2\nphase = resolve qname-suffix . prefer-ns 192.0.2.9\n');
    const r = h.query('www.example.com', { phase: 'resolve' });
    expect([r.verdict, r.tags, r.ctx.route]).toEqual(['continue', [], '']);
    // a set of only steering rules has no per-request rule in any phase
    expect([0, 1, 2, 3].map((p) => h.app.runsIn(p))).toEqual([false, false, false, false]);
  });

  it('refuses, with line and column, what a steering rule cannot be', () => {
    const bad = (rule: string) => errors(`# steering\n${rule}\n`);
    expect(bad('phase = resolve qname-suffix com avoid-ns 192.0.2.300')).toEqual(['2:43: "192.0.2.300" is not an IPv4 or IPv6 address (avoid-ns takes nameserver addresses)']);
    expect(bad('phase = resolve qname-suffix com prefer-ns ns1.example.com')).toEqual(['2:44: "ns1.example.com" is not an IPv4 or IPv6 address (prefer-ns takes nameserver addresses)']);
    expect(bad('phase = pre-cache qname-suffix com avoid-ns 192.0.2.1')).toEqual(['2:1: avoid-ns and prefer-ns steer the nameservers the iterator asks: they act in phase = resolve']);
    expect(bad('phase = resolve avoid-ns 192.0.2.1')).toEqual(['2:1: a steering rule names its zones with qname-suffix (qname-suffix . for every zone)']);
    for (const m of ['qname www.com', 'qtype A', 'client 10.0.0.0/8', 'tag vip', 'transport udp']) {
      expect(bad(`phase = resolve qname-suffix com ${m} avoid-ns 192.0.2.1`)[0]).toBe('2:1: a steering rule (avoid-ns, prefer-ns) applies to every query to its zones: it takes qname-suffix and no other matcher');
    }
    expect(bad('phase = resolve qname-suffix com avoid-ns 192.0.2.1 forward-to alt')).toEqual(['2:1: a steering rule (avoid-ns, prefer-ns) takes no other action; write that action in a rule of its own']);
    expect(bad('phase = resolve qname-suffix com avoid-ns 192.0.2.1 prefer-ns 192.0.2.1')).toEqual(['2:1: a steering rule both avoids and prefers the same address']);
    expect(bad('phase = resolve qname-suffix com avoid-ns 192.0.2.1\nphase = resolve qname-suffix net,COM. prefer-ns 192.0.2.2')).toEqual(['3:1: zone com. is steered by the rule on line 2 already (one steering rule per zone)']);
    expect(bad('phase = resolve qname-suffix com avoid-ns')).toEqual(['2:34: "avoid-ns" needs a value']);
  });
});

describe('index', () => {
  it('answers from 10,000 rules by name and tag, and loads them', () => {
    const rules: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      rules.push(i % 2 ? `phase = pre-cache qname-suffix zone${i}.example set-tag t${i}` : `phase = pre-cache tag in${i} set-tag t${i}`);
    }
    rules.push('phase = pre-cache qname-suffix last.example respond NXDOMAIN');
    const h = app(rules.join('\n') + '\n');
    expect(h.query('a.zone9999.example', { phase: 'pre-cache' }).tags).toEqual(['t9999']);
    expect(h.query('x', { phase: 'pre-cache', tags: ['in5000'] }).tags).toEqual(['in5000', 't5000']);
    expect(h.query('www.last.example', { phase: 'pre-cache' }).response?.rcode).toBe(3);
    expect(h.query('unrelated.org', { phase: 'pre-cache' }).verdict).toBe('continue');
  });
});

describe('refused rule sets', () => {
  it('leave no garbage behind: a run of refused 10,000-rule sets, then a good one loads', () => {
    const rules: string[] = [];
    for (let i = 0; i < 10_000; i++) rules.push(`phase = pre-cache qname-suffix zone${i}.example set-tag t${i}`);
    const good = rules.join('\n') + '\n';
    const h = app(good);
    for (let i = 0; i < 8; i++) {
      const r = h.load(enc(good + 'phase = nowhere set-tag x\n'));
      // refused by the parser, not by a trap at the memory cap
      expect(!r.ok && r.error).toMatch(/^10001:9: unknown phase "nowhere"/);
    }
    expect(h.load(enc(good)).ok).toBe(true);
    expect(h.query('a.zone42.example', { phase: 'pre-cache' }).tags).toEqual(['t42']);
  });
});

describe('garbage collection under load', () => {
  it('does not walk 10,000 rules every 64 queries once the memory is past half its cap', async () => {
    const { newContext } = await import('../../host/core/context.js');
    const { buildQuery, textToName } = await import('../../host/core/dns/wire.js');
    const rules: string[] = [];
    for (let i = 0; i < 10_000; i++) rules.push(`phase = pre-cache qname-suffix zone${i}.example set-tag t${i}`, `phase = pre-cache tag t${i} ttl-cap 60`);
    const h = app(rules.join('\n') + '\n');
    const inputs = Array.from({ length: 100 }, (_, i) => {
      const qname = textToName(`host${i}.example.test.`);
      const ctx = newContext({ qname, qtype: 1, qclass: 1, client: { address: '192.0.2.10', port: 40000 }, transport: 'udp', flags: 0, ingress: 't', deadline: Date.now() + 4000, udpSize: 1232 });
      return { ctx: encodeContext(ctx), msg: buildQuery({ name: qname, type: 1, class: 1 }, { id: 1, udpSize: 1232 }) };
    });
    const collections = () => h.metrics.value('edge_app_collections_total', { app: 'override' });
    // Enough calls for the garbage to push the memory past half its cap (the allocator doubles it).
    const cap = 2048 * 65536;
    let calls = 0;
    while (h.app.memoryBytes() * 2 < cap && calls < 5_000_000) {
      const x = inputs[calls++ % 100]!;
      h.app.call(0, x.ctx, x.msg);
    }
    expect(h.app.memoryBytes() * 2).toBeGreaterThanOrEqual(cap);
    const before = collections();
    let failed = 0;
    for (let i = 0; i < 300_000; i++) if (h.app.call(0, inputs[i % 100]!.ctx, inputs[i % 100]!.msg).kind !== 'ok') failed++;
    expect(failed).toBe(0);
    // A collection per 64 calls would be 4,687 of them.
    expect(collections() - before).toBeLessThan(20);
  }, 60_000);
});
