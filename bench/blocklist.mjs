#!/usr/bin/env node
// The blocklist app's cost: per query with 100,000 names loaded against 10 names, and the time to
// load (and reload) the 100,000-name list. Runs the built app metered, through the same
// AppInstance the resolver uses, without a server. Run after a build:
//   npm run build && node bench/blocklist.mjs [--quick]
// Two figures per query case: `call` is the app call as the resolver's chain makes it (context
// and query encoded once), `harness` is AppHarness.query(), which also builds the query and the
// context and decodes the answer, as a unit test does.

import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(join(root, 'dist', p));
const { AppHarness } = await dist('host/apps/harness.js');
const { encodeContext, newContext } = await dist('host/core/context.js');
const { buildQuery, textToName } = await dist('host/core/dns/wire.js');

const quick = process.argv.includes('--quick');
const CALLS = quick ? 20_000 : 100_000;
// Cases are interleaved round by round, so a busy machine slows them alike and the medians
// compare; the machine's load average is printed beside the figures.
const ROUNDS = quick ? 1 : 11;

// Deterministic names of varied shape: 1-3 labels of 3-12 letters under a handful of suffixes.
let seed = 0x2545f491;
const rand = (n) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};
const word = () => Array.from({ length: 3 + rand(10) }, () => String.fromCharCode(97 + rand(26))).join('');
const SUFFIXES = ['com', 'net', 'org', 'example', 'co.uk', 'io'];
function listOf(n) {
  const names = new Set();
  while (names.size < n) names.add([...Array.from({ length: 1 + rand(3) }, word), SUFFIXES[rand(SUFFIXES.length)]].join('.'));
  return [...names];
}

const wasm = new Uint8Array(readFileSync(join(root, 'build/apps/blocklist.wasm')));
const manifest = JSON.parse(readFileSync(join(root, 'apps/blocklist/app.json'), 'utf8'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function harnessWith(names) {
  const h = AppHarness.fromBytes(wasm, manifest);
  const r = h.loadText(names.join('\n') + '\n');
  if (!r.ok) throw new Error(r.error);
  return h;
}

/** Pre-encoded inputs for `name`, as the chain hands them to each app. */
function inputFor(name) {
  const qname = textToName(name + '.');
  const ctx = newContext({ qname, qtype: 1, qclass: 1, client: { address: '192.0.2.10', port: 40000 }, transport: 'udp', flags: 4, ingress: 'bench', deadline: Date.now() + 4000, udpSize: 1232 });
  return { ctx: encodeContext(ctx), msg: buildQuery({ name: qname, type: 1, class: 1 }, { id: 1, udpSize: 1232 }) };
}

function rate(fn, items) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) fn(items[i % items.length]);
  return CALLS / (Number(process.hrtime.bigint() - started) / 1e9);
}

function benchCase(label, h, names, expected) {
  const inputs = names.map(inputFor);
  for (const name of names) {
    const verdict = h.query(name).verdict;
    if (verdict !== expected) throw new Error(`${label}: ${name}: expected ${expected}, got ${verdict}`);
  }
  for (let i = 0; i < 20_000; i++) h.app.call(0, inputs[i % inputs.length].ctx, inputs[i % inputs.length].msg); // warm up
  return {
    label,
    call: [],
    harness: [],
    runCall() {
      this.call.push(rate((x) => h.app.call(0, x.ctx, x.msg), inputs));
    },
    runHarness() {
      this.harness.push(rate((name) => h.query(name), names));
    },
  };
}

const small = listOf(10);
const big = listOf(100_000);
const bigText = big.join('\n') + '\n';
// Queries: names below listed ones (blocked after one to three probes), and names of four
// labels that are not listed (every suffix probed, none found).
const blockedOf = (list) => list.slice(0, 1000).map((n, i) => `w${i}.${n}`);
const missNames = Array.from({ length: 1000 }, (_, i) => `www${i}.${word()}.${word()}.net`);

const h10 = harnessWith(small);
const h100k = harnessWith(big);
const results = [
  benchCase('10 names, blocked', h10, blockedOf(small), 'respond'),
  benchCase('10 names, not listed', h10, missNames, 'continue'),
  benchCase('100,000 names, blocked', h100k, blockedOf(big), 'respond'),
  benchCase('100,000 names, not listed', h100k, missNames, 'continue'),
];
const loadBefore = loadavg()[0];
for (let round = 0; round < ROUNDS; round++) for (const r of results) r.runCall();
for (let round = 0; round < ROUNDS; round++) for (const r of results) r.runHarness();

// Loading the big list: into a fresh instance (first load), and as a reload over a running list
// (two lists live at the swap).
const loads = [];
const reloads = [];
for (let round = 0; round < ROUNDS; round++) {
  const fresh = AppHarness.fromBytes(wasm, manifest);
  const bytes = new TextEncoder().encode(bigText);
  let t = performance.now();
  if (!fresh.load(bytes).ok) throw new Error('load failed');
  loads.push(performance.now() - t);
  t = performance.now();
  if (!fresh.load(bytes).ok) throw new Error('reload failed');
  reloads.push(performance.now() - t);
}
const reloaded = AppHarness.fromBytes(wasm, manifest);
reloaded.loadText(bigText);
const memAfterLoad = reloaded.app.memoryBytes();
reloaded.loadText(bigText);
const memAfterReload = reloaded.app.memoryBytes();

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const cpu = cpus();
console.log(`Machine: ${cpu.length} cores, ${cpu[0]?.model.trim()}; ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; kernel ${release()}.`);
console.log(`Lists: 10 and ${fmt(big.length)} names (${fmt(bigText.length)} bytes); ${fmt(CALLS)} calls per case and round, median of ${ROUNDS} interleaved rounds; load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after.\n`);
console.log('| list, queries | app calls/s (`call`) | ns per call | harness queries/s (`harness`) |');
console.log('|---|---|---|---|');
for (const r of results) console.log(`| ${r.label} | ${fmt(median(r.call))} | ${fmt(1e9 / median(r.call))} | ${fmt(median(r.harness))} |`);
console.log(`\nLoad of the ${fmt(big.length)}-name list: ${median(loads).toFixed(1)} ms into a fresh instance, ${median(reloads).toFixed(1)} ms as a reload over a running list (median of ${ROUNDS}).`);
console.log(`App memory: ${(memAfterLoad / 2 ** 20).toFixed(1)} MiB after the load, ${(memAfterReload / 2 ** 20).toFixed(1)} MiB after a reload (cap: ${manifest.memory.max_pages / 16} MiB).`);
