// README's "Deploy to Workers", played from a fresh clone with no network: run by
// test/workers/fresh-clone.test.ts inside a network namespace that has only loopback
// (`unshare -n`), so anything that tried to reach past this machine would fail here.
//
//   node test/workers/fresh-clone.mjs <checkout> <scratch dir>
//
// It copies the checkout's files as git sees them (git ls-files: no build/, dist/ or generated files)
// and a node_modules symlink into <scratch>/clone, starts a DoH upstream on loopback that
// answers every A query 192.0.2.53, and then does what README says: the site key in .dev.vars,
// `npx wrangler dev` (which builds), `npx edge-resolver zone compile` of the lookalike root,
// `npx wrangler kv key put --local zone`, and curl. The shipped config forwards to public
// resolvers; an EDGE_CONFIG var (`--var`) points it at the loopback upstream instead. Prints
// one JSON object with what it saw, and stops wrangler's whole process group, always.

import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';

const [checkout, scratch] = process.argv.slice(2);
if (!checkout || !scratch) throw new Error('usage: fresh-clone.mjs <checkout> <scratch dir>');
const clone = join(scratch, 'clone');
const started = Date.now();
/** Everything here must be done within this; the test's own timeout is longer. */
const BUDGET_MS = 300_000;
const left = () => BUDGET_MS - (Date.now() - started);
const report = { steps: [] };
const step = (name, detail = {}) => report.steps.push({ name, at_ms: Date.now() - started, ...detail });

// Wrangler's own outbound calls, off: the cf.json request metadata fetch, telemetry, the
// update check (it runs with the banner). Inside the namespace they would fail anyway.
const env = {
  ...process.env,
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  WRANGLER_LOG_PATH: join(scratch, 'wrangler-logs'),
  FORCE_COLOR: '0',
  NO_COLOR: '1',
};

function copyTracked() {
  // Tracked files and new ones not ignored, as in the working tree: what a clone of this work,
  // committed, would hold (in CI, a clone, that is just the tracked files).
  const list = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: checkout, encoding: 'utf8' });
  const files = [...new Set(list.split('\0').filter(Boolean))];
  let copied = 0;
  for (const f of files) {
    // A tracked file deleted in the working tree is not part of what a clone would get either.
    if (!existsSync(join(checkout, f))) continue;
    mkdirSync(dirname(join(clone, f)), { recursive: true });
    cpSync(join(checkout, f), join(clone, f));
    copied++;
  }
  symlinkSync(join(checkout, 'node_modules'), join(clone, 'node_modules'));
  const generated = ['build', 'dist', '.wrangler', '.dev.vars', 'host/apps/registry.generated.ts', 'host/adapters/workers/apps.generated.ts'];
  step('copied', { files: copied, present: generated.filter((g) => existsSync(join(clone, g))) });
}

/** A DoH upstream (RFC 8484 POST and GET) answering A 192.0.2.53, TTL 60, for any name. */
function startUpstream() {
  const seen = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const url = new URL(req.url, 'http://upstream');
    const q = req.method === 'POST' ? Buffer.concat(chunks) : Buffer.from(url.searchParams.get('dns') ?? '', 'base64url');
    let p = 12;
    while (p < q.length && q[p] !== 0) p += q[p] + 1;
    const qend = p + 5;
    if (q.length < 12 || qend > q.length) {
      res.writeHead(400).end();
      return;
    }
    const labels = [];
    for (let i = 12; q[i] !== 0; i += q[i] + 1) labels.push(q.subarray(i + 1, i + 1 + q[i]).toString('latin1'));
    seen.push(`${labels.join('.')}.`);
    const head = Buffer.from(q.subarray(0, 12));
    head.writeUInt16BE(0x8180 | (q.readUInt16BE(2) & 0x0100), 2);
    head.writeUInt16BE(1, 6);
    head.writeUInt16BE(0, 8);
    head.writeUInt16BE(0, 10);
    const isA = q.readUInt16BE(qend - 4) === 1;
    if (!isA) head.writeUInt16BE(0, 6);
    const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 53]);
    const body = Buffer.concat([head, q.subarray(12, qend), ...(isA ? [answer] : [])]);
    res.writeHead(200, { 'content-type': 'application/dns-message', 'content-length': body.length }).end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port, seen })));
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Runs a command in the clone; its exit code, stdout and stderr. Never throws. */
function run(cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => kill(child.pid, 'SIGKILL'), Math.min(timeoutMs, left()));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function kill(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone
  }
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function fetchText(url, init) {
  try {
    const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    return { status: r.status, headers: Object.fromEntries(r.headers), body: await r.text() };
  } catch (e) {
    return { status: 0, error: String(e.cause?.message ?? e.message) };
  }
}

async function main() {
  copyTracked();
  const up = await startUpstream();
  const port = await freePort();
  // README: `echo "EDGE_SITE_KEYS=k1=$(openssl rand -hex 32)" > .dev.vars`
  writeFileSync(join(clone, '.dev.vars'), `EDGE_SITE_KEYS=k1=${'5e'.repeat(32)}\n`);
  // The shipped EDGE_CONFIG with its upstreams on loopback.
  const shipped = /EDGE_CONFIG = '''\n([\s\S]*?)'''/.exec(readFileSync(join(clone, 'wrangler.toml'), 'utf8'))?.[1];
  if (!shipped) throw new Error('wrangler.toml has no EDGE_CONFIG var');
  const looped = shipped.replace(/^default = \[.*\]$/m, `default = ["http://127.0.0.1:${up.port}/dns-query"]`);
  if (looped === shipped) throw new Error('EDGE_CONFIG in wrangler.toml has no "default = [...]" upstream line');
  // The loopback upstream answers an A record for every name and has no DNSSEC to offer, so
  // validation (on by default, from the built-in root anchor) is turned off for it.
  if (/^\[dnssec\]/m.test(looped)) throw new Error('EDGE_CONFIG in wrangler.toml has a [dnssec] table; this script adds its own');
  const config = `${looped}\n[dnssec]\nvalidate = false\n`;

  const wrangler = spawn('npx', ['wrangler', 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', '0', '--var', `EDGE_CONFIG:${config}`], {
    cwd: clone,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: wrangler starts esbuild, the build script and workerd.
    detached: true,
  });
  let log = '';
  wrangler.stdout.on('data', (d) => (log += d));
  wrangler.stderr.on('data', (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  try {
    let health = null;
    while (left() > 0 && wrangler.exitCode === null) {
      health = await fetchText(`${base}/health`);
      if (health.status === 200) break;
      await sleep(500);
    }
    step('wrangler dev ready', { health: health?.status ?? null, exited: wrangler.exitCode });
    if (health?.status !== 200) throw new Error('wrangler dev did not serve /health');
    step('built', { present: ['build/workers', 'dist/host/adapters/node/main.js', 'host/adapters/workers/apps.generated.ts'].filter((p) => existsSync(join(clone, p))) });

    // README: npx edge-resolver zone compile root.zone --trust-anchor root-anchors.ds -o root.image
    const fixtures = 'test/fixtures/zones';
    const compile = await run('npx', ['edge-resolver', 'zone', 'compile', `${fixtures}/root-lookalike-2026082201.zone.gz`, '--trust-anchor', `${fixtures}/trust-anchor.ds`, '-o', 'root.image'], 60_000);
    step('zone compile', { code: compile.code, out: (compile.stdout + compile.stderr).trim() });
    // The copy whose signatures expired on 2026-09-05 is refused before it could reach KV.
    const expired = await run('npx', ['edge-resolver', 'zone', 'compile', `${fixtures}/root-lookalike-expired-2026082201.zone.gz`, '--trust-anchor', `${fixtures}/trust-anchor.ds`, '-o', 'expired.image'], 60_000);
    step('zone compile (expired)', { code: expired.code, written: existsSync(join(clone, 'expired.image')), out: (expired.stdout + expired.stderr).trim() });

    // README: npx wrangler kv key put --binding EDGE_KV --local zone --path root.image
    const put = await run('npx', ['wrangler', 'kv', 'key', 'put', '--binding', 'EDGE_KV', '--local', 'zone', '--path', 'root.image'], 60_000);
    step('kv key put', { code: put.code, out: (put.stdout + put.stderr).trim().slice(-400) });

    // README: curl -s 'http://127.0.0.1:8787/dns-query?name=printer.local&type=A'
    const junk = await run('curl', ['-s', '-m', '30', '-D', '-', `${base}/dns-query?name=printer.local&type=A`], 40_000);
    step('curl junk TLD', { code: junk.code, out: junk.stdout });
    const real = await run('curl', ['-s', '-m', '30', '-D', '-', `${base}/dns-query?name=www.example.com&type=A`], 40_000);
    step('curl real name', { code: real.code, out: real.stdout });
    const status = await fetchText(`${base}/status`);
    step('status', { status: status.status, body: status.body });
    const shards = [];
    for (let i = 0; i < 4; i++) shards.push(await fetchText(`${base}/status?shard=shard-${i}`));
    step('shards', { zones: shards.map((s) => (s.status === 200 ? JSON.parse(s.body).zone : null)) });
  } finally {
    kill(wrangler.pid, 'SIGTERM');
    for (let i = 0; i < 50 && groupAlive(wrangler.pid); i++) await sleep(200);
    const lingered = groupAlive(wrangler.pid);
    if (lingered) kill(wrangler.pid, 'SIGKILL');
    await sleep(200);
    step('stopped', { lingered_after_term: lingered, alive: groupAlive(wrangler.pid) });
    up.server.close();
    report.upstream_queries = up.seen;
    report.wrangler_log = log.slice(-4000);
  }
}

main()
  .catch((e) => (report.error = String(e.stack ?? e)))
  .finally(() => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  });
