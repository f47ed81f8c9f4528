/**
 * Zones in wire form: a plain stream of uncompressed RRs (how zones travel between our nodes),
 * and AXFR-style sequences of DNS messages, each with the TCP two-octet length (RFC 5936,
 * RFC 7766). RDATA of a type nobody here knows passes through as opaque bytes (RFC 3597);
 * RDATA of a type we know is checked, so corruption is caught where it enters.
 */

import { concat } from '../dns/bytes.js';
import { readName, skipName, wireNameLength } from '../dns/name.js';
import { RRType, isDataClass, isMetaType, typeToName } from '../dns/rr-types.js';
import { WireError } from '../dns/wire-error.js';
import { ZoneError } from './errors.js';
import { checkRdata, rdataFromMessage } from './rdata-wire.js';
import type { RecordTable } from './record-table.js';
import { byteChunks, type ZoneInput } from './zone-input.js';

export interface WireParseOptions {
  file?: string;
  maxBytes?: number;
  maxRecords?: number;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_RECORDS = 1_000_000;

/**
 * Bytes that arrive in chunks, consumed from the front. What is unread is at most one record
 * or message plus a chunk, so the buffer stays near that size however long the stream is:
 * unread bytes move to the front when the chunk then fits, and only otherwise does it grow
 * (to a power of two, so a record arriving in many small chunks is not copied once per chunk).
 */
class Pending {
  buf: Uint8Array = new Uint8Array(0);
  start = 0;
  end = 0;
  push(chunk: Uint8Array): void {
    const live = this.end - this.start;
    const need = live + chunk.length;
    if (this.end + chunk.length > this.buf.length) {
      if (need <= this.buf.length) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        let size = 65536;
        while (size < need) size *= 2;
        const b = new Uint8Array(size);
        b.set(this.buf.subarray(this.start, this.end));
        this.buf = b;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }
  get length(): number {
    return this.end - this.start;
  }
}

function checkType(type: number, where: string): void {
  if (type === 0 || isMetaType(type)) throw new ZoneError('wire', `${where}: type ${type} cannot appear in zone data`);
}

/** Class 0 is reserved, NONE (254) and ANY (255) are update and query classes. */
function checkClass(cls: number, where: string): void {
  if (!isDataClass(cls)) throw new ZoneError('wire', `${where}: class ${cls} cannot appear in zone data`);
}

/** Reads concatenated uncompressed RRs (owner, type, class, TTL, RDLENGTH, RDATA). */
export async function parseWireRecords(input: ZoneInput, table: RecordTable, options: WireParseOptions = {}): Promise<number> {
  const file = options.file ?? 'input';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
  const p = new Pending();
  let total = 0;
  let consumed = 0;
  let records = 0;
  for await (const chunk of byteChunks(input, file)) {
    total += chunk.length;
    if (total > maxBytes) throw new ZoneError('limit', `${file}: input is larger than the ${maxBytes}-byte limit (maxBytes)`);
    p.push(chunk);
    for (;;) {
      const b = p.buf;
      const s = p.start;
      const nl = wireNameLength(b, s, p.end);
      if (nl === -2) throw new ZoneError('wire', `${file}: malformed owner name at offset ${consumed}`);
      if (nl < 0) break;
      if (p.length < nl + 10) break;
      const h = s + nl;
      const rdlen = (b[h + 8]! << 8) | b[h + 9]!;
      if (p.length < nl + 10 + rdlen) break;
      const type = (b[h]! << 8) | b[h + 1]!;
      const cls = (b[h + 2]! << 8) | b[h + 3]!;
      const ttl = ((b[h + 4]! << 24) | (b[h + 5]! << 16) | (b[h + 6]! << 8) | b[h + 7]!) >>> 0;
      const where = `${file}: record ${records + 1} at offset ${consumed}`;
      checkType(type, where);
      checkClass(cls, where);
      if (table.cls < 0) table.cls = cls;
      else if (cls !== table.cls) throw new ZoneError('wire', `${where}: class ${cls} differs from the zone's class ${table.cls}`);
      const rd = b.subarray(h + 10, h + 10 + rdlen);
      const problem = checkRdata(type, rd);
      if (problem) throw new ZoneError('wire', `${where}: malformed ${typeToName(type)} RDATA: ${problem}`);
      if (++records > maxRecords) throw new ZoneError('limit', `${file}: more than ${maxRecords} records (maxRecords)`);
      table.setOwner(b, s, nl);
      table.add(type, ttl, b, h + 10, rdlen);
      const len = nl + 10 + rdlen;
      p.start += len;
      consumed += len;
    }
  }
  if (p.length > 0) throw new ZoneError('truncated', `${file}: input ends inside a record at offset ${consumed} (truncated?)`);
  return records;
}

/**
 * Reads an AXFR response stream: DNS messages, each prefixed by its two-octet length. The
 * answer sections hold the zone between an opening and a closing copy of the SOA.
 */
export async function parseAxfr(input: ZoneInput, table: RecordTable, options: WireParseOptions = {}): Promise<number> {
  const file = options.file ?? 'input';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
  const p = new Pending();
  let total = 0;
  let records = 0;
  let messages = 0;
  let firstSoa: Uint8Array | null = null;
  let done = false;
  for await (const chunk of byteChunks(input, file)) {
    total += chunk.length;
    if (total > maxBytes) throw new ZoneError('limit', `${file}: input is larger than the ${maxBytes}-byte limit (maxBytes)`);
    p.push(chunk);
    while (p.length >= 2) {
      const len = (p.buf[p.start]! << 8) | p.buf[p.start + 1]!;
      if (p.length < 2 + len) break;
      const msg = p.buf.slice(p.start + 2, p.start + 2 + len);
      p.start += 2 + len;
      messages++;
      const where = `${file}: message ${messages}`;
      if (done) throw new ZoneError('wire', `${where}: data after the closing SOA`);
      if (len < 12) throw new ZoneError('wire', `${where}: shorter than a DNS header`);
      const flags = (msg[2]! << 8) | msg[3]!;
      const rcode = flags & 0xf;
      if (!(flags & 0x8000)) throw new ZoneError('wire', `${where}: not a response`);
      if (rcode !== 0) throw new ZoneError('wire', `${where}: the server answered with rcode ${rcode}`);
      const qd = (msg[4]! << 8) | msg[5]!;
      const an = (msg[6]! << 8) | msg[7]!;
      let o = 12;
      for (let i = 0; i < qd; i++) {
        o = messageName(where, () => skipName(msg, o)) + 4;
        if (o > len) throw new ZoneError('wire', `${where}: truncated question`);
      }
      for (let i = 0; i < an; i++) {
        const { name, end } = messageName(where, () => readName(msg, o));
        if (end + 10 > len) throw new ZoneError('wire', `${where}: truncated record`);
        const type = (msg[end]! << 8) | msg[end + 1]!;
        const cls = (msg[end + 2]! << 8) | msg[end + 3]!;
        const ttl = ((msg[end + 4]! << 24) | (msg[end + 5]! << 16) | (msg[end + 6]! << 8) | msg[end + 7]!) >>> 0;
        const rdlen = (msg[end + 8]! << 8) | msg[end + 9]!;
        const rdOff = end + 10;
        if (rdOff + rdlen > len) throw new ZoneError('wire', `${where}: RDATA runs past the message`);
        o = rdOff + rdlen;
        if (done) throw new ZoneError('wire', `${where}: records after the closing SOA`);
        if (type === RRType.SOA && firstSoa && records > 0) {
          done = true; // the closing SOA repeats the first and is not a record of its own
          continue;
        }
        if (records === 0 && type !== RRType.SOA) throw new ZoneError('wire', `${where}: a zone transfer starts with the SOA`);
        checkType(type, where);
        checkClass(cls, where);
        const rd = rdataFromMessage(type, msg, rdOff, rdlen);
        if (!rd) throw new ZoneError('wire', `${where}: malformed ${typeToName(type)} RDATA`);
        const problem = checkRdata(type, rd);
        if (problem) throw new ZoneError('wire', `${where}: malformed ${typeToName(type)} RDATA: ${problem}`);
        if (table.cls < 0) table.cls = cls;
        else if (cls !== table.cls) throw new ZoneError('wire', `${where}: class ${cls} differs from the zone's class ${table.cls}`);
        if (type === RRType.SOA) firstSoa = rd;
        if (++records > maxRecords) throw new ZoneError('limit', `${file}: more than ${maxRecords} records (maxRecords)`);
        table.setOwner(name, 0, name.length);
        table.add(type, ttl, rd, 0, rd.length);
      }
    }
  }
  if (p.length > 0) throw new ZoneError('truncated', `${file}: input ends inside message ${messages + 1} (truncated?)`);
  if (!done) throw new ZoneError('truncated', `${file}: the transfer has no closing SOA (truncated?)`);
  return records;
}

/** Reads a name of an AXFR message with `read`, its problems reported as the zone's. */
function messageName<T>(where: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof WireError) throw new ZoneError('wire', `${where}: ${e.message}`);
    throw e;
  }
}

/** Encodes records as a wire RR stream (the input parseWireRecords reads). */
export function encodeWireRecords(records: Iterable<{ owner: Uint8Array; type: number; class: number; ttl: number; rdata: Uint8Array }>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const r of records) {
    const b = new Uint8Array(r.owner.length + 10 + r.rdata.length);
    b.set(r.owner);
    let o = r.owner.length;
    b[o++] = r.type >>> 8;
    b[o++] = r.type;
    b[o++] = r.class >>> 8;
    b[o++] = r.class;
    b[o++] = r.ttl >>> 24;
    b[o++] = r.ttl >>> 16;
    b[o++] = r.ttl >>> 8;
    b[o++] = r.ttl;
    b[o++] = r.rdata.length >>> 8;
    b[o++] = r.rdata.length;
    b.set(r.rdata, o);
    parts.push(b);
  }
  return concat(parts);
}
