/**
 * DNS over TLS to upstreams (`tls = true` groups): Unbound as the DoT server, with a certificate
 * made at test time. The right name (or the IP address) answers, over one kept connection with
 * queries pipelined on it; a wrong name or an untrusted certificate fails that server, the next
 * one is asked, and a group with no good server is SERVFAIL with EDEs that say why.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { startEdge, type TestNode } from '../helpers/edge.js';
import { freePort, waitFor } from '../helpers/net.js';
import { makeCertificate } from '../helpers/certs.js';
import { startUnboundDot, type UnboundDot } from '../helpers/unbound-dot.js';
import { tlsUpstreams } from '../../host/adapters/node/transport.js';
import { buildQuery, textToName } from '../../host/core/dns/wire.js';
import { matches } from '../../host/core/upstream.js';

const haveTools = needTools('unbound', 'kdig', 'dig', 'openssl');

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (want.every((w) => line.includes(w))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

const zones = ['example.test.', 'byip.test.', 'mixed.test.', 'wrong.test.', 'untrusted.test.', 'down.test.'];
const records = [
  'www.example.test. 300 IN A 192.0.2.1',
  ...Array.from({ length: 12 }, (_, i) => `n${i}.example.test. 300 IN A 192.0.2.${10 + i}`),
  'www.byip.test. 300 IN A 192.0.2.2',
  'www.mixed.test. 300 IN A 192.0.2.3',
  'www.wrong.test. 300 IN A 192.0.2.4',
  'www.untrusted.test. 300 IN A 192.0.2.5',
  'www.down.test. 300 IN A 192.0.2.6',
];

describe.skipIf(!haveTools)('DNS over TLS to upstreams', () => {
  let unbound: UnboundDot;
  let edge: TestNode;
  let cert: { cert: string; key: string };
  let server: string;
  let closed: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-tls-up-'));
    cert = await makeCertificate(dir, 'dns.test', '127.0.0.1');
    unbound = await startUnboundDot(cert, zones, records);
    server = `127.0.0.1:${unbound.port}`;
    closed = `127.0.0.1:${await freePort()}`;
    const tlsGroup = (name: string, extra: string) => `[upstreams.${name}]\ntls = true\ntls_ca = "${cert.cert}"\n${extra}\n`;
    edge = await startEdge(`${tlsGroup('secure', `servers = ["${server}"]\ntls_name = "dns.test"`)}
${tlsGroup('byip', `servers = ["${server}"]`)}
${tlsGroup('mixed', `servers = ["${server}#wrong.test", "${server}"]\ntls_name = "dns.test"`)}
${tlsGroup('wrong', `servers = ["${server}"]\ntls_name = "wrong.test"`)}
${tlsGroup('down', `servers = ["${closed}", "${server}"]\ntls_name = "dns.test"`)}
[upstreams.untrusted]
servers = ["${server}"]
tls = true
tls_name = "dns.test"
[upstream]
default_group = "secure"
try_timeout_ms = 2000
[apps.forward.config.routes]
"." = "secure"
"byip.test." = "byip"
"mixed.test." = "mixed"
"wrong.test." = "wrong"
"untrusted.test." = "untrusted"
"down.test." = "down"
`);
  });

  afterAll(async () => {
    await edge?.stop();
    tlsUpstreams.closeAll();
    await unbound?.stop();
  });

  it('answers through a TLS upstream whose certificate carries tls_name, over one kept connection', async () => {
    const before = tlsUpstreams.connections;
    for (let i = 0; i < 5; i++) {
      const r = await dig(edge.dns, [`n${i}.example.test`, 'A']);
      expect(r.status).toBe('NOERROR');
      expect(r.answers[0]?.data).toBe(`192.0.2.${10 + i}`);
    }
    // Five misses, one connection: it was kept and reused.
    expect(tlsUpstreams.connections - before).toBe(1);
    const text = await edge.node.metrics.text();
    expect(metric(text, 'edge_upstream_queries_total', { group: 'secure', server, result: 'ok' })).toBe(5);
  });

  it('pipelines queries in flight together on one connection, each answer matched to its query', async () => {
    const tls = { host: '127.0.0.1', port: unbound.port, name: 'dns.test', caFile: cert.cert };
    const before = tlsUpstreams.connections;
    const names = Array.from({ length: 12 }, (_, i) => `n${i}.example.test.`);
    const replies = await Promise.all(
      names.map((n, i) => {
        const q = { name: textToName(n), type: 1, class: 1 };
        const id = 4000 + i;
        return tlsUpstreams.query(tls, buildQuery(q, { id, rd: true }), 5000, (r) => matches(r, id, q));
      }),
    );
    expect(replies.map((r) => (r[0]! << 8) | r[1]!)).toEqual(names.map((_, i) => 4000 + i));
    // The connection the node opened before serves these too (same server, name and CA).
    expect(tlsUpstreams.connections).toBe(before);
  });

  it('checks the IP address when the group gives no name', async () => {
    const r = await dig(edge.dns, ['www.byip.test', 'A']);
    expect(r.answers[0]?.data).toBe('192.0.2.2');
  });

  it('a wrong certificate name fails that server (reason tls-handshake) and the next server answers', async () => {
    const r = await dig(edge.dns, ['www.mixed.test', 'A']);
    expect(r.status).toBe('NOERROR');
    expect(r.answers[0]?.data).toBe('192.0.2.3');
    const text = await edge.node.metrics.text();
    expect(metric(text, 'edge_upstream_failures_total', { group: 'mixed', server: `${server}#wrong.test`, reason: 'tls-handshake' })).toBe(1);
    expect(metric(text, 'edge_upstream_queries_total', { group: 'mixed', server, result: 'ok' })).toBe(1);
  });

  it('a group whose only server fails its certificate check answers SERVFAIL with EDE 23 and 22', async () => {
    const r = await dig(edge.dns, ['www.wrong.test', 'A']);
    expect(r.status).toBe('SERVFAIL');
    expect(r.raw).toMatch(/EDE: 23 \(Network Error\): \(.*tls-handshake \(certificate name check failed/);
    expect(r.raw).toMatch(/EDE: 22 \(No Reachable Authority\)/);
    const text = await edge.node.metrics.text();
    expect(metric(text, 'edge_upstream_failures_total', { group: 'wrong', server, reason: 'tls-handshake' })).toBe(1);
  });

  it('a server that refuses the TCP connection fails with reason error (not a handshake), and the next answers', async () => {
    const r = await dig(edge.dns, ['www.down.test', 'A']);
    expect(r.answers[0]?.data).toBe('192.0.2.6');
    const text = await edge.node.metrics.text();
    expect(metric(text, 'edge_upstream_failures_total', { group: 'down', server: closed, reason: 'error' })).toBe(1);
    expect(metric(text, 'edge_upstream_failures_total', { group: 'down', reason: 'tls-handshake' })).toBe(0);
  });

  it('a certificate that does not chain to the trusted roots fails the same way', async () => {
    const r = await dig(edge.dns, ['www.untrusted.test', 'A']);
    expect(r.status).toBe('SERVFAIL');
    expect(r.raw).toMatch(/EDE: 23 \(Network Error\): \(.*tls-handshake \(certificate not trusted/);
  });
});

describe.skipIf(!haveTools)('DNS over TLS to an upstream that closes idle connections', () => {
  let unbound: UnboundDot;
  let edge: TestNode;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-tls-idle-'));
    const cert = await makeCertificate(dir, 'dns.test', '127.0.0.1');
    unbound = await startUnboundDot(cert, ['example.test.'], ['www.example.test. 300 IN A 192.0.2.1', 'two.example.test. 300 IN A 192.0.2.2'], ['tcp-idle-timeout: 200']);
    edge = await startEdge(`[upstreams.default]
servers = ["127.0.0.1:${unbound.port}"]
tls = true
tls_name = "dns.test"
tls_ca = "${cert.cert}"
`);
  });

  afterAll(async () => {
    await edge?.stop();
    await unbound?.stop();
  });

  it('opens a new connection on the next query once the server has closed the last one', async () => {
    expect((await dig(edge.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
    const open = tlsUpstreams.connections;
    // Unbound closes it after 200 ms idle; the pool lets it go.
    await waitFor(async () => tlsUpstreams.connections < open, 10_000);
    expect((await dig(edge.dns, ['two.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.2');
    const text = await edge.node.metrics.text();
    expect(metric(text, 'edge_upstream_failures_total')).toBe(0);
  });
});

describe.skipIf(!haveTools)('DNS over TLS from one node to another node\'s DoT listener', () => {
  let unbound: UnboundDot;
  let back: TestNode;
  let front: TestNode;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-tls-pair-'));
    const cert = await makeCertificate(dir, 'back.test', '127.0.0.1');
    unbound = await startUnboundDot(cert, ['example.test.'], ['www.example.test. 300 IN A 192.0.2.1']);
    // The back node: a DoT listener with its certificate, forwarding over TLS to Unbound.
    back = await startEdge(`dot = ["127.0.0.1:0"]
tls_cert = "${cert.cert}"
tls_key = "${cert.key}"
[upstreams.default]
servers = ["127.0.0.1:${unbound.port}"]
tls = true
tls_name = "back.test"
tls_ca = "${cert.cert}"
`);
    front = await startEdge(`[upstreams.default]
servers = ["127.0.0.1:${back.edge.listening.dot[0]!.port}"]
tls = true
tls_name = "back.test"
tls_ca = "${cert.cert}"
`);
  });

  afterAll(async () => {
    await front?.stop();
    await back?.stop();
    await unbound?.stop();
  });

  it('answers through both, the back node counting the query as transport="dot"', async () => {
    const r = await dig(front.dns, ['www.example.test', 'A']);
    expect(r.answers[0]?.data).toBe('192.0.2.1');
    expect(metric(await back.node.metrics.text(), 'edge_queries_total', { transport: 'dot' })).toBe(1);
  });
});
