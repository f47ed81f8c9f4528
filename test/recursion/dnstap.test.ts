/**
 * dnstap in recursive mode: each query the iterator sends to an authoritative server of the
 * loopback world, and its reply, as RESOLVER_QUERY and RESOLVER_RESPONSE frames dnstap-read
 * reads, beside the client's query and response.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { readDnstapYaml } from '../helpers/dnstap.js';
import { startEdge } from '../helpers/edge.js';
import { namedRoot, type Hierarchy } from '../helpers/hierarchy.js';
import { needTool } from '../helpers/tools.js';
import { loopbackOnly, useWorld } from './world.js';

let h: Hierarchy;
const runs = useWorld((x) => (h = x)) && needTool('dnstap-read');
const dir = mkdtempSync(join(tmpdir(), 'edge-recursive-dnstap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!runs)('dnstap in recursive mode', () => {
  it('logs the iterator\'s queries to the authoritative servers and their replies', async () => {
    const hints = join(dir, 'hints');
    writeFileSync(hints, namedRoot({ 'a.root-servers.test.': h.ip.root! }));
    const file = join(dir, 'recursive.dnstap');
    const n = await startEdge(`[resolver]\nmode = "recursive"\nroot_hints = "${hints}"\n[dnssec]\nvalidate = false\n[dnstap]\nfile = "${file}"\n`, { transport: loopbackOnly() });
    try {
      expect((await dig(n.dns, ['www.example.test', 'A'])).answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    } finally {
      await n.stop();
    }
    const entries = await readDnstapYaml(file);
    const rq = entries.filter((e) => e.type === 'RESOLVER_QUERY');
    const rr = entries.filter((e) => e.type === 'RESOLVER_RESPONSE');
    // The root, a test. server and an example.test. server were each asked, at their addresses, port 53.
    for (const ids of [['root'], ['tld1', 'tld2'], ['ex1', 'ex2']]) {
      const ips = ids.map((id) => h.ip[id]!);
      expect(rq.some((e) => ips.includes(e.responseAddress!) && e.responsePort === 53), ids.join(',')).toBe(true);
    }
    expect(rr.length).toBeGreaterThan(0);
    expect(rr.every((e) => rq.some((q) => q.responseAddress === e.responseAddress && q.question === e.question))).toBe(true);
    expect(rq.some((e) => e.question === 'www.example.test. IN A')).toBe(true);
    expect(entries.filter((e) => e.type === 'CLIENT_QUERY').map((e) => e.question)).toEqual(['www.example.test. IN A']);
    expect(entries.some((e) => e.type.startsWith('FORWARDER_'))).toBe(false);
  });
});
