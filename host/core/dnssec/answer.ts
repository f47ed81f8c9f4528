/**
 * Shaping an answer for the client, once it is validated: the AD bit (set only on secure data
 * and only when the client asked, RFC 6840 §5.7–5.8; the caller decides, `setAuthenticData`
 * writes it) and, for a client that did not set DO, the DNSSEC records it must not see
 * (RFC 4035 §3.2.1): RRSIG, NSEC and NSEC3 in every section and DS in the authority section
 * (where it only serves a referral's proof), except the type the question asked for, so a
 * query for RRSIG, NSEC, NSEC3, DS or DNSKEY still gets its answer. Both return a copy (or the
 * message itself when nothing changes); the input is never written to.
 */

import { RRType } from '../dns/rr-types.js';
import { FLAG_AD, HEADER_LEN, put16, readHeader, readName, u16, walkRecords, type RecordRef } from '../dns/wire.js';
import { rdataFromMessage } from '../zone/rdata-wire.js';

const PROOF_TYPES = new Set<number>([RRType.RRSIG, RRType.NSEC, RRType.NSEC3]);

function dropped(r: RecordRef, qtype: number): boolean {
  if (r.type === qtype && r.section === 0) return false;
  if (PROOF_TYPES.has(r.type)) return true;
  return r.type === RRType.DS && r.section === 1;
}

/** `msg` without the DNSSEC records a DO=0 client must not get, for a question of type `qtype`. */
export function stripDnssec(msg: Uint8Array, qtype: number): Uint8Array {
  const header = readHeader(msg);
  const { questionEnd, records } = walkRecords(msg, header);
  if (!records.some((r) => dropped(r, qtype))) return msg;
  const out = new Writer(msg.length);
  out.bytes(msg.subarray(0, questionEnd));
  if (header.qdcount === 1) out.remember(readName(msg, HEADER_LEN).name, HEADER_LEN);
  const counts = [0, 0, 0];
  for (const r of records) {
    if (dropped(r, qtype)) continue;
    counts[r.section]!++;
    out.name(readName(msg, r.nameOffset).name);
    // type, class, TTL as they were; RDATA with its names decompressed (safe to move)
    out.bytes(msg.subarray(r.rdataOffset - 10, r.rdataOffset - 2));
    const rdata = r.type === RRType.OPT ? msg.subarray(r.rdataOffset, r.end) : rdataFromMessage(r.type, msg, r.rdataOffset, r.rdlength)!;
    out.u16(rdata.length);
    out.bytes(rdata);
  }
  const result = out.done();
  put16(result, 6, counts[0]!);
  put16(result, 8, counts[1]!);
  put16(result, 10, counts[2]!);
  return result;
}

/** A copy of `msg` with the AD bit set or cleared (`msg` itself when it already is). */
export function setAuthenticData(msg: Uint8Array, on: boolean): Uint8Array {
  const flags = u16(msg, 2);
  if (((flags & FLAG_AD) !== 0) === on) return msg;
  const out = msg.slice();
  put16(out, 2, on ? flags | FLAG_AD : flags & ~FLAG_AD);
  return out;
}

/** Appends to a growing buffer; owner names are compressed against names written before. */
class Writer {
  private buf: Uint8Array;
  private len = 0;
  private readonly names = new Map<string, number>();

  constructor(size: number) {
    this.buf = new Uint8Array(Math.max(512, size));
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  u16(v: number): void {
    this.room(2);
    put16(this.buf, this.len, v);
    this.len += 2;
  }

  /** Notes that `name` is written at `at`, so later names can point to it and its suffixes. */
  remember(name: Uint8Array, at: number): void {
    let p = 0;
    while (name[p] !== 0 && at + p < 0x3fff) {
      const key = suffixKey(name, p);
      if (!this.names.has(key)) this.names.set(key, at + p);
      p += name[p]! + 1;
    }
  }

  name(name: Uint8Array): void {
    let p = 0;
    const start = this.len;
    while (name[p] !== 0) {
      const at = this.names.get(suffixKey(name, p));
      if (at !== undefined) {
        this.bytes(name.subarray(0, p));
        this.u16(0xc000 | at);
        for (let q = 0; q < p && start + q < 0x3fff; q += name[q]! + 1) {
          const key = suffixKey(name, q);
          if (!this.names.has(key)) this.names.set(key, start + q);
        }
        return;
      }
      p += name[p]! + 1;
    }
    this.bytes(name);
    this.remember(name, start);
  }

  done(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Key of the suffix of `name` from label offset `p`; case kept, so a name keeps its case. */
function suffixKey(name: Uint8Array, p: number): string {
  let s = '';
  for (let i = p; i < name.length; i++) s += String.fromCharCode(name[i]!);
  return s;
}
