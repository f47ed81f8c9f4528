/**
 * The iterator against an in-memory transport, for what loopback cannot show: IPv6-only
 * nameservers, IPv4 or IPv6 switched off, identical queries in flight sent once, the deadline.
 * The real-socket tests are in test/recursion/.
 */

import { describe, expect, it } from 'vitest';
import { Rcode, RRType } from '../dns/rr-types.js';
import { FLAG_AA, appendOpt, encodeOpt, nameEquals, nameToText, parseQuery, put16, textToName, type Question } from '../dns/wire.js';
import { MemoryMetrics } from '../metrics.js';
import { UpstreamTimeout, type UpstreamTransport } from '../upstream.js';
import { IterativeResolver } from './iterator.js';
import { buildResponse, parseResponse, type OutRecord } from './message.js';
import { hintsFromAddresses } from './root-hints.js';

const n = textToName;
const rr = (owner: string, type: number, rdata: number[] | Uint8Array, ttl = 300): OutRecord => ({ owner: n(owner), type, class: 1, ttl, rdata: Uint8Array.from(rdata) });
const v6 = (last: number) => [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), last];

type Answer = { aa: boolean; rcode?: number; sections: [OutRecord[], OutRecord[], OutRecord[]] };

/** A world: root at 2001:db8::1 delegating v6. to an IPv6-only server, and dual. to both families. */
function world(): Record<string, (q: Question) => Answer | 'silent'> {
  const soa = (z: string) => rr(z, RRType.SOA, [...n(z === '.' ? 'ns.root.' : `ns.${z}`), ...n(z === '.' ? 'h.root.' : `h.${z}`), ...new Array(20).fill(0)]);
  return {
    '2001:db8::1': (q) => {
      if (q.name.length === 1 && q.type === RRType.NS) {
        return { aa: true, sections: [[rr('.', RRType.NS, n('a.root.'))], [], [rr('a.root.', RRType.AAAA, v6(1))]] };
      }
      const tld = nameToText(q.name).split('.').slice(-2).join('.');
      if (tld === 'v6.') return { aa: false, sections: [[], [rr('v6.', RRType.NS, n('ns.v6.'))], [rr('ns.v6.', RRType.AAAA, v6(6))]] };
      if (tld === 'dual.') {
        return { aa: false, sections: [[], [rr('dual.', RRType.NS, n('ns.dual.'))], [rr('ns.dual.', RRType.AAAA, v6(7)), rr('ns.dual.', RRType.A, [192, 0, 2, 7])]] };
      }
      return { aa: true, rcode: Rcode.NXDOMAIN, sections: [[], [soa('.')], []] };
    },
    '2001:db8::6': (q) => ({ aa: true, sections: [[rr(nameToText(q.name), RRType.A, [192, 0, 2, 66])], [], []] }),
    '2001:db8::7': (q) => ({ aa: true, sections: [[rr(nameToText(q.name), RRType.A, [192, 0, 2, 76])], [], []] }),
    '192.0.2.7': (q) => ({ aa: true, sections: [[rr(nameToText(q.name), RRType.A, [192, 0, 2, 74])], [], []] }),
  };
}

function fakeTransport(servers: Record<string, (q: Question) => Answer | 'silent'>, delayMs = 0) {
  const sent: string[] = [];
  const t: UpstreamTransport = {
    async udp(host, _port, msg, timeoutMs) {
      const p = parseQuery(msg);
      sent.push(`${host} ${nameToText(p.question!.name)} ${p.question!.type}`);
      const serve = servers[host];
      const a = serve ? serve(p.question!) : 'silent';
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      if (a === 'silent') {
        await new Promise((r) => setTimeout(r, timeoutMs));
        throw new UpstreamTimeout('silent');
      }
      const body = buildResponse(p.question!, a.aa ? FLAG_AA : 0, a.rcode ?? 0, a.sections);
      put16(body, 0, p.header.id);
      return p.edns ? appendOpt(body, encodeOpt(1232, 0)) : body;
    },
    async tcp() {
      throw new Error('no TCP here');
    },
  };
  return { t, sent };
}

const resolver = (t: UpstreamTransport, opts: Partial<ConstructorParameters<typeof IterativeResolver>[0]> = {}) =>
  new IterativeResolver({ transport: t, metrics: new MemoryMetrics(), hints: hintsFromAddresses(['2001:db8::1']), qnameMinimisation: false, ...opts });
const q = (name: string): Question => ({ name: n(name), type: RRType.A, class: 1 });
const addr = (body: Uint8Array) => parseResponse(body).sections[0].flatMap((s) => s.rdatas.map((r) => r.join('.')));

describe('the iterator', () => {
  it('uses IPv6 nameserver addresses (AAAA glue, IPv6 hints)', async () => {
    const { t, sent } = fakeTransport(world());
    const r = resolver(t);
    const res = await r.resolve(q('www.v6.'), { deadline: Date.now() + 2000 });
    expect(addr(res.body)).toEqual(['192.0.2.66']);
    expect(sent).toEqual(['2001:db8::1 . 2', '2001:db8::1 www.v6. 1', '2001:db8::6 www.v6. 1']);
    expect(res.provenance[0]!.server).toBe('2001:db8::6');
  });

  it('keeps to the address families it is allowed', async () => {
    const only4 = fakeTransport(world());
    const r4 = resolver(only4.t, { ipv6: false, hints: hintsFromAddresses(['2001:db8::1', '192.0.2.250']) });
    const res4 = await r4.resolve(q('www.dual.'), { deadline: Date.now() + 500 });
    // The IPv4 hint is silent here and the IPv6 one may not be used: no answer, and no IPv6 query sent.
    expect(res4.rcode).toBe(Rcode.SERVFAIL);
    expect(only4.sent.every((s) => !s.includes(':'))).toBe(true);

    const only6 = fakeTransport(world());
    const r6 = resolver(only6.t, { ipv4: false });
    expect(addr((await r6.resolve(q('www.dual.'), { deadline: Date.now() + 2000 })).body)).toEqual(['192.0.2.76']);
    expect(only6.sent.every((s) => s.includes(':'))).toBe(true);
  });

  it('sends an identical query to the same server once while it is in flight', async () => {
    const { t, sent } = fakeTransport(world(), 30);
    const r = resolver(t);
    const all = await Promise.all([1, 2, 3].map(() => r.resolve(q('www.v6.'), { deadline: Date.now() + 2000 })));
    expect(all.map((x) => addr(x.body))).toEqual([['192.0.2.66'], ['192.0.2.66'], ['192.0.2.66']]);
    expect(sent.filter((s) => s.startsWith('2001:db8::6'))).toHaveLength(1);
  });

  it('gives up at the deadline', async () => {
    const servers = world();
    servers['2001:db8::6'] = () => 'silent';
    const { t } = fakeTransport(servers);
    const r = resolver(t, { selection: { unknownTimeoutMs: 5000 } });
    const started = Date.now();
    const res = await r.resolve(q('www.v6.'), { deadline: Date.now() + 300 });
    expect(res.rcode).toBe(Rcode.SERVFAIL);
    expect(['deadline', 'no_reachable_authority']).toContain(res.failure!.reason);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('answers an NXDOMAIN from the root with the root SOA', async () => {
    const { t } = fakeTransport(world());
    const res = await resolver(t).resolve(q('nothing.invalid.'), { deadline: Date.now() + 2000 });
    expect(res.failure).toBeNull();
    expect(res.rcode).toBe(Rcode.NXDOMAIN);
    const auth = parseResponse(res.body).sections[1];
    expect(auth.map((s) => s.type)).toEqual([RRType.SOA]);
    expect(nameEquals(auth[0]!.owner, n('.'))).toBe(true);
  });
});

describe('docs/recursion.md', () => {
  it('lists every metric the iterator registers', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../../docs/recursion.md', import.meta.url), 'utf8');
    const names: string[] = [];
    const sink = {
      counter: (name: string) => (names.push(name), { inc() {}, bind: () => ({ inc() {} }) }),
      gauge: (name: string) => (names.push(name), { set() {}, remove() {} }),
      histogram: (name: string) => (names.push(name), { observe() {}, bind: () => ({ observe() {} }) }),
    };
    new IterativeResolver({ transport: fakeTransport({}).t, metrics: sink });
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(doc, name).toContain(`\`${name}\``);
  });
});
