/**
 * Runs the conformance cases (cases.ts) against a site: each runtime's test file starts one
 * (test/node/cases.test.ts: nodes on loopback, queries over UDP; test/workers/cases.test.ts: the
 * Worker in workerd, queries over DoH) and hands it here. A query goes in as wire bytes; the
 * answer is decoded and compared with what the case expects: rcode, flags, sections, EDE, and
 * what the ingress did (a cache hit or miss, a forward to the owning peer).
 */

import { expect, it } from 'vitest';
import { buildQuery, parseEdnsRdata, readHeader, readName, textToName, walkRecords, type RecordRef } from '../../host/core/dns/wire.js';
import { rcodeFromName, rcodeToName, typeFromName, typeToName } from '../../host/core/dns/rr-types.js';
import { formatRdata } from '../../host/core/zone/index.js';
import { nameToText } from '../../host/core/dns/wire.js';
import type { DnsCase, Step } from './cases.js';

/** What a case needs of a site; everything else is the runtime's own business. */
export interface Site {
  /** Sends a query to the ingress node and returns its answer. */
  ask(query: Uint8Array): Promise<Uint8Array>;
  /** Puts a rule set on the ingress node only (null: none) and returns once it runs there. */
  setRules(text: string | null): Promise<void>;
  /** Makes the upstream answer, or fail every query at once. */
  setUpstream(up: boolean): Promise<void>;
  /** Sum of an ingress metric over the series whose labels include `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Whether the ingress sends this question to a peer that owns its cache slot. */
  forwards(name: string, type: string): boolean;
}

const FLAGS: Array<[string, number]> = [
  ['qr', 0x8000],
  ['aa', 0x0400],
  ['tc', 0x0200],
  ['rd', 0x0100],
  ['ra', 0x0080],
  ['ad', 0x0020],
  ['cd', 0x0010],
];
/** Record types whose RDATA holds names a server may compress. */
const NAMES_IN_RDATA: Record<number, Array<'name' | number>> = {
  2: ['name'], // NS
  5: ['name'], // CNAME
  12: ['name'], // PTR
  6: ['name', 'name', 20], // SOA: MNAME RNAME and five 32-bit numbers
  15: [2, 'name'], // MX
};
const EDE = 15;

export interface Decoded {
  rcode: string;
  flags: string[];
  answer: string[];
  authority: string[];
  ede: number[];
}

/** RDATA without compression, as formatRdata takes it. */
function rdataOf(msg: Uint8Array, r: RecordRef): Uint8Array {
  const shape = NAMES_IN_RDATA[r.type];
  if (!shape) return msg.subarray(r.rdataOffset, r.end);
  const parts: Uint8Array[] = [];
  let p = r.rdataOffset;
  for (const part of shape) {
    if (part === 'name') {
      const { name, end } = readName(msg, p);
      parts.push(name);
      p = end;
    } else {
      parts.push(msg.subarray(p, p + part));
      p += part;
    }
  }
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

export function decode(msg: Uint8Array): Decoded {
  const h = readHeader(msg);
  const out: Decoded = { rcode: rcodeToName(h.rcode), flags: FLAGS.filter(([, bit]) => h.flags & bit).map(([f]) => f), answer: [], authority: [], ede: [] };
  for (const r of walkRecords(msg, h).records) {
    if (r.type === 41) {
      for (const o of parseEdnsRdata(msg.subarray(r.rdataOffset, r.end))) if (o.code === EDE && o.data.length >= 2) out.ede.push((o.data[0]! << 8) | o.data[1]!);
      continue;
    }
    if (r.section === 2) continue;
    const name = nameToText(readName(msg, r.nameOffset).name).toLowerCase();
    const line = `${name} ${r.ttl} ${typeToName(r.type)} ${formatRdata(r.type, rdataOf(msg, r))}`;
    (r.section === 0 ? out.answer : out.authority).push(line);
  }
  return out;
}

/** `{name}` and `{n}` (the number in the name picked, host.junk7. -> 7) in an expected line. */
function fill(line: string, name: string): string {
  return line.replaceAll('{name}', name).replaceAll('{n}', /(\d+)/.exec(name)?.[1] ?? '');
}

/**
 * Records compared by name, type and data; the TTL as written (`120`) or within a range
 * (`115-120`), since a cached TTL counts down.
 */
function expectRecords(got: string[], want: string[], what: string): void {
  const split = (l: string) => {
    const [name, ttl, type, ...data] = l.split(/\s+/);
    return { key: `${name!.toLowerCase()} ${type} ${data.join(' ')}`, ttl: ttl! };
  };
  const g = got.map(split).sort((a, b) => a.key.localeCompare(b.key));
  const w = want.map(split).sort((a, b) => a.key.localeCompare(b.key));
  expect(g.map((r) => r.key), what).toEqual(w.map((r) => r.key));
  for (const [i, r] of w.entries()) {
    const [lo, hi] = r.ttl.includes('-') ? r.ttl.split('-').map(Number) : [Number(r.ttl), Number(r.ttl)];
    const ttl = Number(g[i]!.ttl);
    expect(ttl >= lo! && ttl <= hi!, `${what}: ${g[i]!.key} TTL ${ttl}, expected ${r.ttl}`).toBe(true);
  }
}

function question(step: Step, site: Site): { name: string; type: string } {
  const type = step.ask.type ?? 'A';
  if (typeof step.ask.name === 'string') return { name: step.ask.name, type };
  const name = step.ask.name.peerOwned.find((n) => site.forwards(n, type));
  if (!name) throw new Error(`none of ${step.ask.name.peerOwned.join(' ')} is owned by a peer of the ingress`);
  return { name, type };
}

async function runStep(step: Step, site: Site, where: string): Promise<void> {
  if (step.rules !== undefined) await site.setRules(step.rules);
  if (step.upstream) await site.setUpstream(step.upstream === 'up');
  if (step.waitMs) await new Promise((r) => setTimeout(r, step.waitMs));
  const q = question(step, site);
  const qtype = typeFromName(q.type);
  if (qtype === undefined) throw new Error(`${where}: unknown type ${q.type}`);
  const hits = () => site.metric('edge_cache_lookups_total', { result: 'hit' });
  const forwarded = () => site.metric('edge_peer_forwarded_total', { result: 'ok' });
  const before = { hits: await hits(), forwarded: await forwarded() };
  const query = buildQuery({ name: textToName(q.name), type: qtype, class: 1 }, { id: 0x1234, rd: true, udpSize: 1232, do: step.ask.do ?? false });
  const got = decode(await site.ask(query));
  const e = step.expect;
  const what = `${where}: ${q.name} ${q.type}`;
  expect(rcodeFromName(e.rcode), `${what}: "${e.rcode}" is not an rcode`).toBeDefined();
  expect(got.rcode, `${what}: rcode`).toBe(e.rcode);
  expect(got.flags, `${what}: flags`).toEqual(FLAGS.map(([f]) => f).filter((f) => e.flags.includes(f)));
  expectRecords(got.answer, (e.answer ?? []).map((l) => fill(l, q.name)), `${what}: answer`);
  if (e.authority) expectRecords(got.authority, e.authority.map((l) => fill(l, q.name)), `${what}: authority`);
  expect(got.ede, `${what}: EDE`).toEqual(e.ede ?? []);
  if (e.cache) expect((await hits()) - before.hits, `${what}: cache ${e.cache}`).toBe(e.cache === 'hit' ? 1 : 0);
  if (e.peer !== undefined) expect((await forwarded()) - before.forwarded, `${what}: forwarded to a peer`).toBe(e.peer ? 1 : 0);
}

/** Declares one test per case, run in order on the site `site()` returns once it is started. */
export function runCases(cases: readonly DnsCase[], site: () => Site): void {
  for (const c of cases) {
    it(c.name, async () => {
      const s = site();
      let rules = false;
      let down = false;
      try {
        for (const [i, step] of c.steps.entries()) {
          rules ||= step.rules != null;
          down ||= step.upstream === 'down';
          await runStep(step, s, `step ${i + 1}`);
        }
      } finally {
        // A case leaves the site as it found it.
        if (rules) await s.setRules(null);
        if (down) await s.setUpstream(true);
      }
    });
  }
}
