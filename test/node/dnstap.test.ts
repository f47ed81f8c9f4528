/**
 * dnstap output over real sockets: a node writing to a Frame Streams file, queried with dig over
 * UDP, kdig over TCP and TLS and curl over DoH, read back by dnstap-read (and dnstap-read -y); a node
 * writing to a collector's unix socket (the bidirectional handshake), the collector going away
 * and coming back while the node keeps answering, with what it could not keep counted.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig, kdig, run } from '../helpers/dig.js';
import { root, startEdge, type TestNode } from '../helpers/edge.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { waitFor } from '../helpers/net.js';
import { needTools } from '../helpers/tools.js';
import { dataFrames, readDnstapLines, readDnstapYaml, startCollector, type TapEntry } from '../helpers/dnstap.js';

const zone = readFileSync(join(root, 'test/fixtures/example.test.zone'), 'utf8');
const upstream = (nsd: Nsd) => `[upstreams]\ndefault = ["${nsd.address}"]\n[apps.forward.config.routes]\n"." = "default"\n`;

/** A DNS query for `name` type A, base64url, for DoH GET. */
function dohParam(name: string): string {
  const q = [0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const l of name.split('.')) q.push(l.length, ...Buffer.from(l));
  q.push(0, 0, 1, 0, 1);
  return Buffer.from(q).toString('base64url');
}

async function metric(n: TestNode, line: RegExp): Promise<number> {
  const m = line.exec(await n.node.metrics.text());
  return m ? Number(m[1]) : 0;
}

const of = (entries: TapEntry[], type: string) => entries.filter((e) => e.type === type);

describe.skipIf(!needTools('nsd', 'dig', 'kdig', 'curl', 'dnstap-read'))('dnstap', () => {
  let nsd: Nsd;
  let dir: string;
  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
    dir = mkdtempSync(join(tmpdir(), 'edge-dnstap-'));
  });
  afterAll(async () => {
    await nsd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a file dnstap-read reads: a client query and response per query over UDP, TCP, DoT and DoH, and the forwarder exchange of each miss', async () => {
    const file = join(dir, 'file.dnstap');
    const n = await startEdge(`doh_http = ["127.0.0.1:0"]\ndot = ["127.0.0.1:0"]\n[dnstap]\nfile = "${file}"\nidentity = "edge-test"\n${upstream(nsd)}`);
    const doh = n.edge.listening.doh[0]!;
    const dot = n.edge.listening.dot[0]!;
    try {
      expect((await dig(n.dns, ['www.example.test', 'A'])).status).toBe('NOERROR');
      expect((await kdig(n.dns, ['+tcp', 'www.example.test', 'A'])).status).toBe('NOERROR');
      expect((await kdig({ host: '127.0.0.1', port: dot.port }, ['+tls', 'www.example.test', 'A'])).status).toBe('NOERROR');
      const r = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'accept: application/dns-message', `http://127.0.0.1:${doh.port}/dns-query?dns=${dohParam('mail.example.test')}`]);
      expect(r.stdout).toBe('200');
    } finally {
      await n.stop();
    }

    const entries = await readDnstapYaml(file);
    const cq = of(entries, 'CLIENT_QUERY');
    const cr = of(entries, 'CLIENT_RESPONSE');
    expect(cq.map((e) => e.question)).toEqual(['www.example.test. IN A', 'www.example.test. IN A', 'www.example.test. IN A', 'mail.example.test. IN A']);
    expect(cr.map((e) => e.question)).toEqual(cq.map((e) => e.question));
    for (const e of [...cq, ...cr]) {
      expect(e).toMatchObject({ family: 'INET', queryAddress: '127.0.0.1', responseAddress: '127.0.0.1', identity: 'edge-test', version: expect.stringMatching(/^edge-resolver \d/) });
      expect(e.queryPort).toBeGreaterThan(0);
    }
    expect(cq.map((e) => e.responsePort)).toEqual([n.dns.port, n.dns.port, dot.port, doh.port]);
    // The query and the response of one exchange name the same client port.
    expect(cr.map((e) => e.queryPort)).toEqual(cq.map((e) => e.queryPort));
    // dnstap-read (BIND 9.18) names only UDP and TCP; the frames say DOT, and DOH over HTTP/1.1 for curl's.
    expect(cq.map((e) => e.protocol)).toEqual(['UDP', 'TCP', 'UDP', 'UDP']);
    const frames = dataFrames(file).filter((f) => f.type === 5);
    expect(frames.map((f) => [f.protocol, f.http])).toEqual([
      [1, undefined],
      [2, undefined],
      [3, undefined],
      [4, 1],
    ]);

    // Two misses (the TCP and DoT queries were cache hits): each asked NSD once.
    const fq = of(entries, 'FORWARDER_QUERY');
    const fr = of(entries, 'FORWARDER_RESPONSE');
    expect(fq.map((e) => e.question).sort()).toEqual(['mail.example.test. IN A', 'www.example.test. IN A']);
    expect(fr.map((e) => e.question).sort()).toEqual(['mail.example.test. IN A', 'www.example.test. IN A']);
    for (const e of [...fq, ...fr]) expect(e).toMatchObject({ protocol: 'UDP', responseAddress: nsd.host, responsePort: nsd.port });

    const lines = await readDnstapLines(file);
    expect(lines.some((l) => new RegExp(` CQ 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${n.dns.port} UDP \\d+b www\\.example\\.test/IN/A$`).test(l)), lines.join('\n')).toBe(true);
    expect(lines.some((l) => new RegExp(` FR \\S+ <- ${nsd.host.replaceAll('.', '\\.')}:${nsd.port} UDP \\d+b mail\\.example\\.test/IN/A$`).test(l)), lines.join('\n')).toBe(true);
  });

  it('logs only the message types asked for', async () => {
    const file = join(dir, 'types.dnstap');
    const n = await startEdge(`[dnstap]\nfile = "${file}"\nlog_client_responses = false\nlog_forwarder_queries = false\nlog_forwarder_responses = false\n${upstream(nsd)}`);
    try {
      await dig(n.dns, ['alias.example.test', 'A']);
    } finally {
      await n.stop();
    }
    expect((await readDnstapYaml(file)).map((e) => `${e.type} ${e.question}`)).toEqual(['CLIENT_QUERY alias.example.test. IN A']);
  });

  it('follows a reload: a new file gets the frames after it, the old one is complete, the message types change at once', async () => {
    const [a, b] = [join(dir, 'reload-a.dnstap'), join(dir, 'reload-b.dnstap')];
    const config = (file: string, more = '') => `[dnstap]\nfile = "${file}"\n${more}${upstream(nsd)}`;
    const n = await startEdge(config(a));
    try {
      await dig(n.dns, ['host1.example.test', 'A']);
      const r = await n.edge.reload(`[server]\nlisten = ["127.0.0.1:0"]\nrequest_timeout_ms = 3000\n${config(b, 'log_forwarder_queries = false\nlog_forwarder_responses = false\n')}`);
      expect(r).toMatchObject({ ok: true });
      await dig(n.dns, ['host2.example.test', 'A']);
    } finally {
      await n.stop();
    }
    expect((await readDnstapYaml(a)).map((e) => `${e.type} ${e.question}`)).toEqual([
      'CLIENT_QUERY host1.example.test. IN A',
      'FORWARDER_QUERY host1.example.test. IN A',
      'FORWARDER_RESPONSE host1.example.test. IN A',
      'CLIENT_RESPONSE host1.example.test. IN A',
    ]);
    expect((await readDnstapYaml(b)).map((e) => `${e.type} ${e.question}`)).toEqual(['CLIENT_QUERY host2.example.test. IN A', 'CLIENT_RESPONSE host2.example.test. IN A']);
  });

  it('streams to a collector socket; the collector going away does not hurt serving, the node connects again, and what did not fit is counted', { timeout: 60_000 }, async () => {
    const path = join(dir, 'collector.sock');
    const file = (i: number) => join(dir, `collected-${i}.dnstap`);
    let collector = await startCollector(path, file);
    const n = await startEdge(`[dnstap]\nsocket = "${path}"\nqueue_frames = 16\n${upstream(nsd)}`);
    try {
      await waitFor(async () => collector.connections === 1, 10_000);
      await dig(n.dns, ['host1.example.test', 'A']);
      // Client query and response, forwarder query and response.
      await waitFor(async () => collector.frames >= 4, 10_000);
      expect(await metric(n, /^edge_dnstap_connected (\d+)$/m)).toBe(1);

      await collector.close();
      await waitFor(async () => (await metric(n, /^edge_dnstap_connected (\d+)$/m)) === 0, 10_000);
      // Twelve misses while it is gone: four frames each, sixteen wait, the rest are dropped.
      for (let i = 10; i < 22; i++) expect((await dig(n.dns, [`host${i}.example.test`, 'A'])).answers[0]?.data).toMatch(/^198\.51\.100\.\d+$/);
      expect(await metric(n, /^edge_dnstap_dropped_total\{reason="queue-full"\} (\d+)$/m)).toBe(12 * 4 - 16);

      collector = await startCollector(path, (i) => file(10 + i));
      await waitFor(async () => collector.connections === 1, 15_000);
      await waitFor(async () => collector.frames >= 16, 10_000);
      await dig(n.dns, ['host99.example.test', 'A']);
      await waitFor(async () => collector.frames >= 20, 10_000);
    } finally {
      await n.stop();
    }
    expect(collector.stopped).toBe(1);
    expect(collector.errors).toEqual([]);
    const first = await readDnstapYaml(file(0));
    expect(of(first, 'CLIENT_QUERY').map((e) => e.question)).toEqual(['host1.example.test. IN A']);
    const second = await readDnstapYaml(file(10));
    expect(second).toHaveLength(20);
    // The frames queued during the outage came first, then the query after it.
    expect(of(second, 'CLIENT_QUERY').map((e) => e.question)).toEqual(['host10.example.test. IN A', 'host11.example.test. IN A', 'host12.example.test. IN A', 'host13.example.test. IN A', 'host99.example.test. IN A']);
  });

  it('answers while a collector takes the connection and never answers READY; what does not fit is dropped', async () => {
    const path = join(dir, 'mute.sock');
    const held: Socket[] = [];
    const mute = createServer((sock) => held.push(sock));
    await new Promise<void>((resolve) => mute.listen(path, resolve));
    const n = await startEdge(`[dnstap]\nsocket = "${path}"\nqueue_frames = 16\n${upstream(nsd)}`);
    try {
      await waitFor(async () => held.length === 1, 10_000);
      for (let i = 30; i < 35; i++) expect((await dig(n.dns, [`host${i}.example.test`, 'A'])).status).toBe('NOERROR');
      expect(await metric(n, /^edge_dnstap_dropped_total\{reason="queue-full"\} (\d+)$/m)).toBe(5 * 4 - 16);
      expect(await metric(n, /^edge_dnstap_connected (\d+)$/m)).toBe(0);
    } finally {
      await n.stop();
      for (const sock of held) sock.destroy();
      mute.close();
    }
  });

  it('starts without its collector and connects once it is there', { timeout: 60_000 }, async () => {
    const path = join(dir, 'late.sock');
    const n = await startEdge(`[dnstap]\nsocket = "${path}"\n${upstream(nsd)}`);
    let collector: Awaited<ReturnType<typeof startCollector>> | null = null;
    try {
      expect((await dig(n.dns, ['www.example.test', 'A'])).status).toBe('NOERROR');
      collector = await startCollector(path, (i) => join(dir, `late-${i}.dnstap`));
      await waitFor(async () => collector!.connections === 1 && collector!.frames >= 4, 15_000);
    } finally {
      await n.stop();
    }
    expect(collector.stopped).toBe(1);
    expect(of(await readDnstapYaml(join(dir, 'late-0.dnstap')), 'CLIENT_RESPONSE').map((e) => e.question)).toEqual(['www.example.test. IN A']);
    await collector.close();
  });
});
