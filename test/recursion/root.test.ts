/**
 * Where iteration starts: the local root copy (a RootStart) while one is in service, so no
 * query reaches a root server; priming from root hints (RFC 8109) and the root servers when
 * there is none.
 */

import { describe, expect, it } from 'vitest';
import { Rcode } from '../../host/core/dns/rr-types.js';
import { parseRootHints, type RootStart } from '../../host/core/recursion/index.js';
import { nodeTransport } from '../../host/adapters/node/transport.js';
import { buildQuery } from '../../host/core/dns/wire.js';
import { matches } from '../../host/core/upstream.js';
import { namedRoot, queryName, type Hierarchy } from '../helpers/hierarchy.js';
import { answers, deadline, iteratorFor, q, seen, useWorld } from './world.js';

let h: Hierarchy;
const ok = useWorld((w) => (h = w));

/**
 * A stand-in for static_zone's referral mode: the root zone's answer from a copy served
 * elsewhere (the `rootcopy` server, never a root server address), while `valid` says so.
 */
function localCopy(state: { valid: boolean; asked: number }): RootStart {
  return {
    async query(question) {
      if (!state.valid) return null;
      state.asked++;
      const id = 4242;
      const msg = buildQuery(question, { id, rd: false, udpSize: 1232, do: true });
      return nodeTransport.udp(h.ip.rootcopy!, 53, msg, 2000, (r) => matches(r, id, question));
    },
  };
}

describe.runIf(ok)('the start of iteration', () => {
  it('primes from a hints file: `. NS` at a hints address, then the answer’s servers', async () => {
    const hints = await parseRootHints(namedRoot({ 'a.root-servers.test.': h.ip.root! }), 'test.hints');
    const { it: r, metrics } = iteratorFor(h, { hints });
    const res = await r.resolve(q('www.example.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['www.example.test. A 192.0.2.1']);
    expect(seen(h, 'root')).toEqual(['. NS', 'test. A']);
    expect(metrics.value('edge_recursion_priming_total', { result: 'ok' })).toBe(1);
    // Priming and the question for test. both went to a root server.
    expect(metrics.value('edge_recursion_root_source_total', { source: 'root_servers' })).toBe(2);
    // Primed once: the root NS set is cached by its TTL.
    await r.resolve(q('www.target.other.'), { deadline: deadline() });
    expect(seen(h, 'root').filter((x) => x === '. NS')).toHaveLength(1);
  });

  it('asks no root server while the local copy is in service, and the root servers once it is not', async () => {
    const copy = { valid: true, asked: 0 };
    const { it: r, metrics } = iteratorFor(h, { rootStart: localCopy(copy) });
    const res = await r.resolve(q('www.example.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['www.example.test. A 192.0.2.1']);
    expect(res.rootSource).toBe('local');
    expect(copy.asked).toBe(1);
    expect(seen(h, 'root')).toEqual([]);
    // Junk TLDs and root data come from the copy too.
    const junk = await r.resolve(q('printer.local.'), { deadline: deadline() });
    expect(junk.rcode).toBe(Rcode.NXDOMAIN);
    expect(junk.provenance[0]).toMatchObject({ server: 'local-root' });
    expect(seen(h, 'root')).toEqual([]);
    expect(metrics.value('edge_recursion_root_source_total', { source: 'root_servers' })).toBe(0);
    expect(metrics.value('edge_recursion_root_source_total', { source: 'local' })).toBe(2);

    // The copy expires: the next question that needs the root zone primes and asks a root server.
    copy.valid = false;
    const after = await r.resolve(q('www.unknown-tld.'), { deadline: deadline() });
    expect(after.rcode).toBe(Rcode.NXDOMAIN);
    expect(after.rootSource).toBe('root_servers');
    // A root server's NXDOMAIN for the minimised name is checked with the full name (RFC 9156
    // relaxed); the local copy's was believed at once.
    expect(seen(h, 'root')).toEqual(['. NS', 'unknown-tld. A', 'www.unknown-tld. A']);
    expect(metrics.value('edge_recursion_root_source_total', { source: 'root_servers' })).toBe(3);

    // Valid again: back to the copy, even with the root NS now cached from priming.
    copy.valid = true;
    h.clearLogs();
    const back = await r.resolve(q('www.another-tld.'), { deadline: deadline() });
    expect(back.rootSource).toBe('local');
    expect(seen(h, 'root')).toEqual([]);
  });

  it('lets one request switch the local copy off (the rec_disable_static tag)', async () => {
    const copy = { valid: true, asked: 0 };
    const { it: r } = iteratorFor(h, { rootStart: localCopy(copy) });
    const res = await r.resolve(q('www.example.test.'), { deadline: deadline(), rootStart: null });
    expect(answers(res.body)).toEqual(['www.example.test. A 192.0.2.1']);
    expect(res.rootSource).toBe('root_servers');
    expect(copy.asked).toBe(0);
    expect(seen(h, 'root')).toContain('test. A');
  });

  it('falls back to the root servers when the copy gives nothing usable', async () => {
    const { it: r } = iteratorFor(h, { rootStart: { query: () => new Uint8Array([1, 2, 3]) } });
    const res = await r.resolve(q('www.example.test.'), { deadline: deadline() });
    expect(answers(res.body)).toEqual(['www.example.test. A 192.0.2.1']);
    expect(res.rootSource).toBe('root_servers');
  });

  it('asks the hints servers directly when priming fails', async () => {
    h.servers.root!.behaviour.mutate = (reply, query) => (queryName(query) === '.' ? null : reply);
    try {
      const { it: r, metrics } = iteratorFor(h, { selection: { unknownTimeoutMs: 200 } });
      const res = await r.resolve(q('www.example.test.'), { deadline: deadline() });
      expect(answers(res.body)).toEqual(['www.example.test. A 192.0.2.1']);
      expect(metrics.value('edge_recursion_priming_total', { result: 'failed' })).toBe(1);
    } finally {
      h.servers.root!.behaviour.mutate = null;
    }
  });
});

