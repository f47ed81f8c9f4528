/**
 * A response as the validator sees it: the question, the rcode, and each section as RRsets
 * (owner, type, class) with the RRSIGs that cover them (same owner and section). Names come
 * out uncompressed, RDATA with the names RFC 3597 §4 lets a sender compress expanded, so the
 * canonical form of RFC 4034 §6 can be built from them. The message itself is not changed.
 */

import { RRType } from '../dns/rr-types.js';
import { HEADER_LEN, readHeader, readName, u16, walkRecords, WireError } from '../dns/wire.js';
import { compareBytes } from '../dns/bytes.js';
import { countLabels, lowerName } from '../dns/name.js';
import { canonicalRdata, rdataFromMessage } from '../zone/rdata-wire.js';
import { nameKey } from './names.js';

export interface RRset {
  /** Wire owner as sent (case kept) and lower-cased. */
  owner: Uint8Array;
  lower: Uint8Array;
  labels: number;
  type: number;
  cls: number;
  /** The smallest TTL among its records. */
  ttl: number;
  /** RDATA, names decompressed, duplicates dropped, in message order. */
  rdatas: Uint8Array[];
  /** RDATA of the RRSIGs over this RRset. */
  sigs: Uint8Array[];
  section: 0 | 1 | 2;
}

export interface Response {
  id: number;
  flags: number;
  rcode: number;
  qname: Uint8Array | null;
  qtype: number;
  qclass: number;
  answer: RRset[];
  authority: RRset[];
  additional: RRset[];
}

/** Parses `msg`; throws WireError when it is not a well-formed message. */
export function parseResponse(msg: Uint8Array): Response {
  const header = readHeader(msg);
  const { records } = walkRecords(msg, header);
  let qname: Uint8Array | null = null;
  let qtype = 0;
  let qclass = 0;
  if (header.qdcount === 1) {
    const q = readName(msg, HEADER_LEN);
    qname = q.name;
    qtype = u16(msg, q.end);
    qclass = u16(msg, q.end + 2);
  }
  const sections: [RRset[], RRset[], RRset[]] = [[], [], []];
  const index = new Map<string, RRset>();
  const sigs: Array<{ key: string; rdata: Uint8Array }> = [];
  const seen = new Set<string>();
  for (const r of records) {
    if (r.type === RRType.OPT) continue;
    const owner = readName(msg, r.nameOffset).name;
    const lower = lowerName(owner);
    const rdata = rdataFromMessage(r.type, msg, r.rdataOffset, r.rdlength);
    if (!rdata) throw new WireError(`malformed ${r.type} RDATA`, r.rdataOffset);
    if (r.type === RRType.RRSIG) {
      if (rdata.length < 2) continue;
      sigs.push({ key: `${r.section}|${u16(rdata, 0)}|${r.class}|${nameKey(lower)}`, rdata });
      continue;
    }
    const key = `${r.section}|${r.type}|${r.class}|${nameKey(lower)}`;
    let set = index.get(key);
    if (!set) {
      set = { owner, lower, labels: countLabels(lower), type: r.type, cls: r.class, ttl: r.ttl, rdatas: [], sigs: [], section: r.section };
      index.set(key, set);
      sections[r.section].push(set);
    }
    if (r.ttl < set.ttl) set.ttl = r.ttl;
    const rrKey = `${key}|${nameKey(canonicalRdata(r.type, rdata))}`;
    if (!seen.has(rrKey)) {
      seen.add(rrKey);
      set.rdatas.push(rdata);
    }
  }
  for (const s of sigs) index.get(s.key)?.sigs.push(s.rdata);
  return {
    id: header.id,
    flags: header.flags,
    rcode: header.rcode,
    qname,
    qtype,
    qclass,
    answer: sections[0],
    authority: sections[1],
    additional: sections[2],
  };
}

/** The RRset's RDATA in canonical form and canonical order (RFC 4034 §6.2, §6.3). */
export function canonicalRdatas(set: RRset): Uint8Array[] {
  return set.rdatas.map((d) => canonicalRdata(set.type, d)).sort(compareBytes);
}
