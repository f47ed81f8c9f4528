/**
 * `edge-resolver control`: every verb against a running node (the real CLI on both sides),
 * with the admin address and token found from the node's config file. The config names no
 * token: the node makes one at first start in its token file (mode 0600) and control reads it
 * there, so the documented operations work out of the box.
 */

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { root, startCli, type CliNode } from '../helpers/edge.js';
import { freePort, waitFor } from '../helpers/net.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { needTools } from '../helpers/tools.js';

const main = join(root, 'dist/host/adapters/node/main.js');
const zone = readFileSync(join(root, 'test/fixtures/example.test.zone'), 'utf8');

function control(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [main, 'control', ...args], { timeout: 60_000, env }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr })),
  );
}

describe.skipIf(!needTools('nsd', 'dig'))('edge-resolver control', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-control-'));
  const tokenFile = join(dir, 'state', 'admin.token');
  const config = join(dir, 'edge.toml');
  const rules = join(dir, 'site.rules');
  let nsd: Nsd;
  let node: CliNode;
  let adminPort: number;
  let text: string;

  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
    adminPort = await freePort();
    writeFileSync(rules, '# none yet\n');
    text = `node_id = "ctl-a"\n[server]\nlisten = ["127.0.0.1:0"]\n[admin]\nlisten = "127.0.0.1:${adminPort}"\ntoken_file = "state/admin.token"\n[upstreams]\ndefault = ["${nsd.address}"]\n[rules]\nfile = "site.rules"\n[apps.forward.config.routes]\n"." = "default"\n`;
    writeFileSync(config, text);
    node = await startCli(['--config', config]);
  });
  afterAll(async () => {
    await node?.stop('SIGTERM');
    await nsd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes the admin token at first start in a file only its user can read, and control finds it', async () => {
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'state')).mode & 0o777).toBe(0o700);
    expect(readFileSync(tokenFile, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(node.output()).toMatch(/admin token made at first start/);
    const r = await control(['status', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^node\s+ctl-a \(up /m);
    expect(r.stdout).toMatch(/^upstreams\s+default: 127\.0\.0\.1:\d+ up/m);
    const json = JSON.parse((await control(['status', '--config', config, '--json'])).stdout);
    expect(json.node_id).toBe('ctl-a');
  });

  it('reloads, and reports a refused config by key with exit 1 (the running config stays)', async () => {
    expect(await control(['reload', '--config', config])).toMatchObject({ code: 0, stdout: 'reloaded\n' });
    writeFileSync(config, text.replace('[upstreams]', '[upstreams]\nbad-group = []'));
    const r = await control(['reload', '--config', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/upstreams\.bad-group/);
    writeFileSync(config, text);
    expect((await dig(node.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
  });

  it('flushes a name (and what is under it) and everything', async () => {
    await dig(node.dns, ['www.example.test', 'A']);
    const one = await control(['flush', 'example.test', '--config', config]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^flushed [1-9]\d* entries at and under example\.test\n$/);
    expect((await control(['flush', '--config', config])).stdout).toMatch(/^flushed \d+ entries\n$/);
  });

  it('pushes rules (checked on the node first with --check), shows them, and clears them', async () => {
    const set = join(dir, 'new.rules');
    writeFileSync(set, 'phase = pre-cache qname-suffix blocked.test respond NXDOMAIN\n');
    expect((await control(['push-rules', set, '--check', '--config', config])).stdout).toMatch(/^would apply [0-9a-f]+/);
    const pushed = await control(['push-rules', set, '--config', config]);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toMatch(/^applied [0-9a-f]+/);
    expect((await dig(node.dns, ['x.blocked.test', 'A'])).status).toBe('NXDOMAIN');
    expect((await control(['rules', '--config', config])).stdout).toContain('qname-suffix blocked.test');
    // Kept in the node's rule file.
    expect(readFileSync(rules, 'utf8')).toContain('blocked.test');
    const bad = join(dir, 'bad.rules');
    writeFileSync(bad, 'phase = pre-cache qname-suffix x.test respond NOSUCH\n');
    const refused = await control(['push-rules', bad, '--config', config]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/1:\d+/);
    expect(await control(['clear-rules', '--config', config])).toMatchObject({ code: 0, stdout: 'rules cleared\n' });
  });

  it('lists upstreams and peers; refresh-zone without a zone is refused with the reason', async () => {
    expect((await control(['upstreams', '--config', config])).stdout).toMatch(/^default: 127\.0\.0\.1:\d+ up\n$/);
    expect((await control(['peers', '--config', config])).stdout).toMatch(/^none/);
    const z = await control(['refresh-zone', '--config', config]);
    expect(z.code).toBe(1);
    expect(z.stderr).toMatch(/no \[zone\] source configured/);
  });

  it('says what is wrong when the token is refused or the node does not answer, exit 1', async () => {
    const wrong = await control(['reload', '--config', config, '--token', 'x'.repeat(20)]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/refused the token \(401\); token from --token/);
    const gone = await control(['status', '--admin', `http://127.0.0.1:${await freePort()}`, '--config', config]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/is not answering \(ECONNREFUSED\)/);
    const usage = await control(['frob']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^edge-resolver control: unknown command "frob"/);
  });

  it('switches the query log at run time; the switch holds across a reload until query-log config', async () => {
    expect((await control(['query-log', '--config', config])).stdout).toBe('query log off, from config\n');
    expect((await control(['query-log', 'on', '--config', config])).stdout).toBe('query log on (sample 1), from admin\n');
    await dig(node.dns, ['qlog.example.test', 'A']);
    await waitFor(async () => / info query .*qname=qlog\.example\.test\. qtype=A rcode=NXDOMAIN/.test(node.output()), 5000);
    expect((await control(['reload', '--config', config])).code).toBe(0);
    expect((await control(['query-log', '--config', config])).stdout).toBe('query log on (sample 1), from admin\n');
    expect((await control(['query-log', 'on', '--sample', '0.1', '--config', config])).stdout).toBe('query log on (sample 0.1), from admin\n');
    expect((await control(['query-log', 'off', '--config', config])).stdout).toBe('query log off, from admin\n');
    expect((await control(['query-log', 'config', '--config', config])).stdout).toBe('query log off, from config\n');
    expect((await control(['query-log', 'sideways', '--config', config])).code).toBe(2);
  });

  it('sets, lists and clears a negative trust anchor', async () => {
    const set = await control(['set-nta', 'broken.example.test', '--seconds', '600', '--reason', 'signatures expired upstream', '--config', config]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/^negative trust anchor broken\.example\.test\.? until \d{4}-/);
    expect((await control(['list-nta', '--config', config])).stdout).toMatch(/broken\.example\.test\.? until .*\(signatures expired upstream\)/);
    expect((await control(['clear-nta', 'broken.example.test', '--config', config])).code).toBe(0);
    expect((await control(['list-nta', '--config', config])).stdout).not.toMatch(/broken\.example\.test/);
    const again = await control(['clear-nta', 'broken.example.test', '--config', config]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no negative trust anchor set at run time/);
    const long = await control(['set-nta', 'x.example.test', '--seconds', String(40 * 86400), '--config', config]);
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/at most 30 days/);
  });

  it('answers --help for every verb', async () => {
    const r = await control(['--help']);
    for (const v of ['status', 'reload', 'flush', 'push-rules', 'refresh-zone', 'set-nta', 'clear-nta', 'list-nta', 'query-log', 'peers', 'upstreams']) expect(r.stdout).toContain(`control ${v}`);
    const h = await control(['set-nta', '--help']);
    expect(h.stdout).toMatch(/--seconds N/);
  });
});
