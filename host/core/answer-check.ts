/**
 * What an answer from outside (an upstream server) must pass before anything uses it: a full
 * parse (every owner name read with its compression pointers followed, every RDATA of a known
 * type checked field by field with its compressed names expanded, at most one OPT record and
 * only in the additional section with the root as owner), the full 12-bit rcode (RFC 6891 §6.1.3:
 * the upper eight bits live in the OPT record's TTL), and the bounds on the TTLs a client gets.
 */

import { RRType, Rcode } from './dns/rr-types.js';
import {
  HEADER_LEN, WireError, nameEquals, put32, readHeader, readName, u16, u32, walkRecords, type Question,
} from './dns/wire.js';
import { rdataFromMessage } from './zone/rdata-wire.js';

/**
 * Parses `msg` as a response in full and returns its full rcode. Throws WireError when any part
 * of it does not parse; the message is not changed.
 */
export function checkAnswer(msg: Uint8Array): number {
  const h = readHeader(msg);
  let p = HEADER_LEN;
  for (let i = 0; i < h.qdcount; i++) {
    p = readName(msg, p).end;
    if (p + 4 > msg.length) throw new WireError('truncated question', p);
    p += 4;
  }
  let extended = 0;
  let opt = false;
  const counts = [h.ancount, h.nscount, h.arcount];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]!; i++) {
      const start = p;
      p = readName(msg, p).end;
      if (p + 10 > msg.length) throw new WireError('truncated resource record', p);
      const type = u16(msg, p);
      const rdlength = u16(msg, p + 8);
      const rdOff = p + 10;
      if (rdOff + rdlength > msg.length) throw new WireError('RDATA runs past the end of the message', p);
      if (type === RRType.OPT) {
        if (s !== 2) throw new WireError('OPT record outside the additional section', start);
        if (opt) throw new WireError('more than one OPT record', start);
        if (msg[start] !== 0) throw new WireError('OPT record owner is not the root', start);
        opt = true;
        extended = msg[p + 4]!;
      } else if (!rdataFromMessage(type, msg, rdOff, rdlength)) {
        throw new WireError(`malformed RDATA of type ${type}`, rdOff);
      }
      p = rdOff + rdlength;
    }
  }
  return (extended << 4) | h.rcode;
}

/**
 * True when the CNAME chain the answer section draws from the question's name comes back to a
 * name it has passed (RFC 1034 §3.6.2: such a chain is an error, not an answer).
 */
export function cnameLoop(body: Uint8Array, q: Question): boolean {
  let records;
  try {
    records = walkRecords(body).records;
  } catch {
    return false;
  }
  const cnames: Array<{ owner: Uint8Array; target: Uint8Array }> = [];
  for (const r of records) {
    if (r.section !== 0 || r.type !== RRType.CNAME) continue;
    try {
      cnames.push({ owner: readName(body, r.nameOffset).name, target: readName(body, r.rdataOffset).name });
    } catch {
      return false;
    }
  }
  if (cnames.length === 0) return false;
  const seen: Uint8Array[] = [q.name];
  let at = q.name;
  for (let hops = 0; hops <= cnames.length; hops++) {
    const next = cnames.find((c) => nameEquals(c.owner, at));
    if (!next) return false;
    if (seen.some((n) => nameEquals(n, next.target))) return true;
    seen.push(next.target);
    at = next.target;
  }
  return true;
}

/** True for rcodes by which a server refuses to serve us rather than says the name failed. */
export function isRefusal(rcode: number): boolean {
  return rcode === Rcode.REFUSED || rcode === Rcode.NOTIMP || rcode === Rcode.FORMERR;
}

/**
 * Rewrites the TTLs of an answer (without OPT) in place, before it is cached or sent: a TTL with
 * the top bit set is 0 (RFC 2181 §8); no TTL is above `maxTtl`; in a negative answer (NXDOMAIN,
 * or NOERROR with an empty answer section) the SOA's TTL becomes min(SOA TTL, SOA MINIMUM),
 * capped at `maxNegativeTtl` (RFC 2308 §5), because that is how long the denial may be kept.
 */
export function boundTtls(body: Uint8Array, maxTtl: number, maxNegativeTtl: number): void {
  const h = readHeader(body);
  const { records } = walkRecords(body, h);
  const negative = h.rcode === Rcode.NXDOMAIN || (h.rcode === Rcode.NOERROR && h.ancount === 0);
  for (const r of records) {
    if (r.type === RRType.OPT) continue;
    let ttl = r.ttl > 0x7fffffff ? 0 : r.ttl;
    if (negative && r.section === 1 && r.type === RRType.SOA && r.rdlength >= 22) {
      const minimum = u32(body, r.end - 4);
      ttl = Math.min(ttl, minimum > 0x7fffffff ? 0 : minimum, maxNegativeTtl);
    }
    ttl = Math.min(ttl, maxTtl);
    if (ttl !== r.ttl) put32(body, r.ttlOffset, ttl);
  }
}
