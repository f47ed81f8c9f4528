/**
 * Unbound as a second reference validator, for the cases where delv and the RFCs part ways:
 * a validating Unbound on a loopback port, the test root's anchor, and a stub zone for "."
 * pointing at the NSD that serves the hierarchy (so it never asks anyone else). A verdict is
 * read off its answer to a DO query: AD is secure, SERVFAIL bogus, anything else insecure.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDig, run } from '../../helpers/dig.js';
import { freePort, waitFor } from '../../helpers/net.js';
import type { Verdict } from '../../helpers/signer-hierarchy.js';

export interface Unbound {
  verdict(name: string, type: string): Promise<{ verdict: Verdict; output: string }>;
  stop(): Promise<void>;
}

export async function startUnbound(host: string, upstream: { host: string; port: number }, anchorFile: string): Promise<Unbound> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-unbound-'));
  const port = await freePort(host);
  copyFileSync(anchorFile, join(dir, 'anchor.ds'));
  writeFileSync(
    join(dir, 'unbound.conf'),
    `server:
  interface: ${host}@${port}
  port: ${port}
  num-threads: 1
  do-ip6: no
  chroot: ""
  username: ""
  directory: "${dir}"
  pidfile: "${join(dir, 'unbound.pid')}"
  use-syslog: no
  logfile: "${join(dir, 'unbound.log')}"
  do-not-query-localhost: no
  module-config: "validator iterator"
  trust-anchor-file: "${join(dir, 'anchor.ds')}"
  access-control: 127.0.0.0/8 allow
  qname-minimisation: no
  val-log-level: 2
remote-control:
  control-enable: no
stub-zone:
  name: "."
  stub-addr: ${upstream.host}@${upstream.port}
`,
  );
  const proc: ChildProcess = spawn('unbound', ['-d', '-c', join(dir, 'unbound.conf')], { stdio: 'ignore' });
  let exited = false;
  proc.on('exit', () => (exited = true));
  const dig = (name: string, type: string) => run('dig', [`@${host}`, '-p', String(port), '+dnssec', '+tries=1', '+time=5', name, type]);
  await waitFor(async () => {
    if (exited) throw new Error('unbound exited');
    return (await dig('.', 'SOA')).stdout.includes('status:');
  }, 10_000);
  return {
    async verdict(name, type) {
      const r = await dig(name, type);
      const a = parseDig(r.stdout);
      const verdict: Verdict = a.status === 'SERVFAIL' ? 'bogus' : a.flags.includes('ad') ? 'secure' : 'insecure';
      return { verdict, output: r.stdout };
    },
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
