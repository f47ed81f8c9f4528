/**
 * The Node resolver end to end: NSD as the upstream authoritative, dig and kdig as clients,
 * over real loopback sockets.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { startSlowUpstream, type SlowUpstream } from '../helpers/slow-upstream.js';
import { dig, kdig, run } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { startEdge, root, type TestNode } from '../helpers/edge.js';
import { freePort, sleep, udpExchange, waitFor } from '../helpers/net.js';
import { buildQuery, textToName, put16 } from '../../host/core/dns/wire.js';

const zone = readFileSync(join(root, 'test/fixtures/example.test.zone'), 'utf8');
const haveTools = needTools('nsd', 'dig', 'kdig');

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (want.every((w) => line.includes(w))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

async function metrics(t: TestNode) {
  const text = await t.node.metrics.text();
  return (name: string, labels: Record<string, string> = {}) => metric(text, name, labels);
}

describe.skipIf(!haveTools)('resolver over UDP, TCP and DoH', () => {
  let nsd: Nsd;
  let edge: TestNode;

  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
    edge = await startEdge(`
[upstreams]
default = ["${nsd.address}"]
[upstream]
try_timeout_ms = 500
[apps.forward.config.routes]
"." = "default"
`);
  });

  afterAll(async () => {
    await edge?.stop();
    await nsd?.stop();
  });

  it('answers dig over UDP through the app chain', async () => {
    const r = await dig(edge.dns, ['www.example.test', 'A']);
    expect(r.status).toBe('NOERROR');
    expect(r.answers).toEqual([{ name: 'www.example.test.', ttl: expect.any(Number), type: 'A', data: '192.0.2.1' }]);
    expect(r.flags).toContain('ra');
    expect(r.flags).not.toContain('aa');
    const m = await metrics(edge);
    expect(m('edge_app_calls_total', { app: 'forward', phase: 'resolve' })).toBeGreaterThan(0);
  });

  it('answers kdig over TCP, several queries on one connection', async () => {
    const r = await kdig(edge.dns, ['+tcp', 'www.example.test', 'AAAA']);
    expect(r.status).toBe('NOERROR');
    expect(r.answers[0]?.data).toBe('2001:db8::1');
    // Three pipelined queries on one connection, answered in any order (RFC 7766 §6.2.1.1).
    const replies = await tcpExchange(edge.dns.port, ['host1.example.test.', 'host2.example.test.', 'host3.example.test.']);
    expect(replies.size).toBe(3);
  });

  it('serves a repeated question from the cache with its TTL counted down', async () => {
    const first = await dig(edge.dns, ['host10.example.test', 'A']);
    const before = await metrics(edge);
    await sleep(1100);
    const second = await dig(edge.dns, ['host10.example.test', 'A']);
    const after = await metrics(edge);
    expect(second.answers[0]!.data).toBe(first.answers[0]!.data);
    expect(second.answers[0]!.ttl).toBeLessThan(first.answers[0]!.ttl);
    expect(after('edge_upstream_queries_total')).toBe(before('edge_upstream_queries_total'));
    expect(after('edge_cache_lookups_total', { result: 'hit' })).toBe(before('edge_cache_lookups_total', { result: 'hit' }) + 1);
    const { cache } = edge.node.status() as { cache: { entries: number; bytes: number } };
    expect(cache.entries).toBeGreaterThan(0);
    expect(after('edge_cache_entries')).toBe(cache.entries);
    expect(after('edge_cache_bytes')).toBe(cache.bytes);
  });

  it('caches NXDOMAIN and NODATA answers (RFC 2308)', async () => {
    const nx = await dig(edge.dns, ['nosuchname.example.test', 'A']);
    expect(nx.status).toBe('NXDOMAIN');
    expect(nx.authority[0]?.type).toBe('SOA');
    expect(nx.authority[0]!.ttl).toBeLessThanOrEqual(60);
    const nodata = await dig(edge.dns, ['www.example.test', 'MX']);
    expect(nodata.status).toBe('NOERROR');
    expect(nodata.answers).toEqual([]);
    const before = await metrics(edge);
    expect((await dig(edge.dns, ['nosuchname.example.test', 'A'])).status).toBe('NXDOMAIN');
    expect((await dig(edge.dns, ['www.example.test', 'MX'])).answers).toEqual([]);
    const after = await metrics(edge);
    expect(after('edge_upstream_queries_total')).toBe(before('edge_upstream_queries_total'));
  });

  it('truncates over UDP for a small client buffer, and the answer arrives over TCP', async () => {
    const tc = await dig(edge.dns, ['big.example.test', 'TXT', '+ignore', '+bufsize=1232']);
    expect(tc.flags).toContain('tc');
    expect(tc.answers).toEqual([]);
    const noEdns = await dig(edge.dns, ['big.example.test', 'TXT', '+ignore', '+noedns']);
    expect(noEdns.flags).toContain('tc');
    const full = await dig(edge.dns, ['big.example.test', 'TXT']); // dig retries over TCP on TC
    expect(full.answers).toHaveLength(12);
    // The upstream answer was larger than our EDNS size too: we retried it over TCP.
    const m = await metrics(edge);
    expect(m('edge_upstream_tcp_retries_total')).toBeGreaterThanOrEqual(1);
    expect(m('edge_truncated_responses_total')).toBeGreaterThanOrEqual(2);
  });

  it('gives FORMERR, NOTIMP and REFUSED where the RFCs ask', async () => {
    // QDCOUNT = 2
    const two = buildQuery({ name: textToName('www.example.test.'), type: 1, class: 1 }, { id: 4242 });
    const doubled = new Uint8Array([...two, ...two.subarray(12)]);
    put16(doubled, 4, 2);
    expect(rcodeOf(await udpExchange(edge.dns.port, doubled))).toBe(1);
    // QDCOUNT = 0
    const none = two.slice(0, 12);
    put16(none, 4, 0);
    expect(rcodeOf(await udpExchange(edge.dns.port, none))).toBe(1);
    // opcode 2 (STATUS)
    const status = two.slice();
    put16(status, 2, (2 << 11) | 0x0100);
    expect(rcodeOf(await udpExchange(edge.dns.port, status))).toBe(4);
    // class CH
    expect((await dig(edge.dns, ['www.example.test', 'A', '-c', 'CH'])).status).toBe('REFUSED');
    // AXFR over TCP
    const axfr = await kdig(edge.dns, ['+tcp', 'example.test', 'AXFR']).catch((e: Error) => e.message);
    expect(String(typeof axfr === 'string' ? axfr : axfr.raw)).toMatch(/NOTIMP/);
    // EDNS version 1
    expect((await dig(edge.dns, ['www.example.test', '+edns=1', '+noednsnegotiation'])).status).toBe('BADVERS');
  });

  it('survives a flood of random and mutated packets over UDP and TCP, and still answers', async () => {
    let x = 99;
    const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    const base = buildQuery({ name: textToName('www.example.test.'), type: 1, class: 1 }, { id: 1, udpSize: 1232 });
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 3000; i++) {
      if (i % 3 === 0) {
        const b = new Uint8Array(rnd() % 120);
        for (let k = 0; k < b.length; k++) b[k] = rnd();
        packets.push(b);
      } else {
        const b = base.slice(0, i % 7 === 0 ? rnd() % base.length : base.length);
        for (let k = 0; k < 1 + (i % 4); k++) if (b.length) b[rnd() % b.length] = rnd();
        packets.push(b);
      }
    }
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    for (let i = 0; i < packets.length; i++) {
      sock.send(packets[i]!, edge.dns.port, '127.0.0.1');
      if (i % 200 === 0) await sleep(5);
    }
    sock.close();
    // The same garbage over TCP, in frames, on a few connections.
    for (let c = 0; c < 5; c++) {
      await new Promise<void>((resolve) => {
        const s = connect(edge.dns.port, '127.0.0.1', () => {
          for (const p of packets.slice(c * 100, c * 100 + 100)) {
            const f = Buffer.alloc(2 + p.length);
            f.writeUInt16BE(p.length, 0);
            f.set(p, 2);
            s.write(f);
          }
          setTimeout(() => s.destroy(), 100);
        });
        s.on('error', () => undefined);
        s.on('close', () => resolve());
      });
    }
    await sleep(200);
    const r = await dig(edge.dns, ['www.example.test', 'A']);
    expect(r.status).toBe('NOERROR');
    expect(r.answers[0]?.data).toBe('192.0.2.1');
    const m = await metrics(edge);
    expect(m('edge_malformed_queries_total')).toBeGreaterThan(100);
  });

  it('answers a CNAME chain as the upstream gave it, with the client spelling of the name', async () => {
    const r = await dig(edge.dns, ['ALIAS.Example.TEST', 'A']);
    expect(r.answers.map((a) => a.type)).toEqual(['CNAME', 'A']);
    expect(r.raw).toContain(';ALIAS.Example.TEST.');
  });
});

describe.skipIf(!haveTools)('TCP connections: idle timeout, query limit, half-close', () => {
  let nsd: Nsd;
  let edge: TestNode;
  const IDLE = 300;
  // Idle timeout, the server's close grace (1 s), and room for a loaded machine.
  const CLOSED_BY = IDLE + 1000 + 1500;

  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
    edge = await startEdge(`tcp_idle_timeout_ms = ${IDLE}
tcp_max_connections = 4
tcp_max_queries_per_connection = 3
[upstreams]
default = ["${nsd.address}"]
[apps.forward.config.routes]
"." = "default"
`);
  });

  afterAll(async () => {
    await edge?.stop();
    await nsd?.stop();
  });

  it('closes a silent connection and one stuck on a partial frame, even when the client never closes its side', async () => {
    const silent = await openTcp(edge.dns.port);
    const partial = await openTcp(edge.dns.port);
    partial.sock.write(Buffer.from([0, 40, 1, 2, 3, 4, 5]));
    await waitFor(async () => (await metrics(edge))('edge_tcp_connections') === 2, 2000);
    const opened = Date.now();
    const ends = await Promise.all([silent.ended, partial.ended]);
    for (const t of ends) expect(t - opened).toBeLessThan(IDLE + 1500);
    // Ended is not enough: the server must let go of the sockets, or they keep their slots.
    await waitFor(async () => (await metrics(edge))('edge_tcp_connections') === 0, CLOSED_BY);
    silent.sock.destroy();
    partial.sock.destroy();
  });

  it('does not let tcp_max_connections idle clients lock everyone else out', async () => {
    const idle = await Promise.all([0, 1, 2, 3].map(() => openTcp(edge.dns.port)));
    await waitFor(async () => (await metrics(edge))('edge_tcp_connections') === 4, 2000);
    // Every slot is taken: a fifth client is shut out (so this test can fail).
    await expect(tcpExchange(edge.dns.port, ['www.example.test.'], 1000)).rejects.toThrow();
    await sleep(CLOSED_BY);
    const replies = await tcpExchange(edge.dns.port, ['www.example.test.']);
    expect(replies.size).toBe(1);
    for (const c of idle) c.sock.destroy();
  });

  it('answers the queries taken before the per-connection limit, then closes', async () => {
    const m0 = await metrics(edge);
    const c = await openTcp(edge.dns.port);
    c.sock.write(Buffer.concat(['host30', 'host31', 'host32', 'host33', 'host34'].map((n, i) => frame(`${n}.example.test.`, 200 + i))));
    await c.ended;
    expect([...c.replies.keys()].sort()).toEqual([200, 201, 202]);
    for (const r of c.replies.values()) expect(rcodeOf(r)).toBe(0);
    const m1 = await metrics(edge);
    expect(m1('edge_dropped_queries_total', { reason: 'query-limit' })).toBe(m0('edge_dropped_queries_total', { reason: 'query-limit' }) + 1);
    c.sock.destroy();
  });

  it('answers a client that half-closes right after its queries', async () => {
    const c = await openTcp(edge.dns.port);
    c.sock.end(Buffer.concat([frame('host35.example.test.', 300), frame('host36.example.test.', 301)]));
    await c.ended;
    expect([...c.replies.keys()].sort()).toEqual([300, 301]);
  });
});

describe.skipIf(!haveTools)('upstream failure: failover, health, serve-stale', () => {
  let nsd: Nsd;
  let edge: TestNode;
  let deadPort: number;

  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
    deadPort = await freePort();
    edge = await startEdge(`
[upstreams]
default = ["127.0.0.1:${deadPort}", "${nsd.address}"]
[upstream]
try_timeout_ms = 300
health_failures = 2
probe_interval_ms = 60000
[cache]
client_response_timer_ms = 1800
[apps.forward.config.routes]
"." = "default"
`);
  });

  afterAll(async () => {
    await edge?.stop();
    await nsd?.stop();
  });

  it('fails over to the next upstream and marks the dead one down', async () => {
    const r1 = await dig(edge.dns, ['host20.example.test', 'A']);
    expect(r1.status).toBe('NOERROR');
    const r2 = await dig(edge.dns, ['host21.example.test', 'A']);
    expect(r2.status).toBe('NOERROR');
    const m = await metrics(edge);
    expect(m('edge_upstream_failures_total', { server: `127.0.0.1:${deadPort}`, reason: 'timeout' })).toBe(2);
    expect(m('edge_upstream_up', { server: `127.0.0.1:${deadPort}` })).toBe(0);
    // Down servers are skipped: the next query does not try the dead one again.
    expect((await dig(edge.dns, ['host22.example.test', 'A'])).status).toBe('NOERROR');
    const later = await metrics(edge);
    expect(later('edge_upstream_queries_total', { server: `127.0.0.1:${deadPort}` })).toBe(2);
    const status = edge.node.status() as { upstreams: Record<string, Array<{ up: boolean }>> };
    expect(status.upstreams.default!.map((s) => s.up)).toEqual([false, true]);
  });

  it('serves stale data (RFC 8767) with TTL 30 and EDE 3 when every upstream is gone', async () => {
    const fresh = await dig(edge.dns, ['short.example.test', 'A']);
    expect(fresh.answers[0]!.ttl).toBeLessThanOrEqual(2);
    nsd.kill();
    await sleep(2500);
    const stale = await dig(edge.dns, ['short.example.test', 'A']);
    expect(stale.status).toBe('NOERROR');
    expect(stale.answers[0]).toMatchObject({ data: '192.0.2.2', ttl: 30 });
    expect(stale.raw).toMatch(/EDE: 3 \(Stale Answer\)/);
    // Within the failure-recheck window the stale answer comes without upstream tries.
    const before = await metrics(edge);
    const again = await dig(edge.dns, ['short.example.test', 'A']);
    expect(again.answers[0]?.ttl).toBe(30);
    const m = await metrics(edge);
    expect(m('edge_upstream_queries_total')).toBe(before('edge_upstream_queries_total'));
    expect(m('edge_stale_answers_total', { reason: 'upstream-failure' })).toBe(1);
    expect(m('edge_stale_answers_total', { reason: 'recheck' })).toBe(1);
    // Something never cached gets SERVFAIL, not a hang.
    expect((await dig(edge.dns, ['host999.example.test', 'A'])).status).toBe('SERVFAIL');
  });
});

describe.skipIf(!haveTools)('serve-stale: the client response timer (RFC 8767), at its default', () => {
  let nsd: Nsd;
  let slow: SlowUpstream;
  let edge: TestNode;

  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
    slow = await startSlowUpstream(nsd);
    // client_response_timer_ms is left out: the default (1.8 s) is what is tested. The try
    // timeout is above it, so a slow answer is waited for, not counted as a failure.
    edge = await startEdge(`
[upstreams]
default = ["${slow.address}"]
[upstream]
try_timeout_ms = 2900
[apps.forward.config.routes]
"." = "default"
`);
  });

  afterAll(async () => {
    await edge?.stop();
    await slow?.close();
    await nsd?.stop();
  });

  it('answers from stale data after about 1.8 s when the upstream is slow, and the refresh still lands', async () => {
    const fresh = await dig(edge.dns, ['short.example.test', 'A']);
    expect(fresh.answers[0]!.ttl).toBeLessThanOrEqual(2);
    await sleep(2500);
    const before = await metrics(edge);
    slow.delayMs = 2500;
    const asked = Date.now();
    const stale = await dig(edge.dns, ['short.example.test', 'A']);
    const waited = Date.now() - asked;
    expect(stale.answers[0]).toMatchObject({ data: '192.0.2.2', ttl: 30 });
    expect(stale.raw).toMatch(/EDE: 3 \(Stale Answer\)/);
    // Not before the timer, and before the request deadline (3 s); TTL 30 says it did not wait
    // for the upstream's answer (2.5 s) either. `waited` includes starting dig.
    expect(waited).toBeGreaterThanOrEqual(1700);
    expect(waited).toBeLessThan(3000);
    const after = await metrics(edge);
    expect(after('edge_stale_answers_total', { reason: 'timer' })).toBe(before('edge_stale_answers_total', { reason: 'timer' }) + 1);
    expect(after('edge_stale_answers_total', { reason: 'upstream-failure' })).toBe(before('edge_stale_answers_total', { reason: 'upstream-failure' }));
    // The upstream query went on after the stale answer; its answer is in the cache now.
    await sleep(2600 - waited);
    const relayed = slow.queries;
    const refreshed = await dig(edge.dns, ['short.example.test', 'A']);
    expect(refreshed.answers[0]!.ttl).toBeLessThanOrEqual(2);
    expect(refreshed.raw).not.toMatch(/Stale Answer/);
    expect(slow.queries).toBe(relayed);
  });
});

describe.skipIf(!haveTools)('upstream health: every down server is probed back', () => {
  const zones = { 'example.test.': zone };
  let a: Nsd;
  let b: Nsd;
  let c: Nsd;
  let edge: TestNode;
  const PROBE = 500;
  let n = 0;
  /** A query for a name never asked before, so it goes upstream (and may start the probes due). */
  const ask = async () => expect((await dig(edge.dns, [`probe${n++}.example.test`, 'A'])).status).toBe('NXDOMAIN');
  const up = async (s: Nsd) => (await metrics(edge))('edge_upstream_up', { server: s.address });

  beforeAll(async () => {
    [a, b, c] = await Promise.all([startNsd(zones), startNsd(zones), startNsd(zones)]);
    edge = await startEdge(`
[upstreams]
default = ["${a.address}", "${b.address}", "${c.address}"]
[upstream]
try_timeout_ms = 300
health_failures = 1
probe_interval_ms = ${PROBE}
[apps.forward.config.routes]
"." = "default"
`);
  });

  afterAll(async () => {
    await edge?.stop();
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
  });

  it('probes each down server in the background until it answers, while clients go to the healthy one', async () => {
    a.kill();
    b.kill();
    await ask();
    expect([await up(a), await up(b), await up(c)]).toEqual([0, 0, 1]);
    // The second server comes back while the first stays dead: it must not wait on the first.
    // Queries come less often than the probe interval, so both probes are due at each one.
    b = await startNsd(zones, { port: b.port });
    const quietThenAsk = async (s: Nsd) => {
      await sleep(PROBE + 100);
      await ask();
      await sleep(50);
      return (await up(s)) === 1;
    };
    await waitFor(() => quietThenAsk(b), 5000);
    expect(await up(a)).toBe(0);
    a = await startNsd(zones, { port: a.port });
    await waitFor(() => quietThenAsk(a), 5000);
    const m = await metrics(edge);
    expect(m('edge_upstream_probes_total', { server: a.address, result: 'timeout' })).toBeGreaterThan(0);
    expect(m('edge_upstream_probes_total', { server: a.address, result: 'ok' })).toBe(1);
    expect(m('edge_upstream_probes_total', { server: b.address, result: 'ok' })).toBe(1);
    // No client query waited on a dead server: the only client tries it got were the first ones.
    expect(m('edge_upstream_queries_total', { server: a.address, result: 'timeout' })).toBe(1);
    expect(m('edge_upstream_queries_total', { server: b.address, result: 'timeout' })).toBe(1);
  });
});

describe.skipIf(!haveTools || !needTools('openssl', 'curl'))('DNS over HTTPS', () => {
  let nsd: Nsd;
  let edge: TestNode;
  let https: { host: string; port: number };
  let http: string;

  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
    const dir = nsd.dir;
    const r = await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    expect(r.code).toBe(0);
    edge = await startEdge(
      `doh = ["127.0.0.1:0"]
tls_cert = "${join(dir, 'cert.pem')}"
tls_key = "${join(dir, 'key.pem')}"
[upstreams]
default = ["${nsd.address}"]
[apps.forward.config.routes]
"." = "default"
`,
    );
    https = { host: '127.0.0.1', port: edge.edge.listening.doh[0]!.port };
    http = `https://127.0.0.1:${https.port}/dns-query`;
  });

  afterAll(async () => {
    await edge?.stop();
    await nsd?.stop();
  });

  it('answers kdig +https (HTTP/2 over TLS)', async () => {
    const r = await kdig(https, ['+https', 'www.example.test', 'A']);
    expect(r.status).toBe('NOERROR');
    expect(r.answers[0]?.data).toBe('192.0.2.1');
  });

  it('answers GET ?dns= and POST with application/dns-message, with Cache-Control from the TTL', async () => {
    const q = buildQuery({ name: textToName('www.example.test.'), type: 1, class: 1 }, { id: 0 });
    const b64 = Buffer.from(q).toString('base64url');
    const get = await run('curl', ['-sk', '-D', '-', '-o', '/dev/null', `${http}?dns=${b64}`]);
    expect(get.stdout).toMatch(/^HTTP\/\S+ 200/);
    expect(get.stdout).toMatch(/content-type: application\/dns-message/i);
    expect(get.stdout).toMatch(/cache-control: max-age=\d+/i);
    const res = await postInsecure(http, { method: 'POST', headers: { 'content-type': 'application/dns-message' }, body: q });
    expect(res.status).toBe(200);
    expect(rcodeOf(res.body)).toBe(0);
  });

  it('answers the JSON form', async () => {
    const r = await run('curl', ['-sk', '-H', 'accept: application/dns-json', `${http}?name=www.example.test&type=A`]);
    const j = JSON.parse(r.stdout);
    expect(j.Status).toBe(0);
    expect(j.Answer[0]).toMatchObject({ name: 'www.example.test.', type: 1, data: '192.0.2.1' });
    // No type asks for A; an SOA in Authority is in presentation form, not RFC 3597 `\#`.
    const nx = JSON.parse((await run('curl', ['-sk', `${http}?name=absent.example.test`])).stdout);
    expect(nx.Status).toBe(3);
    expect(nx.Question[0].type).toBe(1);
    expect(nx.Authority[0].type).toBe(6);
    expect(nx.Authority[0].data).toMatch(/^\S+\. \S+\. \d+ \d+ \d+ \d+ \d+$/);
  });

  it('answers the JSON form for a query without a question (FORMERR), not an error page', async () => {
    const noQuestion = Buffer.from([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]).toString('base64url');
    const r = await run('curl', ['-sk', '-H', 'accept: application/dns-json', '-w', '\n%{http_code}', `${http}?dns=${noQuestion}`]);
    const [body, code] = r.stdout.trim().split('\n');
    expect(code).toBe('200');
    expect(JSON.parse(body!)).toMatchObject({ Status: 1, Question: [] });
  });

  it('rejects bad requests with 400, 405, 413 and 415', async () => {
    const code = async (args: string[]) => (await run('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', ...args])).stdout;
    expect(await code([`${http}?dns=***`])).toBe('400');
    expect(await code([http])).toBe('400');
    expect(await code(['-X', 'PUT', http])).toBe('405');
    expect(await code(['-X', 'POST', '-H', 'content-type: text/plain', '--data', 'hello', http])).toBe('415');
    expect(await code(['-X', 'POST', '-H', 'content-type: application/dns-message', '--data-binary', '@/dev/null', http])).toBe('400');
    const big = join(nsd.dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(70_000, 1));
    expect(await code(['-X', 'POST', '-H', 'content-type: application/dns-message', '--data-binary', `@${big}`, http])).toBe('413');
    expect(await code([`https://127.0.0.1:${https.port}/other`])).toBe('404');
  });
});

function rcodeOf(msg: Uint8Array): number {
  return msg[3]! & 0xf;
}

/** POST to the DoH server with a self-signed certificate. */
function postInsecure(url: string, init: { method: string; headers: Record<string, string>; body: Uint8Array }): Promise<{ status: number; body: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: init.method, headers: init.headers, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: new Uint8Array(Buffer.concat(chunks)) }));
    });
    req.on('error', reject);
    req.end(Buffer.from(init.body));
  });
}

function frame(name: string, id: number): Buffer {
  const q = buildQuery({ name: textToName(name), type: 1, class: 1 }, { id });
  const f = Buffer.alloc(2 + q.length);
  f.writeUInt16BE(q.length, 0);
  f.set(q, 2);
  return f;
}

/**
 * A TCP client that never closes its side on its own (half-open allowed), as a careless or
 * hostile client behaves; `ended` resolves (with the time) when the server's FIN arrives.
 */
function openTcp(port: number): Promise<{ sock: Socket; replies: Map<number, Uint8Array>; ended: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const replies = new Map<number, Uint8Array>();
    const sock = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve({ sock, replies, ended }));
    const ended = new Promise<number>((r) => {
      sock.on('end', () => r(Date.now()));
      sock.on('close', () => r(Date.now()));
    });
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        replies.set((m[0]! << 8) | m[1]!, m);
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
    });
    sock.on('error', reject);
  });
}

function tcpExchange(port: number, names: string[], timeoutMs = 5000): Promise<Map<number, Uint8Array>> {
  return new Promise((resolve, reject) => {
    const replies = new Map<number, Uint8Array>();
    const s = connect(port, '127.0.0.1', () => {
      names.forEach((n, i) => {
        const q = buildQuery({ name: textToName(n), type: 1, class: 1 }, { id: 100 + i });
        const f = Buffer.alloc(2 + q.length);
        f.writeUInt16BE(q.length, 0);
        f.set(q, 2);
        s.write(f);
      });
    });
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        replies.set((m[0]! << 8) | m[1]!, m);
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (replies.size === names.length) {
        s.destroy();
        resolve(replies);
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error('TCP connection closed before every answer came')));
    setTimeout(() => {
      s.destroy();
      reject(new Error('TCP exchange timed out'));
    }, timeoutMs);
  });
}
