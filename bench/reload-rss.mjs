#!/usr/bin/env node
// RSS of a running node across config reloads (issue 13, item 3: "RSS grew from 92 to 192 MB
// over 40 config reloads and stayed there"). Starts `edge-resolver serve` from dist/ with a
// config that changes on every reload (so each one really builds a new resolver, chain and
// cache), sends SIGHUP N times, waits for each to be applied (the config hash in /status), and
// prints the RSS from /proc after each. A leak grows about linearly with the reloads; a heap
// that only has not been collected yet levels off.
//
// Usage: node bench/reload-rss.mjs [reloads=40] [--zone]
//   --zone adds a local root (the lookalike fixture with its trust anchor), a DoH listener and a
//   rule file, as a production node has them; --zone-change changes [zone] on every reload too,
//   so each reload verifies and loads the copy again.
// Beside RSS it samples the JS heap in use (edge_nodejs_heap_size_used_bytes from /metrics),
// which tells what the heap keeps from what Wasm memories and buffers outside it keep.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const reloads = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 40);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });

const withZone = process.argv.includes('--zone') || process.argv.includes('--zone-change');
// --zone-change also changes the [zone] section on every reload, so each one loads the copy again.
const zoneChange = process.argv.includes('--zone-change');
const [dns, admin, doh] = [await freePort(), await freePort(), await freePort()];
const fixtures = join(root, 'test/fixtures/zones');
const dir = mkdtempSync(join(tmpdir(), 'reload-rss-'));
const path = join(dir, 'edge.toml');
const rules = join(dir, 'edge.rules');
writeFileSync(rules, 'phase = pre-cache qname-suffix corp disable-app static_zone\n');
const extra = (i) => withZone
  ? `[zone]
stale_age = ${zoneChange ? 172_800 + i : 172_800}
source = "${join(fixtures, 'root-lookalike-2026082201.zone.gz')}"
trust_anchor = "${join(fixtures, 'trust-anchor.ds')}"
[rules]
file = "${rules}"
`
  : '';
const config = (i) => `node_id = "rss"
[server]
listen = ["127.0.0.1:${dns}"]
${withZone ? `doh_http = ["127.0.0.1:${doh}"]` : ''}
${extra(i)}
[admin]
listen = "127.0.0.1:${admin}"
[upstreams]
default = ["127.0.0.1:9"]
[cache]
max_ttl = ${3600 + i}
[apps.forward.config.routes]
"." = "default"
"reload${i}.test." = "default"
`;
writeFileSync(path, config(0));
const args = [join(root, 'dist/host/adapters/node/main.js'), 'serve', '--config', path];
const proc = spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
proc.stdout.on('data', (d) => (out += d));
proc.stderr.on('data', (d) => (out += d));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const status = async () => (await (await fetch(`http://127.0.0.1:${admin}/status`)).json());
const heapMb = async () => {
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const m = /^edge_nodejs_heap_size_used_bytes (\S+)/m.exec(text);
  return m ? Math.round(Number(m[1]) / 1048576) : null;
};
const rssMb = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
  return Math.round(Number(m[1]) / 1024);
};

async function waitUntil(check, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`timed out; node output:\n${out}`);
    await sleep(50);
  }
}

try {
  await waitUntil(async () => !!(await status()), 20_000);
  await sleep(1000);
  const samples = [rssMb()];
  const heap = [await heapMb()];
  let hash = (await status()).config?.hash ?? JSON.stringify((await status()).config);
  for (let i = 1; i <= reloads; i++) {
    writeFileSync(path, config(i));
    proc.kill('SIGHUP');
    await waitUntil(async () => {
      const s = await status();
      const h = s.config?.hash ?? JSON.stringify(s.config);
      if (h === hash) return false;
      hash = h;
      return true;
    }, 10_000);
    samples.push(rssMb());
    heap.push(await heapMb());
  }
  await sleep(2000);
  const settled = rssMb();
  console.log(JSON.stringify({ reloads, withZone, zoneChange, rssMb: { start: samples[0], after: samples.at(-1), settled, max: Math.max(...samples) }, heapMb: { start: heap[0], after: heap.at(-1) }, samples, heap }));
} finally {
  proc.kill('SIGTERM');
}
