/**
 * A real authoritative server for tests: NSD from Debian, on a loopback port, serving zone
 * files from a temporary directory. Started per test file; stopped in afterAll.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './net.js';
import { digShort } from './dig.js';

export interface Nsd {
  host: string;
  port: number;
  /** `HOST:PORT`, as the resolver's --upstream takes it. */
  address: string;
  dir: string;
  stop(): Promise<void>;
  /** Kills NSD hard (for failover and serve-stale tests). */
  kill(): void;
  /** Number of queries NSD logged for a name (needs `verbose` start). */
  log(): string;
}

/** `port` starts it on a given port (a restart after `kill`); by default a free one. */
export async function startNsd(zones: Record<string, string>, opts: { host?: string; port?: number } = {}): Promise<Nsd> {
  const host = opts.host ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'edge-nsd-'));
  const port = opts.port ?? (await freePort(host));
  const zoneConf = Object.keys(zones)
    .map((name, i) => {
      writeFileSync(join(dir, `zone${i}.zone`), zones[name]!);
      return `zone:\n  name: "${name}"\n  zonefile: "${join(dir, `zone${i}.zone`)}"\n`;
    })
    .join('');
  writeFileSync(
    join(dir, 'nsd.conf'),
    `server:
  ip-address: ${host}@${port}
  port: ${port}
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  pidfile: "${join(dir, 'nsd.pid')}"
  database: ""
  xfrdfile: "${join(dir, 'xfrd.state')}"
  zonelistfile: "${join(dir, 'zone.list')}"
  logfile: "${join(dir, 'nsd.log')}"
  verbosity: 2
  log-only-syslog: no
  server-count: 1
  tcp-count: 64
  do-ip6: ${host.includes(':') ? 'yes' : 'no'}
  do-ip4: ${host.includes(':') ? 'no' : 'yes'}
  hide-version: yes
  minimal-responses: no
  refuse-any: no
remote-control:
  control-enable: no
${zoneConf}`,
  );
  const proc: ChildProcess = spawn('nsd', ['-d', '-c', join(dir, 'nsd.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  let exited = false;
  proc.on('exit', () => (exited = true));
  const first = Object.keys(zones)[0]!;
  await waitFor(async () => {
    if (exited) throw new Error(`nsd exited: ${output}`);
    const r = await digShort(['@' + host, '-p', String(port), first, 'SOA', '+tries=1', '+time=1']);
    return r.length > 0;
  }, 10_000);
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return {
    host,
    port,
    address,
    dir,
    log: () => {
      try {
        return readFileSync(join(dir, 'nsd.log'), 'utf8');
      } catch {
        return output;
      }
    },
    kill: () => {
      if (!exited) proc.kill('SIGKILL');
    },
    stop: async () => {
      if (exited) return;
      proc.kill('SIGTERM');
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          proc.kill('SIGKILL');
          r();
        }, 3000);
        proc.on('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    },
  };
}
