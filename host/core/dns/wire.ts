/**
 * DNS wire format, parsed only as far as a resolver needs to route, cache and answer: header,
 * question, EDNS(0), and the offsets of every RR (for TTL rewriting). RDATA is never decoded
 * here, so an RR type nobody has heard of passes through untouched.
 */

import { concat, transientBytes } from './bytes.js';
import { readName, skipName } from './name.js';
import { RRType } from './rr-types.js';
import { WireError } from './wire-error.js';

// Names and byte primitives have their own files; most callers reach them through this one.
export { WireError } from './wire-error.js';
export { base64UrlDecode, base64UrlEncode, concat, hex } from './bytes.js';
export {
  MAX_LABEL_LEN,
  MAX_NAME_LEN,
  countLabels,
  isSubdomain,
  lowerName,
  nameEquals,
  nameToText,
  parentName,
  readName,
  skipName,
  textToName,
} from './name.js';

export const HEADER_LEN = 12;

// Header flag bits (second 16-bit word).
export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;

export const EDNS_FLAG_DO = 0x8000;

/** The Extended DNS Error option (RFC 8914) and the codes this resolver sends. */
export const EDE_OPTION = 15;
export const EDE_STALE_ANSWER = 3;
export const EDE_PROHIBITED = 18;

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

/** The offset just past the question section. */
function skipQuestions(msg: Uint8Array, header: Header): number {
  let p = HEADER_LEN;
  for (let i = 0; i < header.qdcount; i++) {
    p = skipName(msg, p);
    if (p + 4 > msg.length) throw new WireError('truncated question', p);
    p += 4;
  }
  return p;
}

/** Walks every RR after the question section; validates lengths as it goes. */
export function walkRecords(msg: Uint8Array, header: Header = readHeader(msg)): {
  questionEnd: number;
  records: RecordRef[];
} {
  const questionEnd = skipQuestions(msg, header);
  let p = questionEnd;
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
 *
 * Every query goes through here, so it walks the records as walkRecords does (the same checks,
 * in the same order, with the same errors) without keeping a list of them: only OPT records are
 * looked at again, after the walk, as they were when they were picked from that list.
 */
export function parseQuery(msg: Uint8Array): ParsedQuery {
  const header = readHeader(msg);
  const questionEnd = skipQuestions(msg, header);
  let p = questionEnd;
  // The first OPT record (a query has at most one); any others only to report the first error.
  let optAt = -1;
  let more: number[] | null = null;
  const total = header.ancount + header.nscount + header.arcount;
  const additional = header.ancount + header.nscount;
  for (let i = 0; i < total; i++) {
    const nameOffset = p;
    p = skipName(msg, p);
    if (p + 10 > msg.length) throw new WireError('truncated resource record', p);
    const rdlength = u16(msg, p + 8);
    if (p + 10 + rdlength > msg.length) throw new WireError('RDATA runs past the end of the message', p);
    if (u16(msg, p) === RRType.OPT) {
      // An OPT record's position, with its section in the sign: negative outside the additional one.
      const at = i >= additional ? nameOffset : -1 - nameOffset;
      if (optAt === -1) optAt = at;
      else (more ??= []).push(at);
    }
    p += 10 + rdlength;
  }
  let question: Question | null = null;
  if (header.qdcount === 1) {
    const { name, end } = readName(msg, HEADER_LEN);
    question = { name, type: u16(msg, end), class: u16(msg, end + 2) };
  }
  let edns: Edns | null = null;
  if (optAt !== -1) {
    edns = readOpt(msg, optAt);
    if (more) for (const at of more) readOpt(msg, at, true);
  }
  return { header, question, questionEnd, edns };
}

/** The EDNS of the OPT record at `at` (negative: outside the additional section); `second` when one came before it. */
function readOpt(msg: Uint8Array, at: number, second = false): Edns {
  const nameOffset = at < 0 ? -1 - at : at;
  if (at < 0) throw new WireError('OPT record outside the additional section', nameOffset);
  if (second) throw new WireError('more than one OPT record', nameOffset);
  if (msg[nameOffset] !== 0) throw new WireError('OPT record owner is not the root', nameOffset);
  const r = nameOffset + 1;
  const ttl = u32(msg, r + 4);
  const rdataOffset = r + 10;
  return {
    udpSize: u16(msg, r + 2),
    extendedRcode: (ttl >>> 24) & 0xff,
    version: (ttl >>> 16) & 0xff,
    flags: ttl & 0xffff,
    options: parseEdnsRdata(msg.subarray(rdataOffset, rdataOffset + u16(msg, r + 8))),
    offset: nameOffset,
  };
}

/** The first option with `code`, or undefined (a loop: no closure per query). */
export function findOption(edns: Edns | null, code: number): EdnsOption | undefined {
  if (!edns) return undefined;
  for (const o of edns.options) if (o.code === code) return o;
  return undefined;
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
  const out = transientBytes(msg.length + opt.length);
  out.set(msg, 0);
  out.set(opt, msg.length);
  put16(out, 10, u16(msg, 10) + 1);
  return out;
}

/**
 * Fits a response into `limit` bytes for UDP (RFC 2181 §9, RFC 1035 §4.1.1, RFC 7766). Only
 * what does not fit is dropped, and TC is set only when the answer itself is cut:
 *   1. the whole message, if it fits;
 *   2. without the additional section (glue, signatures of glue: optional);
 *   3. without authority and additional, when the answer section holds records and the
 *      authority is not a proof the answer needs (no NSEC or NSEC3 in it: a wildcard answer's
 *      proof is required, RFC 4035 §3.1.3.3);
 *   4. otherwise header and question only, with TC: the client retries over TCP.
 * Sections go whole (no RRset is ever cut in two), and later sections go first, so no kept
 * record's compression pointer can point into dropped bytes (pointers only point back).
 * The question's end is read from `msg` itself: a cached answer's question is spelled as the
 * client's but may not be as long as the query's (a query may compress its name).
 * `opt`, when given, is the OPT record the message carries last, kept on every cut so EDNS
 * still works on the retry. A message that does not parse is cut to its header, with TC.
 */
export function truncateResponse(msg: Uint8Array, limit: number, opt?: Uint8Array): Uint8Array {
  if (msg.length <= limit) return msg;
  const optLen = opt?.length ?? 0;
  let questionEnd = HEADER_LEN;
  let qdcount = 0;
  let answerEnd = -1;
  let authorityEnd = -1;
  let ancount = 0;
  let nscount = 0;
  let proofInAuthority = false;
  try {
    const header = readHeader(msg);
    const walked = walkRecords(msg, header);
    questionEnd = walked.questionEnd;
    qdcount = header.qdcount;
    ancount = header.ancount;
    nscount = header.nscount;
    answerEnd = questionEnd;
    authorityEnd = questionEnd;
    for (const r of walked.records) {
      if (r.section === 0) answerEnd = authorityEnd = r.end;
      else if (r.section === 1) {
        authorityEnd = r.end;
        if (r.type === RRType.NSEC || r.type === RRType.NSEC3) proofInAuthority = true;
      }
    }
  } catch {
    // keep only the header, as a message that cannot be walked cannot be cut by sections
    try {
      const header = readHeader(msg);
      let p = HEADER_LEN;
      for (let i = 0; i < header.qdcount; i++) p = skipName(msg, p) + 4;
      if (p <= msg.length) {
        questionEnd = p;
        qdcount = header.qdcount;
      }
    } catch {
      // header only
    }
  }
  const cut = (end: number, an: number, ns: number, tc: boolean): Uint8Array => {
    const out = new Uint8Array(end + optLen);
    out.set(msg.subarray(0, end), 0);
    if (opt) out.set(opt, end);
    if (tc) put16(out, 2, u16(out, 2) | FLAG_TC);
    put16(out, 4, qdcount);
    put16(out, 6, an);
    put16(out, 8, ns);
    put16(out, 10, opt ? 1 : 0);
    return out;
  };
  if (authorityEnd >= 0 && authorityEnd + optLen <= limit) return cut(authorityEnd, ancount, nscount, false);
  if (answerEnd >= 0 && ancount > 0 && !proofInAuthority && answerEnd + optLen <= limit) return cut(answerEnd, ancount, 0, false);
  return cut(Math.min(questionEnd, msg.length), 0, 0, true);
}
