/**
 * DNS wire format, parsed only as far as a resolver needs to route, cache and answer: header,
 * question, EDNS(0), and the offsets of every RR (for TTL rewriting). RDATA is never decoded
 * here, so an RR type nobody has heard of passes through untouched.
 */

import { RRType } from './rr-types.js';

export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(message: string, readonly offset = -1) {
    super(offset >= 0 ? `${message} at offset ${offset}` : message);
  }
}

export const HEADER_LEN = 12;
export const MAX_NAME_LEN = 255;
export const MAX_LABEL_LEN = 63;

// Header flag bits (second 16-bit word).
export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;
export const EDNS_FLAG_DO = 0x8000;

export const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const u32 = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

export interface Header {
  id: number;
  flags: number;
  opcode: number;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export function readHeader(msg: Uint8Array): Header {
  if (msg.length < HEADER_LEN) throw new WireError(`message of ${msg.length} bytes is shorter than a header`);
  const flags = u16(msg, 2);
  return {
    id: u16(msg, 0),
    flags,
    opcode: (flags >>> 11) & 0xf,
    rcode: flags & 0xf,
    qdcount: u16(msg, 4),
    ancount: u16(msg, 6),
    nscount: u16(msg, 8),
    arcount: u16(msg, 10),
  };
}

/**
 * Reads a possibly compressed name starting at `off`. Returns the uncompressed wire form and the
 * offset just past the name in the message. Pointers must point backwards (so loops cannot
 * happen) and the result is capped at 255 octets.
 */
const nameScratch = new Uint8Array(MAX_NAME_LEN);

export function readName(msg: Uint8Array, off: number): { name: Uint8Array; end: number } {
  const out = nameScratch;
  let len = 0;
  let pos = off;
  let end = -1;
  let limit = off; // a pointer must land strictly before the last place we jumped from
  for (;;) {
    if (pos >= msg.length) throw new WireError('name runs past the end of the message', pos);
    const b = msg[pos]!;
    if ((b & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) throw new WireError('truncated compression pointer', pos);
      const target = ((b & 0x3f) << 8) | msg[pos + 1]!;
      if (end < 0) end = pos + 2;
      if (target >= limit) throw new WireError('compression pointer does not point backwards', pos);
      limit = target;
      pos = target;
      continue;
    }
    if ((b & 0xc0) !== 0) throw new WireError(`unsupported label type 0x${b.toString(16)}`, pos);
    if (len + b + 1 > MAX_NAME_LEN) throw new WireError('name longer than 255 octets', pos);
    if (pos + 1 + b > msg.length) throw new WireError('label runs past the end of the message', pos);
    // Byte by byte: a subarray per label costs more than the copy for names this short.
    for (let i = 0; i <= b; i++) out[len + i] = msg[pos + i]!;
    len += b + 1;
    pos += b + 1;
    if (b === 0) break;
  }
  return { name: out.slice(0, len), end: end < 0 ? pos : end };
}

/** Offset just past a (possibly compressed) name, without copying it. */
export function skipName(msg: Uint8Array, off: number): number {
  let pos = off;
  let total = 0;
  for (;;) {
    if (pos >= msg.length) throw new WireError('name runs past the end of the message', pos);
    const b = msg[pos]!;
    if ((b & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) throw new WireError('truncated compression pointer', pos);
      return pos + 2;
    }
    if ((b & 0xc0) !== 0) throw new WireError(`unsupported label type 0x${b.toString(16)}`, pos);
    total += b + 1;
    if (total > MAX_NAME_LEN) throw new WireError('name longer than 255 octets', pos);
    pos += b + 1;
    if (b === 0) return pos;
  }
}

/** Lower-cases ASCII letters of a wire-form name in a copy (RFC 4034 §6.2 canonical form). */
export function lowerName(name: Uint8Array): Uint8Array {
  const out = new Uint8Array(name.length);
  let i = 0;
  while (i < name.length) {
    const l = name[i]!;
    out[i] = l;
    for (let j = 1; j <= l; j++) {
      const c = name[i + j]!;
      out[i + j] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
    }
    i += l + 1;
    if (l === 0) break;
  }
  return out;
}

function isPlain(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f ||
    c === 0x2a || c === 0x2f
  );
}

/** Presentation form of a wire-form name, fully qualified, with RFC 1035 §5.1 escapes. */
export function nameToText(name: Uint8Array): string {
  if (name.length <= 1) return '.';
  let s = '';
  let i = 0;
  while (i < name.length) {
    const l = name[i]!;
    if (l === 0) break;
    for (let j = 1; j <= l; j++) {
      const c = name[i + j]!;
      if (isPlain(c)) s += String.fromCharCode(c);
      else if (c > 0x20 && c < 0x7f) s += '\\' + String.fromCharCode(c);
      else s += '\\' + c.toString().padStart(3, '0');
    }
    s += '.';
    i += l + 1;
  }
  return s;
}

/**
 * Wire form of a presentation-format name. Relative names are made absolute against `origin`
 * (itself in wire form); `@` is the origin. Throws WireError on bad escapes or lengths.
 */
export function textToName(text: string, origin?: Uint8Array): Uint8Array {
  if (text === '@') {
    if (!origin) throw new WireError('"@" used without an origin');
    return origin;
  }
  if (text === '.') return new Uint8Array([0]);
  const labels: number[][] = [];
  let cur: number[] = [];
  let absolute = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x5c /* \ */) {
      const next = text.charCodeAt(i + 1);
      if (Number.isNaN(next)) throw new WireError(`dangling escape in name "${text}"`);
      if (next >= 0x30 && next <= 0x39) {
        const digits = text.slice(i + 1, i + 4);
        if (!/^\d{3}$/.test(digits)) throw new WireError(`bad \\DDD escape in name "${text}"`);
        const v = Number(digits);
        if (v > 255) throw new WireError(`\\${digits} is above 255 in name "${text}"`);
        cur.push(v);
        i += 3;
      } else {
        cur.push(next);
        i += 1;
      }
      continue;
    }
    if (ch === 0x2e /* . */) {
      if (cur.length === 0) throw new WireError(`empty label in name "${text}"`);
      labels.push(cur);
      cur = [];
      if (i === text.length - 1) absolute = true;
      continue;
    }
    if (ch > 0xff) throw new WireError(`non-ASCII character in name "${text}"`);
    cur.push(ch);
  }
  if (cur.length > 0) labels.push(cur);
  let size = 1;
  for (const l of labels) {
    if (l.length > MAX_LABEL_LEN) throw new WireError(`label longer than 63 octets in name "${text}"`);
    size += l.length + 1;
  }
  const suffix = absolute ? new Uint8Array([0]) : origin;
  if (!suffix) throw new WireError(`relative name "${text}" without an origin`);
  size += suffix.length - 1;
  if (size > MAX_NAME_LEN) throw new WireError(`name "${text}" is longer than 255 octets`);
  const out = new Uint8Array(size);
  let o = 0;
  for (const l of labels) {
    out[o++] = l.length;
    out.set(l, o);
    o += l.length;
  }
  out.set(suffix, o);
  return out;
}

export function nameEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a[i]!;
    let y = b[i]!;
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}

/** Number of labels (the root has 0). */
export function labelCount(name: Uint8Array): number {
  let n = 0;
  let i = 0;
  while (i < name.length && name[i] !== 0) {
    n++;
    i += name[i]! + 1;
  }
  return n;
}

export interface Question {
  /** Wire form as the client sent it (case preserved). */
  name: Uint8Array;
  type: number;
  class: number;
}

export interface EdnsOption {
  code: number;
  data: Uint8Array;
}

export interface Edns {
  udpSize: number;
  extendedRcode: number;
  version: number;
  flags: number;
  options: EdnsOption[];
  /** Offset of the OPT RR's owner name in the message. */
  offset: number;
}

export interface ParsedQuery {
  header: Header;
  question: Question | null;
  /** Offset just past the question section. */
  questionEnd: number;
  edns: Edns | null;
}

export function parseEdnsRdata(rdata: Uint8Array): EdnsOption[] {
  const options: EdnsOption[] = [];
  let p = 0;
  while (p < rdata.length) {
    if (p + 4 > rdata.length) throw new WireError('truncated EDNS option header', p);
    const code = u16(rdata, p);
    const len = u16(rdata, p + 2);
    if (p + 4 + len > rdata.length) throw new WireError(`EDNS option ${code} runs past its RDATA`, p);
    options.push({ code, data: rdata.slice(p + 4, p + 4 + len) });
    p += 4 + len;
  }
  return options;
}

export interface RecordRef {
  section: 0 | 1 | 2; // answer, authority, additional
  nameOffset: number;
  type: number;
  class: number;
  ttl: number;
  ttlOffset: number;
  rdataOffset: number;
  rdlength: number;
  end: number;
}

/** Walks every RR after the question section; validates lengths as it goes. */
export function walkRecords(msg: Uint8Array, header: Header = readHeader(msg)): {
  questionEnd: number;
  records: RecordRef[];
} {
  let p = HEADER_LEN;
  for (let i = 0; i < header.qdcount; i++) {
    p = skipName(msg, p);
    if (p + 4 > msg.length) throw new WireError('truncated question', p);
    p += 4;
  }
  const questionEnd = p;
  const records: RecordRef[] = [];
  const counts = [header.ancount, header.nscount, header.arcount];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]!; i++) {
      const nameOffset = p;
      p = skipName(msg, p);
      if (p + 10 > msg.length) throw new WireError('truncated resource record', p);
      const rdlength = u16(msg, p + 8);
      const rdataOffset = p + 10;
      if (rdataOffset + rdlength > msg.length) throw new WireError('RDATA runs past the end of the message', p);
      records.push({
        section: s as 0 | 1 | 2,
        nameOffset,
        type: u16(msg, p),
        class: u16(msg, p + 2),
        ttl: u32(msg, p + 4),
        ttlOffset: p + 4,
        rdataOffset,
        rdlength,
        end: rdataOffset + rdlength,
      });
      p = rdataOffset + rdlength;
    }
  }
  return { questionEnd, records };
}

/**
 * Parses what a server needs from a query: header, the (single) question and EDNS. Throws
 * WireError when the message cannot be parsed at all; a message with QDCOUNT != 1 is returned
 * with `question: null` so the caller can answer FORMERR with the right ID.
 */
export function parseQuery(msg: Uint8Array): ParsedQuery {
  const header = readHeader(msg);
  const { questionEnd, records } = walkRecords(msg, header);
  let question: Question | null = null;
  if (header.qdcount === 1) {
    const { name, end } = readName(msg, HEADER_LEN);
    question = { name, type: u16(msg, end), class: u16(msg, end + 2) };
  }
  let edns: Edns | null = null;
  for (const r of records) {
    if (r.type !== RRType.OPT) continue;
    if (r.section !== 2) throw new WireError('OPT record outside the additional section', r.nameOffset);
    if (edns) throw new WireError('more than one OPT record', r.nameOffset);
    if (msg[r.nameOffset] !== 0) throw new WireError('OPT record owner is not the root', r.nameOffset);
    edns = {
      udpSize: r.class,
      extendedRcode: (r.ttl >>> 24) & 0xff,
      version: (r.ttl >>> 16) & 0xff,
      flags: r.ttl & 0xffff,
      options: parseEdnsRdata(msg.subarray(r.rdataOffset, r.end)),
      offset: r.nameOffset,
    };
  }
  return { header, question, questionEnd, edns };
}

/** Encodes a question section entry. */
export function encodeQuestion(q: Question): Uint8Array {
  const out = new Uint8Array(q.name.length + 4);
  out.set(q.name, 0);
  put16(out, q.name.length, q.type);
  put16(out, q.name.length + 2, q.class);
  return out;
}

/** Encodes an OPT RR (owner root). */
export function encodeOpt(udpSize: number, flags: number, options: EdnsOption[] = [], extendedRcode = 0): Uint8Array {
  let rdlen = 0;
  for (const o of options) rdlen += 4 + o.data.length;
  const out = new Uint8Array(11 + rdlen);
  out[0] = 0;
  put16(out, 1, RRType.OPT);
  put16(out, 3, udpSize);
  out[5] = extendedRcode;
  out[6] = 0; // version 0
  put16(out, 7, flags);
  put16(out, 9, rdlen);
  let p = 11;
  for (const o of options) {
    put16(out, p, o.code);
    put16(out, p + 2, o.data.length);
    out.set(o.data, p + 4);
    p += 4 + o.data.length;
  }
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface QueryOptions {
  id?: number;
  rd?: boolean;
  cd?: boolean;
  /** Add an OPT RR with this UDP payload size; omit for a plain DNS query. */
  udpSize?: number;
  do?: boolean;
  options?: EdnsOption[];
}

/** Builds a query message (used for upstream queries and probes). */
export function buildQuery(q: Question, opts: QueryOptions = {}): Uint8Array {
  const header = new Uint8Array(HEADER_LEN);
  put16(header, 0, opts.id ?? 0);
  put16(header, 2, (opts.rd === false ? 0 : FLAG_RD) | (opts.cd ? FLAG_CD : 0));
  put16(header, 4, 1);
  const parts: Uint8Array[] = [header, encodeQuestion(q)];
  if (opts.udpSize !== undefined) {
    put16(header, 10, 1);
    parts.push(encodeOpt(opts.udpSize, opts.do ? EDNS_FLAG_DO : 0, opts.options ?? []));
  }
  return concat(parts);
}

/**
 * A response carrying only header and question: for FORMERR, SERVFAIL, REFUSED, NOTIMP and
 * rule-made rcodes. The question is copied when it could be parsed.
 */
export function buildErrorResponse(
  query: Uint8Array,
  rcode: number,
  parsed?: Pick<ParsedQuery, 'question' | 'questionEnd' | 'header'> | null,
  opt?: Uint8Array,
): Uint8Array {
  const id = query.length >= 2 ? u16(query, 0) : 0;
  const qflags = query.length >= 4 ? u16(query, 2) : 0;
  const header = new Uint8Array(HEADER_LEN);
  put16(header, 0, id);
  // Keep opcode and RD, CD from the query; set QR and RA.
  put16(header, 2, FLAG_QR | (qflags & (0x7800 | FLAG_RD | FLAG_CD)) | FLAG_RA | (rcode & 0xf));
  const parts: Uint8Array[] = [header];
  if (parsed?.question) {
    put16(header, 4, 1);
    parts.push(encodeQuestion(parsed.question));
  }
  if (opt) {
    put16(header, 10, 1);
    parts.push(opt);
  }
  return concat(parts);
}

/**
 * Returns a copy of `msg` without its OPT RR (other records untouched, byte for byte). Used so a
 * cached upstream answer does not carry the upstream's EDNS state to a client.
 */
export function stripOpt(msg: Uint8Array): Uint8Array {
  const header = readHeader(msg);
  const { records } = walkRecords(msg, header);
  const opt = records.find((r) => r.type === RRType.OPT && r.section === 2);
  if (!opt) return msg.slice();
  const out = new Uint8Array(msg.length - (opt.end - opt.nameOffset));
  out.set(msg.subarray(0, opt.nameOffset), 0);
  out.set(msg.subarray(opt.end), opt.nameOffset);
  put16(out, 10, header.arcount - 1);
  return out;
}

/** Appends an OPT RR to a message that has none. */
export function appendOpt(msg: Uint8Array, opt: Uint8Array): Uint8Array {
  const out = concat([msg, opt]);
  put16(out, 10, u16(msg, 10) + 1);
  return out;
}

/**
 * Truncates a response for UDP (RFC 2181 §9, RFC 7766): keeps header and question, drops all
 * RRs, sets TC. The client retries over TCP. The OPT RR, when given, is kept so EDNS still
 * works on the retry.
 */
export function truncateResponse(msg: Uint8Array, questionEnd: number, opt?: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [msg.slice(0, questionEnd)];
  if (opt) parts.push(opt);
  const out = concat(parts);
  put16(out, 2, u16(out, 2) | FLAG_TC);
  put16(out, 6, 0);
  put16(out, 8, 0);
  put16(out, 10, opt ? 1 : 0);
  return out;
}

export function base64UrlDecode(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return null;
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  try {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

export function base64UrlEncode(b: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < b.length; i++) bin += String.fromCharCode(b[i]!);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}
