#!/usr/bin/env node
// DoH load generator: the same RFC 8484 GET requests (?dns=, ID 0) against any DoH URL, over
// HTTP/1.1 keep-alive with a fixed number of connections, each sending its next request when
// the previous answer is in. Prints requests/s and latency (mean, p50, p90, p99, ms) as JSON.
// Usage: node bench/doh-load.mjs URL NAMES_FILE SECONDS [CONNECTIONS]
//   URL is the DoH endpoint, e.g. http://127.0.0.1:8787/dns-query. Loopback only.

import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';

const [url, file, seconds = '10', connections = '8'] = process.argv.slice(2);
if (!url || !file) {
  console.error('usage: node bench/doh-load.mjs URL NAMES_FILE SECONDS [CONNECTIONS]');
  process.exit(2);
}
const target = new URL(url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) {
  console.error(`doh-load: ${target.hostname} is not loopback; this harness only loads this machine`);
  process.exit(2);
}

function query(name) {
  const labels = name.replace(/\.$/, '').split('.');
  const parts = [Buffer.from([0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts).toString('base64url');
}

const paths = readFileSync(file, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => `${target.pathname}?dns=${query(l.split(/\s+/)[0])}`);
const agent = new Agent({ keepAlive: true, maxSockets: Number(connections) });

function get(path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path, agent, headers: { accept: 'application/dns-message' } }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => (res.statusCode === 200 && n > 12 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

// Warm: every name once, so the measured run is cache hits.
for (let i = 0; i < paths.length; i += Number(connections)) {
  await Promise.all(paths.slice(i, i + Number(connections)).map(get));
}

const times = [];
let errors = 0;
let next = 0;
const end = Date.now() + Number(seconds) * 1000;
const started = process.hrtime.bigint();
await Promise.all(
  Array.from({ length: Number(connections) }, async () => {
    while (Date.now() < end) {
      const path = paths[next++ % paths.length];
      const t0 = process.hrtime.bigint();
      try {
        await get(path);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch {
        errors++;
      }
    }
  }),
);
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
agent.destroy();
times.sort((a, b) => a - b);
const at = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
const mean = times.reduce((a, b) => a + b, 0) / times.length;
console.log(JSON.stringify({ rps: times.length / elapsed, mean, p50: at(0.5), p90: at(0.9), p99: at(0.99), n: times.length, errors }));
