/**
 * Recursive mode of the resolver (`resolver.mode = "recursive"`): a node resolves from the
 * loopback world itself, with no upstream resolver; the forward app's routes still send a zone
 * to a group; the local root copy in static_zone answers the iterator's root questions (no
 * query reaches the test root server while it is in service), and without one, or with the
 * `rec_disable_static` tag, the root server is asked; /status and the metrics say which.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig } from '../helpers/dig.js';
import { ownerOf, startEdge, testNode, type TestNode } from '../helpers/edge.js';
import { K1 } from '../cases/fixtures.js';
import { EdgeNode } from '../../host/adapters/node/edge-node.js';
import { parseConfig } from '../../host/core/config.js';
import { silentLogger } from '../../host/core/log.js';
import { namedRoot, type Hierarchy } from '../helpers/hierarchy.js';
import { freePort, waitFor } from '../helpers/net.js';
import { loopbackOnly, seen, useWorld, worldZones } from './world.js';

let h: Hierarchy;
const runs = useWorld((x) => (h = x));
const dir = mkdtempSync(join(tmpdir(), 'edge-recursive-mode-'));

async function metric(n: TestNode, name: string, match = ''): Promise<number> {
  const text = await n.node.metrics.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(match))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** A recursive node primed from the world's root; `more` is appended to its config. */
async function recursiveNode(more = '', port?: number): Promise<TestNode> {
  const hints = join(dir, `hints-${h.prefix}`);
  writeFileSync(hints, namedRoot({ 'a.root-servers.test.': h.ip.root! }));
  // The world is unsigned: validation (on by default, the IANA root's anchor) would call it bogus.
  const text = `[resolver]\nmode = "recursive"\nroot_hints = "${hints}"\n[dnssec]\nvalidate = false\n${more}`;
  if (port === undefined) return startEdge(text, { transport: loopbackOnly() });
  // top-level keys (node_id) go before any table
  const [top, rest] = text.includes('node_id') ? [text.slice(text.indexOf('node_id')).split('\n')[0]!, text.replace(/node_id = "[^"]*"\n/, '')] : ['', text];
  const full = `${top}\n[server]\nlisten = ["127.0.0.1:${port}"]\nrequest_timeout_ms = 3000\n${rest}`;
  const edge = await EdgeNode.start(parseConfig(full, 'test config'), { logger: silentLogger, configText: full, transport: loopbackOnly() });
  return { ...testNode(edge), dns: { host: '127.0.0.1', port } };
}

/** The world's root zone as the local copy (unsigned: verification off for it). */
function localRootConfig(): string {
  const file = join(dir, `root-${h.prefix}.zone`);
  writeFileSync(file, worldZones(h.ip)['.']!);
  return `[zone]\nsource = "${file}"\ndnssec = "ignore"\nzonemd = "ignore"\n`;
}

describe.skipIf(!runs)('recursive mode', () => {
  it('resolves from the root with no upstream resolver configured, CNAME across zones included', async () => {
    const n = await recursiveNode();
    try {
      const a = await dig(n.dns, ['www.example.test', 'A']);
      expect(a.status).toBe('NOERROR');
      expect(a.flags).toContain('ra');
      expect(a.answers.map((x) => x.data)).toEqual(['192.0.2.1']);
      const c = await dig(n.dns, ['alias.example.test', 'A']);
      expect(c.answers.map((x) => `${x.type} ${x.data}`)).toEqual(['CNAME www.target.other.', 'A 192.0.2.10']);
      const nx = await dig(n.dns, ['nope.target.other', 'A']);
      expect(nx.status).toBe('NXDOMAIN');
      expect(seen(h, 'root').length).toBeGreaterThan(0); // no local copy: the root server was asked
      expect(await metric(n, 'edge_recursion_root_source_total', 'source="root_servers"')).toBeGreaterThan(0);
      const status = n.node.status() as { resolver: Record<string, unknown> };
      expect(status.resolver).toMatchObject({ mode: 'recursive', root_source: 'root_servers', qname_minimisation: true });
      // The second time it is the resolver's cache.
      h.clearLogs();
      expect((await dig(n.dns, ['www.example.test', 'A'])).answers.map((x) => x.data)).toEqual(['192.0.2.1']);
      expect(h.queries()).toEqual([]);
    } finally {
      await n.stop();
    }
  });

  it('still forwards a zone the forward app routes to a group (like forward-zone)', async () => {
    // target.other. goes to the trap, which serves its own copy of the zone: its address shows.
    const n = await recursiveNode(`[upstreams]\ntrapgroup = ["${h.ip.trap}:53"]\n[apps.forward.config.routes]\n"." = "default"\n"target.other." = "trapgroup"\n`);
    try {
      expect((await dig(n.dns, ['www.target.other', 'A'])).answers.map((x) => x.data)).toEqual(['198.51.100.66']);
      expect((await dig(n.dns, ['www.example.test', 'A'])).answers.map((x) => x.data)).toEqual(['192.0.2.1']); // "." iterates
      expect(seen(h, 'trap')).toEqual(['www.target.other. A']);
    } finally {
      await n.stop();
    }
  });

  it('asks no root server while the local root copy is in service', async () => {
    const n = await recursiveNode(localRootConfig());
    try {
      await waitFor(async () => n.node.zone?.current != null, 20_000);
      expect((n.node.status() as { resolver: Record<string, unknown> }).resolver.root_source).toBe('local');
      expect((await dig(n.dns, ['www.example.test', 'A'])).answers.map((x) => x.data)).toEqual(['192.0.2.1']);
      expect((await dig(n.dns, ['alias.example.test', 'A'])).answers.map((x) => x.data)).toEqual(['www.target.other.', '192.0.2.10']);
      // a junk TLD is the copy's own NXDOMAIN
      expect((await dig(n.dns, ['printer.local', 'A'])).status).toBe('NXDOMAIN');
      expect(seen(h, 'root')).toEqual([]);
      expect(seen(h, 'tld1').length + seen(h, 'tld2').length).toBeGreaterThan(0);
      expect(await metric(n, 'edge_recursion_root_source_total', 'source="local"')).toBeGreaterThan(0);
      expect(await metric(n, 'edge_recursion_root_source_total', 'source="root_servers"')).toBe(0);

      // rec_disable_static switches the copy off: the next name in a TLD not yet learned goes to the root server.
      expect((await n.node.rules.apply(new TextEncoder().encode('phase = pre-cache set-tag rec_disable_static\n'), 'test')).ok).toBe(true);
      h.clearLogs();
      expect((await dig(n.dns, ['www.dummy', 'A'])).status).toBe('NOERROR');
      expect(seen(h, 'root').length).toBeGreaterThan(0);
      expect(await metric(n, 'edge_recursion_root_source_total', 'source="root_servers"')).toBeGreaterThan(0);
    } finally {
      await n.stop();
    }
  });

  it('refuses a root hints file it cannot use, naming the key', async () => {
    const bad = join(dir, 'bad-hints');
    writeFileSync(bad, '. 3600000 NS a.root.test.\n');
    await expect(startEdge(`[resolver]\nmode = "recursive"\nroot_hints = "${bad}"\n`)).rejects.toThrow(/resolver\.root_hints: .*no root server with an address/);
    await expect(startEdge(`[resolver]\nmode = "recursive"\nroot_hints = "${join(dir, 'missing')}"\n`)).rejects.toThrow(/resolver\.root_hints: .*ENOENT/);
  });
});

describe.skipIf(!runs)('recursive mode with cache pooling', () => {
  const nodes: Record<string, TestNode> = {};
  const members = ['a', 'b'];

  beforeAll(async () => {
    const ports = { a: await freePort(), b: await freePort() };
    for (const id of members) {
      nodes[id] = await recursiveNode(`node_id = "${id}"
[site]
peers = { a = "127.0.0.1:${ports.a}", b = "127.0.0.1:${ports.b}" }
keys = { k1 = "${K1}" }
peer_timeout_ms = 2000
settle_ms = 0
${localRootConfig()}`, ports[id as 'a' | 'b']);
      await waitFor(async () => nodes[id]!.node.zone?.current != null, 20_000);
    }
  }, 60_000);

  afterAll(async () => {
    for (const n of Object.values(nodes)) await n.stop();
  });

  /** Names under `suffix` that node b owns, as a's forward app sees them. */
  const ownedByB = (suffix: string, count: number) =>
    Array.from({ length: 200 }, (_, i) => `n${i}.${suffix}`).filter((n) => ownerOf('a', members, n) === 'b').slice(0, count);

  it('the owner iterates; with rec_disable_static on the ingress node the owner asks the root server, not its copy', async () => {
    const [plain] = ownedByB('wild.example.test', 1);
    const before = { a: await metric(nodes.a!, 'edge_recursion_requests_total'), b: await metric(nodes.b!, 'edge_recursion_requests_total') };
    expect((await dig(nodes.a!.dns, [plain!, 'A'])).answers.map((x) => x.data)).toEqual(['192.0.2.99']);
    expect(await metric(nodes.a!, 'edge_recursion_requests_total')).toBe(before.a); // a forwarded it
    expect(await metric(nodes.b!, 'edge_recursion_requests_total')).toBeGreaterThan(before.b);
    expect(seen(h, 'root')).toEqual([]); // b's local copy answered the root questions

    // The tag is set on a, travels with the query, and switches b's copy off for it.
    expect((await nodes.a!.node.rules.apply(new TextEncoder().encode('phase = pre-cache set-tag rec_disable_static\n'), 'test')).ok).toBe(true);
    try {
      const [tagged] = ownedByB('dummy', 1);
      h.clearLogs();
      const rootBefore = await metric(nodes.b!, 'edge_recursion_root_source_total', 'source="root_servers"');
      expect((await dig(nodes.a!.dns, [tagged!, 'A'])).answers.map((x) => x.data)).toEqual(['192.0.2.200']);
      expect(seen(h, 'root').length).toBeGreaterThan(0);
      expect(await metric(nodes.b!, 'edge_recursion_root_source_total', 'source="root_servers"')).toBeGreaterThan(rootBefore);
      expect(await metric(nodes.a!, 'edge_recursion_root_source_total', 'source="root_servers"')).toBe(0); // a never iterated
    } finally {
      await nodes.a!.node.rules.clear();
    }
  });
});
