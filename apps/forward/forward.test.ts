/**
 * forward: longest-suffix routing to upstream groups, checked against two real authoritative
 * servers that give different answers for the same name.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNsd, type Nsd } from '../../test/helpers/nsd.js';
import { dig } from '../../test/helpers/dig.js';
import { needTools } from '../../test/helpers/tools.js';
import { startEdge, type TestNode } from '../../test/helpers/edge.js';
import { ConfigError } from '../../host/core/config.js';
import { harnessFor } from '../../test/helpers/apps.js';

const zone = (addr: string) => `$ORIGIN example.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 604800 60
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A ${addr}
deep.www IN A ${addr}
new IN A ${addr}
`;
const other = (addr: string) => `$ORIGIN other.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 604800 60
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A ${addr}
`;

describe('forward app under the harness', () => {
  const app = () =>
    harnessFor('forward', {
      config: { routes: { '.': 'default', 'com.': 'alt', 'example.com.': 'default' } },
      host: { upstream_groups: 'default,alt' },
    });

  it('in recursive mode routes "." to iteration and other zones to their groups', () => {
    const h = harnessFor('forward', {
      config: { routes: { '.': 'default', 'corp.example.': 'alt', 'lab.corp.example.': 'iterate' } },
      host: { upstream_groups: 'default,alt,iterate', mode: 'recursive' },
    });
    expect(h.query('www.example.com').ctx.route).toBe('iterate');
    expect(h.query('www.corp.example').ctx.route).toBe('alt');
    expect(h.query('x.lab.corp.example').ctx.route).toBe('iterate');
    // no "." route: no route, and the host iterates what has none
    const bare = harnessFor('forward', { config: { routes: { 'corp.example.': 'alt' } }, host: { upstream_groups: 'alt,iterate', mode: 'recursive' } });
    expect(bare.query('www.example.com').ctx.route).toBe('');
  });

  it('routes by the longest zone on label boundaries', () => {
    const h = app();
    expect(h.query('www.example.com').ctx.route).toBe('default');
    expect(h.query('www.other.com').ctx.route).toBe('alt');
    expect(h.query('COM').ctx.route).toBe('alt');
    expect(h.query('notcom').ctx.route).toBe('default');
    expect(h.query('xexample.com').ctx.route).toBe('alt');
    expect(h.query('www.example.com').verdict).toBe('continue');
  });

  it("routes a DS query by its parent's name: the DS of a zone is on the parent's servers", () => {
    const h = app();
    expect(h.query('example.com', { qtype: 'DS' }).ctx.route).toBe('alt');
    expect(h.query('example.com', { qtype: 'A' }).ctx.route).toBe('default');
    expect(h.query('www.example.com', { qtype: 'DS' }).ctx.route).toBe('default');
    expect(h.query('com', { qtype: 'DS' }).ctx.route).toBe('default');
    expect(h.query('.', { qtype: 'DS' }).ctx.route).toBe('default');
  });

  it('keeps a route a rule already chose, and forgets it for the next request', () => {
    const h = app();
    expect(h.query('www.other.com', { route: 'default' }).ctx.route).toBe('default');
    // The guest reuses its context object between calls: nothing may leak into the next one.
    expect(h.query('www.other.com').ctx.route).toBe('alt');
  });

  it('refuses config it cannot use', () => {
    expect(() => harnessFor('forward', { config: { routes: { 'com.': 'nosuch' } } })).toThrow(/not in \[upstreams\]/);
    expect(() => harnessFor('forward', { config: { rutes: {} } })).toThrow(/unknown key "rutes"/);
  });
});

describe('forward app: the owner of a cache slot (rendezvous hashing)', () => {
  const ownerSet = (self: string, members: string[]) =>
    harnessFor('forward', { host: { node_id: self, peers: members.join(','), max_hops: '1', upstream_groups: 'default' }, config: { routes: { '.': 'default' } } });
  const owners = (members: string[], names: string[]) => {
    const h = ownerSet(members[0]!, members);
    return names.map((n) => {
      const r = h.query(n);
      return r.verdict === 'forward' ? r.target!.slice(5) : members[0]!;
    });
  };
  const names = Array.from({ length: 6000 }, (_, i) => `name${i}.example${i % 97}.com`);

  it('spreads keys evenly, and every node computes the same owner', () => {
    const a = owners(['a', 'b', 'c'], names);
    const counts = ['a', 'b', 'c'].map((m) => a.filter((o) => o === m).length);
    for (const c of counts) expect(c / names.length).toBeGreaterThan(0.28);
    // Seen from another member, with the list in another order: the same owners.
    const h = ownerSet('b', ['c', 'a', 'b'].sort());
    expect(names.slice(0, 500).map((n) => (h.query(n).verdict === 'forward' ? h.query(n).target!.slice(5) : 'b'))).toEqual(a.slice(0, 500));
  });

  it('moves only about 1/N of the keys when a node is added or removed', () => {
    const three = owners(['a', 'b', 'c'], names);
    const four = owners(['a', 'b', 'c', 'd'], names);
    const moved = three.filter((o, i) => o !== four[i]);
    expect(moved.length / names.length).toBeGreaterThan(0.2);
    expect(moved.length / names.length).toBeLessThan(0.3);
    // Every key that moved went to the new node; no key moved between old nodes.
    expect(new Set(four.filter((o, i) => o !== three[i]))).toEqual(new Set(['d']));
    const two = owners(['a', 'b'], names);
    expect(three.filter((o, i) => o !== 'c' && o !== two[i])).toEqual([]);
  });

  it('keys on qtype and the DO bit too, and never forwards a query already forwarded or marked local', () => {
    const h = ownerSet('a', ['a', 'b', 'c']);
    const byType = new Set(['A', 'AAAA', 'MX', 'TXT', 'NS', 'SOA', 'DS', 'SRV'].map((t) => h.query('www.example.com', { qtype: t }).target ?? 'a'));
    expect(byType.size).toBeGreaterThan(1);
    // The same name and type with DO set and clear: a DO answer carries signatures, so it is
    // another cache entry, and its own owner for about 2/3 of the names with three members.
    const sample = names.slice(0, 300);
    const owner = (n: string, dnssec: boolean) => h.query(n, { do: dnssec }).target ?? 'a';
    const moved = sample.filter((n) => owner(n, false) !== owner(n, true)).length;
    expect(moved / sample.length).toBeGreaterThan(0.5);
    expect(moved / sample.length).toBeLessThan(0.8);
    // And the hash is stable: the same flags, the same owner.
    expect(sample.map((n) => owner(n, true))).toEqual(sample.map((n) => owner(n, true)));
    const remote = names.find((n) => h.query(n).verdict === 'forward')!;
    expect(h.query(remote, { hops: 1 }).verdict).toBe('continue');
    expect(h.query(remote, { local: true }).verdict).toBe('continue');
  });

  it('owns nothing when this node is not a member (a Workers ingress), even with a single member', () => {
    const ingress = ownerSet('ingress', ['shard-0', 'shard-1']);
    const spread = names.slice(0, 200).map((n) => ingress.query(n).target);
    expect(new Set(spread)).toEqual(new Set(['peer:shard-0', 'peer:shard-1']));
    // The same owners the shards compute among themselves.
    expect(owners(['shard-0', 'shard-1'], names.slice(0, 200)).map((o) => `peer:${o}`)).toEqual(spread);
    const one = ownerSet('ingress', ['shard-0']);
    expect(names.slice(0, 20).map((n) => one.query(n).target)).toEqual(Array(20).fill('peer:shard-0'));
    // A node that is the only member resolves everything itself.
    expect(ownerSet('a', ['a']).query(names[0]!).verdict).toBe('continue');
  });
});

describe.skipIf(!needTools('nsd', 'dig'))('forward app routing', () => {
  let a: Nsd;
  let b: Nsd;
  let edge: TestNode;

  beforeAll(async () => {
    a = await startNsd({ 'example.test.': zone('192.0.2.1'), 'other.test.': other('192.0.2.9') });
    b = await startNsd({ 'example.test.': zone('203.0.113.1'), 'other.test.': other('203.0.113.9') });
    edge = await startEdge(`
[upstreams]
default = ["${a.address}"]
alt = ["${b.address}"]
[apps.forward.config.routes]
"." = "default"
"example.test." = "alt"
"deep.www.example.test." = "default"
`);
  });

  afterAll(async () => {
    await edge?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('sends a name to the group of its longest matching zone', async () => {
    expect((await dig(edge.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('203.0.113.1');
    expect((await dig(edge.dns, ['deep.www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
    expect((await dig(edge.dns, ['www.other.test', 'A'])).answers[0]?.data).toBe('192.0.2.9');
  });

  it('ignores case', async () => {
    expect((await dig(edge.dns, ['WWW.EXAMPLE.TEST', 'A'])).answers[0]?.data).toBe('203.0.113.1');
    const text = await edge.node.metrics.text();
    expect(text).toMatch(/edge_app_events_total\{app="forward",event="routed"\} \d+/);
  });

  it('switches routes on reload without a restart, and refuses a route to an unknown group', async () => {
    const cfg = (route: string) => `[server]\nlisten = ["127.0.0.1:0"]\n[upstreams]\ndefault = ["${a.address}"]\nalt = ["${b.address}"]\n[apps.forward.config.routes]\n"." = "default"\n"example.test." = "${route}"\n`;
    expect((await edge.node.reload(cfg('default'))).ok).toBe(true);
    // (www A is cached from the first test; a name not asked before shows the new route.)
    expect((await dig(edge.dns, ['new.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
    const bad = await edge.node.reload(cfg('nosuch'));
    expect(bad.ok).toBe(false);
    expect(bad.errors.join('\n')).toMatch(/names upstream group "nosuch", which is not in \[upstreams\]/);
    const unknownKey = await edge.node.reload(cfg('default').replace('[apps.forward.config.routes]', '[apps.forward.config]\nroutez = 1\n[apps.forward.config.routes]'));
    expect(unknownKey.errors.join('\n')).toMatch(/apps\.forward\.config: unknown key "routez"/);
  });

  it('refuses a bad route at start', async () => {
    const err = await startEdge(`[upstreams]\ndefault = ["${a.address}"]\n[apps.forward.config.routes]\n"bad..name." = "default"\n`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String(err)).toMatch(/not a valid zone name/);
  });
});
