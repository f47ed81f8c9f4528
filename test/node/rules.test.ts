/**
 * Override rules end to end: every matcher and action observed with dig through a running
 * resolver with NSD upstreams; rule files watched; rule sets pushed to three nodes with
 * `edge-resolver rules push`, including a push that one node refuses and so applies nowhere.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { dig, run } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { root, startEdge, type TestNode } from '../helpers/edge.js';
import { waitFor } from '../helpers/net.js';

const zone = (origin: string, addr: string) => `$ORIGIN ${origin}
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 604800 60
@ IN NS ns1
ns1 IN A 127.0.0.1
${Array.from({ length: 20 }, (_, i) => `n${i} IN A ${addr}`).join('\n')}
www IN A ${addr}
www IN TXT "from ${addr}"
`;
const TOKEN = 'test-admin-token-0123456789';
const main = join(root, 'dist/host/adapters/node/main.js');

async function metric(node: TestNode, name: string, match: string): Promise<number> {
  const text = await node.node.metrics.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(match))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

describe.skipIf(!needTools('nsd', 'dig'))('override rules through a running resolver', () => {
  let a: Nsd;
  let b: Nsd;
  let edge: TestNode;
  const dir = mkdtempSync(join(tmpdir(), 'edge-rules-'));
  const rulesFile = join(dir, 'site.rules');

  const rules = `
phase = pre-cache qname-suffix corp respond NXDOMAIN
phase = pre-cache qname pinned.example.test respond A 192.0.2.77
phase = pre-cache qname-suffix example.test qtype TXT respond REFUSED
phase = pre-cache qname n1.example.test client 127.0.0.2 respond REFUSED
phase = pre-cache qname n2.example.test transport tcp respond NXDOMAIN
phase = pre-cache qname n3.example.test set-tag t1
phase = pre-cache tag t1 respond A 192.0.2.55
phase = pre-cache qname n4.example.test set-tag t2
phase = pre-cache qname n4.example.test clear-tag t2
phase = pre-cache tag t2 respond A 192.0.2.56
phase = post-resolve qname-suffix other.test rcode NXDOMAIN respond REFUSED
phase = post-resolve qname n5.other.test ttl-cap 10
phase = resolve qname-suffix example.test forward-to alt
phase = pre-cache qname-suffix other.test disable-app forward
`;

  beforeAll(async () => {
    a = await startNsd({ 'example.test.': zone('example.test.', '192.0.2.1'), 'other.test.': zone('other.test.', '192.0.2.9') });
    b = await startNsd({ 'example.test.': zone('example.test.', '203.0.113.1'), 'other.test.': zone('other.test.', '203.0.113.9') });
    writeFileSync(rulesFile, rules);
    edge = await startEdge(`
[admin]
listen = "127.0.0.1:0"
token = "${TOKEN}"
[upstreams]
default = ["${a.address}"]
alt = ["${b.address}"]
[rules]
file = "${rulesFile}"
[apps.forward.config.routes]
"." = "default"
"other.test." = "alt"
`);
  });

  afterAll(async () => {
    await edge?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('qname-suffix and respond with an rcode: the upstream is never asked', async () => {
    const before = await metric(edge, 'edge_upstream_queries_total', '');
    expect((await dig(edge.dns, ['wpad.corp', 'A'])).status).toBe('NXDOMAIN');
    expect((await dig(edge.dns, ['printer.office.corp', 'AAAA'])).status).toBe('NXDOMAIN');
    expect(await metric(edge, 'edge_upstream_queries_total', '')).toBe(before);
  });

  it('qname and respond with a record', async () => {
    const r = await dig(edge.dns, ['PINNED.example.test', 'A']);
    expect(r.answers).toEqual([{ name: 'PINNED.example.test.', ttl: 60, type: 'A', data: '192.0.2.77' }]);
  });

  it('qtype, with EDE 18 on the refusal', async () => {
    const r = await dig(edge.dns, ['www.example.test', 'TXT']);
    expect(r.status).toBe('REFUSED');
    expect(r.raw).toMatch(/EDE: 18 \(Prohibited\)/);
  });

  it('client CIDR', async () => {
    expect((await dig(edge.dns, ['n1.example.test', 'A', '-b', '127.0.0.2'])).status).toBe('REFUSED');
    expect((await dig(edge.dns, ['n1.example.test', 'A', '-b', '127.0.0.1'])).status).toBe('NOERROR');
  });

  it('transport', async () => {
    expect((await dig(edge.dns, ['n2.example.test', 'A', '+tcp'])).status).toBe('NXDOMAIN');
    expect((await dig(edge.dns, ['n2.example.test', 'A'])).status).toBe('NOERROR');
  });

  it('set-tag, tag and clear-tag', async () => {
    expect((await dig(edge.dns, ['n3.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.55');
    // n4 gets t2 and loses it before the rule that would answer for t2.
    expect((await dig(edge.dns, ['n4.example.test', 'A'])).answers[0]?.data).toBe('203.0.113.1');
  });

  it('rcode in post-resolve rewrites an upstream NXDOMAIN', async () => {
    expect((await dig(edge.dns, ['nosuch.other.test', 'A'])).status).toBe('REFUSED');
  });

  it('ttl-cap', async () => {
    const r = await dig(edge.dns, ['n5.other.test', 'A']);
    expect(r.answers[0]!.ttl).toBeLessThanOrEqual(10);
  });

  it('forward-to reroutes a zone to the second upstream, observed at that upstream', async () => {
    const before = await metric(edge, 'edge_upstream_queries_total', 'group="alt"');
    expect((await dig(edge.dns, ['n6.example.test', 'A'])).answers[0]?.data).toBe('203.0.113.1');
    expect(await metric(edge, 'edge_upstream_queries_total', 'group="alt"')).toBe(before + 1);
  });

  it('disable-app takes the forward app out for matching queries', async () => {
    // forward routes other.test to alt; the rule switches forward off, so the default group answers.
    expect((await dig(edge.dns, ['n7.other.test', 'A'])).answers[0]?.data).toBe('192.0.2.9');
    expect(await metric(edge, 'edge_app_skipped_total', 'app="forward",reason="disabled-by-rule"')).toBeGreaterThan(0);
  });

  it('reports the running rule set hash in /status and metrics', async () => {
    const status = edge.node.status() as { rules: { hash: string; source: string } };
    expect(status.rules.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(status.rules.source).toBe(rulesFile);
    expect(await metric(edge, 'edge_app_data_info', `hash="${status.rules.hash}"`)).toBe(1);
  });

  it('follows the rule file: a good edit applies, a bad one is refused and the running set stays', async () => {
    const old = (edge.node.status() as { rules: { hash: string } }).rules.hash;
    writeFileSync(rulesFile, rules + 'phase = pre-cache qname n8.example.test respond A 192.0.2.88\n');
    await waitFor(async () => (edge.node.status() as { rules: { hash: string } }).rules.hash !== old, 5000);
    expect((await dig(edge.dns, ['n8.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.88');
    const good = (edge.node.status() as { rules: { hash: string } }).rules.hash;
    writeFileSync(rulesFile, rules + 'phase = pre-cache qname n9.example.test respnd A 192.0.2.99\n');
    await waitFor(async () => (await metric(edge, 'edge_app_data_refused_total', 'app="override"')) > 0, 5000);
    expect((edge.node.status() as { rules: { hash: string } }).rules.hash).toBe(good);
    expect((await dig(edge.dns, ['pinned.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.77');
  });
});

describe.skipIf(!needTools('nsd', 'dig'))('rules push to three nodes', () => {
  let a: Nsd;
  const nodes: TestNode[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'edge-push-'));
  const adminUrl = (n: TestNode) => `http://127.0.0.1:${n.node.listening.admin!.port}`;
  const hashOf = async (n: TestNode) => {
    const r = await run('curl', ['-s', `${adminUrl(n)}/status`]);
    return JSON.parse(r.stdout).rules.hash as string | null;
  };

  beforeAll(async () => {
    a = await startNsd({ 'example.test.': zone('example.test.', '192.0.2.1') });
    for (let i = 0; i < 3; i++) {
      // The third node has no "alt" group: a rule set that uses it must apply nowhere.
      const groups = i < 2 ? `default = ["${a.address}"]\nalt = ["${a.address}"]` : `default = ["${a.address}"]`;
      nodes.push(await startEdge(`[admin]\nlisten = "127.0.0.1:0"\ntoken = "${TOKEN}"\n[upstreams]\n${groups}\n[apps.forward.config.routes]\n"." = "default"\n`));
    }
  });

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await a?.stop();
  });

  const push = (file: string, token = TOKEN) => run(process.execPath, [main, 'rules', 'push', '--to', nodes.map(adminUrl).join(','), file, '--token', token]);

  it('applies a rule set everywhere, every node reports the same hash, behaviour changes at once', async () => {
    const file = join(dir, 'v1.rules');
    writeFileSync(file, 'phase = pre-cache qname-suffix corp respond NXDOMAIN\n');
    const r = await push(file);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const hashes = await Promise.all(nodes.map(hashOf));
    expect(new Set(hashes).size).toBe(1);
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
    for (const n of nodes) {
      expect(r.stdout).toContain(`${adminUrl(n)}: ${hashes[0]}`);
      expect((await dig(n.dns, ['x.corp', 'A'])).status).toBe('NXDOMAIN');
    }
  });

  it('a rule set one node refuses applies nowhere; a broken one too; all stay on the old hash', async () => {
    const old = await Promise.all(nodes.map(hashOf));
    const file = join(dir, 'v2.rules');
    writeFileSync(file, 'phase = resolve qname-suffix com forward-to alt\n');
    const r = await push(file);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/forward-to names upstream group \\?"alt\\?", which is not configured/);
    expect(r.stderr).toMatch(/not applied anywhere/);
    expect(await Promise.all(nodes.map(hashOf))).toEqual(old);

    writeFileSync(file, 'phase = pre-cache qname-suffix corp respnd NXDOMAIN\n');
    expect((await push(file)).code).toBe(1);
    expect(await Promise.all(nodes.map(hashOf))).toEqual(old);
  });

  it('refuses a push without the token, and GET /rules shows the running set', async () => {
    const file = join(dir, 'v3.rules');
    writeFileSync(file, 'phase = pre-cache qname-suffix lan respond NXDOMAIN\n');
    const r = await push(file, 'wrong-token-xxxxxxxxxxxxx');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/HTTP 401/);
    const rulesNow = JSON.parse((await run('curl', ['-s', `${adminUrl(nodes[0]!)}/rules`])).stdout);
    expect(rulesNow.text).toBe('phase = pre-cache qname-suffix corp respond NXDOMAIN\n');
  });

  it('rules check prints FILE:LINE:COL and exits non-zero', async () => {
    const file = join(dir, 'bad.rules');
    writeFileSync(file, '# header\nphase = pre-cache qname-suffix corp respond NXDOMAIN\nphase = nowhere set-tag a\n');
    const r = await run(process.execPath, [main, 'rules', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`${file}:3:9: unknown phase "nowhere" (phases: pre-cache, post-cache, resolve, post-resolve)`);
  });
});
