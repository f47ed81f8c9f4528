// A DNS message reader and writer, enough for apps: read the header and question, walk
// records, and build responses. Apps never add an OPT record: the host owns EDNS and adds its
// own when the client used it (docs/abi/v1.md, "Responses").

// Every RR type (TYPE_*), class (CLASS_*) and header rcode (RCODE_*) the host's table knows,
// generated from host/core/dns/rr-types.ts.
import { CLASS_IN, TYPE_A } from "./rrtypes.generated";
export * from "./rrtypes.generated";

export const FLAG_QR: u16 = 0x8000;
export const FLAG_AA: u16 = 0x0400;
export const FLAG_TC: u16 = 0x0200;
export const FLAG_RD: u16 = 0x0100;
export const FLAG_RA: u16 = 0x0080;
export const FLAG_AD: u16 = 0x0020;
export const FLAG_CD: u16 = 0x0010;

export const SECTION_ANSWER: i32 = 0;
export const SECTION_AUTHORITY: i32 = 1;
export const SECTION_ADDITIONAL: i32 = 2;

@inline
export function read16(b: Uint8Array, o: i32): u16 {
  return (<u16>unchecked(b[o]) << 8) | <u16>unchecked(b[o + 1]);
}

@inline
export function read32(b: Uint8Array, o: i32): u32 {
  return (<u32>unchecked(b[o]) << 24) | (<u32>unchecked(b[o + 1]) << 16) | (<u32>unchecked(b[o + 2]) << 8) | <u32>unchecked(b[o + 3]);
}

export function messageId(m: Uint8Array): u16 {
  return m.length >= 2 ? read16(m, 0) : 0;
}

export function messageFlags(m: Uint8Array): u16 {
  return m.length >= 4 ? read16(m, 2) : 0;
}

export function messageRcode(m: Uint8Array): u8 {
  return <u8>(messageFlags(m) & 0xf);
}

/** Offset just past a possibly compressed name, or -1 when it runs off the end. */
export function skipName(m: Uint8Array, off: i32): i32 {
  let p = off;
  let total = 0;
  while (p < m.length) {
    const b = <i32>unchecked(m[p]);
    if ((b & 0xc0) == 0xc0) return p + 2 <= m.length ? p + 2 : -1;
    if ((b & 0xc0) != 0) return -1;
    total += b + 1;
    if (total > 255) return -1;
    p += b + 1;
    if (b == 0) return p <= m.length ? p : -1;
  }
  return -1;
}

/** A record as found by RecordWalker: offsets into the message. */
export class RecordRef {
  section: i32 = 0;
  nameOffset: i32 = 0;
  type: u16 = 0;
  klass: u16 = 0;
  ttl: u32 = 0;
  rdataOffset: i32 = 0;
  rdlength: i32 = 0;
}

/** Walks the records of a message after its question section. */
export class RecordWalker {
  private pos: i32 = 12;
  private left: StaticArray<i32> = new StaticArray<i32>(3);
  private section: i32 = 0;
  readonly record: RecordRef = new RecordRef();
  ok: bool = true;

  constructor(private m: Uint8Array) {
    if (m.length < 12) {
      this.ok = false;
      return;
    }
    const qd = <i32>read16(m, 4);
    this.left[0] = <i32>read16(m, 6);
    this.left[1] = <i32>read16(m, 8);
    this.left[2] = <i32>read16(m, 10);
    for (let i = 0; i < qd; i++) {
      const e = skipName(m, this.pos);
      if (e < 0 || e + 4 > m.length) {
        this.ok = false;
        return;
      }
      this.pos = e + 4;
    }
  }

  /** Advances to the next record; false at the end or on a malformed message (see `ok`). */
  next(): bool {
    if (!this.ok) return false;
    while (this.section < 3 && this.left[this.section] == 0) this.section++;
    if (this.section >= 3) return false;
    this.left[this.section]--;
    const m = this.m;
    const r = this.record;
    r.section = this.section;
    r.nameOffset = this.pos;
    const e = skipName(m, this.pos);
    if (e < 0 || e + 10 > m.length) {
      this.ok = false;
      return false;
    }
    r.type = read16(m, e);
    r.klass = read16(m, e + 2);
    r.ttl = read32(m, e + 4);
    r.rdlength = <i32>read16(m, e + 8);
    r.rdataOffset = e + 10;
    if (r.rdataOffset + r.rdlength > m.length) {
      this.ok = false;
      return false;
    }
    this.pos = r.rdataOffset + r.rdlength;
    return true;
  }
}

/**
 * Builds a response to a query. The header's ID, opcode, RD and CD are taken from the query,
 * the question is copied as the client sent it; records are written uncompressed.
 */
export class ResponseWriter {
  private buf: Uint8Array;
  private len: i32 = 0;
  private counts: StaticArray<u16> = new StaticArray<u16>(3);
  private section: i32 = 0;
  /** The question name and class as the client sent them, the owner of `answer` records. */
  private qname: Uint8Array;
  private qclass: u16 = CLASS_IN;
  overflow: bool = false;

  constructor(query: Uint8Array, capacity: i32 = 4096) {
    this.buf = new Uint8Array(capacity);
    const qflags = messageFlags(query);
    const qEnd = skipName(query, 12);
    const qLen = qEnd < 0 || qEnd + 4 > query.length ? 0 : qEnd + 4 - 12;
    this.qname = qLen > 0 ? query.subarray(12, qEnd) : new Uint8Array(0);
    if (qLen > 0) this.qclass = read16(query, qEnd + 2);
    this.put16(messageId(query));
    this.put16(FLAG_QR | (qflags & (0x7800 | FLAG_RD | FLAG_CD)) | FLAG_RA);
    this.put16(qLen > 0 ? 1 : 0);
    this.put16(0);
    this.put16(0);
    this.put16(0);
    if (qLen > 0) this.putBytes(query.subarray(12, 12 + qLen));
  }

  setRcode(rcode: u8): ResponseWriter {
    const f = (read16(this.buf, 2) & 0xfff0) | <u16>(rcode & 0xf);
    this.set16(2, f);
    return this;
  }

  setFlag(flag: u16, on: bool = true): ResponseWriter {
    const f = read16(this.buf, 2);
    this.set16(2, on ? f | flag : f & ~flag);
    return this;
  }

  /** Appends a record to `section`; sections must be written in order. */
  add(section: i32, name: Uint8Array, type: u16, klass: u16, ttl: u32, rdata: Uint8Array): ResponseWriter {
    if (section < this.section) {
      this.overflow = true;
      return this;
    }
    this.section = section;
    this.putBytes(name);
    this.put16(type);
    this.put16(klass);
    this.put16(<u16>(ttl >>> 16));
    this.put16(<u16>(ttl & 0xffff));
    this.put16(<u16>rdata.length);
    this.putBytes(rdata);
    unchecked((this.counts[section] = this.counts[section] + 1));
    return this;
  }

  /**
   * Appends an answer record owned by the question name, in the question's class: the usual
   * shape of a local answer (`answer(TYPE_A, 300, ipv4("192.0.2.1")!)`).
   */
  answer(type: u16, ttl: u32, rdata: Uint8Array): ResponseWriter {
    if (this.qname.length == 0) {
      this.overflow = true;
      return this;
    }
    return this.add(SECTION_ANSWER, this.qname, type, this.qclass, ttl, rdata);
  }

  /** The finished message (a copy). */
  finish(): Uint8Array {
    this.set16(6, unchecked(this.counts[0]));
    this.set16(8, unchecked(this.counts[1]));
    this.set16(10, unchecked(this.counts[2]));
    return this.buf.slice(0, this.len);
  }

  private grow(n: i32): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private put16(v: u16): void {
    this.grow(2);
    unchecked((this.buf[this.len] = <u8>(v >> 8)));
    unchecked((this.buf[this.len + 1] = <u8>v));
    this.len += 2;
  }

  private set16(o: i32, v: u16): void {
    this.buf[o] = <u8>(v >> 8);
    this.buf[o + 1] = <u8>v;
  }

  private putBytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
}

/** A response with only an rcode (and the question): NXDOMAIN, REFUSED and the like. */
export function rcodeResponse(query: Uint8Array, rcode: u8): Uint8Array {
  return new ResponseWriter(query, 512).setRcode(rcode).finish();
}
