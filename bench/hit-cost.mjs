#!/usr/bin/env node
// CPU time of one cache hit through the resolver, without sockets on the client side: the
// same node (EdgeNode, as `serve` builds it) without the override app and with it holding a
// rule set, each query handed to Resolver.handle directly. The upstream is a UDP responder on
// loopback in this process, asked once per name to fill the cache. What dnsperf cannot show on
// two shared cores: the resolver's own cost per hit, app boundary included.
//   npm run build && node bench/hit-cost.mjs [rules=10] [rounds=5]

import { createSocket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(join(root, 'dist', p));
const { EdgeNode } = await dist('host/adapters/node/edge-node.js');
const { parseConfig } = await dist('host/core/config.js');
const { silentLogger } = await dist('host/core/log.js');
const { buildErrorResponse, buildQuery, parseQuery, textToName } = await dist('host/core/dns/wire.js');

const ruleCount = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 5);
const QUERIES = 100_000;

// Every A query answered 192.0.2.1, TTL 3600.
const up = createSocket('udp4');
up.on('message', (q, peer) => {
  const query = new Uint8Array(q);
  const head = buildErrorResponse(query, 0, parseQuery(query));
  const rr = [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1];
  const msg = Buffer.concat([head, Buffer.from(rr)]);
  msg[7] = 1; // ANCOUNT
  up.send(msg, peer.port, peer.address);
});
await new Promise((r) => up.bind(0, '127.0.0.1', r));

const work = mkdtempSync(join(tmpdir(), 'edge-hit-cost-'));
const rules = join(work, 'bench.rules');
writeFileSync(rules, execFileSync(process.execPath, [join(root, 'bench/rules-eval.mjs'), '--rules', String(ruleCount)]));
const qs = Array.from({ length: 1000 }, (_, i) => buildQuery({ name: textToName(`host${i}.example.test.`), type: 1, class: 1 }, { id: 1, udpSize: 1232 }));
const info = { client: { address: '192.0.2.1', port: 40000 }, transport: 'udp' };

async function node(withRules) {
  const text = `[server]\nlisten = ["127.0.0.1:0"]\n[upstreams]\ndefault = ["127.0.0.1:${up.address().port}"]\n[apps]\nchain = ${withRules ? '["override", "forward"]' : '["forward"]'}\n${withRules ? `[rules]\nfile = "${rules}"\n` : ''}[log]\nlevel = "error"\n[dnssec]\nvalidate = false\n`;
  const n = await EdgeNode.start(parseConfig(text, 'bench'), { logger: silentLogger, configText: text });
  for (const q of qs) await n.node.currentResolver.handle(q, info); // fill the cache
  return n;
}

async function cpuPerHit(n) {
  const r = n.node.currentResolver;
  const t = process.cpuUsage();
  for (let i = 0; i < QUERIES; i++) await r.handle(qs[i % qs.length], info);
  const u = process.cpuUsage(t);
  return (u.user + u.system) / QUERIES;
}

const plain = await node(false);
const ruled = await node(true);
const a = [];
const b = [];
for (let i = 0; i < rounds; i++) {
  a.push(await cpuPerHit(plain));
  b.push(await cpuPerHit(ruled));
}
await plain.close(0);
await ruled.close(0);
up.close();
rmSync(work, { recursive: true, force: true });
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
console.log(`Machine: ${cpus().length} cores, ${cpus()[0]?.model.trim()}; Node ${process.version}; kernel ${release()}. ${QUERIES.toLocaleString('en-US')} hits per round, median of ${rounds} interleaved rounds.\n`);
console.log('| node | CPU per cache hit (µs) |');
console.log('|---|---|');
console.log(`| no override app | ${median(a).toFixed(2)} |`);
console.log(`| override, ${ruleCount.toLocaleString('en-US')} rules | ${median(b).toFixed(2)} |`);
