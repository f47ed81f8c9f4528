/**
 * Signals reach the resolver from the commands README documents. `npm start` runs the resolver
 * with `exec` (no shell between npm and node), and npm forwards SIGINT and SIGTERM to it; npm
 * does not forward SIGHUP, and `npx` keeps a shell between itself and node, so a node started
 * by npm also stops when the npm process that started it is gone: it is never left running,
 * orphaned, on its ports. Each case checks that the resolver's own process is gone and its ports
 * are free again.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from '../helpers/edge.js';
import { freePort, waitFor } from '../helpers/net.js';
import { needTools } from '../helpers/tools.js';

interface Started {
  wrapper: ChildProcess;
  resolverPid: number;
  ports: { dns: number; admin: number };
  output(): string;
  exited: Promise<void>;
}

const started: ChildProcess[] = [];
afterAll(() => {
  // A backstop for a failed case: each wrapper leads its own process group.
  for (const p of started) {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function portsFree(ports: { dns: number; admin: number }): Promise<boolean> {
  const tcp = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  const udp = await new Promise<boolean>((resolve) => {
    const u = createSocket('udp4');
    u.once('error', () => resolve(false));
    u.bind(ports.dns, '127.0.0.1', () => u.close(() => resolve(true)));
  });
  return udp && (await tcp(ports.dns)) && (await tcp(ports.admin));
}

/** Starts `cmd args... <serve flags>` (the flags keep it off the embedded default's fixed ports). */
async function start(cmd: string, args: string[]): Promise<Started> {
  const ports = { dns: await freePort(), admin: await freePort() };
  const flags = ['--listen', `127.0.0.1:${ports.dns}`, '--doh-http', `127.0.0.1:${await freePort()}`, '--doh', `127.0.0.1:${await freePort()}`, '--admin', `127.0.0.1:${ports.admin}`, '--upstream', '127.0.0.1:9'];
  const wrapper = spawn(cmd, [...args, ...flags], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(wrapper);
  let out = '';
  wrapper.stdout!.on('data', (d) => (out += d));
  wrapper.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => wrapper.on('exit', () => resolve()));
  await waitFor(async () => / pid=\d+/.test(out) && out.includes('edge-resolver listening'), 60_000);
  const resolverPid = Number(/edge-resolver listening .*? pid=(\d+)/.exec(out)![1]);
  return { wrapper, resolverPid, ports, output: () => out, exited };
}

/** Sends `signal` to the wrapper the user ran, then: the wrapper ends, the resolver ends, its ports are free. */
async function stopsCleanly(s: Started, signal: NodeJS.Signals, expectLine: RegExp): Promise<void> {
  s.wrapper.kill(signal);
  await s.exited;
  await waitFor(async () => !alive(s.resolverPid), 15_000);
  await waitFor(() => portsFree(s.ports), 5000);
  expect(s.output()).toMatch(expectLine);
}

describe.skipIf(!needTools('npm', 'npx'))('signals from the documented commands reach the resolver', () => {
  // --ignore-scripts skips prestart's build (the suite built dist/ already; a build here would
  // rewrite files other tests are running); the start script itself runs as documented.
  const npmStart = ['start', '--ignore-scripts', '--'];

  it('npm start: SIGTERM to npm stops the resolver gracefully and frees its ports', { timeout: 90_000 }, async () => {
    const s = await start('npm', npmStart);
    // exec: npm's child is the resolver itself, no shell in between.
    expect(Number(readFileSync(`/proc/${s.resolverPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1])).toBe(s.wrapper.pid);
    await stopsCleanly(s, 'SIGTERM', /shutting down signal=SIGTERM/);
  });

  it('npm start: SIGINT (Ctrl-C) to npm does the same', { timeout: 90_000 }, async () => {
    await stopsCleanly(await start('npm', npmStart), 'SIGINT', /shutting down signal=SIGINT/);
  });

  it('npm start: SIGHUP to npm (which npm does not forward) does not leave the resolver orphaned', { timeout: 90_000 }, async () => {
    await stopsCleanly(await start('npm', npmStart), 'SIGHUP', /the npm process that started this node is gone; shutting down/);
  });

  it('npx edge-resolver serve: SIGTERM to npx (a shell sits between it and node) stops the resolver', { timeout: 90_000 }, async () => {
    await stopsCleanly(await start('npx', ['--offline', 'edge-resolver', 'serve']), 'SIGTERM', /shutting down/);
  });

  it('the bin itself (what a supervisor runs): SIGHUP is answered (without --config, nothing to reload), SIGTERM stops, exit 0', { timeout: 90_000 }, async () => {
    const s = await start(process.execPath, ['dist/host/adapters/node/main.js', 'serve']);
    expect(s.resolverPid).toBeGreaterThan(0);
    process.kill(s.resolverPid, 'SIGHUP');
    // No config file: the node says there is nothing to reload, and keeps running.
    await waitFor(async () => /nothing to reload/.test(s.output()), 10_000);
    expect(alive(s.resolverPid)).toBe(true);
    const code = new Promise<number | null>((resolve) => s.wrapper.on('exit', (c) => resolve(c)));
    await stopsCleanly(s, 'SIGTERM', /shutting down signal=SIGTERM/);
    expect(await code).toBe(0);
  });
});
