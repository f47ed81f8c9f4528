/**
 * contrib/edge-resolver.service, checked by systemd itself (`systemd-analyze verify`: syntax,
 * directives, the binaries it names), and for what a supervisor needs from it: a process type
 * that matches how `serve` runs (it stays in the foreground), reload by SIGHUP, stop by SIGTERM,
 * and the hardening options. contrib/edge.toml, the config it starts with, passes config check.
 */

import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from '../helpers/edge.js';
import { needTools } from '../helpers/tools.js';

const unitPath = join(root, 'contrib/edge-resolver.service');
const main = join(root, 'dist/host/adapters/node/main.js');

function exec(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as NodeJS.ErrnoException).code) || 1 : 0, out: `${stdout}${stderr}` })),
  );
}

/** The unit's [Service] settings, key -> values (a key may repeat). */
function settings(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (kv) m.set(kv[1]!, [...(m.get(kv[1]!) ?? []), kv[2]!]);
  }
  return m;
}

describe('contrib/edge-resolver.service', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'edge-unit-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const text = readFileSync(unitPath, 'utf8');
  const s = settings(text);

  it('runs serve in the foreground, reloads by SIGHUP to the main process, stops by SIGTERM, and is hardened', () => {
    expect(['simple', 'exec', 'notify']).toContain(s.get('Type')?.[0]);
    expect(s.get('ExecStart')?.[0]).toMatch(/edge-resolver serve --config \/etc\/edge-resolver\/edge\.toml$/);
    expect(s.get('ExecReload')?.[0]).toBe('/bin/kill -HUP $MAINPID');
    expect(s.get('KillSignal')?.[0]).toBe('SIGTERM');
    for (const [k, v] of Object.entries({
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      DynamicUser: 'yes',
      CapabilityBoundingSet: 'CAP_NET_BIND_SERVICE',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      SystemCallFilter: '@system-service',
    })) {
      expect(s.get(k)?.[0], k).toBe(v);
    }
  });

  it.skipIf(!needTools('systemd-analyze'))('passes systemd-analyze verify', async () => {
    // verify checks that the binaries exist: point them at this checkout's CLI.
    const bin = join(scratch, 'edge-resolver');
    writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" "${main}" "$@"\n`);
    chmodSync(bin, 0o755);
    const unit = join(scratch, 'edge-resolver.service');
    writeFileSync(unit, text.replaceAll('/usr/local/bin/edge-resolver', bin));
    const r = await exec('systemd-analyze', ['verify', unit]);
    expect(r.code, r.out).toBe(0);
    expect(r.out.trim()).toBe('');
  });

  it('starts with a config that config check accepts', async () => {
    const r = await exec(process.execPath, [main, 'config', 'check', join(root, 'contrib/edge.toml')]);
    expect(r.code, r.out).toBe(0);
  });
});
