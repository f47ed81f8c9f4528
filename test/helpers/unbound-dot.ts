/**
 * Unbound as a DNS-over-TLS server for tests (`tls-port`, `tls-service-key`, `tls-service-pem`),
 * answering from `local-data` on a loopback port: the upstream a `tls = true` group talks to.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './dig.js';
import { freePort, waitFor } from './net.js';

export interface UnboundDot {
  host: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * `records`: local-data lines ("www.example.test. 300 IN A 192.0.2.1"); their zones are static.
 * `extra`: more `server:` lines (`tcp-idle-timeout: 200`).
 */
export async function startUnboundDot(cert: { cert: string; key: string }, zones: string[], records: string[], extra: string[] = []): Promise<UnboundDot> {
  const host = '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'edge-unbound-dot-'));
  const port = await freePort(host);
  writeFileSync(
    join(dir, 'unbound.conf'),
    `server:
  interface: ${host}@${port}
  port: ${port}
  tls-port: ${port}
  tls-service-key: "${cert.key}"
  tls-service-pem: "${cert.cert}"
  num-threads: 1
  do-ip6: no
  do-udp: no
  chroot: ""
  username: ""
  directory: "${dir}"
  pidfile: "${join(dir, 'unbound.pid')}"
  use-syslog: no
  logfile: "${join(dir, 'unbound.log')}"
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
${extra.map((l) => `  ${l}\n`).join('')}${zones.map((z) => `  local-zone: "${z}" static\n`).join('')}${records.map((r) => `  local-data: "${r}"\n`).join('')}remote-control:
  control-enable: no
`,
  );
  const proc: ChildProcess = spawn('unbound', ['-d', '-c', join(dir, 'unbound.conf')], { stdio: 'ignore' });
  let exited = false;
  proc.on('exit', () => (exited = true));
  await waitFor(async () => {
    if (exited) throw new Error(`unbound exited (see ${join(dir, 'unbound.log')})`);
    const r = await run('kdig', [`@${host}`, '-p', String(port), '+tls', '+retry=0', '+time=1', zones[0]!, 'SOA']);
    return r.stdout.includes('status:');
  }, 10_000);
  return {
    host,
    port,
    async stop() {
      if (exited) return;
      proc.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          proc.kill('SIGKILL');
          resolve();
        }, 3000);
        proc.on('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
