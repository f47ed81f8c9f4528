#!/usr/bin/env node
// What DNSSEC validation costs the resolver, in process (Resolver.handle, no client sockets):
// a test root and a signed `bench.` zone (ECDSA P-256, NSEC, keys made here by ldns-keygen,
// signed by ldns-signzone) served by NSD on loopback, and the same node (EdgeNode, as `serve`
// builds it) with `[dnssec] validate` on and off.
//   - miss: N distinct names, each a cache miss answered by NSD; with validation the chain's
//     keys are fetched once (first query) and every answer's RRSIG is checked;
//   - nxdomain: N distinct names that do not exist (NSEC proof checked);
//   - hit: the same N names again, from the cache (validation does not run on a hit);
//   - cold: the first answer of a fresh node (DS and DNSKEY fetches for the whole chain).
// Wall time and this process's CPU time (user+system) per query, medians of `rounds`.
//   npm run build && node bench/validation.mjs [names=2000] [rounds=3]

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(join(root, 'dist', p));
const { EdgeNode } = await dist('host/adapters/node/edge-node.js');
const { parseConfig } = await dist('host/core/config.js');
const { silentLogger } = await dist('host/core/log.js');
const { buildQuery, textToName } = await dist('host/core/dns/wire.js');

const N = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 3);
const work = mkdtempSync(join(tmpdir(), 'edge-bench-validation-'));
const now = Math.floor(Date.now() / 1000);

function keygen(dir, zone, ksk) {
  const base = execFileSync('ldns-keygen', ['-a', 'ECDSAP256SHA256', ...(ksk ? ['-k'] : []), zone], { cwd: dir, encoding: 'utf8' }).trim();
  return { base, ds: ksk ? readFileSync(join(dir, `${base}.ds`), 'utf8').trim() : '' };
}

function sign(zone, body) {
  const dir = mkdtempSync(join(work, 'z-'));
  const ksk = keygen(dir, zone, true);
  const zsk = keygen(dir, zone, false);
  writeFileSync(join(dir, 'zone'), body);
  execFileSync('ldns-signzone', ['-i', String(now - 3600), '-e', String(now + 30 * 86400), '-o', zone, '-f', join(dir, 'signed'), join(dir, 'zone'), ksk.base, zsk.base], { cwd: dir });
  return { text: readFileSync(join(dir, 'signed'), 'utf8'), ds: ksk.ds };
}

const head = (zone, ns) => `$ORIGIN ${zone}\n$TTL 3600\n@ IN SOA ${ns} hostmaster.${zone === '.' ? '' : zone} 1 7200 3600 1209600 3600\n@ IN NS ${ns}\n${ns} IN A 127.0.0.1\n`;
const child = sign('bench.', head('bench.', 'ns.bench.') + Array.from({ length: N }, (_, i) => `h${i} IN A 192.0.2.${i % 250}`).join('\n') + '\n');
const top = sign('.', head('.', 'ns.') + `bench. IN NS ns.bench.\nns.bench. IN A 127.0.0.1\n${child.ds}\n`);
writeFileSync(join(work, 'root.zone'), top.text);
writeFileSync(join(work, 'bench.zone'), child.text);
writeFileSync(join(work, 'anchor.ds'), `${top.ds}\n`);

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
writeFileSync(
  join(work, 'nsd.conf'),
  `server:\n  ip-address: 127.0.0.1@${port}\n  port: ${port}\n  zonesdir: "${work}"\n  database: ""\n  pidfile: "${work}/nsd.pid"\n  xfrdfile: "${work}/xfrd.state"\n  zonelistfile: "${work}/zone.list"\n  username: ""\n  logfile: "${work}/nsd.log"\n  verbosity: 0\n  server-count: 1\n  rrl-ratelimit: 0\nremote-control:\n  control-enable: no\nzone:\n  name: "."\n  zonefile: "root.zone"\nzone:\n  name: "bench."\n  zonefile: "bench.zone"\n`,
);
const nsd = spawn('nsd', ['-d', '-c', join(work, 'nsd.conf')], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 1500));

const info = { client: { address: '192.0.2.1', port: 40000 }, transport: 'udp' };
const q = (name) => buildQuery({ name: textToName(name), type: 1, class: 1 }, { id: 1, udpSize: 1232, do: true });
const names = (prefix) => Array.from({ length: N }, (_, i) => q(`${prefix}${i}.bench.`));

async function node(validate) {
  const text = `[server]\nlisten = ["127.0.0.1:0"]\n[upstreams]\ndefault = ["127.0.0.1:${port}"]\n[apps]\nchain = ["forward"]\n[log]\nlevel = "error"\n[dnssec]\nvalidate = ${validate}\ntrust_anchor = "${join(work, 'anchor.ds')}"\n`;
  return EdgeNode.start(parseConfig(text, 'bench'), { logger: silentLogger, configText: text });
}

async function timed(n, queries, check) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const m of queries) {
    const r = await n.node.currentResolver.handle(m, info);
    if (check) check(r);
  }
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallUs: (wall * 1000) / queries.length, cpuUs: (c.user + c.system) / queries.length };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (const validate of [false, true]) {
  const runs = { cold: [], miss: [], nxdomain: [], hit: [] };
  for (let r = 0; r < rounds; r++) {
    const n = await node(validate);
    const ad = (want, rcode = 0) => (reply) => {
      if (reply.rcode !== rcode) throw new Error(`rcode ${reply.rcode}, want ${rcode}: ${new TextDecoder().decode(reply.opt ?? new Uint8Array(0)).replace(/[^ -~]/g, '.')}`);
      const isAd = (reply.message[3] & 0x20) !== 0;
      if (isAd !== want) throw new Error(`AD ${isAd}, want ${want} (rcode ${reply.rcode}): ${new TextDecoder().decode(reply.opt ?? new Uint8Array(0)).replace(/[^ -~]/g, '.')}`);
    };
    runs.cold.push((await timed(n, [q('cold.bench.')], null)).wallUs);
    const miss = names(`h`);
    runs.miss.push(await timed(n, miss, ad(validate)));
    runs.nxdomain.push(await timed(n, names(`nope${r}-`), ad(validate, 3)));
    runs.hit.push(await timed(n, miss, ad(validate)));
    if (process.env.BENCH_DEBUG) console.error((await n.node.metrics.text()).split('\n').filter((l) => /^edge_(dnssec|upstream_queries)/.test(l)).join('\n'));
    await n.close(0);
  }
  results[validate ? 'on' : 'off'] = {
    cold_ms: median(runs.cold) / 1000,
    ...Object.fromEntries(['miss', 'nxdomain', 'hit'].map((k) => [k, { wall_us: median(runs[k].map((x) => x.wallUs)), cpu_us: median(runs[k].map((x) => x.cpuUs)) }])),
  };
}
await new Promise((r) => {
  nsd.on('exit', r);
  nsd.kill('SIGTERM');
});
try {
  rmSync(work, { recursive: true, force: true });
} catch {
  // NSD's last files; the folder is in tmp
}

const f = (x) => x.toFixed(1);
console.log(`# ${new Date().toISOString()}, ${cpus()[0]?.model} x${cpus().length}, Linux ${release()}, Node ${process.version}; ${N} names, ${rounds} rounds, medians`);
console.log('| workload | validation off: wall µs/query | CPU µs/query | validation on: wall µs/query | CPU µs/query |');
console.log('|---|---|---|---|---|');
for (const k of ['miss', 'nxdomain', 'hit']) console.log(`| ${k} | ${f(results.off[k].wall_us)} | ${f(results.off[k].cpu_us)} | ${f(results.on[k].wall_us)} | ${f(results.on[k].cpu_us)} |`);
console.log(`| cold (first answer of a fresh node) | ${f(results.off.cold_ms * 1000)} | | ${f(results.on.cold_ms * 1000)} | |`);
process.exit(0);
