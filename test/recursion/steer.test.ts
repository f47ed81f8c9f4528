/**
 * The operator's lever of the 9 July 2023 incident, end to end: `edge-resolver serve` in
 * recursive mode against the loopback NSD world, where `example.test.` is served by two
 * addresses (ex1, ex2). A steering rule pushed with `edge-resolver control push-rules`
 * (`avoid-ns`, `prefer-ns`) decides which of them the iterator asks, as the servers' query logs
 * show; it holds across a reload, a malformed one is refused by line and the running one stays,
 * /status lists it, the metric counts it; cleared, it is gone. And an operator's flush reaches
 * the iterator's RRset cache: the next question goes to the authoritative servers again.
 */

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { root as repo, startCli, type CliNode } from '../helpers/edge.js';
import { namedRoot, type Hierarchy } from '../helpers/hierarchy.js';
import { freePort } from '../helpers/net.js';
import { seen, useWorld } from './world.js';

const main = join(repo, 'dist/host/adapters/node/main.js');
let h: Hierarchy;
const runs = useWorld((w) => (h = w));

function control(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [main, 'control', ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr })),
  );
}

describe.skipIf(!runs)('steering the nameservers of a zone at run time, and flushing what iteration keeps', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-steer-'));
  const config = join(dir, 'edge.toml');
  const rulesFile = join(dir, 'site.rules');
  let node: CliNode;
  let admin: number;
  let n = 0;

  /** Fresh names under example.test. (its wildcard answers them), so each one reaches its servers. */
  const ask = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const r = await dig(node.dns, [`n${n++}.wild.example.test`, 'A']);
      expect(r.answers.map((a) => a.data)).toEqual(['192.0.2.99']);
    }
  };
  const status = async () => (await (await fetch(`http://127.0.0.1:${admin}/status`)).json()) as { resolver: { steering: unknown[] }; rules: { hash: string } };
  const metric = async (name: string, match: string) =>
    (await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text())
      .split('\n')
      .filter((l) => l.startsWith(name) && l.includes(match))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  /**
   * `steered` was asked for nothing that `first` was not asked first in the same query: a
   * server is set aside by steering only while the other answers, so a query that timed out
   * there (a loaded test machine) may still reach it, after.
   */
  const onlyAfter = (steered: 'ex1' | 'ex2', first: 'ex1' | 'ex2') => {
    const before = h.servers[first]!.queries;
    const unexplained = h.servers[steered]!.queries.filter((q) => !before.some((b) => b.name === q.name && b.type === q.type && b.seq < q.seq));
    expect(unexplained.map((q) => `${q.name} ${q.type}`)).toEqual([]);
  };
  const push = async (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return control(['push-rules', join(dir, name), '--config', config]);
  };

  beforeAll(async () => {
    const hints = join(dir, 'named.root');
    writeFileSync(hints, namedRoot({ 'a.root-servers.test.': h.ip.root! }));
    writeFileSync(rulesFile, '# none yet\n');
    admin = await freePort();
    writeFileSync(
      config,
      `node_id = "steer"
[server]
request_timeout_ms = 6000
[admin]
listen = "127.0.0.1:${admin}"
token_file = "state/admin.token"
[resolver]
mode = "recursive"
root_hints = "${hints}"
[rules]
file = "site.rules"
`,
    );
    node = await startCli(['--config', config], 'probe.dummy');
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('avoid-ns: the zone is asked only of its other server; held across a reload; a malformed push changes nothing', async () => {
    const { ex1, ex2 } = h.ip;
    const pushed = await push('avoid.rules', `# 9 July: ex1 serves bad data for example.test\nphase = resolve qname-suffix example.test avoid-ns ${ex1}\n`);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect((await status()).resolver.steering).toEqual([{ zone: 'example.test.', avoid: [ex1], prefer: [] }]);
    const before = await metric('edge_recursion_steered_total', 'action="avoid"');
    h.clearLogs();
    await ask(8);
    onlyAfter('ex1', 'ex2');
    expect(seen(h, 'ex2').length).toBeGreaterThanOrEqual(8);
    expect(await metric('edge_recursion_steered_total', 'action="avoid"')).toBeGreaterThanOrEqual(before + 8);

    // A reload reads the rule file the push wrote: the rule is still in force.
    expect(await control(['reload', '--config', config])).toMatchObject({ code: 0 });
    expect(readFileSync(rulesFile, 'utf8')).toContain(`avoid-ns ${ex1}`);
    h.clearLogs();
    await ask(4);
    onlyAfter('ex1', 'ex2');

    // Refused with its line; the running rule set, and its steering, stay.
    const hash = (await status()).rules.hash;
    const bad = await push('bad.rules', `phase = resolve qname-suffix example.test prefer-ns ${ex2}\nphase = resolve qname-suffix test avoid-ns 127.0.0.256\n`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/:2:\d+: "127\.0\.0\.256" is not an IPv4 or IPv6 address/);
    expect(await status()).toMatchObject({ rules: { hash }, resolver: { steering: [{ zone: 'example.test.', avoid: [ex1], prefer: [] }] } });
    h.clearLogs();
    await ask(4);
    onlyAfter('ex1', 'ex2');
  });

  it('prefer-ns: only the preferred server is asked while it answers; when it stops, the other one is', async () => {
    const { ex1 } = h.ip;
    expect((await push('prefer.rules', `phase = resolve qname-suffix example.test prefer-ns ${ex1}\n`)).code).toBe(0);
    expect((await status()).resolver.steering).toEqual([{ zone: 'example.test.', avoid: [], prefer: [ex1] }]);
    h.clearLogs();
    await ask(8);
    onlyAfter('ex2', 'ex1');
    expect(seen(h, 'ex1').length).toBeGreaterThanOrEqual(8);
    expect(await metric('edge_recursion_steered_total', 'action="prefer"')).toBeGreaterThanOrEqual(8);
    // Steering chooses among the servers that answer, never against all of them.
    h.servers.ex1!.behaviour.drop = true;
    h.clearLogs();
    await ask(1);
    expect(seen(h, 'ex2').length).toBeGreaterThan(0);
  });

  it('clear-rules takes the steering out', async () => {
    expect(await control(['clear-rules', '--config', config])).toMatchObject({ code: 0 });
    expect((await status()).resolver.steering).toEqual([]);
    await ask(2);
  });

  it('a flush of a name or zone, and of everything, reaches the iterator: the next question goes to the servers again', async () => {
    expect((await dig(node.dns, ['www.example.test', 'A'])).answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    h.clearLogs();
    expect((await dig(node.dns, ['www.example.test', 'A'])).answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    expect(h.queries()).toEqual([]); // from the cache
    const one = await control(['flush', 'example.test', '--config', config]);
    expect(one.code, one.stderr).toBe(0);
    expect((await dig(node.dns, ['www.example.test', 'A'])).answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    expect([...seen(h, 'ex1'), ...seen(h, 'ex2')]).toContain('www.example.test. A');
    expect(seen(h, 'root')).toEqual([]); // test.'s delegation was not in the flushed zone

    h.clearLogs();
    expect((await control(['flush', '--config', config])).code).toBe(0);
    expect((await dig(node.dns, ['www.example.test', 'A'])).answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    expect(seen(h, 'root').length).toBeGreaterThan(0); // every delegation went: iteration starts at the root again
    expect([...seen(h, 'ex1'), ...seen(h, 'ex2')]).toContain('www.example.test. A');
  });
});
