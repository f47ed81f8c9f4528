/**
 * The query log: with `[log] queries = true` one line per query with client, transport, question,
 * rcode, flags, latency, the answer's source, tags and EDE; `query_sample` logs a share.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../host/core/log.js';
import { dig, kdig } from '../helpers/dig.js';
import { root, startEdge, type TestNode } from '../helpers/edge.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { needTools } from '../helpers/tools.js';

const zone = readFileSync(join(root, 'test/fixtures/example.test.zone'), 'utf8');

function capture(): { logger: Logger; lines: Array<{ msg: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  return { lines, logger: { log: (_level, msg, fields) => lines.push({ msg, fields: fields ?? {} }) } };
}

describe.skipIf(!needTools('nsd', 'dig', 'kdig'))('query log', () => {
  let nsd: Nsd;
  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
  });
  afterAll(async () => nsd?.stop());

  it('writes one line per query with every field, over UDP and TCP, from upstream and cache, with tags and EDE', async () => {
    const { logger, lines } = capture();
    const rules = 'phase = pre-cache qname-suffix tagged.example.test set-tag vip\n';
    const n: TestNode = await startEdge(
      `[log]\nqueries = true\n[upstreams]\ndefault = ["${nsd.address}"]\ndead = ["127.0.0.1:9"]\n[upstream]\ntry_timeout_ms = 200\n[apps.forward.config.routes]\n"." = "default"\n"dead.test." = "dead"\n`,
      { logger },
    );
    try {
      await n.node.rules.apply(new TextEncoder().encode(rules), 'test');
      await dig(n.dns, ['www.example.test', 'A']);
      await kdig(n.dns, ['+tcp', 'www.example.test', 'A']);
      await dig(n.dns, ['x.tagged.example.test', 'A']);
      await dig(n.dns, ['www.dead.test', 'A', '+tries=1', '+time=5']);
      const q = lines.filter((l) => l.msg === 'query').map((l) => l.fields);
      expect(q).toHaveLength(4);
      expect(q[0]).toMatchObject({ client: expect.stringMatching(/^127\.0\.0\.1:\d+$/), transport: 'udp', qname: 'www.example.test.', qtype: 'A', rcode: 'NOERROR', source: 'upstream', tags: '', ede: '' });
      expect(q[0]!.flags).toBe('qr,rd,ra');
      expect(typeof q[0]!.latency_ms).toBe('number');
      expect(q[1]).toMatchObject({ transport: 'tcp', source: 'cache' });
      expect(q[2]).toMatchObject({ qname: 'x.tagged.example.test.', tags: 'vip' });
      expect(q[3]).toMatchObject({ qname: 'www.dead.test.', rcode: 'SERVFAIL' });
      expect(String(q[3]!.ede)).toMatch(/^\d+(,\d+)*$/);
    } finally {
      await n.stop();
    }
  });

  it('logs the share query_sample asks for, and nothing when off', async () => {
    const { logger, lines } = capture();
    const n = await startEdge(`[log]\nqueries = true\nquery_sample = 0.25\n[upstreams]\ndefault = ["${nsd.address}"]\n[apps.forward.config.routes]\n"." = "default"\n`, { logger });
    try {
      for (let i = 0; i < 200; i++) await n.node.currentResolver.handle(queryFor(`host${i % 50}.example.test`), { client: { address: '127.0.0.1', port: 1 }, transport: 'udp' });
      const logged = lines.filter((l) => l.msg === 'query').length;
      // 50 expected; the bounds are far out in the binomial's tails (p < 1e-6).
      expect(logged).toBeGreaterThan(20);
      expect(logged).toBeLessThan(85);
      n.node.currentResolver.querySample = 0;
      const before = lines.length;
      await n.node.currentResolver.handle(queryFor('host1.example.test'), { client: null, transport: 'udp' });
      expect(lines.slice(before).filter((l) => l.msg === 'query')).toEqual([]);
    } finally {
      await n.stop();
    }
  });
});

function queryFor(name: string): Uint8Array {
  const labels = name.split('.');
  const q = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const l of labels) q.push(l.length, ...new TextEncoder().encode(l));
  q.push(0, 0, 1, 0, 1);
  return Uint8Array.from(q);
}
