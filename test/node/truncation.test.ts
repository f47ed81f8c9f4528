/**
 * UDP truncation against real clients and NSD: an answer is never truncated for want of room in
 * the optional sections (RFC 2181 §9; NSD answers the same 512-byte query in full), and a query
 * whose name ends in a compression pointer gets a well-formed TC answer from the cache (the
 * question's end is read from the answer, not from the query; issue 18).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { dig } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { startEdge, root, type TestNode } from '../helpers/edge.js';
import { udpExchange } from '../helpers/net.js';
import { FLAG_TC, parseQuery, u16, walkRecords } from '../../host/core/dns/wire.js';
import { RRType } from '../../host/core/dns/rr-types.js';

const example = readFileSync(join(root, 'test/fixtures/example.test.zone'), 'utf8');
// Thirteen name servers with IPv4 and IPv6 glue: a positive answer with its authority and
// additional sections is well over 512 bytes, the answer alone far under.
const wide = [
  '$ORIGIN wide.test.',
  '$TTL 300',
  '@ IN SOA ns0.wide.test. hostmaster.wide.test. 1 3600 900 604800 60',
  ...Array.from({ length: 13 }, (_, i) => `@ IN NS ns${i}.wide.test.\nns${i} IN A 192.0.2.${10 + i}\nns${i} IN AAAA 2001:db8::${10 + i}`),
  'www IN A 192.0.2.1',
  '',
].join('\n');

describe.skipIf(!needTools('nsd', 'dig'))('UDP truncation', () => {
  let nsd: Nsd;
  let edge: TestNode;
  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': example, 'wide.test.': wide });
    edge = await startEdge(`
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

  it.each([['+noedns'], ['+bufsize=512']])('answers a 512-byte client (%s) in full when only authority and additional overflow, as NSD does', async (flag) => {
    const direct = await dig(nsd, [flag, '+ignore', '+norec', 'www.wide.test', 'A']);
    expect(direct.flags).not.toContain('tc');
    expect(direct.answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    // the full answer is bigger than 512: the resolver must cut, not set TC
    const full = await dig(edge.dns, ['+bufsize=4096', 'www.wide.test', 'A']);
    expect(Number(/MSG SIZE {2}rcvd: (\d+)/.exec(full.raw)![1])).toBeGreaterThan(512);
    for (const cached of [false, true]) {
      const r = await dig(edge.dns, [flag, '+ignore', 'www.wide.test', 'A']);
      expect(r.flags, `cached: ${cached}`).not.toContain('tc');
      expect(r.status).toBe('NOERROR');
      expect(r.answers.map((a) => a.data)).toEqual(direct.answers.map((a) => a.data));
      expect(Number(/MSG SIZE {2}rcvd: (\d+)/.exec(r.raw)![1])).toBeLessThanOrEqual(512);
    }
  });

  it('still sets TC when the answer itself does not fit, and the TCP retry gets it whole', async () => {
    const r = await dig(edge.dns, ['+noedns', '+ignore', 'big.example.test', 'TXT']);
    expect(r.flags).toContain('tc');
    expect(r.answers).toEqual([]);
    const tcp = await dig(edge.dns, ['+noedns', 'big.example.test', 'TXT']);
    expect(tcp.answers.length).toBe(12);
  });

  it('answers a query whose name ends in a pointer into the header with a well-formed TC answer from the cache', async () => {
    await dig(edge.dns, ['+tcp', 'big.example.test', 'TXT']); // in the cache now
    // "big.example.test." with its root label taken from the header: offset 4 is the high byte
    // of QDCOUNT (0x00), so the name ends in the pointer C0 04. No EDNS: a 512-byte limit.
    const name = [3, ...Buffer.from('big'), 7, ...Buffer.from('example'), 4, ...Buffer.from('test'), 0xc0, 0x04];
    const query = new Uint8Array([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...name, 0, RRType.TXT, 0, 1]);
    expect(parseQuery(query).question!.type).toBe(RRType.TXT);
    const reply = await udpExchange(edge.dns.port, query);
    expect(u16(reply, 0)).toBe(0x1234);
    expect(u16(reply, 2) & FLAG_TC).toBe(FLAG_TC);
    const parsed = parseQuery(reply);
    expect(parsed.question).toMatchObject({ type: RRType.TXT, class: 1 });
    expect(Buffer.from(parsed.question!.name).toString('latin1')).toBe('\x03big\x07example\x04test\x00');
    expect(walkRecords(reply).records).toEqual([]);
    expect(reply.length).toBe(12 + 18 + 4);
  });
});
