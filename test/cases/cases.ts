/**
 * The DNS conformance cases, written once as data and run on every runtime (Hono's
 * common.case.test.ts idea): the same questions must get the same answers from a site of Node
 * nodes over UDP and from the Worker and its shard Durable Objects over DoH. The data behind
 * them is test/cases/fixtures.ts; run-cases.ts runs them.
 *
 * Cases run in order on one site, each with names of its own so nothing is cached for it
 * already. A record is "NAME TTL TYPE RDATA"; a TTL may be a range (`115-120`), because cached
 * TTLs count down. `{name}` is the name a step picked, `{n}` the number in it.
 */

import { JUNK, SHORT_TTL_NAME } from './fixtures.js';

export interface Expect {
  rcode: string;
  /** Exactly these header flags are set (of qr aa tc rd ra ad cd). */
  flags: string[];
  /** Exactly these records in the answer section (none when absent). */
  answer?: string[];
  /** Exactly these records in the authority section (not checked when absent). */
  authority?: string[];
  /** Extended DNS Error codes (RFC 8914) on the answer; none when absent. */
  ede?: number[];
  /** Whether the ingress answered from its cache. */
  cache?: 'hit' | 'miss';
  /** Whether the ingress sent the query to the peer that owns it. */
  peer?: boolean;
}

export interface Step {
  /** Before the query: the ingress node's rule set (null: none). Only the ingress gets it. */
  rules?: string | null;
  /** Before the query: whether the upstream answers. */
  upstream?: 'up' | 'down';
  /** Before the query: how long to wait (for a TTL to run out), ms. */
  waitMs?: number;
  /** The question; `peerOwned` picks the first of the names the ingress forwards to a peer. */
  ask: { name: string | { peerOwned: string[] }; type?: string; do?: boolean };
  expect: Expect;
}

export interface DnsCase {
  name: string;
  steps: Step[];
}

/** A recursive resolver's answer: a response, recursion desired and available, not authoritative. */
const ANSWER = ['qr', 'rd', 'ra'];
const EXAMPLE_SOA = 'example.com. 55-60 SOA ns1.example.com. hostmaster.example.com. 1 3600 900 604800 60';
const LOCAL_ROOT_SOA = 'a.root-servers.net. nstld.verisign-grs.com. 2026082201 1800 900 604800 86400';
const TAG_RULE = 'phase = pre-cache set-tag rec_disable_static\n';

export const CASES: readonly DnsCase[] = [
  {
    name: 'a cache miss is resolved upstream; the same question again is a cache hit',
    steps: [
      { ask: { name: 'n1.example.com.' }, expect: { rcode: 'NOERROR', flags: ANSWER, answer: ['n1.example.com. 115-120 A 198.51.100.2'], cache: 'miss' } },
      { ask: { name: 'n1.example.com.' }, expect: { rcode: 'NOERROR', flags: ANSWER, answer: ['n1.example.com. 100-120 A 198.51.100.2'], cache: 'hit' } },
    ],
  },
  {
    name: 'a name that does not exist: NXDOMAIN with the zone SOA (RFC 2308), cached as such',
    steps: [
      { ask: { name: 'absent.example.com.' }, expect: { rcode: 'NXDOMAIN', flags: ANSWER, authority: [EXAMPLE_SOA], cache: 'miss' } },
      { ask: { name: 'absent.example.com.' }, expect: { rcode: 'NXDOMAIN', flags: ANSWER, authority: ['example.com. 40-60 SOA ns1.example.com. hostmaster.example.com. 1 3600 900 604800 60'], cache: 'hit' } },
    ],
  },
  {
    name: 'a type the name does not have: NODATA (NOERROR, no answer, the SOA), cached as such',
    steps: [
      { ask: { name: 'n2.example.com.', type: 'AAAA' }, expect: { rcode: 'NOERROR', flags: ANSWER, authority: [EXAMPLE_SOA], cache: 'miss' } },
      { ask: { name: 'n2.example.com.', type: 'AAAA' }, expect: { rcode: 'NOERROR', flags: ANSWER, authority: ['example.com. 40-60 SOA ns1.example.com. hostmaster.example.com. 1 3600 900 604800 60'], cache: 'hit' } },
    ],
  },
  {
    name: 'the local root (RFC 8806): a junk TLD is NXDOMAIN and the root apex is its copy, not the upstream root',
    steps: [
      { ask: { name: JUNK[2]! }, expect: { rcode: 'NXDOMAIN', flags: ANSWER, authority: [`. 86400 SOA ${LOCAL_ROOT_SOA}`] } },
      // The upstream's own root has serial 1: this one is the verified local copy.
      { ask: { name: '.', type: 'SOA' }, expect: { rcode: 'NOERROR', flags: ANSWER, answer: [`. 86400 SOA ${LOCAL_ROOT_SOA}`] } },
    ],
  },
  {
    name: 'rules: a pushed rule set answers on the ingress without asking anyone; removed, the upstream answers again',
    steps: [
      {
        rules: 'phase = pre-cache qname-suffix corp respond NXDOMAIN\nphase = pre-cache qname pinned.example.com respond A 192.0.2.77\n',
        ask: { name: 'wpad.corp.' },
        expect: { rcode: 'NXDOMAIN', flags: ANSWER, peer: false, cache: 'miss' },
      },
      { ask: { name: 'pinned.example.com.' }, expect: { rcode: 'NOERROR', flags: ANSWER, answer: ['pinned.example.com. 60 A 192.0.2.77'], peer: false } },
      { rules: null, ask: { name: 'pinned.example.com.' }, expect: { rcode: 'NXDOMAIN', flags: ANSWER, authority: [EXAMPLE_SOA] } },
    ],
  },
  {
    name: 'pooling with the tag (the October 2023 incident): a tag set on the ingress reaches the owner, whose local root stands aside',
    steps: [
      // Before the rule: the owner answers a junk TLD from its local root.
      { ask: { name: { peerOwned: JUNK.slice(20, 40) } }, expect: { rcode: 'NXDOMAIN', flags: ANSWER, authority: [`. 86400 SOA ${LOCAL_ROOT_SOA}`], peer: true } },
      // The operators' rule, on the ingress only: the owner learns of the tag from the context.
      { rules: TAG_RULE, ask: { name: { peerOwned: JUNK.slice(40, 60) } }, expect: { rcode: 'NOERROR', flags: ANSWER, answer: ['{name} 290-300 A 192.0.2.{n}'], peer: true } },
    ],
  },
  {
    // Last: the upstream stays down to the end of the case.
    name: 'serve-stale (RFC 8767): with the upstream gone, an expired answer is served with TTL 30 and EDE 3',
    steps: [
      { ask: { name: SHORT_TTL_NAME }, expect: { rcode: 'NOERROR', flags: ANSWER, answer: [`${SHORT_TTL_NAME} 0-1 A 198.51.100.250`] } },
      { upstream: 'down', waitMs: 2500, ask: { name: SHORT_TTL_NAME }, expect: { rcode: 'NOERROR', flags: ANSWER, answer: [`${SHORT_TTL_NAME} 30 A 198.51.100.250`], ede: [3] } },
    ],
  },
];
