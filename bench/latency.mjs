#!/usr/bin/env node
// Sequential query latency: one query at a time over UDP, so each figure is a round trip and not
// queueing. Prints p50, p90, p99 and mean in milliseconds as JSON.
// Usage: node bench/latency.mjs HOST PORT NAMES_FILE COUNT
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';

const [host, port, file, count = '2000'] = process.argv.slice(2);
const names = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0]);

function query(name, id) {
  const labels = name.replace(/\.$/, '').split('.');
  const parts = [Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts);
}

const sock = createSocket('udp4');
const times = [];
let id = 1;
for (let i = 0; i < Number(count); i++) {
  const msg = query(names[i % names.length], (id = (id + 1) & 0xffff));
  const t0 = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), 2000);
    sock.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    sock.send(msg, Number(port), host);
  });
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
sock.close();
times.sort((a, b) => a - b);
const at = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
const mean = times.reduce((a, b) => a + b, 0) / times.length;
console.log(JSON.stringify({ p50: at(0.5), p90: at(0.9), p99: at(0.99), mean, n: times.length }));
