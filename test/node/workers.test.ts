/**
 * `server.workers = 2`: one node on two processes. `edge-resolver serve` as a user runs it, an
 * NSD upstream, real sockets: queries on the one port are answered by both workers (TCP
 * connections are handed out in turn), `/metrics` shows each worker's series with a `worker`
 * label, a rule pushed to the admin API is in force on every worker, a worker killed with -9 is
 * replaced while the other keeps answering, and SIGTERM stops the whole node with exit 0.
 */

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { connect, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, readHeader, textToName, walkRecords } from '../../host/core/dns/wire.js';
import { root, startCli, type CliNode } from '../helpers/edge.js';
import { freePort, udpExchange, waitFor } from '../helpers/net.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { needTools } from '../helpers/tools.js';

const TOKEN = 'workers-test-token-0123456789';

/** One query over a new TCP connection (so each goes to the next worker in turn). */
function tcpQuery(port: number, name: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const q = buildQuery({ name: textToName(name), type: 1, class: 1 }, { id: 7 });
    const sock = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${name}: no TCP answer`));
    }, 5000);
    sock.on('connect', () => {
      const frame = Buffer.alloc(2 + q.length);
      frame.writeUInt16BE(q.length, 0);
      frame.set(q, 2);
      sock.write(frame);
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function firstA(msg: Uint8Array): string | null {
  const h = readHeader(msg);
  const { records } = walkRecords(msg, h);
  const a = records.find((r) => r.section === 0 && r.type === 1);
  return a ? [...msg.subarray(a.rdataOffset, a.rdataOffset + 4)].join('.') : null;
}

describe.skipIf(!needTools('nsd', 'dig'))('server.workers = 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-workers-'));
  let nsd: Nsd;
  let node: CliNode;
  let admin: string;

  const status = async () => (await (await fetch(`${admin}/status`)).json()) as { workers: Array<{ worker: number; pid: number; ready: boolean }> };
  const metrics = async () => (await fetch(`${admin}/metrics`)).text();
  const perWorker = (text: string, name: string) => {
    const by = new Map<string, number>();
    for (const l of text.split('\n')) {
      const m = new RegExp(`^${name}\\{worker="(\\d+)"[^}]*\\} (\\S+)`).exec(l);
      if (m) by.set(m[1]!, (by.get(m[1]!) ?? 0) + Number(m[2]));
    }
    return by;
  };

  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': readFileSync(join(root, 'test/fixtures/example.test.zone'), 'utf8') });
    const adminPort = await freePort();
    admin = `http://127.0.0.1:${adminPort}`;
    writeFileSync(
      join(dir, 'edge.toml'),
      `[server]
workers = 2
[upstreams]
default = ["127.0.0.1:${nsd.port}"]
[admin]
listen = "127.0.0.1:${adminPort}"
token = "${TOKEN}"
`,
    );
    node = await startCli(['--config', join(dir, 'edge.toml')]);
  }, 60_000);

  afterAll(async () => {
    await node?.stop('SIGKILL');
    await nsd?.stop();
  });

  it('answers on one port from both workers, and /metrics labels each worker’s series', async () => {
    const s = await status();
    expect(s.workers.map((w) => w.ready)).toEqual([true, true]);
    expect(new Set(s.workers.map((w) => w.pid)).size).toBe(2);
    for (let i = 0; i < 20; i++) expect(firstA(await tcpQuery(node.dns.port, 'www.example.test.'))).toBe('192.0.2.1');
    for (let i = 0; i < 20; i++) expect(firstA(await udpExchange(node.dns.port, buildQuery({ name: textToName(`host${i}.example.test.`), type: 1, class: 1 }, { id: i })))).not.toBeNull();
    const tcp = perWorker(await metrics(), 'edge_queries_total');
    expect([...tcp.keys()].sort()).toEqual(['0', '1']);
    for (const n of tcp.values()) expect(n).toBeGreaterThan(0);
  });

  it('puts a pushed rule in force on every worker', async () => {
    const res = await fetch(`${admin}/rules`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: 'phase = pre-cache qname www.example.test respond A 192.0.2.200\n' });
    expect(res.status).toBe(200);
    for (let i = 0; i < 10; i++) expect(firstA(await tcpQuery(node.dns.port, 'www.example.test.'))).toBe('192.0.2.200');
    const rules = perWorker(await metrics(), 'edge_rules_loaded');
    if (rules.size) expect([...rules.keys()].sort()).toEqual(['0', '1']);
  });

  it('replaces a worker killed with -9 while the other keeps answering', async () => {
    const before = await status();
    const victim = before.workers[1]!.pid;
    process.kill(victim, 'SIGKILL');
    // Once the primary has seen it go, new TCP connections go to the worker still there (one
    // handed over in the instant it died is lost, as with any process that dies).
    await waitFor(async () => node.output().includes('worker exited; starting another'), 10_000);
    for (let i = 0; i < 5; i++) expect(firstA(await tcpQuery(node.dns.port, 'mail.example.test.'))).toBe('192.0.2.25');
    await waitFor(async () => {
      const s = await status();
      return s.workers.every((w) => w.ready) && !s.workers.some((w) => w.pid === victim);
    }, 20_000);
    for (let i = 0; i < 6; i++) expect(firstA(await tcpQuery(node.dns.port, 'www.example.test.'))).toBe('192.0.2.200');
  }, 30_000);

  it('stops the whole node on SIGTERM with exit 0', async () => {
    const pids = (await status()).workers.map((w) => w.pid);
    expect(await node.stop('SIGTERM')).toBe(0);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor(async () => !pids.some(alive), 10_000);
  }, 20_000);
});

describe('server.workers = 2 on a port another process holds', () => {
  it('stops with exit 1 and says a worker could not start, instead of restarting it for ever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-workers-busy-'));
    const port = await freePort();
    const holder = createTcpServer().listen(port, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    writeFileSync(join(dir, 'edge.toml'), `[server]\nlisten = ["127.0.0.1:${port}"]\nworkers = 2\n[upstreams]\ndefault = ["127.0.0.1:9"]\n[dnssec]\nvalidate = false\n`);
    const r = spawnSync(process.execPath, [join(root, 'dist/host/adapters/node/main.js'), 'serve', '--config', join(dir, 'edge.toml')], { encoding: 'utf8', timeout: 30_000 });
    holder.close();
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toContain('a worker could not start; stopping');
  }, 40_000);
});
