/**
 * Cache pooling between three nodes on loopback, with the request context carried, signed and
 * checked on every hop: the October 2023 incident and its negative control, one upstream query
 * per site for a name, forged and wrongly keyed contexts stripped and counted, a dead peer that
 * costs at most the bound, and key rotation.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { dig } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { root, type TestNode } from '../helpers/edge.js';
import { freePort } from '../helpers/net.js';
import { harnessFor } from '../helpers/apps.js';
import { ContextAuth } from '../../host/core/context-auth.js';
import { encodeContext, newContext } from '../../host/core/context.js';
import { textToName } from '../../host/core/dns/wire.js';
import { EdgeNode, type EdgeNodeOptions } from '../../host/adapters/node/edge-node.js';
import { parseConfig } from '../../host/core/config.js';
import { consoleLogger, silentLogger } from '../../host/core/log.js';

const fixtures = join(root, 'test/fixtures/zones');
const K1 = 'site-key-one-0123456789abcdef';
const K2 = 'site-key-two-0123456789abcdef';
const JUNK = Array.from({ length: 80 }, (_, i) => `host.junk${i}.`);
// Each test takes its own names, so no answer is already cached from an earlier test.
const names = (from: number, to: number) => JUNK.slice(from, to);

const upstreamRoot = `$ORIGIN .
$TTL 300
. IN SOA ns.upstream. hostmaster.upstream. 1 3600 900 604800 60
. IN NS ns.upstream.
ns.upstream. IN A 127.0.0.1
${JUNK.map((n, i) => `${n} IN A 192.0.2.${i + 1}`).join('\n')}
`;
// Under a TLD the local root knows (com.), so the local root passes these names to the upstream.
const exampleZone = `$ORIGIN example.com.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 604800 60
@ IN NS ns1
ns1 IN A 127.0.0.1
${Array.from({ length: 50 }, (_, i) => `n${i} IN A 198.51.100.${i + 1}`).join('\n')}
`;

/** Which node owns a name, as the forward app on `self` sees it (the real app, not a copy of its hash). */
function ownerOf(self: string, members: string[], name: string, qtype = 'A'): string {
  const h = harnessFor('forward', { host: { node_id: self, peers: members.join(','), max_hops: '1', upstream_groups: 'default' }, config: { routes: { '.': 'default' } } });
  const r = h.query(name, { qtype });
  return r.verdict === 'forward' ? r.target!.slice('peer:'.length) : self;
}

async function metric(n: TestNode, name: string, match = ''): Promise<number> {
  const text = await n.node.metrics.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(match))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

interface SiteOptions {
  keys?: Record<string, string>;
  signing?: string;
  /** Listen here instead of the node's own port (a second instance with the same identity). */
  port?: number;
  timeoutMs?: number;
}

function siteConfig(nsd: Nsd, ports: Record<string, number>, members: string[], id: string, o: SiteOptions = {}): string {
  const keys = o.keys ?? { k1: K1 };
  return `node_id = "${id}"
[server]
listen = ["127.0.0.1:${o.port ?? ports[id]}"]
request_timeout_ms = 3000
[upstreams]
default = ["${nsd.address}"]
[upstream]
try_timeout_ms = 2000
[site]
peers = { ${members.map((p) => `${p} = "127.0.0.1:${ports[p]}"`).join(', ')} }
keys = { ${Object.entries(keys).map(([k, v]) => `${k} = "${v}"`).join(', ')} }
${o.signing ? `signing_key = "${o.signing}"` : ''}
peer_timeout_ms = ${o.timeoutMs ?? 150}
[zone]
source = "${join(fixtures, 'root-lookalike-2026082201.zone.gz')}"
trust_anchor = "${join(fixtures, 'trust-anchor.ds')}"
[apps.forward.config.routes]
"." = "default"
`;
}

async function startNode(text: string, port: number, opts: EdgeNodeOptions = {}): Promise<TestNode> {
  const node = await EdgeNode.start(parseConfig(text, 'test'), { logger: process.env.EDGE_TEST_LOG ? consoleLogger('debug') : silentLogger, configText: text, ...opts });
  return { node, dns: { host: '127.0.0.1', port }, stop: () => node.close(0) };
}

/** A context as a peer would send it, signed with `key` (id, secret), for the given question. */
async function craftedContext(name: string, qtype: number, key: [string, string], deadline = Date.now() + 2000): Promise<string> {
  const ctx = newContext({ qname: textToName(name), qtype, qclass: 1, client: { address: '192.0.2.1', port: 1 }, transport: 'udp', flags: 0, ingress: 'x', deadline, udpSize: 0 });
  ctx.tags.add('rec_disable_static');
  ctx.hops = 1;
  const signed = await new ContextAuth({ keys: { [key[0]]: key[1] }, signing: key[0] }, 3000).sign(encodeContext(ctx));
  return Buffer.from(signed).toString('hex');
}

describe.skipIf(!needTools('nsd', 'dig'))('cache pooling across three nodes', () => {
  let nsd: Nsd;
  let ports: Record<string, number>;
  const nodes: Record<string, TestNode> = {};
  const members = ['a', 'b', 'c'];
  const cfg = (id: string, o: SiteOptions = {}) => siteConfig(nsd, ports, members, id, o);

  beforeAll(async () => {
    nsd = await startNsd({ '.': upstreamRoot, 'example.com.': exampleZone });
    ports = { a: await freePort(), b: await freePort(), c: await freePort(), spare: await freePort() };
    for (const id of members) nodes[id] = await startNode(cfg(id), ports[id]!);
  }, 90_000);

  afterAll(async () => {
    for (const n of Object.values(nodes)) await n.stop();
    await nsd?.stop();
  });

  it('(a) the incident: the tag a rule sets on the ingress reaches the owner, whose local root stands aside; without the context it does not', async () => {
    const pool = names(0, 20);
    const owner = ownerOf('a', members, pool.find((n) => ownerOf('a', members, n) !== 'a')!);
    const [first, second, third] = pool.filter((n) => ownerOf('a', members, n) === owner) as [string, string, string];
    expect(third).toBeDefined();

    // Before any rule: the owner answers the junk name from its local root.
    expect((await dig(nodes.a!.dns, [first, 'A'])).status).toBe('NXDOMAIN');
    expect(await metric(nodes.a!, 'edge_peer_forwarded_total', 'result="ok"')).toBeGreaterThanOrEqual(1);

    // The operators' rule, pushed to the ingress node only.
    const rule = new TextEncoder().encode('phase = pre-cache set-tag rec_disable_static\n');
    expect((await nodes.a!.node.rules.apply(rule, 'test')).ok).toBe(true);
    const passedBefore = await metric(nodes[owner]!, 'edge_app_events_total', 'event="passed_tag"');
    const answer = await dig(nodes.a!.dns, [second, 'A']);
    expect(answer.status).toBe('NOERROR'); // from the upstream, not from the owner's local root
    expect(answer.answers[0]?.data).toBe(`192.0.2.${JUNK.indexOf(second) + 1}`);
    expect(await metric(nodes[owner]!, 'edge_app_events_total', 'event="passed_tag"')).toBe(passedBefore + 1);
    expect(await metric(nodes[owner]!, 'edge_peer_received_total', 'ingress="a"')).toBeGreaterThanOrEqual(2);
    // The name asked before the rule was answered by the owner's local root: that answer was made
    // for that request, so the ingress did not cache it and the rule applies to it at once too.
    expect((await dig(nodes.a!.dns, [first, 'A'])).answers[0]?.data).toBe(`192.0.2.${JUNK.indexOf(first) + 1}`);

    // Negative control, same rule: node a's twin forwards without the context, as the 2023 node
    // did. The tag is lost on the way and the owner answers from its local root.
    const twin = await startNode(cfg('a', { port: ports.spare }), ports.spare!, { testOnlyForwardWithoutContext: true });
    try {
      expect((await twin.node.rules.apply(rule, 'test')).ok).toBe(true);
      const lost = await dig(twin.dns, [third, 'A']);
      expect(await metric(twin, 'edge_peer_forwarded_total', 'result="ok"')).toBe(1);
      expect(lost.status).toBe('NXDOMAIN');
    } finally {
      await twin.stop();
    }
    await nodes.a!.node.rules.clear();
  });

  it('(b) pooling: a name resolved through node a and then asked at node c reaches the upstream once', async () => {
    const upstream = async () => (await Promise.all(members.map((m) => metric(nodes[m]!, 'edge_upstream_queries_total')))).reduce((x, y) => x + y, 0);
    for (const name of ['n1.example.com', 'n2.example.com', 'n3.example.com', 'n4.example.com']) {
      const before = await upstream();
      expect((await dig(nodes.a!.dns, [name, 'A'])).answers[0]?.data).toMatch(/^198\.51\.100\./);
      expect((await dig(nodes.c!.dns, [name, 'A'])).answers[0]?.data).toMatch(/^198\.51\.100\./);
      expect((await dig(nodes.b!.dns, [name, 'A'])).answers[0]?.data).toMatch(/^198\.51\.100\./);
      expect(await upstream(), name).toBe(before + 1);
    }
  });

  it('(c) a forged context from a client, and peer messages with a wrong key, an unknown key or an old deadline are stripped and counted', async () => {
    const name = names(20, 40).find((n) => ownerOf('b', members, n) === 'b')!;
    const q = (hex: string, extra: string[] = []) => dig(nodes.b!.dns, [name, 'A', `+ednsopt=65001:${hex}`, ...extra]);
    const rejected = (reason: string) => metric(nodes.b!, 'edge_context_rejected_total', `reason="${reason}"`);
    const before = { notPeer: await rejected('not-peer'), noMac: await rejected('no-mac'), bad: await rejected('bad-mac'), unknown: await rejected('unknown-key'), expired: await rejected('expired') };
    // Unsigned, from a client address that is not a peer: stripped; the local root still answers.
    const unsigned = Buffer.from(encodeContext(newContext({ qname: textToName(name), qtype: 1, qclass: 1, client: null, transport: 'udp', flags: 0, ingress: 'x', deadline: Date.now() + 2000, udpSize: 0 }))).toString('hex');
    expect((await q(unsigned, ['-b', '127.0.0.2'])).status).toBe('NXDOMAIN');
    expect(await rejected('not-peer')).toBe(before.notPeer + 1);
    // From a peer address but with no MAC, a wrong secret, an unknown key id, an expired deadline.
    expect((await q(unsigned)).status).toBe('NXDOMAIN');
    expect((await q(await craftedContext(name, 1, ['k1', 'not-the-site-secret-at-all']))).status).toBe('NXDOMAIN');
    expect((await q(await craftedContext(name, 1, ['k9', K1]))).status).toBe('NXDOMAIN');
    expect((await q(await craftedContext(name, 1, ['k1', K1], Date.now() - 1000))).status).toBe('NXDOMAIN');
    expect(await rejected('no-mac')).toBe(before.noMac + 1);
    expect(await rejected('bad-mac')).toBe(before.bad + 1);
    expect(await rejected('unknown-key')).toBe(before.unknown + 1);
    expect(await rejected('expired')).toBe(before.expired + 1);
    // The genuine article is accepted: the tag it carries makes the local root stand aside.
    expect((await q(await craftedContext(name, 1, ['k1', K1]))).answers[0]?.data).toBe(`192.0.2.${JUNK.indexOf(name) + 1}`);
  });

  it('(d) a dead peer costs at most the bound each time, is marked down after three, and its queries are resolved locally', async () => {
    await nodes.c!.stop();
    const toC = names(40, 60).filter((n) => ownerOf('a', members, n) === 'c');
    expect(toC.length).toBeGreaterThan(4);
    for (const [i, n] of toC.slice(0, 3).entries()) {
      const started = Date.now();
      expect((await dig(nodes.a!.dns, [n, 'A'])).status).toBe('NXDOMAIN'); // a's own local root
      // The bound is 150 ms; anything that waited on the upstream timeout (2 s) would show here.
      expect(Date.now() - started).toBeLessThan(1500);
      expect(await metric(nodes.a!, 'edge_peer_forwarded_total', 'peer="c",result="timeout"')).toBe(i + 1);
    }
    expect(await metric(nodes.a!, 'edge_peer_up', 'peer="c"')).toBe(0);
    // Down: the next query does not try c at all.
    expect((await dig(nodes.a!.dns, [toC[3]!, 'A'])).status).toBe('NXDOMAIN');
    expect(await metric(nodes.a!, 'edge_peer_forwarded_total', 'peer="c"')).toBe(3);
    expect(await metric(nodes.a!, 'edge_peer_local_fallback_total', 'peer="c"')).toBe(4);
    nodes.c = await startNode(cfg('c'), ports.c!);
  });

  it('(e) key rotation: two keys valid at once, then the old one removed', async () => {
    const toB = names(60, 80).filter((n) => ownerOf('a', members, n) === 'b');
    expect(toB.length).toBeGreaterThan(3);
    const received = () => metric(nodes.b!, 'edge_peer_received_total', 'ingress="a"');
    const ask = async (i: number) => {
      const before = await received();
      await dig(nodes.a!.dns, [toB[i]!, 'A']);
      return (await received()) - before;
    };
    // Step 1: b accepts k1 and k2; a still signs with k1.
    expect((await nodes.b!.node.reload(cfg('b', { keys: { k1: K1, k2: K2 }, signing: 'k1' }))).ok).toBe(true);
    expect(await ask(0)).toBe(1);
    // Step 2: a signs with k2 (and still accepts k1).
    expect((await nodes.a!.node.reload(cfg('a', { keys: { k1: K1, k2: K2 }, signing: 'k2' }))).ok).toBe(true);
    expect(await ask(1)).toBe(1);
    // Step 3: k1 is removed from b; a's k2 contexts still pass, a k1 context is refused.
    expect((await nodes.b!.node.reload(cfg('b', { keys: { k2: K2 } }))).ok).toBe(true);
    expect(await ask(2)).toBe(1);
    const before = await metric(nodes.b!, 'edge_context_rejected_total', 'reason="unknown-key"');
    await dig(nodes.b!.dns, [toB[3]!, 'A', `+ednsopt=65001:${await craftedContext(toB[3]!, 1, ['k1', K1])}`]);
    expect(await metric(nodes.b!, 'edge_context_rejected_total', 'reason="unknown-key"')).toBe(before + 1);
  });
});
