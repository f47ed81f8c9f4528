/**
 * `npm pack` gives a package that installs globally and runs: the tarball carries the built CLI,
 * the compiled apps, LICENSE and its runtime dependencies (bundled, so the install needs no
 * registry), and `edge-resolver serve` on its embedded default answers. The install uses an
 * empty npm cache with --offline, so nothing can come from the network or from this checkout.
 * The node runs in a network namespace with only loopback where one can be made: the embedded
 * default's fixed ports (5353, 8053, 8080, 9153) then collide with nothing, and the upstreams it
 * takes from /etc/resolv.conf are unreachable (no query leaves the machine).
 */

import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from '../helpers/edge.js';
import { needTools } from '../helpers/tools.js';

function runIn(cwd: string, cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code) || 1 : 0, out: `${stdout}${stderr}`, stdout });
    });
  });
}

describe.skipIf(!needTools('npm', 'unshare', 'ip', 'dig', 'curl'))('npm pack, then npm install -g of the tarball, offline', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'edge-pack-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('installs into a temporary prefix with an empty cache and runs edge-resolver serve on the embedded default', { timeout: 240_000 }, async () => {
    // `npm pack` runs the build first (prepare); the test suite's own build (pretest) made the
    // same dist/ and build/apps/ already, so it packs those instead of building again.
    const pack = await runIn(root, 'npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], 120_000);
    expect(pack.code, pack.out).toBe(0);
    const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }>; bundled: string[] }>;
    const files = info!.files.map((f) => f.path);
    for (const f of ['LICENSE', 'README.md', 'package.json', 'dist/host/adapters/node/main.js', 'dist/host/adapters/node/cli/zone.bundle.cjs', 'build/apps/forward.wasm', 'build/apps/static_zone.wasm', 'build/apps/override.wasm', 'contrib/edge-resolver.service']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => !f.startsWith('node_modules/') && /\.test\.|\.map$|^build\/test-apps|^test\//.test(f))).toEqual([]);
    expect(info!.bundled).toEqual(expect.arrayContaining(['prom-client', 'selfsigned', 'smol-toml', 'zod']));

    const prefix = join(scratch, 'prefix');
    const install = await runIn(scratch, 'npm', ['install', '-g', '--offline', '--cache', join(scratch, 'empty-cache'), '--no-audit', '--no-fund', '--prefix', prefix, join(scratch, info!.filename)], 180_000);
    expect(install.code, install.out).toBe(0);
    const bin = join(prefix, 'bin', 'edge-resolver');
    expect(readdirSync(join(prefix, 'bin'))).toContain('edge-resolver');
    const version = await runIn(scratch, bin, ['--version'], 20_000);
    expect(version.stdout.trim()).toMatch(/^edge-resolver \d+\.\d+\.\d+$/);

    // In the namespace: serve in the background, wait for its start-up line, ask it over DNS
    // (the upstream is unreachable there: SERVFAIL is the answer) and over HTTP, then SIGTERM.
    const script = `
      ip link set lo up
      "$0" serve > "$1/serve.log" 2>&1 &
      pid=$!
      for i in $(seq 1 100); do grep -q 'edge-resolver listening' "$1/serve.log" && break; sleep 0.2; done
      dig @127.0.0.1 -p 5353 +tries=1 +time=5 example.com A | grep -o 'status: [A-Z]*'
      curl -s http://127.0.0.1:9153/health
      curl -s -o /dev/null -w 'doh %{http_code}\\n' 'http://127.0.0.1:8080/dns-query?name=example.com'
      kill -TERM $pid; wait $pid; echo "exit $?"
      cat "$1/serve.log"`;
    expect(spawnSync('unshare', ['--net', 'true']).status, 'unshare --net is needed to run the embedded default in isolation').toBe(0);
    const r = await runIn(scratch, 'unshare', ['--net', 'sh', '-c', script, bin, scratch], 120_000);
    expect(r.out).toMatch(/status: (SERVFAIL|NOERROR|NXDOMAIN)/);
    expect(r.out).toMatch(/^ok$/m);
    expect(r.out).toMatch(/^doh 200$/m);
    expect(r.out).toMatch(/^exit 0$/m);
    expect(r.out).toContain('udp=127.0.0.1:5353 tcp=127.0.0.1:5353 doh=https://127.0.0.1:8053/dns-query,http://127.0.0.1:8080/dns-query admin=http://127.0.0.1:9153');
  });
});
