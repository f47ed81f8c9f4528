#!/usr/bin/env node
// Rule evaluation inside the override app, without a server: one app call as the chain makes it
// (context and query already encoded), with 10, 1,000 and 10,000 rules loaded, interleaved
// round by round. Shows whether a query's cost grows with the size of the rule set (an indexed
// set: it should not, but for the rules that have no name or tag matcher).
//   npm run build && node bench/rules-eval.mjs [--quick]
//   node bench/rules-eval.mjs --rules N      prints the N-rule set bench/rules.sh loads

import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Per 10 rules: suffix rules that set a tag, tag-chained rules that respond, resolve-phase
 * reroutes, post-cache qname TTL caps, a post-resolve rcode rewrite and a qtype+suffix rule; and
 * in every set 4 rules with no name or tag matcher, which every query is checked against.
 */
export function ruleSet(n) {
  const out = [
    'phase = pre-cache client 10.0.0.0/8 set-tag internal',
    'phase = pre-cache client 2001:db8::/32 set-tag lab',
    'phase = pre-cache qtype ANY respond REFUSED',
    'phase = post-cache transport doh rcode SERVFAIL set-tag doh-failure',
  ];
  for (let i = 0; out.length < n; i++) {
    switch (i % 10) {
      case 0: case 1: out.push(`phase = pre-cache qname-suffix zone${i}.example set-tag t${i}`); break;
      case 2: case 3: out.push(`phase = pre-cache tag t${i - 2} respond NXDOMAIN`); break;
      case 4: case 5: out.push(`phase = resolve qname-suffix corp${i}.example forward-to default`); break;
      case 6: case 7: out.push(`phase = post-cache qname name${i}.example ttl-cap 30`); break;
      case 8: out.push(`phase = post-resolve qname-suffix zone${i}.example rcode SERVFAIL respond REFUSED`); break;
      case 9: out.push(`phase = pre-cache qname-suffix mail${i}.example qtype TXT respond NXDOMAIN`); break;
    }
  }
  return out.slice(0, n).join('\n') + '\n';
}

const at = process.argv.indexOf('--rules');
if (at >= 0) process.stdout.write(ruleSet(Number(process.argv[at + 1])));
else await bench();

async function bench() {

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(join(root, 'dist', p));
const { AppHarness } = await dist('host/apps/harness.js');
const { encodeContext, newContext } = await dist('host/core/context.js');
const { buildQuery, textToName } = await dist('host/core/dns/wire.js');

const quick = process.argv.includes('--quick');
const CALLS = quick ? 20_000 : 200_000;
const ROUNDS = quick ? 1 : 9;
const wasm = new Uint8Array(readFileSync(join(root, 'build/apps/override.wasm')));
const manifest = JSON.parse(readFileSync(join(root, 'apps/override/app.json'), 'utf8'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const inputs = Array.from({ length: 1000 }, (_, i) => {
  const qname = textToName(`host${i}.example.test.`);
  const ctx = newContext({ qname, qtype: 1, qclass: 1, client: { address: '192.0.2.10', port: 40000 }, transport: 'udp', flags: 4, ingress: 'bench', deadline: Date.now() + 4000, udpSize: 1232 });
  return { ctx: encodeContext(ctx), msg: buildQuery({ name: qname, type: 1, class: 1 }, { id: 1, udpSize: 1232 }) };
});

const cases = [10, 1000, 10000].map((n) => {
  const h = AppHarness.fromBytes(wasm, manifest, { host: { upstream_groups: 'default' } });
  const r = h.loadText(ruleSet(n));
  if (!r.ok) throw new Error(r.error);
  for (let i = 0; i < 20_000; i++) h.app.call(0, inputs[i % 1000].ctx, inputs[i % 1000].msg); // warm up
  return { n, h, ns: [] };
});
const loadBefore = loadavg()[0];
for (let round = 0; round < ROUNDS; round++) {
  for (const c of cases) {
    for (const phase of [0, 1]) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < CALLS; i++) c.h.app.call(phase, inputs[i % 1000].ctx, inputs[i % 1000].msg);
      (c.ns[phase] ??= []).push(Number(process.hrtime.bigint() - t) / CALLS);
    }
  }
}
const cpu = cpus();
console.log(`Machine: ${cpu.length} cores, ${cpu[0]?.model.trim()}; ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; kernel ${release()}.`);
console.log(`${CALLS.toLocaleString('en-US')} calls per case, phase and round; median of ${ROUNDS} interleaved rounds; load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after.\n`);
console.log('| rules loaded | pre-cache call (ns) | post-cache call (ns) | app memory (MiB) |');
console.log('|---|---|---|---|');
for (const c of cases) console.log(`| ${c.n.toLocaleString('en-US')} | ${Math.round(median(c.ns[0]))} | ${Math.round(median(c.ns[1]))} | ${(c.h.app.memoryBytes() / 2 ** 20).toFixed(1)} |`);
}
