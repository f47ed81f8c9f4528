/** Starts resolver nodes for tests: in-process (EdgeNode) or as the real CLI in a child process. */

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { EdgeNode, type EdgeNodeOptions } from '../../host/adapters/node/edge-node.js';
import { NODE_FLAGS } from '../../host/adapters/node/v8-flags.js';
import type { PromMetrics } from '../../host/adapters/node/prom-metrics.js';
import type { ResolverNode } from '../../host/node/resolver-node.js';
import { parseConfig, type Config } from '../../host/core/config.js';
import { silentLogger, consoleLogger } from '../../host/core/log.js';
import { freePort, waitFor } from './net.js';
import { run } from './dig.js';
import { harnessFor } from './apps.js';

export const root = join(__dirname, '..', '..');

export interface TestNode {
  /** The node: config, data, zone, status, metrics. */
  node: ResolverNode<PromMetrics>;
  /** Its Node adapter: the listeners, and reloads from the config file. */
  edge: EdgeNode;
  dns: { host: string; port: number };
  stop(): Promise<void>;
}

/**
 * Validation off, on this config and every one the node reloads: the test NSD zones are
 * unsigned, under a root the built-in anchor cannot reach, so with the default (validation on)
 * every forwarded answer would be bogus.
 */
export const noValidation = (c: Config): Config => ({ ...c, dnssec: { ...c.dnssec, validate: false } });

/**
 * A node on loopback with port-0 listeners. `toml` is appended to a minimal base config. DNSSEC
 * validation is off (noValidation, reloads included) unless `toml` has a `[dnssec]` table: a
 * test about validation says so.
 */
export async function startEdge(toml: string, opts: EdgeNodeOptions = {}): Promise<TestNode> {
  const text = `[server]\nlisten = ["127.0.0.1:0"]\nrequest_timeout_ms = 3000\n${toml}`;
  const logger = process.env.EDGE_TEST_LOG ? consoleLogger('debug') : silentLogger;
  const theirs = opts.overrides;
  const overrides = /^\[dnssec\]/m.test(toml) ? theirs : (c: Config) => (theirs ? theirs(noValidation(c)) : noValidation(c));
  const config = parseConfig(text, 'test config');
  return testNode(await EdgeNode.start(overrides ? overrides(config) : config, { logger, configText: text, ...opts, ...(overrides ? { overrides } : {}) }));
}

/** The test's view of a started EdgeNode, answering on its first DNS listener. */
export function testNode(edge: EdgeNode): TestNode {
  const a = edge.listening.dns[0]!;
  return { node: edge.node, edge, dns: { host: a.address, port: a.port }, stop: () => edge.close(0) };
}

export interface CliNode {
  proc: ChildProcess;
  dns: { host: string; port: number };
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `edge-resolver serve` from dist/ exactly as a user would, and waits until it answers.
 * `--no-validate` is added (the test zones are unsigned) unless `validate` is true; node gets the
 * V8 start flags the bin gives it.
 */
export async function startCli(args: string[], probeName = 'www.example.test', validate = false): Promise<CliNode> {
  const port = await freePort();
  const proc = spawn(process.execPath, [...NODE_FLAGS, join(root, 'dist/host/adapters/node/main.js'), 'serve', '--listen', `127.0.0.1:${port}`, ...(validate ? [] : ['--no-validate']), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  let exitCode: number | null | undefined;
  proc.on('exit', (c) => (exitCode = c));
  await waitFor(async () => {
    if (exitCode !== undefined) throw new Error(`edge-resolver exited (${exitCode}): ${out}`);
    // Every listener is up once the start-up line is out (the DNS one answers before the rest).
    if (!out.includes('edge-resolver listening')) return false;
    const r = await run('dig', ['@127.0.0.1', '-p', String(port), probeName, '+tries=1', '+time=1']);
    return r.code === 0 && r.stdout.includes('status:');
  }, 20_000);
  return {
    proc,
    dns: { host: '127.0.0.1', port },
    output: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (exitCode !== undefined) return resolve(exitCode);
        proc.on('exit', (c) => resolve(c));
        proc.kill(signal);
      }),
  };
}

/** Which node of `members` owns a name, as the forward app on `self` sees it (the real app, not a copy of its hash). */
export function ownerOf(self: string, members: string[], name: string, qtype = 'A', dnssec = false): string {
  const h = harnessFor('forward', { host: { node_id: self, peers: members.join(','), max_hops: '1', upstream_groups: 'default' }, config: { routes: { '.': 'default' } } });
  const r = h.query(name, { qtype, do: dnssec });
  return r.verdict === 'forward' ? r.target!.slice('peer:'.length) : self;
}
