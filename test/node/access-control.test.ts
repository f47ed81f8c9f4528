/**
 * Access control and rate limits over real sockets (issue 17, item 7). Every client here is on
 * loopback, so the rules name 127.x sources and the clients send from them (`dig -b`, `kdig -b`,
 * `curl --interface`): allowed, refused (REFUSED with EDE 18), denied (no answer), per listener,
 * across a reload; and a client over its rate limit while another still gets answers.
 */

import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, textToName } from '../../host/core/dns/wire.js';
import { EdgeNode } from '../../host/adapters/node/edge-node.js';
import { parseConfig } from '../../host/core/config.js';
import { silentLogger } from '../../host/core/log.js';
import { dig, kdig, run } from '../helpers/dig.js';
import { noValidation, ownerOf, root, startEdge, testNode, type TestNode } from '../helpers/edge.js';
import { freePort } from '../helpers/net.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { needTools } from '../helpers/tools.js';

const zone = readFileSync(join(root, 'test/fixtures/example.test.zone'), 'utf8');
// A /24 of loopback of our own, so parallel test files sending from 127.x do not meet ours.
const net = `127.${30 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 256)}`;
const allowedSrc = `${net}.1`;
const refusedSrc = `${net}.2`;
const deniedSrc = `${net}.3`;

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (want.every((w) => line.includes(w))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** dig from `src`; the raw output (status, flags, EDE lines), or null when no answer came. */
async function digFrom(n: { host: string; port: number }, src: string, args: string[]): Promise<string | null> {
  const r = await run('dig', [`@${n.host}`, '-p', String(n.port), '-b', src, '+tries=1', '+time=2', ...args]);
  if (r.code === 9 || /timed out|no servers could be reached/.test(r.stdout)) return null;
  if (r.code !== 0) throw new Error(`dig failed (${r.code}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** `count` UDP queries from `src` at once; the answers that came back within the wait. */
function burst(port: number, src: string, count: number): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const got: Uint8Array[] = [];
    s.on('error', reject);
    s.on('message', (m) => got.push(new Uint8Array(m)));
    s.bind(0, src, () => {
      for (let i = 0; i < count; i++) {
        const q = buildQuery({ name: textToName('www.example.test.'), type: 1, class: 1 }, { id: i + 1, rd: true });
        s.send(q, port, '127.0.0.1');
      }
      // Not a timing assertion: the wait only bounds how long we collect answers.
      setTimeout(() => {
        s.close();
        resolve(got);
      }, 1500);
    });
  });
}

describe.skipIf(!needTools('nsd', 'dig', 'kdig', 'curl'))('access control', () => {
  let nsd: Nsd;
  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
  });
  afterAll(async () => nsd?.stop());

  const upstream = () => `[upstreams]\ndefault = ["${nsd.address}"]\n[apps.forward.config.routes]\n"." = "default"\n`;

  it('allows, refuses with EDE 18 and drops by source address over UDP, TCP and DoH; the metrics count it', async () => {
    const n = await startEdge(
      `doh_http = ["127.0.0.1:0"]\n[access]\nrules = ["${refusedSrc} refuse", "${deniedSrc}/32 deny", "${net}.0/24 allow"]\n${upstream()}`,
    );
    try {
      const ok = await digFrom(n.dns, allowedSrc, ['www.example.test', 'A']);
      expect(ok).toMatch(/status: NOERROR/);
      const refused = await digFrom(n.dns, refusedSrc, ['www.example.test', 'A']);
      expect(refused).toMatch(/status: REFUSED/);
      expect(refused).toMatch(/EDE: 18 \(Prohibited\): \(client 127\.\d+\.\d+\.2 is not allowed here/);
      expect(await digFrom(n.dns, deniedSrc, ['www.example.test', 'A'])).toBeNull();

      // TCP: the same rules; a denied client's connection is closed unread.
      const tcpRefused = await run('kdig', [`@127.0.0.1`, '-p', String(n.dns.port), '-b', refusedSrc, '+tcp', '+edns', '+retry=0', '+time=2', 'www.example.test', 'A']);
      expect(tcpRefused.stdout).toMatch(/status: REFUSED/);
      expect(tcpRefused.stdout).toMatch(/EDE: 18/);
      const tcpOk = await run('kdig', [`@127.0.0.1`, '-p', String(n.dns.port), '-b', allowedSrc, '+tcp', '+retry=0', '+time=2', 'www.example.test', 'A']);
      expect(tcpOk.stdout).toMatch(/status: NOERROR/);
      const tcpDenied = await run('kdig', [`@127.0.0.1`, '-p', String(n.dns.port), '-b', deniedSrc, '+tcp', '+retry=0', '+time=2', 'www.example.test', 'A']);
      expect(tcpDenied.stdout).not.toMatch(/status:/);

      // DoH: a refused client gets a DNS REFUSED (HTTP 200); a denied one no HTTP answer at all.
      const doh = n.edge.listening.doh[0]!;
      const url = `http://127.0.0.1:${doh.port}/dns-query?name=www.example.test&type=A`;
      const jsonRefused = await run('curl', ['-s', '--interface', refusedSrc, '-H', 'accept: application/dns-json', url]);
      expect(JSON.parse(jsonRefused.stdout)).toMatchObject({ Status: 5 });
      const jsonOk = await run('curl', ['-s', '--interface', allowedSrc, '-H', 'accept: application/dns-json', url]);
      expect(JSON.parse(jsonOk.stdout)).toMatchObject({ Status: 0 });
      const dohDenied = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', '--interface', deniedSrc, url]);
      expect(dohDenied.stdout).toBe('000');

      const text = await n.node.metrics.text();
      expect(metric(text, 'edge_queries_refused_total', { transport: 'udp', reason: 'access-control' })).toBe(1);
      expect(metric(text, 'edge_queries_refused_total', { transport: 'tcp', reason: 'access-control' })).toBe(1);
      expect(metric(text, 'edge_queries_refused_total', { transport: 'doh', reason: 'access-control' })).toBe(1);
      expect(metric(text, 'edge_dropped_queries_total', { transport: 'udp', reason: 'access-control' })).toBe(1);
      expect(metric(text, 'edge_connections_refused_total', { transport: 'tcp', reason: 'access-control' })).toBeGreaterThanOrEqual(1);
      expect(metric(text, 'edge_connections_refused_total', { transport: 'doh', reason: 'access-control' })).toBeGreaterThanOrEqual(1);
      // Nothing refused reached the resolver: only the allowed queries are counted there.
      expect(metric(text, 'edge_queries_total', { transport: 'udp' })).toBe(1);
    } finally {
      await n.stop();
    }
  });

  it('applies the same rules to DNS over TLS, and a DoT listener may have its own', async () => {
    const dotPort = await freePort();
    const n = await startEdge(
      `dot = ["127.0.0.1:${dotPort}"]\n[access]\nrules = ["${refusedSrc} refuse", "${deniedSrc} deny", "${net}.0/24 allow"]\n[access.listeners]\n"127.0.0.1:${dotPort}" = ["${refusedSrc} refuse", "${deniedSrc} deny", "${net}.0/24 allow", "${net}.4 refuse"]\n${upstream()}`,
    );
    const tls = (src: string) => run('kdig', ['@127.0.0.1', '-p', String(dotPort), '-b', src, '+tls', '+edns', '+retry=0', '+time=2', 'www.example.test', 'A']);
    try {
      expect((await tls(allowedSrc)).stdout).toMatch(/status: NOERROR/);
      const refused = (await tls(refusedSrc)).stdout;
      expect(refused).toMatch(/status: REFUSED/);
      expect(refused).toMatch(/EDE: 18/);
      expect((await tls(deniedSrc)).stdout).not.toMatch(/status:/);
      // The DoT listener's own list: .4 is refused there, and answered on the UDP/TCP listener.
      expect((await tls(`${net}.4`)).stdout).toMatch(/status: REFUSED/);
      expect(await digFrom(n.dns, `${net}.4`, ['www.example.test', 'A'])).toMatch(/status: NOERROR/);
      const text = await n.node.metrics.text();
      expect(metric(text, 'edge_queries_refused_total', { transport: 'dot', reason: 'access-control' })).toBe(2);
      expect(metric(text, 'edge_connections_refused_total', { transport: 'dot', reason: 'access-control' })).toBe(1);
    } finally {
      await n.stop();
    }
  });

  it('takes the most specific range, and a listener of its own rules; reloads change the rules without a restart', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const text = (rules: string) =>
      `[server]\nlisten = ["127.0.0.1:${pa}", "127.0.0.1:${pb}"]\n[access]\nrules = [${rules}]\n[access.listeners]\n"127.0.0.1:${pb}" = ["${net}.0/24 refuse"]\n${upstream()}`;
    const first = text(`"${net}.0/24 refuse", "${allowedSrc} allow"`);
    const edge = await EdgeNode.start(noValidation(parseConfig(first, 'test')), { logger: silentLogger, configText: first, overrides: noValidation });
    const n = testNode(edge);
    const a = { host: '127.0.0.1', port: pa };
    const b = { host: '127.0.0.1', port: pb };
    try {
      // A /32 allow inside a refused /24: the /32 decides.
      expect(await digFrom(a, allowedSrc, ['www.example.test', 'A'])).toMatch(/status: NOERROR/);
      expect(await digFrom(a, refusedSrc, ['www.example.test', 'A'])).toMatch(/status: REFUSED/);
      // The second listener runs its own list: the /32 allow is not in it.
      expect(await digFrom(b, allowedSrc, ['www.example.test', 'A'])).toMatch(/status: REFUSED/);
      // Loopback stays allowed under every list (the defaults lie beneath).
      expect((await dig(b, ['www.example.test', 'A'])).status).toBe('NOERROR');

      const r = await edge.reload(text(`"${net}.0/24 deny"`));
      expect(r.ok).toBe(true);
      expect(await digFrom(a, allowedSrc, ['www.example.test', 'A'])).toBeNull();

      const bad = await edge.reload(text(`"${net}.0/33 allow"`));
      expect(bad.ok).toBe(false);
      expect(bad.errors!.join('\n')).toMatch(/access\.rules\.0: .*"\/33" is not a prefix length/);
      // The running rules stay.
      expect(await digFrom(a, allowedSrc, ['www.example.test', 'A'])).toBeNull();
    } finally {
      await n.stop();
    }
  });

  it('limits one client to its rate while another still gets answers; the slip sends TC=1, the metrics move', async () => {
    // One query in a thousand seconds after a burst of 3: the limit is reached whatever the machine's speed.
    const n: TestNode = await startEdge(`[access]\nrules = ["${net}.0/24 allow"]\n[ratelimit]\nqps = 0.001\nburst = 3\nslip = 2\n${upstream()}`);
    try {
      await dig(n.dns, ['www.example.test', 'A']); // in the cache, so the answers are immediate
      const got = await burst(n.dns.port, refusedSrc, 20);
      const full = got.filter((m) => (m[2]! & 0x02) === 0);
      const slipped = got.filter((m) => (m[2]! & 0x02) !== 0);
      expect(full).toHaveLength(3);
      // Every second query over the limit gets an empty TC=1 answer (header and question only).
      expect(slipped).toHaveLength(Math.floor(17 / 2));
      for (const m of slipped) expect(((m[6]! << 8) | m[7]!)).toBe(0);
      // Another address of the same network has its own bucket.
      expect(await digFrom(n.dns, allowedSrc, ['www.example.test', 'A'])).toMatch(/status: NOERROR/);
      // Over TCP the limited client's query goes unanswered.
      const tcp = await run('kdig', [`@127.0.0.1`, '-p', String(n.dns.port), '-b', refusedSrc, '+tcp', '+retry=0', '+time=1', 'www.example.test', 'A']);
      expect(tcp.stdout).not.toMatch(/status:/);

      const text = await n.node.metrics.text();
      expect(metric(text, 'edge_ratelimited_total', { transport: 'udp', action: 'slip' })).toBe(8);
      expect(metric(text, 'edge_ratelimited_total', { transport: 'udp', action: 'drop' })).toBe(9);
      expect(metric(text, 'edge_ratelimited_total', { transport: 'tcp', action: 'drop' })).toBe(1);
      expect(metric(text, 'edge_ratelimit_clients')).toBeGreaterThanOrEqual(2);
    } finally {
      await n.stop();
    }
  });

  it('limits refused clients too, so REFUSED answers cannot amplify a spoofed flood', async () => {
    const n = await startEdge(`[access]\nrules = ["${net}.0/24 refuse"]\n[ratelimit]\nqps = 0.001\nburst = 1\nslip = 0\n${upstream()}`);
    try {
      const got = await burst(n.dns.port, refusedSrc, 5);
      expect(got).toHaveLength(1);
      expect(got[0]![3]! & 0xf).toBe(5);
      const text = await n.node.metrics.text();
      expect(metric(text, 'edge_queries_refused_total', { transport: 'udp' })).toBe(1);
      expect(metric(text, 'edge_ratelimited_total', { transport: 'udp', action: 'drop' })).toBe(4);
    } finally {
      await n.stop();
    }
  });

  it('answers over DoH with 429 past the limit', async () => {
    const n = await startEdge(`doh_http = ["127.0.0.1:0"]\n[access]\nrules = ["${net}.0/24 allow"]\n[ratelimit]\nqps = 0.001\nburst = 1\n${upstream()}`);
    try {
      const doh = n.edge.listening.doh[0]!;
      const url = `http://127.0.0.1:${doh.port}/dns-query?name=www.example.test&type=A`;
      const codes: string[] = [];
      for (let i = 0; i < 3; i++) codes.push((await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--interface', deniedSrc, '-H', 'accept: application/dns-json', url])).stdout);
      expect(codes).toEqual(['200', '429', '429']);
      expect(metric(await n.node.metrics.text(), 'edge_ratelimited_total', { transport: 'doh', action: 'http-429' })).toBe(2);
    } finally {
      await n.stop();
    }
  });

  it('lets the site\'s peers in whatever the rules refuse, so pooling keeps working', async () => {
    const ports = { a: await freePort(), b: await freePort() };
    const K = 'access-test-site-key-0123456789';
    const cfg = (id: 'a' | 'b') =>
      `node_id = "${id}"\n[server]\nlisten = ["127.0.0.1:${ports[id]}"]\n[access]\nrules = ["127.0.0.0/8 refuse"]\n[site]\npeers = { a = "127.0.0.1:${ports.a}", b = "127.0.0.1:${ports.b}" }\nkeys = { k1 = "${K}" }\npeer_timeout_ms = 2000\n${upstream()}`;
    const start = async (id: 'a' | 'b') => testNode(await EdgeNode.start(noValidation(parseConfig(cfg(id), 'test')), { logger: silentLogger, configText: cfg(id), overrides: noValidation }));
    const a = await start('a');
    const b = await start('b');
    try {
      const name = ['www', 'ns1', 'mail', 'short', 'alias', 'mixed'].map((h) => `${h}.example.test`).find((q) => ownerOf('a', ['a', 'b'], `${q}.`) === 'b')!;
      expect(name).toBeDefined();
      // 127.0.0.1 is the peers' address: allowed on both nodes, for a client on it too.
      expect((await dig(a.dns, [name, 'A'])).status).toBe('NOERROR');
      expect(metric(await b.node.metrics.text(), 'edge_peer_received_total', { ingress: 'a' })).toBe(1);
      // Any other loopback address is refused as the rule says.
      expect(await digFrom(a.dns, refusedSrc, [name, 'A'])).toMatch(/status: REFUSED/);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('refuses every address by default but loopback, and says so for a listener on all addresses', async () => {
    const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
    const port = await freePort();
    const text = `[server]\nlisten = ["0.0.0.0:${port}"]\n${upstream()}`;
    const logger = { log: (level: string, msg: string, fields?: Record<string, unknown>) => lines.push({ level, msg, fields: fields ?? {} }) };
    const edge = await EdgeNode.start(noValidation(parseConfig(text, 'test')), { logger: logger as never, configText: text, overrides: noValidation });
    try {
      expect(lines.find((l) => l.level === 'warn' && /loopback clients only/.test(l.msg))?.fields).toMatchObject({ listener: `0.0.0.0:${port}` });
      // Loopback is 127.0.0.0/8 (all of it) and ::1.
      expect(await digFrom({ host: '127.0.0.1', port }, allowedSrc, ['www.example.test', 'A'])).toMatch(/status: NOERROR/);
    } finally {
      await edge.close(0);
    }
  });
});

describe('access list decisions', () => {
  it('refuses what no rule allows, maps IPv4 in IPv6, and prefers the longest prefix', async () => {
    const { AccessList, compileRules, DEFAULT_ACCESS_RULES, hostRules } = await import('../../host/core/access.js');
    const l = new AccessList([compileRules(DEFAULT_ACCESS_RULES), hostRules(['192.0.2.7']), compileRules(['10.0.0.0/8 allow', '10.1.0.0/16 deny', '2001:db8::/32 allow'])]);
    expect(l.decide('198.51.100.1').action).toBe('refuse');
    expect(l.decide('2001:db9::1').action).toBe('refuse');
    expect(l.decide('127.0.0.1').action).toBe('allow');
    expect(l.decide('::ffff:127.0.0.1').action).toBe('allow');
    expect(l.decide('::1').action).toBe('allow');
    expect(l.decide('10.2.3.4').action).toBe('allow');
    expect(l.decide('10.1.3.4').action).toBe('deny');
    expect(l.decide('::ffff:10.1.3.4').action).toBe('deny');
    expect(l.decide('2001:db8:1::5').action).toBe('allow');
    expect(l.decide('192.0.2.7')).toMatchObject({ action: 'allow', rule: '192.0.2.7 allow (site peer)' });
    // The operator's rule for the same range replaces the default.
    expect(new AccessList([compileRules(DEFAULT_ACCESS_RULES), compileRules(['0.0.0.0/0 allow'])]).decide('198.51.100.1').action).toBe('allow');
  });

  it('keeps its table bounded under a flood of sources: new ones share one bucket, tracked ones keep theirs', async () => {
    const { RateLimiter } = await import('../../host/core/rate-limit.js');
    let now = 0;
    const rl = new RateLimiter({ qps: 1, burst: 2, ipv4Prefix: 32, ipv6Prefix: 56, maxClients: 100, exempt: [] }, () => now);
    expect(rl.take('192.0.2.1')).toBe('pass');
    for (let i = 0; i < 10_000; i++) rl.take(`10.${(i >> 8) & 255}.${i & 255}.1`);
    expect(rl.size).toBe(100);
    // The tracked client still has its own bucket (one token left), not the flood's.
    expect(rl.take('192.0.2.1')).toBe('pass');
    expect(rl.take('192.0.2.1')).toBe('limited');
    // A new address while the table is full of active clients shares the flood's (empty) bucket.
    expect(rl.take('2001:db8:0:1::1')).toBe('limited');
    now += 10_000;
    // Buckets that refilled are swept out, so new clients get buckets of their own again.
    expect(rl.take('2001:db8:0:1::1')).toBe('pass');
    expect(rl.size).toBeLessThanOrEqual(100);
  });
});
