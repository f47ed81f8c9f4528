#!/usr/bin/env node
// What one fuel unit costs in time, for the worst loop bodies a hostile app can write, and so
// how long any call can run on its budget. Each kernel is a module whose exported `run` loops
// until its fuel runs out; it is metered as the host meters apps (host/abi/meter.ts), given
// FUEL units, and timed. The slowest kernel's µs per unit, times an entry point's budget, is
// the longest that entry point can keep the event loop (on Node) or the isolate (on Workers).
//   node scripts/build.mjs --test-apps && node bench/fuel.mjs [fuel=2000000] [rounds=5]

import { existsSync, readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { meter, FUEL_EXPORT } = await import(join(root, 'dist', 'host', 'abi', 'meter.js'));
const { DEFAULT_FUEL } = await import(join(root, 'dist', 'host', 'apps', 'manifest.js'));
const { default: binaryen } = await import('binaryen');

const FUEL = Number(process.argv[2] ?? DEFAULT_FUEL.query);
const ROUNDS = Number(process.argv[3] ?? 5);
/** The largest memory an installed app may have (2048 pages, 128 MiB). */
const PAGES = 2048;

const rep = (n, f) => Array.from({ length: n }, (_, i) => f(i)).join('\n');

// Loop bodies, each as heavy as one kind of instruction can make it.
const kernels = {
  'empty loop': `(loop $l (br $l))`,
  'arithmetic': `(loop $l ${rep(200, () => '(local.set $x (i32.add (local.get $x) (i32.const 7)))')} (br $l))`,
  'locals': `(loop $l ${rep(200, (i) => `(local.set $y (local.get $x)) (local.set $x (local.get $y))`)} (br $l))`,
  'divisions': `(loop $l ${rep(100, () => '(local.set $w (i64.div_u (i64.const 0x7fffffffffffffff) (i64.or (local.get $w) (i64.const 3))))')} (br $l))`,
  'loads, L1': `(loop $l ${rep(200, (i) => `(local.set $x (i32.add (local.get $x) (i32.load offset=${(i % 64) * 4} (i32.const 0))))`)} (br $l))`,
  'stores, L1': `(loop $l ${rep(200, (i) => `(i32.store offset=${(i % 64) * 4} (i32.const 0) (local.get $x))`)} (br $l))`,
  // every load at a pseudo-random address in 128 MiB: a cache miss and a TLB miss each
  'loads, cache misses': `(loop $l ${rep(64, () => `(local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245)) (i32.const 12345)))
      (local.set $y (i32.add (local.get $y) (i32.load (i32.and (local.get $x) (i32.const ${PAGES * 65536 - 4})))))`)} (br $l))`,
  'dependent loads, cache misses': `(loop $l ${rep(64, () => `(local.set $x (i32.load (i32.and (i32.add (i32.mul (local.get $x) (i32.const 1103515245)) (i32.const 12345)) (i32.const ${PAGES * 65536 - 4}))))`)} (br $l))`,
  'calls': `(loop $l ${rep(100, () => '(call $nop)')} (br $l))`,
  'indirect calls': `(loop $l ${rep(100, () => '(call_indirect (type $v) (i32.const 0))')} (br $l))`,
  'deep calls': `(loop $l (call $deep (i32.const 1000)) (br $l))`,
  'memory.fill 8 MiB': `(loop $l (memory.fill (i32.const 0) (local.get $x) (i32.const 8388608)) (br $l))`,
  'memory.copy 8 MiB': `(loop $l (memory.copy (i32.const 0) (i32.const 67108864) (i32.const 8388608)) (br $l))`,
  'memory.fill 64 B': `(loop $l ${rep(50, (i) => `(memory.fill (i32.const ${i * 64}) (local.get $x) (i32.const 64))`)} (br $l))`,
};

function moduleText(body, pages) {
  return `(module
    (type $v (func))
    (memory ${pages} ${PAGES})
    (table 1 funcref) (elem (i32.const 0) $nop)
    (func $nop)
    (func $deep (param $n i32) (if (local.get $n) (then (call $deep (i32.sub (local.get $n) (i32.const 1))))))
    (func (export "run") (local $x i32) (local $y i32) (local $w i64)
      (local.set $x (i32.const 1))
      ${body}))`;
}

function compile(text) {
  const m = binaryen.parseText(text);
  m.setFeatures(binaryen.Features.All);
  const bytes = m.emitBinary();
  m.dispose();
  return new WebAssembly.Module(meter(bytes));
}

/** µs per fuel unit of one run of `run` on a fresh instance (memory touched first, so faults are not counted). */
function timeOne(mod, fuel, touch) {
  const inst = new WebAssembly.Instance(mod);
  const g = inst.exports[FUEL_EXPORT];
  if (touch) new Uint8Array(inst.exports.mem?.buffer ?? new ArrayBuffer(0)).fill(1);
  g.value = BigInt(fuel);
  const c = process.cpuUsage();
  try {
    inst.exports.run();
  } catch {
    // out of fuel, as intended
  }
  // CPU time, not wall time: on a shared machine a run can wait for a core, which no fuel model can bound
  const { user, system } = process.cpuUsage(c);
  const spent = fuel - Number(g.value);
  return { us: user + system, perUnit: (user + system) / spent };
}

console.log(`fuel per run ${FUEL.toLocaleString('en')}, ${ROUNDS} rounds, node ${process.version}, ${cpus()[0]?.model ?? '?'} (${cpus().length} cores), linux ${release()}`);
console.log('');
console.log('| loop body | CPU ms per run (median) | CPU ns per fuel unit (median, max) |');
console.log('|---|---|---|');
let worst = { name: '', perUnit: 0, max: 0 };
let worstMax = 0;
for (const [name, body] of Object.entries(kernels)) {
  // Memory is all there from the start and touched once, so a run measures the loop, not page faults.
  const text = moduleText(body, PAGES).replace(`(memory ${PAGES} ${PAGES})`, `(memory (export "mem") ${PAGES} ${PAGES})`);
  const mod = compile(text);
  timeOne(mod, Math.min(FUEL, 200_000), true); // warm-up: tier-up
  const runs = [];
  for (let i = 0; i < ROUNDS; i++) runs.push(timeOne(mod, FUEL, true));
  runs.sort((a, b) => a.perUnit - b.perUnit);
  const med = runs[runs.length >> 1];
  const max = runs[runs.length - 1];
  if (med.perUnit > worst.perUnit) worst = { name, perUnit: med.perUnit, max: max.perUnit };
  worstMax = Math.max(worstMax, max.perUnit);
  console.log(`| ${name} | ${(med.us / 1000).toFixed(2)} | ${(med.perUnit * 1000).toFixed(2)}, ${(max.perUnit * 1000).toFixed(2)} |`);
}

let fresh = 0;
// Fresh memory: a module that grows its memory to the cap and writes one byte per 4 KiB page
// pays the kernel's page faults; memory.grow is priced per page for that.
{
  const body = `(drop (memory.grow (i32.const ${PAGES - 1})))
    (local.set $x (i32.const 65536))
    (loop $l (i32.store8 (local.get $x) (i32.const 1)) (local.set $x (i32.add (local.get $x) (i32.const 4096)))
      (br_if $l (i32.lt_u (local.get $x) (i32.const ${PAGES * 65536}))))`;
  const mod = compile(moduleText(body, 1));
  const runs = [];
  for (let i = 0; i < ROUNDS; i++) runs.push(timeOne(mod, 1e12, false));
  runs.sort((a, b) => a.us - b.us);
  const med = runs[runs.length >> 1];
  console.log(`| grow to ${PAGES} pages, touch every 4 KiB (fresh memory; not bounded by fuel) | ${(med.us / 1000).toFixed(2)} | ${(med.perUnit * 1000).toFixed(2)} |`);
  fresh = med.us / 1000;
}

// The hostile test modules (test/abi/modules/, built by `node scripts/build.mjs --test-apps`),
// as the host runs them: the first call of a fresh instance (baseline-compiled code) and later ones.
const hostile = [
  ['heavy-memory', 'spin.example.', 16],
  ['heavy-calls', 'spin.example.', 16],
  ['heavy-bulk', 'fill.example.', 512],
  ['heavy-bulk', 'copy.example.', 512],
  ['loop', 'loop.example.', 16],
];
const hostileMs = [];
if (existsSync(join(root, 'build', 'test-apps', 'heavy-memory.wasm'))) {
  const { AppInstance, appMetrics } = await import(join(root, 'dist', 'host', 'apps', 'app-instance.js'));
  const { parseManifest } = await import(join(root, 'dist', 'host', 'apps', 'manifest.js'));
  const { MemoryMetrics } = await import(join(root, 'dist', 'host', 'core', 'metrics.js'));
  const { silentLogger } = await import(join(root, 'dist', 'host', 'core', 'log.js'));
  const { encodeContext, newContext } = await import(join(root, 'dist', 'host', 'core', 'context.js'));
  const { buildQuery, textToName } = await import(join(root, 'dist', 'host', 'core', 'dns', 'wire.js'));
  console.log('');
  console.log(`| hostile module (query budget ${DEFAULT_FUEL.query.toLocaleString('en')}) | first call, CPU ms | later calls, CPU ms (median, max) |`);
  console.log('|---|---|---|');
  for (const [file, name, pages] of hostile) {
    const manifest = parseManifest({ name: file.replace(/-/g, '_'), abi_version: 1, description: 'x', phases: ['pre-cache'], failure: 'fail-open', memory: { max_pages: pages } }, 'bench');
    const module = new WebAssembly.Module(meter(new Uint8Array(readFileSync(join(root, 'build', 'test-apps', `${file}.wasm`)))));
    const app = new AppInstance({ manifest, module, minPages: 1 }, silentLogger, appMetrics(new MemoryMetrics()), Date.now, { traps: 1e9, windowMs: 1, cooldownMs: 0 });
    const qname = textToName(name);
    const ctx = encodeContext(newContext({ qname, qtype: 1, qclass: 1, client: { address: '127.0.0.1', port: 1 }, transport: 'udp', flags: 0, ingress: 'b', deadline: Date.now() + 1e6, udpSize: 0 }));
    const msg = buildQuery({ name: qname, type: 1, class: 1 }, { id: 1 });
    const times = [];
    for (let i = 0; i < ROUNDS * 2 + 1; i++) {
      const c = process.cpuUsage();
      const r = app.call(0, ctx, msg);
      const { user, system } = process.cpuUsage(c);
      times.push((user + system) / 1000);
      if (r.kind !== 'trap' || r.reason !== 'fuel') throw new Error(`${file}: expected a fuel trap, got ${JSON.stringify(r)}`);
    }
    const later = times.slice(1).sort((a, b) => a - b);
    hostileMs.push(...times);
    console.log(`| ${file} (${name}) | ${times[0].toFixed(2)} | ${later[later.length >> 1].toFixed(2)}, ${later[later.length - 1].toFixed(2)} |`);
  }
}

console.log('');
console.log(`first writes to fresh memory: ${fresh.toFixed(0)} ms for the whole ${PAGES}-page cap, bounded by the cap (once per instance), not by fuel`);
console.log(`worst: ${worst.name}, ${(worst.perUnit * 1000).toFixed(2)} ns of CPU per fuel unit (median; the slowest single run of any kernel: ${(worstMax * 1000).toFixed(2)})`);
if (hostileMs.length) console.log(`hostile modules: the longest query call took ${Math.max(...hostileMs).toFixed(2)} ms of CPU (a first call's memory is fresh; later instances reuse it, zeroed)`);
for (const [entry, budget] of Object.entries(DEFAULT_FUEL)) {
  console.log(`${entry}: ${budget.toLocaleString('en')} units -> no call can run longer than ${Math.ceil(budget * worstMax).toLocaleString('en')} µs of CPU on this machine (${Math.ceil(budget * worst.perUnit).toLocaleString('en')} at the median; plus fresh-memory first writes)`);
}
