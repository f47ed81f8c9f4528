#!/usr/bin/env node
// Zone check speed, side by side in one run: `edge-resolver zone check` on the lookalike root
// (text), loading its compiled image, and `ldns-verify-zone -Z` on the same file. Runs are
// interleaved so machine load hits every contender alike; each is a fresh process (what an
// operator runs), timed with /usr/bin/time for wall clock and peak RSS.
//
//   node bench/zone-check.mjs [rounds=9] [--write]      (--write updates bench/RESULTS.md)

import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'build', 'bench-zone');
const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 9);
const write = process.argv.includes('--write');
const fixtures = join(root, 'test', 'fixtures', 'zones');
const zoneFile = join(out, 'root-lookalike-2026082201.zone');
const anchor = join(fixtures, 'trust-anchor.ds');
const image = join(out, 'root-lookalike.img');
const NOW = '2026-08-23T00:00:00Z';
const LDNS_NOW = '20260823000000';

// 1. the command operators run (`npm run build` first): dist/'s edge-resolver, whose zone
// commands are one bundled module
const main = join(root, 'dist', 'host', 'adapters', 'node', 'main.js');
if (!existsSync(main)) throw new Error('bench: run npm run build first');
mkdirSync(out, { recursive: true });
const cli = [main, 'zone'];

// 2. the same uncompressed file for both tools, and an image of it
writeFileSync(zoneFile, gunzipSync(readFileSync(join(fixtures, 'root-lookalike-2026082201.zone.gz'))));
execFileSync(process.execPath, [...cli, 'compile', zoneFile, '-o', image, '--trust-anchor', anchor, '--now', NOW], { stdio: 'inherit' });

const haveTime = existsSync('/usr/bin/time');
const haveLdns = spawnSync('sh', ['-c', 'command -v ldns-verify-zone'], { encoding: 'utf8' }).status === 0;

/** Runs a command; returns wall seconds, peak RSS in KiB (when /usr/bin/time exists) and stdout. */
function timed(cmd, args, expectOk = true) {
  if (haveTime) {
    const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const last = r.stderr.trim().split('\n').pop();
    const [wall, rss] = last.split(' ').map(Number);
    if (expectOk && r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    return { wall, rss, stdout: r.stdout };
  }
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (expectOk && r.status !== 0) throw new Error(`${cmd} failed`);
  return { wall: Number(process.hrtime.bigint() - t) / 1e9, rss: NaN, stdout: r.stdout };
}

const contenders = {
  'edge-resolver zone check (worker verifier)': () => timed(process.execPath, [...cli, 'check', zoneFile, '--trust-anchor', anchor, '--now', NOW]),
  'edge-resolver zone check (WebCrypto verifier)': () =>
    timed(process.execPath, [...cli, 'check', zoneFile, '--trust-anchor', anchor, '--now', NOW, '--verifier', 'webcrypto']),
  'ldns-verify-zone -Z': haveLdns ? () => timed('ldns-verify-zone', ['-Z', '-k', anchor, '-t', LDNS_NOW, zoneFile]) : null,
  'edge-resolver zone inspect (image load)': () => timed(process.execPath, [...cli, 'inspect', image, '--json', '--now', NOW]),
};

const results = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
const loadMs = [];
const loadBefore = loadavg();
for (let i = 0; i < rounds; i++) {
  for (const [name, run] of Object.entries(contenders)) {
    if (!run) continue;
    const r = run();
    results[name].push(r);
    if (name.includes('inspect')) loadMs.push(JSON.parse(r.stdout).loadMs);
  }
}
const loadAfter = loadavg();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const min = (xs) => Math.min(...xs);
const rows = [];
for (const [name, rs] of Object.entries(results)) {
  if (rs.length === 0) continue;
  const walls = rs.map((r) => r.wall);
  rows.push({ name, median: median(walls), min: min(walls), rss: Math.max(...rs.map((r) => r.rss)) });
}
const ours = rows.find((r) => r.name.includes('worker'));
const ldns = rows.find((r) => r.name.startsWith('ldns'));
const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? cpus()[0]?.model ?? 'unknown';
const ldnsVersion = haveLdns ? spawnSync('ldns-verify-zone', ['-v'], { encoding: 'utf8' }).stdout.trim() : 'not installed';
const imageBytes = readFileSync(image).length;
const zoneBytes = readFileSync(zoneFile).length;

const fmt = (s) => s.toFixed(2);
const lines = [];
lines.push(`Command: \`node bench/zone-check.mjs ${rounds}\`, run ${new Date().toISOString().slice(0, 10)}, ${rounds} rounds, contenders interleaved in each round.`);
lines.push('');
lines.push(
  `Machine: ${cpus().length} cores (nproc ${execFileSync('nproc', { encoding: 'utf8' }).trim()}), ${cpuModel}; ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ${ldnsVersion}. ` +
    `Load average before/after: ${loadBefore[0].toFixed(2)} / ${loadAfter[0].toFixed(2)} (the machine is shared).`,
);
lines.push(
  `Input: the lookalike root (\`test/fixtures/zones/root-lookalike-2026082201.zone.gz\`, uncompressed: ${(zoneBytes / 1e6).toFixed(2)} MB, ` +
    `24,884 RRs, 2,793 RRSIGs, RSASHA256, SHA-384 ZONEMD), trust anchor \`trust-anchor.ds\`, clock ${NOW}. ` +
    `Every contender checks every RRSIG and the ZONEMD; each is a fresh process (wall clock and peak RSS from /usr/bin/time).`,
);
lines.push('');
lines.push('| contender | median (s) | best (s) | peak RSS (MiB) |');
lines.push('|---|---|---|---|');
for (const r of rows) lines.push(`| ${r.name} | ${fmt(r.median)} | ${fmt(r.min)} | ${Number.isNaN(r.rss) ? 'n/a' : (r.rss / 1024).toFixed(0)} |`);
lines.push('');
if (ours && ldns) {
  lines.push(
    `Ratio edge-resolver / ldns-verify-zone (median wall clock, same run): **${(ours.median / ldns.median).toFixed(2)}** ` +
      `(best-of: ${(ours.min / ldns.min).toFixed(2)}). Target: ≤ 1.0.`,
  );
}
lines.push(
  `Image: ${(imageBytes / 1e6).toFixed(2)} MB; in-process load and validation (\`readImage\`: bounds, order, SHA-256) ` +
    `median ${median(loadMs).toFixed(1)} ms, best ${min(loadMs).toFixed(1)} ms (target < 50 ms).`,
);
lines.push('');
const section = lines.join('\n') + '\n';
console.log('\n' + section);

// Only the part between the markers is regenerated; notes written below it stay.
if (write) {
  const resultsPath = join(root, 'bench', 'RESULTS.md');
  const BEGIN = '<!-- zone-check:begin (generated by bench/zone-check.mjs) -->';
  const END = '<!-- zone-check:end -->';
  let text = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '# Benchmark results\n';
  const block = `${BEGIN}\n${section}${END}`;
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + END.length);
  else text = text.replace(/\n*$/, '\n\n') + `## Zone check\n\n${block}\n`;
  writeFileSync(resultsPath, text);
  console.log(`updated ${resultsPath}`);
}
