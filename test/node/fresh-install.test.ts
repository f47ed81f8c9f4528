/**
 * README "Running it" from a fresh copy of the checkout: `npm ci` alone (its `prepare` step
 * builds dist/) is enough for `npx edge-resolver` to work. Offline: the packages come from the
 * npm cache that installed this checkout (in CI, .ci/run's own `npm ci` filled it).
 */

import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFile, execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from '../helpers/edge.js';
import { needTools } from '../helpers/tools.js';

/** Runs a command in `cwd`; resolves with its exit code and output. */
function runIn(cwd: string, cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code) || 1 : 0, out: `${stdout}${stderr}` });
    });
  });
}

describe.skipIf(!needTools('git', 'npm', 'npx'))('npm ci, then npx edge-resolver, in a fresh copy', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'edge-fresh-install-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('builds dist/ during npm ci, so the CLI runs right after it', { timeout: 300_000 }, async () => {
    const copy = join(scratch, 'edge-resolver');
    // What a clone of this work, committed, would hold: no node_modules, dist/ or build/.
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\0');
    for (const f of new Set(files)) {
      if (!f || !existsSync(join(root, f))) continue;
      mkdirSync(dirname(join(copy, f)), { recursive: true });
      cpSync(join(root, f), join(copy, f));
    }
    expect(existsSync(join(copy, 'dist'))).toBe(false);
    const ci = await runIn(copy, 'npm', ['ci', '--offline', '--no-audit', '--no-fund'], 280_000);
    expect(ci.code, `npm ci failed:\n${ci.out}`).toBe(0);
    expect(existsSync(join(copy, 'dist/host/adapters/node/main.js'))).toBe(true);
    // npx remembers the package it linked (without its bin, had dist/ been missing): a cache of
    // this test's own keeps the user's clean.
    const config = join(scratch, 'edge.toml');
    writeFileSync(config, '[upstreams]\ndefault = ["127.0.0.1:53"]\n');
    const check = await runIn(copy, 'npx', ['--offline', '--cache', join(scratch, 'npx-cache'), 'edge-resolver', 'config', 'check', config], 60_000);
    expect(check.code, check.out).toBe(0);
    expect(check.out).toContain(`${config}: ok`);
  });
});
