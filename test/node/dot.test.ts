/**
 * DNS over TLS (RFC 7858) as a listener: kdig +tls as the client, NSD as the upstream, a
 * certificate made at test time with openssl; hostile TLS clients (garbage, a handshake cut off
 * half way, a connection that never finishes its handshake) cost only their own connection.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { kdig, run } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { startCli, startEdge, root, type CliNode, type TestNode } from '../helpers/edge.js';
import { freePort, waitFor } from '../helpers/net.js';
import { makeCertificate } from '../helpers/certs.js';
import { buildQuery, textToName } from '../../host/core/dns/wire.js';

const zone = readFileSync(join(root, 'test/fixtures/example.test.zone'), 'utf8');
const haveTools = needTools('nsd', 'kdig', 'openssl');

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (want.every((w) => line.includes(w))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** Whether the server closes `sock` (without our closing it). */
function closed(sock: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (sock.destroyed) return resolve();
    sock.on('close', () => resolve());
  });
}

function rawConnection(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
}

describe.skipIf(!haveTools)('DNS over TLS listener', () => {
  let nsd: Nsd;
  let edge: TestNode;
  let dot: { host: string; port: number };
  let cert: { cert: string; key: string };

  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
    cert = await makeCertificate(nsd.dir);
    edge = await startEdge(`dot = ["127.0.0.1:0"]
dot_handshake_timeout_ms = 300
tls_cert = "${cert.cert}"
tls_key = "${cert.key}"
[upstreams]
default = ["${nsd.address}"]
[apps.forward.config.routes]
"." = "default"
`);
    dot = { host: '127.0.0.1', port: edge.edge.listening.dot[0]!.port };
  });

  afterAll(async () => {
    await edge?.stop();
    await nsd?.stop();
  });

  it('answers kdig +tls, and kdig checking the configured certificate and its name', async () => {
    const r = await kdig(dot, ['+tls', 'www.example.test', 'A']);
    expect(r.status).toBe('NOERROR');
    expect(r.answers[0]?.data).toBe('192.0.2.1');
    const strict = await kdig(dot, [`+tls-ca=${cert.cert}`, '+tls-hostname=localhost', 'www.example.test', 'A']);
    expect(strict.answers[0]?.data).toBe('192.0.2.1');
    // The wrong name: kdig refuses our certificate, so it is the configured one that is checked.
    const wrong = await run('kdig', ['@127.0.0.1', '-p', String(dot.port), '+retry=0', '+time=3', `+tls-ca=${cert.cert}`, '+tls-hostname=other.test', 'www.example.test']);
    expect(wrong.stdout + wrong.stderr).not.toContain('192.0.2.1');
    const text = await edge.node.metrics.text();
    expect(metric(text, 'edge_queries_total', { transport: 'dot' })).toBeGreaterThanOrEqual(2);
  });

  it('answers several queries pipelined on one TLS connection, each framed as over TCP', async () => {
    const sock = tlsConnect({ host: '127.0.0.1', port: dot.port, ca: readFileSync(cert.cert), servername: 'localhost' });
    await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
    const names = ['www.example.test.', 'example.test.', 'nope.example.test.'];
    const frames = names.map((n, i) => {
      const q = buildQuery({ name: textToName(n), type: 1, class: 1 }, { id: 100 + i, rd: true });
      const f = Buffer.alloc(2 + q.length);
      f.writeUInt16BE(q.length, 0);
      f.set(q, 2);
      return f;
    });
    sock.write(Buffer.concat(frames));
    const ids = new Set<number>();
    let buf = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          ids.add(buf.readUInt16BE(2));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (ids.size === 3) resolve();
      });
    });
    expect([...ids].sort()).toEqual([100, 101, 102]);
    sock.destroy();
  });

  it('closes a client that sends garbage, or stops half way through its handshake; others are served meanwhile', async () => {
    const before = await edge.node.metrics.text();
    const garbage = await rawConnection(dot.port);
    garbage.on('error', () => undefined);
    garbage.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    // The first bytes of a real ClientHello, then nothing.
    const cut = await rawConnection(dot.port);
    cut.on('error', () => undefined);
    const hello = await clientHelloPrefix(dot.port);
    cut.write(hello.subarray(0, Math.min(40, hello.length - 1)));
    // A connection that never says anything.
    const silent = await rawConnection(dot.port);
    silent.on('error', () => undefined);
    const r = await kdig(dot, ['+tls', 'www.example.test', 'A']);
    expect(r.answers[0]?.data).toBe('192.0.2.1');
    await Promise.all([closed(garbage), closed(cut), closed(silent)]);
    const after = await edge.node.metrics.text();
    const delta = (reason: string) =>
      metric(after, 'edge_connections_closed_total', { transport: 'dot', reason }) - metric(before, 'edge_connections_closed_total', { transport: 'dot', reason });
    expect(delta('handshake-failed')).toBeGreaterThanOrEqual(1);
    expect(delta('handshake-timeout')).toBeGreaterThanOrEqual(1);
    expect(delta('handshake-failed') + delta('handshake-timeout')).toBeGreaterThanOrEqual(3);
    // And the listener still answers.
    const again = await kdig(dot, ['+tls', 'example.test', 'SOA']);
    expect(again.status).toBe('NOERROR');
  });

  it('drops a TLS connection whose DNS frame is shorter than a header, as over TCP', async () => {
    const sock = tlsConnect({ host: '127.0.0.1', port: dot.port, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
    sock.on('error', () => undefined);
    sock.write(Buffer.from([0, 3, 1, 2, 3]));
    await closed(sock);
    const text = await edge.node.metrics.text();
    expect(metric(text, 'edge_dropped_queries_total', { transport: 'dot', reason: 'short-frame' })).toBe(1);
  });
});

/** A ClientHello, as Node's TLS client writes it first, caught by a listener that never answers. */
async function clientHelloPrefix(_port: number): Promise<Buffer> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer((s) => {
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
        srv.close();
        client.destroy();
      });
    });
    let client: Socket;
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      client = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
      client.on('error', () => undefined);
    });
  });
}

describe.skipIf(!haveTools)('DNS over TLS listener caps', () => {
  let nsd: Nsd;
  let edge: TestNode;

  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
    const cert = await makeCertificate(nsd.dir);
    edge = await startEdge(`dot = ["127.0.0.1:0"]
tcp_max_connections_per_client = 2
tls_cert = "${cert.cert}"
tls_key = "${cert.key}"
[upstreams]
default = ["${nsd.address}"]
`);
  });

  afterAll(async () => {
    await edge?.stop();
    await nsd?.stop();
  });

  it('counts connections still in their handshake against the per-client cap (transport="dot")', async () => {
    const port = edge.edge.listening.dot[0]!.port;
    const held = [await rawConnection(port), await rawConnection(port)];
    for (const s of held) s.on('error', () => undefined);
    const third = await rawConnection(port);
    third.on('error', () => undefined);
    await closed(third);
    const text = await edge.node.metrics.text();
    expect(metric(text, 'edge_connections_refused_total', { transport: 'dot', reason: 'client-limit' })).toBe(1);
    for (const s of held) s.destroy();
    await Promise.all(held.map(closed));
    // Their slots are free again.
    await waitFor(async () => (await kdig({ host: '127.0.0.1', port }, ['+tls', 'www.example.test', 'A'])).status === 'NOERROR', 5000);
    // Connections that ended after their handshake give their slots back too.
    for (let i = 0; i < 4; i++) expect((await kdig({ host: '127.0.0.1', port }, ['+tls', 'www.example.test', 'A'])).status).toBe('NOERROR');
    await waitFor(async () => edge.edge.listening.dot.length === 1 && metric(await edge.node.metrics.text(), 'edge_dot_connections') === 0, 5000);
  });
});

describe.skipIf(!haveTools)('serve --dot', () => {
  let nsd: Nsd;
  let cli: CliNode;

  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
  });

  afterAll(async () => {
    await cli?.stop();
    await nsd?.stop();
  });

  it('opens a DoT listener (self-signed without tls_cert), named in the start-up line', async () => {
    const port = await freePort();
    cli = await startCli(['--dot', `127.0.0.1:${port}`, '--upstream', nsd.address]);
    expect(cli.output()).toMatch(new RegExp(`edge-resolver listening .*dot=127\\.0\\.0\\.1:${port}`));
    expect(cli.output()).toContain('DoT uses a self-signed certificate');
    const r = await kdig({ host: '127.0.0.1', port }, ['+tls', 'www.example.test', 'A']);
    expect(r.answers[0]?.data).toBe('192.0.2.1');
  });
});

describe.skipIf(!haveTools)('DNS over TLS and [access]', () => {
  let edge: TestNode;

  beforeAll(async () => {
    edge = await startEdge(`dot = ["127.0.0.1:0"]
[access]
rules = ["127.0.0.1/32 refuse"]
[upstreams]
default = ["127.0.0.1:9"]
`);
  });

  afterAll(async () => {
    await edge?.stop();
  });

  it('answers a refused client REFUSED over TLS, counted with transport="dot"', async () => {
    const r = await kdig({ host: '127.0.0.1', port: edge.edge.listening.dot[0]!.port }, ['+tls', 'www.example.test', 'A']);
    expect(r.status).toBe('REFUSED');
    expect(r.raw).toMatch(/EDE: 18/);
    const text = await edge.node.metrics.text();
    expect(metric(text, 'edge_queries_refused_total', { transport: 'dot', reason: 'access-control' })).toBe(1);
  });
});
