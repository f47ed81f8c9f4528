/**
 * What of a server's response may be believed (RFC 2181 §5.4.1, and what Unbound's scrubber
 * does): only records inside the bailiwick of the zone the server was asked as, only the
 * answer RRsets on the CNAME/DNAME chain from the question, and in the additional section only
 * the addresses of NS names this response delegates to or lists. Everything else is dropped
 * before anything is cached or served, and counted.
 */

import { RRType } from '../dns/rr-types.js';
import { isSubdomain, nameEquals, parentName } from '../dns/wire.js';
import type { ParsedResponse, RRset } from './message.js';
import { nameKey, rdataName, substitute } from './names.js';

export interface Scrubbed {
  answer: RRset[];
  authority: RRset[];
  /** A and AAAA RRsets for NS names of this response, inside the bailiwick. */
  additional: RRset[];
  /** Records left out. */
  dropped: number;
}

const count = (sets: RRset[]) => sets.reduce((n, s) => n + s.rdatas.length + s.sigs.length, 0);

/** Keeps what `zone`'s server may speak for. The root's servers may speak for every name. */
export function scrub(resp: ParsedResponse, zone: Uint8Array): Scrubbed {
  const inside = (s: RRset) => isSubdomain(s.owner, zone);
  const [an, ns, ar] = resp.sections;
  const answer = an.filter(inside);
  const authority = ns.filter(inside);
  const nsNames = new Set<string>();
  for (const s of [...answer, ...authority]) {
    if (s.type !== RRType.NS) continue;
    for (const r of s.rdatas) nsNames.add(nameKey(rdataName(r)));
  }
  const additional = ar.filter(
    (s) => (s.type === RRType.A || s.type === RRType.AAAA) && inside(s) && nsNames.has(nameKey(s.owner)),
  );
  const dropped = count(an) - count(answer) + count(ns) - count(authority) + count(ar) - count(additional);
  return { answer, authority, additional, dropped };
}

export interface Link {
  set: RRset;
  /** A CNAME made from a DNAME (RFC 6672 §3.4); it is served, never cached. */
  synthesized: boolean;
}

export interface Chain {
  /** The CNAME and DNAME RRsets (and CNAMEs synthesized from DNAMEs) from the question on. */
  links: Link[];
  /** The RRsets that answer the last name (one for a type, all at the name for ANY). */
  final: RRset[];
  /** The last name of the chain (the question's when there is no link). */
  name: Uint8Array;
  /** A DNAME substitution came out longer than 255 octets. */
  yxdomain: boolean;
  /** The chain came back to a name already in it. */
  loop: boolean;
}

/**
 * Follows the question through the answer section: a DNAME at an ancestor of the current name
 * first (it takes precedence, and the CNAME a server synthesizes from it is made again here
 * rather than believed), then a CNAME at the name, until an RRset of the type asked is found
 * or nothing more matches. Answer RRsets off the chain are not part of the answer.
 */
export function followChain(answer: RRset[], qname: Uint8Array, qtype: number): Chain {
  const links: Link[] = [];
  let name = qname;
  const seen: Uint8Array[] = [qname];
  for (let i = 0; i < 64; i++) {
    const here = answer.filter((s) => nameEquals(s.owner, name));
    const final = qtype === RRType.ANY ? here.filter((s) => s.type !== RRType.RRSIG) : here.filter((s) => s.type === qtype);
    if (final.length > 0) return { links, final, name, yxdomain: false, loop: false };
    const dname =
      qtype === RRType.DNAME
        ? undefined
        : answer.find((s) => s.type === RRType.DNAME && !nameEquals(s.owner, name) && isSubdomain(name, s.owner));
    let next: Uint8Array | null = null;
    if (dname) {
      links.push({ set: dname, synthesized: false });
      const target = substitute(name, dname.owner, rdataName(dname.rdatas[0]!));
      if (!target) return { links, final: [], name, yxdomain: true, loop: false };
      const cname: RRset = {
        owner: name, type: RRType.CNAME, class: dname.class, ttl: dname.ttl, rdatas: [target], sigs: [], sigTtl: 0,
      };
      links.push({ set: cname, synthesized: true });
      if (qtype === RRType.CNAME) return { links, final: [], name, yxdomain: false, loop: false };
      next = target;
    } else if (qtype !== RRType.CNAME) {
      const cname = here.find((s) => s.type === RRType.CNAME);
      if (!cname) break;
      links.push({ set: cname, synthesized: false });
      next = rdataName(cname.rdatas[0]!);
    } else {
      break;
    }
    if (seen.some((n) => nameEquals(n, next!))) return { links, final: [], name: next, yxdomain: false, loop: true };
    seen.push(next);
    name = next;
  }
  return { links, final: [], name, yxdomain: false, loop: false };
}

/** The deepest NS RRset in `authority` strictly below `zone` and at or above `name` (strictly above for DS). */
export function referralTo(authority: RRset[], zone: Uint8Array, name: Uint8Array, ds: boolean): RRset | null {
  let best: RRset | null = null;
  const limit = ds && name.length > 1 ? parentName(name) : name;
  for (const s of authority) {
    if (s.type !== RRType.NS || nameEquals(s.owner, zone) || !isSubdomain(s.owner, zone) || !isSubdomain(limit, s.owner)) continue;
    if (!best || s.owner.length > best.owner.length) best = s;
  }
  return best;
}

/** The SOA in `authority` whose zone holds `name`. */
export function soaFor(authority: RRset[], name: Uint8Array): RRset | null {
  return authority.find((s) => s.type === RRType.SOA && isSubdomain(name, s.owner)) ?? null;
}

/** NSEC and NSEC3 RRsets (with their RRSIGs) of the authority section: DNSSEC denial and wildcard proofs. */
export function proofsIn(authority: RRset[]): RRset[] {
  return authority.filter((s) => s.type === RRType.NSEC || s.type === RRType.NSEC3);
}
