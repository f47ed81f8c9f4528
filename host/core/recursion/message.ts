/**
 * Responses from authoritative servers, parsed into RRsets (names uncompressed, RDATA names
 * expanded where RFC 3597 §4 lets a sender compress them, RRSIGs kept beside the RRset they
 * cover), and the response the iterator builds for its caller, with owner names compressed.
 */

import { RRType, isMetaType } from '../dns/rr-types.js';
import {
  FLAG_AA, FLAG_QR, FLAG_TC, HEADER_LEN, WireError, put16, put32, readHeader, readName, u16, u32, type Question,
} from '../dns/wire.js';
import { sameBytes } from '../dns/bytes.js';
import { rdataFromMessage } from '../zone/rdata-wire.js';
import { nameKey } from './names.js';

export type Section = 0 | 1 | 2;

/** One RRset (records of one owner, type and class in one section), its signatures beside it. */
export interface RRset {
  owner: Uint8Array;
  type: number;
  class: number;
  /** The smallest TTL of its records (RFC 2181 §5.2), seconds. */
  ttl: number;
  rdatas: Uint8Array[];
  /** RDATA of the RRSIG records covering this RRset. */
  sigs: Uint8Array[];
  /** The smallest TTL of those RRSIG records. */
  sigTtl: number;
}

export interface ParsedResponse {
  id: number;
  flags: number;
  /** The full rcode: the header's four bits and the OPT record's upper eight. */
  rcode: number;
  aa: boolean;
  tc: boolean;
  question: Question | null;
  /** Answer, authority and additional RRsets; RRSIGs sit in `sigs` of the RRset they cover. */
  sections: [RRset[], RRset[], RRset[]];
  /** The OPT record, when the server sent one (it speaks EDNS). */
  edns: { udpSize: number; flags: number; version: number } | null;
}

/** The type an RRSIG RDATA covers (its first two octets). */
export function typeCovered(rdata: Uint8Array): number {
  return rdata.length >= 2 ? u16(rdata, 0) : 0;
}

/**
 * Parses a response into RRsets. Throws WireError when it is malformed (a record that does not
 * fit, a name that does not decode, RDATA of a known type that a compressed name breaks).
 * Records of a class other than the question's are dropped here; they have no place in an IN answer.
 */
export function parseResponse(msg: Uint8Array): ParsedResponse {
  const h = readHeader(msg);
  let p = HEADER_LEN;
  let question: Question | null = null;
  for (let i = 0; i < h.qdcount; i++) {
    const { name, end } = readName(msg, p);
    if (end + 4 > msg.length) throw new WireError('truncated question', end);
    if (i === 0) question = { name, type: u16(msg, end), class: u16(msg, end + 2) };
    p = end + 4;
  }
  const sections: [RRset[], RRset[], RRset[]] = [[], [], []];
  const counts = [h.ancount, h.nscount, h.arcount];
  let edns: ParsedResponse['edns'] = null;
  let extended = 0;
  for (let s = 0; s < 3; s++) {
    const sets = new Map<string, RRset>();
    const sigs: Array<{ owner: Uint8Array; covered: number; ttl: number; rdata: Uint8Array }> = [];
    for (let i = 0; i < counts[s]!; i++) {
      const { name: owner, end } = readName(msg, p);
      if (end + 10 > msg.length) throw new WireError('truncated resource record', end);
      const type = u16(msg, end);
      const cls = u16(msg, end + 2);
      const ttl = u32(msg, end + 4);
      const rdlength = u16(msg, end + 8);
      const rdOff = end + 10;
      if (rdOff + rdlength > msg.length) throw new WireError('RDATA runs past the end of the message', end);
      p = rdOff + rdlength;
      if (type === RRType.OPT) {
        if (s !== 2 || edns) throw new WireError('misplaced or repeated OPT record', end);
        edns = { udpSize: cls, flags: ttl & 0xffff, version: (ttl >>> 16) & 0xff };
        extended = (ttl >>> 24) & 0xff;
        continue;
      }
      if (question && cls !== question.class) continue;
      const rdata = rdataFromMessage(type, msg, rdOff, rdlength);
      if (!rdata) throw new WireError(`malformed ${type} RDATA`, rdOff);
      // RFC 2181 §8: a TTL with the top bit set is read as zero.
      const t = ttl > 0x7fffffff ? 0 : ttl;
      if (type === RRType.RRSIG) {
        sigs.push({ owner, covered: typeCovered(rdata), ttl: t, rdata });
        continue;
      }
      if (isMetaType(type)) continue;
      const key = `${nameKey(owner)}|${type}`;
      const set = sets.get(key);
      if (set) {
        set.ttl = Math.min(set.ttl, t);
        if (!set.rdatas.some((r) => sameBytes(r, rdata))) set.rdatas.push(rdata);
      } else {
        sets.set(key, { owner, type, class: cls, ttl: t, rdatas: [rdata], sigs: [], sigTtl: 0 });
      }
    }
    for (const sig of sigs) {
      const key = `${nameKey(sig.owner)}|${sig.covered}`;
      let set = sets.get(key);
      // A signature without its RRset (an RRSIG query, or a server that split them) stays an RRSIG set.
      if (!set) {
        const own = `${nameKey(sig.owner)}|${RRType.RRSIG}`;
        set = sets.get(own);
        if (!set) {
          set = { owner: sig.owner, type: RRType.RRSIG, class: question?.class ?? 1, ttl: sig.ttl, rdatas: [], sigs: [], sigTtl: 0 };
          sets.set(own, set);
        }
        set.ttl = Math.min(set.ttl, sig.ttl);
        set.rdatas.push(sig.rdata);
        continue;
      }
      set.sigTtl = set.sigs.length === 0 ? sig.ttl : Math.min(set.sigTtl, sig.ttl);
      set.sigs.push(sig.rdata);
    }
    sections[s] = [...sets.values()];
  }
  return {
    id: h.id,
    flags: h.flags,
    rcode: (extended << 4) | h.rcode,
    aa: (h.flags & FLAG_AA) !== 0,
    tc: (h.flags & FLAG_TC) !== 0,
    question,
    sections,
    edns,
  };
}

/** One record to write: RRsets are written as records, their RRSIGs after them when asked. */
export interface OutRecord {
  owner: Uint8Array;
  type: number;
  class: number;
  ttl: number;
  rdata: Uint8Array;
}

/** The records of an RRset with its TTL, and its RRSIGs (with theirs) when `withSigs`. */
export function recordsOf(set: RRset, ttl: number, withSigs: boolean): OutRecord[] {
  const out: OutRecord[] = set.rdatas.map((rdata) => ({ owner: set.owner, type: set.type, class: set.class, ttl, rdata }));
  if (withSigs) for (const rdata of set.sigs) out.push({ owner: set.owner, type: RRType.RRSIG, class: set.class, ttl, rdata });
  return out;
}

/**
 * Writes a response: header with `flags` (QR is always set) and `rcode`, the question as given
 * (its spelling kept), then the three sections. Owner names are compressed against earlier
 * names; RDATA is written as stored (uncompressed).
 */
export function buildResponse(q: Question, flags: number, rcode: number, sections: [OutRecord[], OutRecord[], OutRecord[]]): Uint8Array {
  let size = HEADER_LEN + q.name.length + 4;
  for (const s of sections) for (const r of s) size += r.owner.length + 10 + r.rdata.length;
  const out = new Uint8Array(size);
  put16(out, 2, FLAG_QR | (flags & ~0x000f & 0xffff) | (rcode & 0xf));
  put16(out, 4, 1);
  put16(out, 6, sections[0].length);
  put16(out, 8, sections[1].length);
  put16(out, 10, sections[2].length);
  const known = new Map<string, number>();
  let o = HEADER_LEN;
  const writeName = (name: Uint8Array): void => {
    let i = 0;
    while (i < name.length && name[i] !== 0) {
      const key = nameKey(name.subarray(i));
      const at = known.get(key);
      if (at !== undefined) {
        put16(out, o, 0xc000 | at);
        o += 2;
        return;
      }
      if (o < 0x4000) known.set(key, o);
      const l = name[i]!;
      out.set(name.subarray(i, i + l + 1), o);
      o += l + 1;
      i += l + 1;
    }
    out[o++] = 0;
  };
  writeName(q.name);
  put16(out, o, q.type);
  put16(out, o + 2, q.class);
  o += 4;
  for (const s of sections) {
    for (const r of s) {
      writeName(r.owner);
      put16(out, o, r.type);
      put16(out, o + 2, r.class);
      put32(out, o + 4, r.ttl);
      put16(out, o + 8, r.rdata.length);
      out.set(r.rdata, o + 10);
      o += 10 + r.rdata.length;
    }
  }
  return out.slice(0, o);
}
