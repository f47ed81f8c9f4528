/**
 * The V8 start flags (host/adapters/node/v8-flags.ts) are on the command line of every process
 * that answers queries, however the node was started: the bin run as a command (its shebang),
 * `npm start`, and the workers of `server.workers` even when their primary was started as a bare
 * `node main.js serve`. Read from /proc/PID/cmdline of the real processes; a bare start says in
 * its log which flags it lacks.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NODE_FLAGS, missingNodeFlags, workerExecArgv } from '../../host/adapters/node/v8-flags.js';
import { root } from '../helpers/edge.js';
import { freePort, waitFor } from '../helpers/net.js';

const main = join(root, 'dist/host/adapters/node/main.js');
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

describe('V8 start flags', () => {
  const procs: ChildProcess[] = [];
  afterEach(() => {
    for (const p of procs.splice(0)) p.kill('SIGKILL');
  });

  /** Starts `args` with output collected, until `ready` is in it. */
  async function start(cmd: string, args: string[], ready: RegExp): Promise<{ proc: ChildProcess; out: () => string }> {
    // NODE_OPTIONS cleared, so a flag given there by whoever runs the tests does not count.
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    procs.push(proc);
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${out}`);
      return ready.test(out);
    }, 20_000);
    return { proc, out: () => out };
  }

  const serveArgs = async () => ['serve', '--no-validate', '--listen', `127.0.0.1:${await freePort()}`, '--upstream', '127.0.0.1:9'];

  it('are on the command line of the bin run as a command (its shebang), with nothing in the log', async () => {
    expect(readFileSync(main, 'utf8').split('\n').slice(0, 2)).toEqual(['#!/bin/sh', `//bin/true; exec node ${NODE_FLAGS.join(' ')} "$0" "$@"`]);
    const { proc, out } = await start(main, await serveArgs(), /edge-resolver listening/);
    const argv = cmdline(proc.pid!);
    for (const f of NODE_FLAGS) expect(argv).toContain(f);
    expect(out()).not.toContain('without the V8 flags');
  });

  it('are in the npm start script', () => {
    const script = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    for (const f of NODE_FLAGS) expect(script.split(/\s+/)).toContain(f);
  });

  it('a bare `node main.js serve` says which flags it lacks', async () => {
    const { out } = await start(process.execPath, [main, ...(await serveArgs())], /edge-resolver listening/);
    expect(out()).toMatch(/without the V8 flags[^\n]*missing=["']?--max-semi-space-size=4/);
  });

  it('are given to the workers of server.workers = 2 when the primary was started without them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-v8-flags-'));
    writeFileSync(join(dir, 'edge.toml'), `[server]\nworkers = 2\nlisten = ["127.0.0.1:${await freePort()}"]\n[upstreams]\ndefault = ["127.0.0.1:9"]\n[dnssec]\nvalidate = false\n`);
    const { proc, out } = await start(process.execPath, [main, 'serve', '--config', join(dir, 'edge.toml')], /edge-resolver listening[^\n]*workers=2/);
    expect(cmdline(proc.pid!).some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
    const pids = [...out().matchAll(/worker listening[^\n]*pid=(\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2);
    for (const pid of pids) for (const f of NODE_FLAGS) expect(cmdline(pid)).toContain(f);
  });

  it('counts a flag given in NODE_OPTIONS or with underscores, and adds only what is missing', () => {
    expect(missingNodeFlags([], '')).toEqual([...NODE_FLAGS]);
    expect(missingNodeFlags(['--max-semi-space-size=8'], '')).toEqual([]);
    expect(missingNodeFlags([], '--max_semi_space_size=2')).toEqual([]);
    expect(workerExecArgv(['--inspect'])).toEqual(['--inspect', ...NODE_FLAGS]);
    expect(workerExecArgv(['--max-semi-space-size=8'])).toEqual(['--max-semi-space-size=8']);
  });
});
