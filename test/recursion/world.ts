/**
 * The loopback DNS world the recursion tests resolve in: a test root, the TLDs `test.` and
 * `other.`, second-level zones for each behaviour under test, and a trap server that serves
 * fake copies of zones (if the iterator ever asks it, it believed something it should not
 * have). Each test file starts its own copy on its own 127.x.y.0/24.
 */

import { afterAll, beforeAll, beforeEach } from 'vitest';
import { needTools } from '../helpers/tools.js';
import { IterativeResolver, parseResponse, type IteratorOptions } from '../../host/core/recursion/index.js';
import { formatRdata } from '../../host/core/zone/index.js';
import { hintsFromAddresses } from '../../host/core/recursion/root-hints.js';
import { MemoryMetrics } from '../../host/core/metrics.js';
import { RRType, typeToName } from '../../host/core/dns/rr-types.js';
import { nameToText, textToName, type Question } from '../../host/core/dns/wire.js';
import type { UpstreamTransport } from '../../host/core/upstream.js';
import { nodeTransport } from '../../host/adapters/node/transport.js';
import { startHierarchy, zone, type Hierarchy } from '../helpers/hierarchy.js';

export const SERVERS = {
  root: ['.'],
  rootcopy: ['.'],
  tld1: ['test.'],
  tld2: ['test.'],
  other: ['other.'],
  ex1: ['example.test.'],
  ex2: ['example.test.'],
  tgt: ['target.other.'],
  multi: ['lame.test.', 'alllame.test.', 'dead.test.', 'slow.test.', 'oob.test.', 'd1.test.', 'd2.test.', 'd3.test.', 'd4.test.'],
  slowbox: ['slow.test.'],
  lamebox: ['dummy.'],
  noedns: ['edns.test.'],
  trap: ['target.other.', 'oob.test.'],
  dead: null,
} satisfies Record<string, string[] | null>;

export type ServerId = keyof typeof SERVERS;

const CHAIN = Array.from({ length: 14 }, (_, i) => `chain${i} CNAME chain${i + 1}`).join('\n') + '\nchain14 A 192.0.2.14';
const BIG = Array.from({ length: 40 }, (_, i) => `big TXT "${String(i).padStart(2, '0')} ${'x'.repeat(60)}"`).join('\n');
const NXNS = Array.from({ length: 20 }, (_, i) => `nxns.test. NS ns${i}.nowhere.other.`).join('\n');

export function worldZones(ip: Record<string, string>): Record<string, string> {
  const multi = ip.multi!;
  const small = (origin: string, ns: string[], body = '') =>
    zone(origin, ns, `www A 192.0.2.${origin.length}\n* A 192.0.2.200\n${body}`);
  return {
    '.': zone('.', ['a.root-servers.test.'], `
a.root-servers.test. A ${ip.root}
test. NS ns1.test.
test. NS ns2.test.
ns1.test. A ${ip.tld1}
ns2.test. A ${ip.tld2}
other. NS ns.other.
ns.other. A ${ip.other}
dummy. NS ns.dummy.
ns.dummy. A ${ip.lamebox}
`, { ttl: 86400 }),
    'test.': zone('test.', ['ns1.test.', 'ns2.test.'], `
ns1 A ${ip.tld1}
ns2 A ${ip.tld2}
a.root-servers A ${ip.root}
example NS ns1.example
example NS ns2.example
ns1.example A ${ip.ex1}
ns2.example A ${ip.ex2}
lame NS ns1.lame
lame NS ns2.lame
ns1.lame A ${ip.lamebox}
ns2.lame A ${multi}
alllame NS ns.alllame
ns.alllame A ${ip.lamebox}
uplame NS ns.uplame
ns.uplame A ${ip.tld1}
dead NS ns1.dead
dead NS ns2.dead
ns1.dead A ${ip.dead}
ns2.dead A ${multi}
alldead NS ns.alldead
ns.alldead A ${ip.dead}
slow NS ns1.slow
slow NS ns2.slow
ns1.slow A ${ip.slowbox}
ns2.slow A ${multi}
edns NS ns.edns
ns.edns A ${ip.noedns}
oob NS ns.oob.other.
${NXNS}
d1 NS ns.d2
d2 NS ns.d3
d3 NS ns.d4
d4 NS ns.d4
ns.d4 A ${multi}
`),
    'other.': zone('other.', ['ns.other.'], `
ns A ${ip.other}
target NS ns.target
ns.target A ${ip.tgt}
ns.oob A ${multi}
`),
    'target.other.': zone('target.other.', ['ns.target.other.'], `
ns A ${ip.tgt}
www A 192.0.2.10
www AAAA 2001:db8::10
deep.er A 192.0.2.11
`),
    'example.test.': zone('example.test.', ['ns1.example.test.', 'ns2.example.test.'], `
ns1 A ${ip.ex1}
ns2 A ${ip.ex2}
www A 192.0.2.1
mail A 192.0.2.25
alias CNAME www.target.other.
inzone CNAME www
legacy DNAME target.other.
a.b.c A 192.0.2.3
*.wild A 192.0.2.99
loop1 CNAME loop2
loop2 CNAME loop1
${CHAIN}
${BIG}
`),
    'lame.test.': small('lame.test.', ['ns1.lame.test.', 'ns2.lame.test.'], `ns1 A ${ip.lamebox}\nns2 A ${multi}`),
    'alllame.test.': small('alllame.test.', ['ns.alllame.test.'], `ns A ${ip.lamebox}`),
    'dead.test.': small('dead.test.', ['ns1.dead.test.', 'ns2.dead.test.'], `ns1 A ${ip.dead}\nns2 A ${multi}`),
    'slow.test.': small('slow.test.', ['ns1.slow.test.', 'ns2.slow.test.'], `ns1 A ${ip.slowbox}\nns2 A ${multi}`),
    'edns.test.': small('edns.test.', ['ns.edns.test.'], `ns A ${ip.noedns}`),
    'oob.test.': small('oob.test.', ['ns.oob.other.']),
    'd1.test.': small('d1.test.', ['ns.d2.test.']),
    'd2.test.': small('d2.test.', ['ns.d3.test.'], `ns A ${multi}`),
    'd3.test.': small('d3.test.', ['ns.d4.test.'], `ns A ${multi}`),
    'd4.test.': small('d4.test.', ['ns.d4.test.'], `ns A ${multi}`),
    'dummy.': small('dummy.', ['ns.dummy.'], `ns A ${ip.lamebox}`),
  };
}

/** The trap's fake zones: other addresses, so an answer from it shows. */
export function trapZones(): Record<string, string> {
  return {
    'target.other.': zone('target.other.', ['ns.target.other.'], 'www A 198.51.100.66\n* A 198.51.100.66'),
    'oob.test.': zone('oob.test.', ['ns.oob.other.'], 'www A 198.51.100.67\n* A 198.51.100.67'),
  };
}

/**
 * Starts the world for this test file (skipped, with a printed reason, without NSD or dig;
 * a failure under CI) and resets logs and behaviours before each test. Returns whether it runs.
 */
export function useWorld(got: (h: Hierarchy) => void): boolean {
  const ok = needTools('nsd', 'dig');
  let h: Hierarchy | undefined;
  beforeAll(async () => {
    if (!ok) return;
    h = await startWorld();
    got(h);
  });
  afterAll(async () => h?.stop());
  beforeEach(() => h?.reset());
  return ok;
}

export function startWorld(): Promise<Hierarchy> {
  // The trap serves fake zones under the real names.
  return startHierarchy({ servers: SERVERS, zones: worldZones, perServer: () => ({ trap: trapZones() }) });
}

/** A transport that refuses to send anywhere but loopback: a test can never reach the real root. */
export function loopbackOnly(t: UpstreamTransport = nodeTransport): UpstreamTransport {
  const check = (host: string) => {
    if (!/^127\./.test(host) && host !== '::1') throw new Error(`test transport refused a query to ${host}`);
  };
  return {
    udp: (host, port, msg, timeout, accept) => (check(host), t.udp(host, port, msg, timeout, accept)),
    tcp: (host, port, msg, timeout) => (check(host), t.tcp(host, port, msg, timeout)),
  };
}

/** A deterministic random source (mulberry32), so server choices repeat run to run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An iterator for the world, primed from its root server; options override. */
export function iteratorFor(h: Hierarchy, opts: Partial<IteratorOptions> = {}): { it: IterativeResolver; metrics: MemoryMetrics } {
  const metrics = new MemoryMetrics();
  const it = new IterativeResolver({
    transport: loopbackOnly(),
    metrics,
    hints: hintsFromAddresses([h.ip.root!]),
    random: seeded(1),
    ...opts,
    // Generous timeouts: on a loaded test machine NSD may take longer than a real network's
    // 50 ms floor, and a spurious timeout would change what the servers see. Tests about
    // timeouts set their own.
    selection: { unknownTimeoutMs: 1000, minTimeoutMs: 500, ...opts.selection },
  });
  return { it, metrics };
}

export const q = (name: string, type: keyof typeof RRType = 'A'): Question => ({ name: textToName(name), type: RRType[type], class: 1 });

export const deadline = (ms = 8000) => Date.now() + ms;

export interface Line {
  section: 'answer' | 'authority' | 'additional';
  name: string;
  type: string;
  ttl: number;
  data: string;
}

/** A response's records as lines, RRSIGs included, for assertions. */
export function lines(body: Uint8Array): Line[] {
  const p = parseResponse(body);
  const names = ['answer', 'authority', 'additional'] as const;
  const out: Line[] = [];
  p.sections.forEach((sets, i) => {
    for (const s of sets) {
      for (const r of s.rdatas) out.push({ section: names[i]!, name: nameToText(s.owner).toLowerCase(), type: typeToName(s.type), ttl: s.ttl, data: formatRdata(s.type, r) });
      for (const r of s.sigs) out.push({ section: names[i]!, name: nameToText(s.owner).toLowerCase(), type: 'RRSIG', ttl: s.sigTtl, data: formatRdata(RRType.RRSIG, r) });
    }
  });
  return out;
}

/** "name TYPE data" for the answer section. */
export function answers(body: Uint8Array): string[] {
  return lines(body).filter((l) => l.section === 'answer').map((l) => `${l.name} ${l.type} ${l.data}`);
}

/** Queries a server saw, as "name TYPE". */
export function seen(h: Hierarchy, id: ServerId): string[] {
  return h.servers[id]!.queries.map((x) => `${x.name} ${x.type}`);
}
