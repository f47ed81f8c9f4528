/**
 * Override rules end to end: every matcher and action observed with dig through a running
 * resolver with NSD upstreams; rule files watched; rule sets pushed to three nodes with
 * `edge-resolver rules push`, including a push that one node refuses and so applies nowhere;
 * rule changes reaching cached answers; pushes that survive reloads and restarts; the config
 * kill switch.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { dig, run } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { root, startEdge, type TestNode } from '../helpers/edge.js';
import { sleep, waitFor } from '../helpers/net.js';

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
phase = post-resolve qname n10.other.test ttl-cap 1
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

  it('rcode in post-resolve rewrites an upstream NXDOMAIN, and the same answer from the cache', async () => {
    expect((await dig(edge.dns, ['nosuch.other.test', 'A'])).status).toBe('REFUSED');
    // The cache holds the upstream's NXDOMAIN; the rule rewrites it on the hit too.
    const hits = await metric(edge, 'edge_cache_lookups_total', 'result="hit"');
    expect((await dig(edge.dns, ['nosuch.other.test', 'A'])).status).toBe('REFUSED');
    expect(await metric(edge, 'edge_cache_lookups_total', 'result="hit"')).toBe(hits + 1);
  });

  it('ttl-cap, on the answer and on the answer from the cache', async () => {
    const r = await dig(edge.dns, ['n5.other.test', 'A']);
    expect(r.answers[0]!.ttl).toBeLessThanOrEqual(10);
    const hits = await metric(edge, 'edge_cache_lookups_total', 'result="hit"');
    expect((await dig(edge.dns, ['n5.other.test', 'A'])).answers[0]!.ttl).toBeLessThanOrEqual(10);
    expect(await metric(edge, 'edge_cache_lookups_total', 'result="hit"')).toBe(hits + 1);
  });

  it('a post-resolve ttl-cap bounds the cached entry: the upstream is asked again once it passed', async () => {
    const asked = () => metric(edge, 'edge_upstream_queries_total', 'group="default"');
    const before = await asked();
    expect((await dig(edge.dns, ['n10.other.test', 'A'])).answers[0]!.ttl).toBeLessThanOrEqual(1);
    expect(await asked()).toBe(before + 1);
    await sleep(1200);
    expect((await dig(edge.dns, ['n10.other.test', 'A'])).answers[0]?.data).toBe('192.0.2.9');
    expect(await asked()).toBe(before + 2);
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

describe.skipIf(!needTools('nsd', 'dig', 'curl'))('rules push to three nodes', () => {
  let a: Nsd;
  const nodes: TestNode[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'edge-push-'));
  const adminUrl = (n: TestNode) => `http://127.0.0.1:${n.edge.listening.admin!.port}`;
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

  it('refuses a push without the token, and GET /rules shows the running set, with the token', async () => {
    const file = join(dir, 'v3.rules');
    writeFileSync(file, 'phase = pre-cache qname-suffix lan respond NXDOMAIN\n');
    const r = await push(file, 'wrong-token-xxxxxxxxxxxxx');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/HTTP 401/);
    const anonymous = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${adminUrl(nodes[0]!)}/rules`]);
    expect(anonymous.stdout).toBe('401');
    const rulesNow = JSON.parse((await run('curl', ['-s', '-H', `Authorization: Bearer ${TOKEN}`, `${adminUrl(nodes[0]!)}/rules`])).stdout);
    expect(rulesNow.text).toBe('phase = pre-cache qname-suffix corp respond NXDOMAIN\n');
  });

  it('a file of comments is a rule set with no rules; an empty one is refused', async () => {
    const comments = join(dir, 'none.rules');
    writeFileSync(comments, '# nothing to override this week\n');
    const empty = join(dir, 'empty.rules');
    writeFileSync(empty, '');
    expect((await run(process.execPath, [main, 'rules', 'check', comments])).code).toBe(0);
    const refused = await run(process.execPath, [main, 'rules', 'check', empty]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/the rule set is empty/);
    const old = await Promise.all(nodes.map(hashOf));
    expect((await push(empty)).code).toBe(1);
    expect(await Promise.all(nodes.map(hashOf))).toEqual(old);
    expect((await push(comments)).code).toBe(0);
    const hashes = await Promise.all(nodes.map(hashOf));
    expect(new Set(hashes).size).toBe(1);
    expect(hashes[0]).not.toBe(old[0]);
    expect((await dig(nodes[0]!.dns, ['x.corp', 'A'])).status).not.toBe('NXDOMAIN');
  });

  it('rules check prints FILE:LINE:COL and exits non-zero', async () => {
    const file = join(dir, 'bad.rules');
    writeFileSync(file, '# header\nphase = pre-cache qname-suffix corp respond NXDOMAIN\nphase = nowhere set-tag a\n');
    const r = await run(process.execPath, [main, 'rules', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`${file}:3:9: unknown phase "nowhere" (phases: pre-cache, post-cache, resolve, post-resolve)`);
  });
});

const admin = (n: TestNode) => `http://127.0.0.1:${n.edge.listening.admin!.port}`;
const call = (n: TestNode, method: string, path: string, body?: string, token: string | null = TOKEN) =>
  fetch(`${admin(n)}${path}`, { method, body, headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5000) });

describe.skipIf(!needTools('nsd', 'dig'))('rule changes and cached answers', () => {
  let a: Nsd;
  let b: Nsd;
  let edge: TestNode;
  const fromAlt = () => metric(edge, 'edge_upstream_queries_total', 'group="alt"');
  const asked = () => metric(edge, 'edge_upstream_queries_total', '');

  beforeAll(async () => {
    a = await startNsd({ 'example.test.': zone('example.test.', '192.0.2.1'), 'other.test.': zone('other.test.', '192.0.2.9') });
    b = await startNsd({ 'example.test.': zone('example.test.', '203.0.113.1'), 'other.test.': zone('other.test.', '203.0.113.9') });
    edge = await startEdge(`
[admin]
listen = "127.0.0.1:0"
token = "${TOKEN}"
[upstreams]
default = ["${a.address}"]
alt = ["${b.address}"]
`);
  });

  afterAll(async () => {
    await edge?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('a pushed reroute applies to the next query of a cached name (the July 2023 fix); other names stay cached', async () => {
    expect((await dig(edge.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
    expect((await dig(edge.dns, ['www.other.test', 'A'])).answers[0]?.data).toBe('192.0.2.9');
    const before = await asked();
    expect((await dig(edge.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
    expect(await asked()).toBe(before);

    const altBefore = await fromAlt();
    const started = Date.now();
    const put = await call(edge, 'PUT', '/rules', 'phase = resolve qname-suffix example.test forward-to alt\n');
    expect(put.status).toBe(200);
    expect((await dig(edge.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('203.0.113.1');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await fromAlt()).toBe(altBefore + 1);
    // Outside the changed rule's names, the cache is untouched.
    const now = await asked();
    expect((await dig(edge.dns, ['www.other.test', 'A'])).answers[0]?.data).toBe('192.0.2.9');
    expect(await asked()).toBe(now);
    expect(await metric(edge, 'edge_cache_flushes_total', 'reason="rules"')).toBeGreaterThan(0);
    expect(await metric(edge, 'edge_cache_flushed_entries_total', 'reason="rules"')).toBeGreaterThan(0);

    // Taking the reroute back flushes again: the default upstream answers at once.
    expect((await call(edge, 'PUT', '/rules', '# no reroute\n')).status).toBe(200);
    expect((await dig(edge.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
  });

  it('a rule without a name matcher flushes every cached answer', async () => {
    expect((await dig(edge.dns, ['www.other.test', 'A'])).answers[0]?.data).toBe('192.0.2.9');
    expect((await call(edge, 'PUT', '/rules', 'phase = resolve qtype A forward-to alt\n')).status).toBe(200);
    expect((await dig(edge.dns, ['www.other.test', 'A'])).answers[0]?.data).toBe('203.0.113.9');
    expect((await call(edge, 'DELETE', '/rules')).status).toBe(200);
    expect((await dig(edge.dns, ['www.other.test', 'A'])).answers[0]?.data).toBe('192.0.2.9');
  });

  it('POST /cache/flush takes a name (it and all under it) or nothing (all), and needs the token', async () => {
    await dig(edge.dns, ['n1.example.test', 'A']);
    await dig(edge.dns, ['n1.other.test', 'A']);
    expect((await call(edge, 'POST', '/cache/flush', undefined, null)).status).toBe(401);
    expect((await call(edge, 'POST', '/cache/flush?name=bad..name')).status).toBe(400);
    const r = await call(edge, 'POST', '/cache/flush?name=Example.TEST');
    expect(r.status).toBe(200);
    expect(((await r.json()) as { flushed: number }).flushed).toBeGreaterThanOrEqual(1);
    let before = await asked();
    await dig(edge.dns, ['n1.other.test', 'A']);
    expect(await asked()).toBe(before);
    await dig(edge.dns, ['n1.example.test', 'A']);
    expect(await asked()).toBe(before + 1);
    expect(await metric(edge, 'edge_cache_flushes_total', 'reason="admin"')).toBe(1);

    expect((await call(edge, 'POST', '/cache/flush')).status).toBe(200);
    expect(edge.node.currentResolver.cache.stats.entries).toBe(0);
    before = await asked();
    await dig(edge.dns, ['n1.other.test', 'A']);
    expect(await asked()).toBe(before + 1);
  });
});

describe.skipIf(!needTools('nsd', 'dig'))('pushed rules across reloads and restarts', () => {
  let a: Nsd;
  const dir = mkdtempSync(join(tmpdir(), 'edge-keep-'));
  const base = `[server]\nlisten = ["127.0.0.1:0"]\nrequest_timeout_ms = 3000\n`;
  const pinned = (last: number) => `phase = pre-cache qname pinned.example.test respond A 192.0.2.${last}\n`;
  const answer = async (n: TestNode) => (await dig(n.dns, ['pinned.example.test', 'A'])).answers[0]?.data ?? (await dig(n.dns, ['pinned.example.test', 'A'])).status;

  /** A node whose config is a file, so SIGHUP-style reloads (POST /reload) re-read it. */
  async function nodeFrom(name: string, toml: string): Promise<{ n: TestNode; config: string }> {
    const config = join(dir, `${name}.toml`);
    writeFileSync(config, base + toml);
    return { n: await startEdge(toml, { configPath: config }), config };
  }

  beforeAll(async () => {
    a = await startNsd({ 'example.test.': zone('example.test.', '192.0.2.1') });
  });

  afterAll(async () => {
    await a?.stop();
  });

  it('with a rule file, a push is written to it: a reload, a touch of the file and a restart keep it', async () => {
    const rulesFile = join(dir, 'site.rules');
    writeFileSync(rulesFile, pinned(77));
    const toml = `[admin]\nlisten = "127.0.0.1:0"\ntoken = "${TOKEN}"\n[upstreams]\ndefault = ["${a.address}"]\n[rules]\nfile = "${rulesFile}"\n`;
    let { n } = await nodeFrom('with-file', toml);
    try {
      expect(await answer(n)).toBe('192.0.2.77');
      const put = await call(n, 'PUT', '/rules', pinned(78));
      expect(put.status).toBe(200);
      const { hash } = (await put.json()) as { hash: string };
      expect(readFileSync(rulesFile, 'utf8')).toBe(pinned(78));
      expect(await answer(n)).toBe('192.0.2.78');

      expect((await call(n, 'POST', '/reload')).status).toBe(200);
      expect(await answer(n)).toBe('192.0.2.78');
      const t = new Date();
      utimesSync(rulesFile, t, t);
      await sleep(500);
      expect(await answer(n)).toBe('192.0.2.78');
      expect((n.node.status() as { rules: { hash: string } }).rules.hash).toBe(hash);

      await n.stop();
      n = await startEdge(toml, { configPath: join(dir, 'with-file.toml') });
      expect(await answer(n)).toBe('192.0.2.78');
      expect((n.node.status() as { rules: { hash: string } }).rules.hash).toBe(hash);

      // DELETE leaves a file with no rules (a missing file would make the next reload fail).
      expect((await call(n, 'DELETE', '/rules')).status).toBe(200);
      expect(readFileSync(rulesFile, 'utf8')).toMatch(/^# No rules/);
      expect(await answer(n)).toBe('NXDOMAIN');
      expect((await call(n, 'POST', '/reload')).status).toBe(200);
      expect(await answer(n)).toBe('NXDOMAIN');
    } finally {
      await n.stop();
    }
  });

  it('a push that cannot be written to the rule file applies nothing', async () => {
    const rulesFile = join(dir, 'stuck.rules');
    writeFileSync(rulesFile, pinned(77));
    const { n } = await nodeFrom('stuck', `[admin]\nlisten = "127.0.0.1:0"\ntoken = "${TOKEN}"\n[upstreams]\ndefault = ["${a.address}"]\n[rules]\nfile = "${rulesFile}"\nwatch = false\n`);
    try {
      // A directory where the file was: the rename over it fails, whoever runs the test.
      rmSync(rulesFile);
      mkdirSync(rulesFile);
      const put = await call(n, 'PUT', '/rules', pinned(79));
      expect(put.status).toBe(422);
      expect(((await put.json()) as { errors: string[] }).errors[0]).toMatch(/^pushed rules: not applied: cannot save it/);
      expect(await answer(n)).toBe('192.0.2.77');
    } finally {
      await n.stop();
    }
  });

  it('without a rule file, a push survives a reload that leaves the rules setting alone', async () => {
    const toml = `[admin]\nlisten = "127.0.0.1:0"\ntoken = "${TOKEN}"\n[upstreams]\ndefault = ["${a.address}"]\n`;
    const { n, config } = await nodeFrom('no-file', toml);
    try {
      expect((await call(n, 'PUT', '/rules', pinned(80))).status).toBe(200);
      writeFileSync(config, base + toml + '[log]\nlevel = "warn"\n');
      expect((await call(n, 'POST', '/reload')).status).toBe(200);
      expect(await answer(n)).toBe('192.0.2.80');
    } finally {
      await n.stop();
    }
  });
});

describe.skipIf(!needTools('nsd', 'dig'))('the config kill switch', () => {
  let a: Nsd;
  let b: Nsd;
  let n: TestNode;
  const dir = mkdtempSync(join(tmpdir(), 'edge-kill-'));
  const config = join(dir, 'edge.toml');
  const rulesFile = join(dir, 'site.rules');
  const base = `[server]\nlisten = ["127.0.0.1:0"]\nrequest_timeout_ms = 3000\n`;
  let toml = '';
  const reload = async (extra: string) => {
    writeFileSync(config, base + toml + extra);
    const r = await call(n, 'POST', '/reload');
    expect(r.status, await r.text()).toBe(200);
  };
  const rulesHash = () => (n.node.status() as { rules: { hash: string | null; disabled?: boolean } }).rules;

  beforeAll(async () => {
    a = await startNsd({ 'example.test.': zone('example.test.', '192.0.2.1') });
    b = await startNsd({ 'example.test.': zone('example.test.', '203.0.113.1') });
    writeFileSync(rulesFile, 'phase = pre-cache qname pinned.example.test respond A 192.0.2.77\n');
    toml = `[admin]\nlisten = "127.0.0.1:0"\ntoken = "${TOKEN}"\n[upstreams]\ndefault = ["${a.address}"]\nalt = ["${b.address}"]\n[rules]\nfile = "${rulesFile}"\n[apps.forward.config.routes]\n"." = "default"\n"example.test." = "alt"\n`;
    writeFileSync(config, base + toml);
    n = await startEdge(toml, { configPath: config });
  });

  afterAll(async () => {
    await n?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('[apps.forward] enabled = false, then a reload: the next query goes to the default group, cached answers included', async () => {
    expect((await dig(n.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('203.0.113.1');
    await reload('[apps.forward]\nenabled = false\n');
    expect(n.node.currentChain.app('forward')).toBeUndefined();
    expect((await dig(n.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
    expect(await metric(n, 'edge_cache_flushes_total', 'reason="config"')).toBeGreaterThan(0);
    await reload('');
    expect((await dig(n.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('203.0.113.1');
  });

  it('[apps.override] enabled = false: no rule acts, and the node reports no rule set until it is back', async () => {
    const running = rulesHash().hash!;
    expect((await dig(n.dns, ['pinned.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.77');
    await reload('[apps.override]\nenabled = false\n');
    expect((await dig(n.dns, ['pinned.example.test', 'A'])).status).toBe('NXDOMAIN');
    expect(rulesHash()).toEqual({ hash: null, disabled: true });
    expect(await metric(n, 'edge_app_data_info', 'app="override"')).toBe(0);
    const status = await call(n, 'GET', '/status', undefined, null);
    expect(((await status.json()) as { rules: unknown }).rules).toEqual({ hash: null, disabled: true });

    await reload('');
    expect((await dig(n.dns, ['pinned.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.77');
    expect(rulesHash().hash).toBe(running);
    expect(await metric(n, 'edge_app_data_info', `app="override",hash="${running}"`)).toBe(1);
  });
});
