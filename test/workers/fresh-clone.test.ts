/**
 * README's "Deploy to Workers" from a fresh clone, offline: test/workers/fresh-clone.mjs runs
 * `npx wrangler dev` in a copy of the tracked files, compiles the lookalike root with the CLI,
 * puts it into local KV and queries with curl, all inside a network namespace with only
 * loopback. The upstream is a DoH server the script starts on loopback; the lookalike's
 * signatures are valid from 2026-01-01 to 2036-01-01, so the real clock serves (the expired
 * copy is refused by `zone compile`, and the Worker never sees it).
 */

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from '../helpers/edge.js';
import { needTools } from '../helpers/tools.js';

interface Step {
  name: string;
  at_ms: number;
  [k: string]: unknown;
}
interface Report {
  steps: Step[];
  error?: string;
  upstream_queries: string[];
  wrangler_log: string;
}

/** The JSON form of a curl -D - answer: its status line, headers and body. */
function httpOf(out: string): { status: number; headers: Record<string, string>; body: Record<string, any> } {
  const [head, ...rest] = out.split(/\r\n\r\n/);
  const lines = head!.split(/\r\n/);
  const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(lines[0]!.split(' ')[1]), headers, body: JSON.parse(rest.join('\r\n')) };
}

describe.skipIf(!needTools('unshare', 'ip', 'curl', 'git'))('README "Deploy to Workers" from a fresh clone, offline', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'edge-fresh-clone-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('wrangler dev builds and serves; the local root in local KV answers a junk TLD NXDOMAIN; a real name goes to the loopback upstream', async () => {
    // The script keeps to its own budget (300 s) and stops wrangler; this is the backstop.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const script = [join(root, 'test/workers/fresh-clone.mjs'), root, scratch];
      // A namespace needs CAP_SYS_ADMIN; where a runner lacks it the script runs in the host's
      // network: its config names only loopback and wrangler's own calls are switched off.
      const netns = spawnSync('unshare', ['--net', 'true']).status === 0;
      if (!netns) console.warn('fresh-clone: unshare --net is not permitted here; running without a network namespace');
      const child = netns
        ? spawn('unshare', ['--net', 'sh', '-c', 'ip link set lo up && exec node "$0" "$1" "$2"', ...script], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(process.execPath, script, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 340_000);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as Report;
    const at = (name: string) => {
      const s = report.steps.find((x) => x.name === name);
      expect(s, `step "${name}" missing; error: ${report.error}\n${report.wrangler_log}`).toBeDefined();
      return s!;
    };
    // A clone has none of what the build makes.
    expect(at('copied').present).toEqual([]);
    expect(at('wrangler dev ready').health).toBe(200);
    expect(at('built').present).toHaveLength(3);

    expect(at('zone compile')).toMatchObject({ code: 0 });
    expect(at('zone compile').out).toMatch(/serial 2026082201, ZONEMD verified, DNSSEC verified/);
    expect(at('zone compile (expired)')).toMatchObject({ code: 1, written: false });
    expect(at('zone compile (expired)').out).toMatch(/DNSSEC expired/);
    expect(at('kv key put').code).toBe(0);

    const junk = httpOf(at('curl junk TLD').out as string);
    expect(junk.status).toBe(200);
    expect(junk.headers['content-type']).toMatch(/^application\/dns-json/);
    expect(junk.body.Status).toBe(3);
    expect(junk.body.Authority?.[0]).toMatchObject({ name: '.', type: 6 });
    expect(junk.headers['cache-control']).toBe('max-age=86400');

    const real = httpOf(at('curl real name').out as string);
    expect(real.body.Status).toBe(0);
    expect(real.body.Answer?.[0]).toMatchObject({ name: 'www.example.com.', type: 1, data: '192.0.2.53' });
    // The junk TLD never left the Worker; the real name went to the loopback upstream.
    expect(report.upstream_queries).toContain('www.example.com.');
    expect(report.upstream_queries).not.toContain('printer.local.');

    // The ingress pools (the site key from .dev.vars); a shard loaded the image from KV.
    const status = JSON.parse(at('status').body as string);
    expect(status.pooling.shards).toHaveLength(4);
    expect((at('shards').zones as Array<{ serial?: number; serving?: boolean } | null>).some((z) => z?.serial === 2026082201 && z.serving)).toBe(true);

    // wrangler's whole process group is gone.
    expect(at('stopped').alive).toBe(false);
    expect(report.error).toBeUndefined();
  }, 360_000);
});
