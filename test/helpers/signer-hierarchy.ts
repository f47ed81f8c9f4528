/**
 * The DNSSEC test hierarchy: a test root, TLDs, and below them one child per way a zone can be
 * secure, insecure or broken, with the questions to ask and the verdict a validator must give
 * (`HIERARCHY_CASES`). Signed at test time (signer.ts), served by one NSD, checked against
 * delv. The validator's own tests use it, and so can a resolver test: same zones, same cases.
 */

import { dropSignatures, keytrapKeysetZone, keytrapZone, type ZoneSpec } from './signer.js';

const now = (): number => Math.floor(Date.now() / 1000);
const DAY = 86_400;

/** The tree; `nsAddress` is where the one NSD serving all of it listens. */
export function testHierarchy(): ZoneSpec {
  return {
    name: '.',
    children: [
      {
        name: 'test.',
        children: [
          {
            name: 'secure.test.',
            records: [
              'www IN A 192.0.2.1',
              'mail IN MX 10 www',
              'alias IN CNAME www',
              '*.wild IN TXT "wildcard"',
              'a.b.ent IN A 192.0.2.2',
              'd IN DNAME x.secure.test.',
              'www.x IN A 192.0.2.3',
              'cross IN CNAME www.nsec3.test.',
            ].join('\n'),
          },
          {
            name: 'nsec3.test.',
            nsec3: { iterations: 0 },
            records: ['www IN A 192.0.2.11', '*.wild IN TXT "wildcard"', 'a.b.ent IN A 192.0.2.12', 'alias IN CNAME www'].join('\n'),
          },
          {
            name: 'optout.test.',
            tool: 'bind',
            nsec3: { iterations: 0, optOut: true },
            records: 'www IN A 192.0.2.21',
            children: [{ name: 'unsigned.optout.test.', signed: false, records: 'www IN A 192.0.2.22' }],
          },
          {
            name: 'insecure.test.',
            signed: false,
            records: 'www IN A 192.0.2.31',
            // signed, but its parent is not: secure only with a trust anchor of its own
            children: [{ name: 'island.insecure.test.', records: 'www IN A 192.0.2.32', parentDs: 'none' }],
          },
          { name: 'expired.test.', records: 'www IN A 192.0.2.41', validity: { inception: now() - 20 * DAY, expiration: now() - DAY } },
          { name: 'notyet.test.', records: 'www IN A 192.0.2.42', validity: { inception: now() + DAY, expiration: now() + 20 * DAY } },
          { name: 'nosig.test.', records: 'www IN A 192.0.2.43', tamper: (text) => dropSignatures(text, 'www.nosig.test.', 'A') },
          { name: 'wrongkey.test.', records: 'www IN A 192.0.2.44', wrongKey: true },
          { name: 'dsmismatch.test.', records: 'www IN A 192.0.2.45', parentDs: 'mismatch' },
          { name: 'dsa.test.', algorithm: 'DSA', records: 'www IN A 192.0.2.51' },
          { name: 'sha384.test.', records: 'www IN A 192.0.2.57', parentDs: { digests: [4] } },
          { name: 'sha1.test.', records: 'www IN A 192.0.2.58', parentDs: { digests: [1] } },
          { name: 'gost.test.', records: 'www IN A 192.0.2.59', parentDs: { digests: [3] } },
          { name: 'iter.test.', nsec3: { iterations: 200, salt: 'abcd' }, records: 'www IN A 192.0.2.52' },
          { name: 'ed448.test.', algorithm: 'ED448', records: 'www IN A 192.0.2.53' },
          { name: 'rsa.test.', algorithm: 'RSASHA512', records: 'www IN A 192.0.2.54' },
          { name: 'p384.test.', algorithm: 'ECDSAP384SHA384', records: 'www IN A 192.0.2.55' },
          { name: 'ed25519.test.', algorithm: 'ED25519', records: 'www IN A 192.0.2.56' },
          { name: 'rsasha1.test.', algorithm: 'RSASHA1', records: 'www IN A 192.0.2.63' },
          { name: 'sha1nsec3.test.', algorithm: 'RSASHA1-NSEC3-SHA1', nsec3: { iterations: 0 }, records: 'www IN A 192.0.2.64' },
          keytrapZone('keytrap.test.'),
          keytrapKeysetZone('keytrap-keys.test.'),
        ],
      },
      {
        name: 'nsec3tld.',
        nsec3: { iterations: 0 },
        children: [{ name: 'plain.nsec3tld.', signed: false, records: 'www IN A 192.0.2.61' }],
      },
    ],
  };
}

export type Verdict = 'secure' | 'insecure' | 'bogus';

export interface HierarchyCase {
  name: string;
  type: string;
  verdict: Verdict;
  /** The EDE code a bogus (or algorithm-insecure) answer carries. */
  ede?: number;
  /** What the case shows. */
  what: string;
  /**
   * Where delv (BIND 9.18) gives another verdict, which, and why ours stands: the case is then
   * checked against Unbound as well.
   */
  delv?: { verdict: Verdict; why: string };
}

const OPT_OUT_AD =
  'RFC 5155 §9.2: the AD bit MUST NOT be set on a closest-encloser proof whose next closer name is covered by an Opt-Out NSEC3 (a name below it may be an unsigned delegation); Unbound agrees, delv (BIND 9.18) calls it fully validated';

export const HIERARCHY_CASES: HierarchyCase[] = [
  { name: 'www.secure.test.', type: 'A', verdict: 'secure', what: 'secure positive (NSEC zone)' },
  { name: 'nope.secure.test.', type: 'A', verdict: 'secure', what: 'secure NXDOMAIN (NSEC)' },
  { name: 'www.secure.test.', type: 'AAAA', verdict: 'secure', what: 'secure NODATA (NSEC)' },
  { name: 'b.ent.secure.test.', type: 'A', verdict: 'secure', what: 'secure NODATA at an empty non-terminal (NSEC)' },
  { name: 'x.wild.secure.test.', type: 'TXT', verdict: 'secure', what: 'wildcard expansion (NSEC)' },
  { name: 'x.wild.secure.test.', type: 'A', verdict: 'secure', what: 'wildcard NODATA (NSEC)' },
  { name: 'alias.secure.test.', type: 'A', verdict: 'secure', what: 'CNAME inside the zone' },
  { name: 'www.d.secure.test.', type: 'A', verdict: 'secure', what: 'DNAME with its synthesised CNAME' },
  { name: 'cross.secure.test.', type: 'A', verdict: 'secure', what: 'CNAME into another zone (an authoritative answer carries only the CNAME)' },
  { name: 'secure.test.', type: 'DNSKEY', verdict: 'secure', what: 'DNSKEY RRset' },
  { name: 'secure.test.', type: 'DS', verdict: 'secure', what: 'DS RRset from the parent' },
  { name: 'www.nsec3.test.', type: 'A', verdict: 'secure', what: 'secure positive (NSEC3 zone)' },
  { name: 'nope.nsec3.test.', type: 'A', verdict: 'secure', what: 'secure NXDOMAIN (NSEC3 closest encloser)' },
  { name: 'www.nsec3.test.', type: 'AAAA', verdict: 'secure', what: 'secure NODATA (NSEC3)' },
  { name: 'b.ent.nsec3.test.', type: 'A', verdict: 'secure', what: 'secure NODATA at an empty non-terminal (NSEC3)' },
  { name: 'x.wild.nsec3.test.', type: 'TXT', verdict: 'secure', what: 'wildcard expansion (NSEC3 next closer)' },
  { name: 'x.wild.nsec3.test.', type: 'A', verdict: 'secure', what: 'wildcard NODATA (NSEC3)' },
  { name: 'alias.nsec3.test.', type: 'A', verdict: 'secure', what: 'CNAME inside an NSEC3 zone' },
  { name: 'www.optout.test.', type: 'A', verdict: 'secure', what: 'positive answer in an Opt-Out zone' },
  { name: 'www.unsigned.optout.test.', type: 'A', verdict: 'insecure', what: 'unsigned delegation under NSEC3 Opt-Out' },
  {
    name: 'unsigned.optout.test.',
    type: 'DS',
    verdict: 'insecure',
    what: 'DS denial by an Opt-Out span',
    delv: {
      verdict: 'secure',
      why: OPT_OUT_AD,
    },
  },
  { name: 'www.insecure.test.', type: 'A', verdict: 'insecure', what: 'insecure delegation (no DS, NSEC proof)' },
  { name: 'www.island.insecure.test.', type: 'A', verdict: 'insecure', what: 'a signed zone below an unsigned one, without its own anchor' },
  {
    name: 'nope.optout.test.',
    type: 'A',
    verdict: 'insecure',
    what: 'NXDOMAIN whose next closer name is covered by an Opt-Out NSEC3',
    delv: { verdict: 'secure', why: OPT_OUT_AD },
  },
  { name: 'www.secure.test.', type: 'DS', verdict: 'secure', what: 'DS query at a name that is no zone cut (NSEC NODATA)' },
  { name: 'insecure.test.', type: 'DS', verdict: 'secure', what: 'proven absence of a DS (NSEC NODATA)' },
  { name: 'www.plain.nsec3tld.', type: 'A', verdict: 'insecure', what: 'insecure delegation (no DS, NSEC3 proof)' },
  { name: 'www.expired.test.', type: 'A', verdict: 'bogus', ede: 7, what: 'expired signatures' },
  { name: 'www.notyet.test.', type: 'A', verdict: 'bogus', ede: 8, what: 'signatures not yet valid' },
  { name: 'www.nosig.test.', type: 'A', verdict: 'bogus', ede: 10, what: 'a missing RRSIG' },
  { name: 'www.wrongkey.test.', type: 'A', verdict: 'bogus', ede: 9, what: 'data signed by a key that is not published' },
  { name: 'www.dsmismatch.test.', type: 'A', verdict: 'bogus', ede: 9, what: 'a DS that matches no DNSKEY' },
  { name: 'www.dsa.test.', type: 'A', verdict: 'insecure', ede: 1, what: 'only an algorithm neither validator implements (DSA, 3)' },
  { name: 'www.sha384.test.', type: 'A', verdict: 'secure', what: 'a SHA-384 DS (digest type 4)' },
  { name: 'www.sha1.test.', type: 'A', verdict: 'secure', what: 'a SHA-1 DS only (digest type 1, still to be validated: RFC 8624 §3.3)' },
  { name: 'www.gost.test.', type: 'A', verdict: 'insecure', ede: 2, what: 'only a DS digest type neither validator implements (GOST, 3)' },
  { name: 'nope.iter.test.', type: 'A', verdict: 'insecure', ede: 27, what: 'NSEC3 iterations (200) above the limit' },
  { name: 'www.ed448.test.', type: 'A', verdict: 'secure', what: 'Ed448 (16)' },
  { name: 'www.rsa.test.', type: 'A', verdict: 'secure', what: 'RSASHA512 (10)' },
  { name: 'www.p384.test.', type: 'A', verdict: 'secure', what: 'ECDSA P-384 (14)' },
  { name: 'www.ed25519.test.', type: 'A', verdict: 'secure', what: 'Ed25519 (15)' },
  { name: 'www.rsasha1.test.', type: 'A', verdict: 'secure', what: 'RSASHA1 (5): retired for signing (RFC 9905), still validated (RFC 8624 §3.1)' },
  { name: 'www.sha1nsec3.test.', type: 'A', verdict: 'secure', what: 'RSASHA1-NSEC3-SHA1 (7), positive' },
  { name: 'nope.sha1nsec3.test.', type: 'A', verdict: 'secure', what: 'RSASHA1-NSEC3-SHA1 (7), NXDOMAIN (NSEC3)' },
  { name: 'ok.keytrap.test.', type: 'A', verdict: 'secure', what: 'a good answer from the KeyTrap zone (its key set validates)' },
  { name: 'trap.keytrap.test.', type: 'A', verdict: 'bogus', what: 'KeyTrap: colliding key tags and many bad signatures' },
  { name: 'www.keytrap-keys.test.', type: 'A', verdict: 'bogus', what: 'KeyTrap on the key set: many bad signatures over the DNSKEY RRset' },
];
