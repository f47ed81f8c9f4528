/**
 * What the resolver does with answers a hostile or broken upstream sends (issue 13, items 1, 2
 * and 9), over real sockets: a scripted upstream on loopback writes each answer byte by byte,
 * dig and kdig are the clients, and the metrics say which server failed and why.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dig, kdig, run } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { startEdge, type TestNode } from '../helpers/edge.js';
import { opt, qnameOf, reply, rr, startScriptedUpstream, type ScriptedUpstream } from '../helpers/scripted-upstream.js';
import { concat, put32, textToName, HEADER_LEN, readName } from '../../host/core/dns/wire.js';

const haveTools = needTools('dig', 'kdig', 'curl');

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (want.every((w) => line.includes(w))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

const A = (ip: string) => new Uint8Array(ip.split('.').map(Number));
const prefix = `127.${20 + Math.floor(Math.random() * 231)}.${Math.floor(Math.random() * 256)}`;

/** A good answer: the question's name, A 192.0.2.77. */
function good(q: Uint8Array): Uint8Array {
  return reply(q, { answer: [rr(qnameOf(q), 1, 300, A('192.0.2.77'))], additional: [opt()] });
}

/** The answers the bad server sends, by the question's first label. */
function bad(q: Uint8Array): Uint8Array | null {
  const name = qnameOf(q);
  const label = new TextDecoder().decode(name.subarray(1, 1 + name[0]!));
  const a = rr(name, 1, 300, A('192.0.2.66'));
  switch (label.replace(/\d+$/, '')) {
    case 'twoopt':
      return reply(q, { answer: [a], additional: [opt(), opt()] });
    case 'optanswer':
      return reply(q, { answer: [a, opt()] });
    case 'forward': {
      // The answer's owner is a pointer to an offset after itself.
      const qEnd = readName(q, HEADER_LEN).end + 4;
      const target = qEnd + 16; // the second record's owner
      const owner = new Uint8Array([0xc0 | (target >> 8), target & 0xff]);
      return reply(q, { answer: [rr(owner, 1, 300, A('192.0.2.66')), rr(new Uint8Array([0xc0, 12]), 1, 300, A('192.0.2.67'))] });
    }
    case 'badcookie':
      // 23 = BADCOOKIE: the low four bits (7) in the header, the upper eight (1) in the OPT TTL.
      return reply(q, { rcode: 23 & 0xf, additional: [opt(23 >> 4)] });
    case 'loop': {
      const b = textToName('loop-b.example.test.');
      return reply(q, { aa: true, answer: [rr(name, 5, 300, b), rr(b, 5, 300, name)] });
    }
    case 'refused':
      return reply(q, { rcode: 5 });
    case 'hugettl':
      return reply(q, { answer: [rr(name, 1, 0x80000005, A('192.0.2.88'))] });
    case 'longttl':
      return reply(q, { answer: [rr(name, 1, 2_000_000, A('192.0.2.89'))] });
    case 'nx': {
      const soa = concat([textToName('ns.example.test.'), textToName('admin.example.test.'), new Uint8Array(20)]);
      put32(soa, soa.length - 20, 1); // serial
      put32(soa, soa.length - 4, 7200); // MINIMUM
      return reply(q, { rcode: 3, aa: true, authority: [rr(textToName('example.test.'), 6, 86_400, soa)] });
    }
    default:
      return good(q);
  }
}

describe.skipIf(!haveTools)('answers from a hostile upstream', () => {
  let badUp: ScriptedUpstream;
  let goodUp: ScriptedUpstream;
  let both: TestNode;
  let only: TestNode;
  let dohPort: number;

  beforeAll(async () => {
    badUp = await startScriptedUpstream(bad, `${prefix}.1`);
    goodUp = await startScriptedUpstream(good, `${prefix}.2`);
    both = await startEdge(`
[upstreams]
default = ["${badUp.address}", "${goodUp.address}"]
[upstream]
try_timeout_ms = 500
health_failures = 100
[apps.forward.config.routes]
"." = "default"
`);
    only = await startEdge(`doh_http = ["127.0.0.1:0"]
[upstreams]
default = ["${badUp.address}"]
[upstream]
try_timeout_ms = 500
health_failures = 3
[cache]
max_ttl = 3600
max_negative_ttl = 600
[apps.forward.config.routes]
"." = "default"
`);
    dohPort = only.edge.listening.doh[0]!.port;
  });

  afterAll(async () => {
    await both?.stop();
    await only?.stop();
    await badUp?.close();
    await goodUp?.close();
  });

  for (const kind of ['twoopt', 'optanswer', 'forward']) {
    it(`takes an answer with ${kind} as that server failing (malformed) and asks the next`, async () => {
      const before = metric(await both.node.metrics.text(), 'edge_upstream_failures_total', { server: badUp.address, reason: 'malformed' });
      const r = await dig(both.dns, [`${kind}.example.test`, 'A']);
      expect(r.status).toBe('NOERROR');
      expect(r.answers.map((a) => a.data)).toEqual(['192.0.2.77']);
      const after = metric(await both.node.metrics.text(), 'edge_upstream_failures_total', { server: badUp.address, reason: 'malformed' });
      expect(after - before).toBe(1);
    });

    it(`answers SERVFAIL with an EDE when the only server sends ${kind}, over UDP and TCP`, async () => {
      const r = await dig(only.dns, [`${kind}1.example.test`, 'A']);
      expect(r.status).toBe('SERVFAIL');
      expect(r.raw).toMatch(/EDE: 23 \(Network Error\)/);
      expect(r.raw).toMatch(/EDE: 22 \(No Reachable Authority\)/);
      const t = await kdig(only.dns, ['+tcp', `${kind}2.example.test`, 'A']);
      expect(t.status).toBe('SERVFAIL');
    });

    it(`answers the DoH JSON form for ${kind} with Status 2, not HTTP 500`, async () => {
      const r = await run('curl', ['-s', '-w', '\n%{http_code}', `http://127.0.0.1:${dohPort}/dns-query?name=${kind}3.example.test&type=A`]);
      const [body, code] = r.stdout.trim().split('\n');
      expect(code).toBe('200');
      expect(JSON.parse(body!).Status).toBe(2);
    });
  }

  it('never relays an extended rcode as its low bits (BADCOOKIE is not YXRRSET)', async () => {
    const r = await dig(both.dns, ['badcookie.example.test', 'A']);
    expect(r.status).toBe('NOERROR');
    expect(r.answers.map((a) => a.data)).toEqual(['192.0.2.77']);
    expect(metric(await both.node.metrics.text(), 'edge_upstream_failures_total', { server: badUp.address, reason: 'rcode-23' })).toBe(1);
    const alone = await dig(only.dns, ['badcookie.example.test', 'A']);
    expect(alone.status).toBe('SERVFAIL');
  });

  it('answers SERVFAIL to a CNAME loop from an authoritative server (RFC 1034 §3.6.2)', async () => {
    const r = await dig(only.dns, ['loop.example.test', 'A']);
    expect(r.status).toBe('SERVFAIL');
    expect(r.answers).toEqual([]);
  });

  it('turns REFUSED from every server into SERVFAIL with EDE 23 and 22, and keeps a refusing server up', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await dig(only.dns, [`refused${i}.example.test`, 'A']);
      expect(r.status).toBe('SERVFAIL');
      expect(r.raw).toMatch(/EDE: 23 \(Network Error\): \(.*REFUSED/);
      expect(r.raw).toMatch(/EDE: 22 \(No Reachable Authority\)/);
    }
    const text = await only.node.metrics.text();
    expect(metric(text, 'edge_upstream_failures_total', { server: badUp.address, reason: 'rcode-5' })).toBe(4);
    // It answered every time: alive, so not marked down as a dead server would be.
    expect(metric(text, 'edge_upstream_up', { server: badUp.address })).toBe(1);
  });

  it('reads a TTL with the top bit set as 0 (RFC 2181 §8), on the first answer and from the cache', async () => {
    const first = await dig(only.dns, ['hugettl.example.test', 'A']);
    expect(first.answers[0]!.ttl).toBe(0);
    const again = await dig(only.dns, ['hugettl.example.test', 'A']);
    expect(again.answers[0]!.ttl).toBe(0);
  });

  it('bounds the first answer by cache.max_ttl, not only the cached entry', async () => {
    const first = await dig(only.dns, ['longttl.example.test', 'A']);
    expect(first.answers[0]!.ttl).toBe(3600);
    const again = await dig(only.dns, ['longttl.example.test', 'A']);
    expect(again.answers[0]!.ttl).toBeLessThanOrEqual(3600);
  });

  it('gives a negative answer the SOA TTL of min(SOA TTL, MINIMUM), capped by max_negative_ttl (RFC 2308 §5)', async () => {
    const first = await dig(only.dns, ['nx.example.test', 'A']);
    expect(first.status).toBe('NXDOMAIN');
    expect(first.authority[0]!.ttl).toBe(600);
    const again = await dig(only.dns, ['nx.example.test', 'A']);
    expect(again.authority[0]!.ttl).toBeLessThanOrEqual(600);
  });
});
