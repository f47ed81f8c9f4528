/**
 * The request context: the one explicit object through which apps and phases see and change a
 * request's state. It has exactly one binary encoding, used across the Wasm boundary and, with
 * a MAC appended (see context-auth.ts), between nodes. The layout is specified in
 * docs/abi/v1.md ("Context encoding"); the guest decoder is assembly/context.ts.
 *
 * Encoding: magic 0xEC, version 0x01, then TLVs (type u8, length u16 big-endian, value).
 * Types below 0x80 are critical: a decoder that does not know one must reject the context.
 * Types from 0x80 are optional and skipped when unknown, so a newer node can add fields that an
 * older one ignores.
 */

export const CONTEXT_MAGIC = 0xec;
export const CONTEXT_VERSION = 1;
export const MAX_CONTEXT_BYTES = 4096;
export const MAX_TAGS = 32;
export const MAX_TAG_LEN = 63;
export const MAX_HOPS = 4;

export const Transport = { udp: 0, tcp: 1, doh: 2, internal: 3 } as const;
export type TransportName = keyof typeof Transport;
const transportNames = Object.keys(Transport) as TransportName[];

export const Field = {
  requestId: 0x01,
  question: 0x02,
  client: 0x03,
  transport: 0x04,
  flags: 0x05,
  hops: 0x06,
  ingress: 0x07,
  deadline: 0x08,
  tag: 0x09,
  route: 0x0a,
  disabledApp: 0x0b,
  ttlCap: 0x0c,
  udpSize: 0x0d,
  /** Appended by context-auth.ts; always last, never seen by apps. */
  mac: 0x7f,
} as const;

export const CtxFlag = { do: 1, cd: 2, rd: 4 } as const;

export class ContextError extends Error {
  override readonly name = 'ContextError';
}

export interface ClientAddress {
  /** Printable address (IPv4 dotted quad or IPv6). */
  address: string;
  port: number;
}

export interface RequestContext {
  /** 8 random bytes as 16 hex digits; joins log lines across nodes. */
  requestId: string;
  qname: Uint8Array;
  qtype: number;
  qclass: number;
  client: ClientAddress | null;
  transport: TransportName;
  flags: number;
  hops: number;
  ingress: string;
  /** Absolute deadline, milliseconds since the Unix epoch. */
  deadline: number;
  tags: Set<string>;
  /** Upstream group chosen by a rule or the forward app; empty when not chosen yet. */
  route: string;
  /** Apps switched off for this request (by a rule), carried to other nodes. */
  disabledApps: Set<string>;
  /** Maximum TTL of the answer in seconds; 0 when no cap. */
  ttlCap: number;
  /** The client's advertised EDNS payload size; 0 when it sent no EDNS. */
  udpSize: number;
}

const TAG_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** Tags are short lowercase tokens, so rule files, metrics and logs agree on spelling. */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

class Writer {
  buf = new Uint8Array(256);
  len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  tlv(type: number, value: Uint8Array): void {
    if (value.length > 0xffff) throw new ContextError(`context field 0x${type.toString(16)} too long`);
    this.ensure(3 + value.length);
    this.buf[this.len] = type;
    this.buf[this.len + 1] = value.length >>> 8;
    this.buf[this.len + 2] = value.length & 0xff;
    this.buf.set(value, this.len + 3);
    this.len += 3 + value.length;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function u8(v: number): Uint8Array {
  return new Uint8Array([v & 0xff]);
}
function be16(v: number): Uint8Array {
  return new Uint8Array([(v >>> 8) & 0xff, v & 0xff]);
}
function be32(v: number): Uint8Array {
  return new Uint8Array([(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}
function be64(v: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, Math.floor(v))));
  return out;
}

export function encodeAddress(c: ClientAddress): Uint8Array {
  const v4 = parseIPv4(c.address);
  if (v4) return new Uint8Array([4, ...v4, c.port >>> 8, c.port & 0xff]);
  const v6 = parseIPv6(c.address);
  if (v6) return new Uint8Array([6, ...v6, c.port >>> 8, c.port & 0xff]);
  throw new ContextError(`client address "${c.address}" is neither IPv4 nor IPv6`);
}

/** Encodes a context. The result is the only form that crosses the Wasm boundary or the wire. */
export function encodeContext(ctx: RequestContext): Uint8Array {
  const w = new Writer();
  w.buf[0] = CONTEXT_MAGIC;
  w.buf[1] = CONTEXT_VERSION;
  w.len = 2;
  w.tlv(Field.requestId, hexToBytes(ctx.requestId));
  const q = new Uint8Array(4 + ctx.qname.length);
  q[0] = ctx.qtype >>> 8;
  q[1] = ctx.qtype & 0xff;
  q[2] = ctx.qclass >>> 8;
  q[3] = ctx.qclass & 0xff;
  q.set(ctx.qname, 4);
  w.tlv(Field.question, q);
  if (ctx.client) w.tlv(Field.client, encodeAddress(ctx.client));
  w.tlv(Field.transport, u8(Transport[ctx.transport]));
  w.tlv(Field.flags, be16(ctx.flags));
  w.tlv(Field.hops, u8(ctx.hops));
  if (ctx.ingress) w.tlv(Field.ingress, enc.encode(ctx.ingress));
  w.tlv(Field.deadline, be64(ctx.deadline));
  for (const t of ctx.tags) w.tlv(Field.tag, enc.encode(t));
  if (ctx.route) w.tlv(Field.route, enc.encode(ctx.route));
  for (const a of ctx.disabledApps) w.tlv(Field.disabledApp, enc.encode(a));
  if (ctx.ttlCap > 0) w.tlv(Field.ttlCap, be32(ctx.ttlCap));
  if (ctx.udpSize > 0) w.tlv(Field.udpSize, be16(ctx.udpSize));
  const out = w.bytes();
  if (out.length > MAX_CONTEXT_BYTES) throw new ContextError(`context of ${out.length} bytes exceeds ${MAX_CONTEXT_BYTES}`);
  return out;
}

export interface DecodeOptions {
  /** Accept (and return the offset of) a trailing MAC field; apps never see one. */
  allowMac?: boolean;
}

/**
 * Decodes and validates a context. Any malformation is a ContextError: the caller strips the
 * context and counts it; it never reaches an app half-read.
 */
export function decodeContext(bytes: Uint8Array, opts: DecodeOptions = {}): { ctx: RequestContext; macOffset: number } {
  if (bytes.length > MAX_CONTEXT_BYTES) throw new ContextError(`context of ${bytes.length} bytes exceeds ${MAX_CONTEXT_BYTES}`);
  if (bytes.length < 2 || bytes[0] !== CONTEXT_MAGIC) throw new ContextError('not a context (bad magic)');
  if (bytes[1] !== CONTEXT_VERSION) throw new ContextError(`context version ${bytes[1]} is not supported (want ${CONTEXT_VERSION})`);
  const ctx: Partial<RequestContext> & { tags: Set<string>; disabledApps: Set<string> } = {
    tags: new Set(),
    disabledApps: new Set(),
    client: null,
    route: '',
    ingress: '',
    ttlCap: 0,
    udpSize: 0,
  };
  const seen = new Set<number>();
  let p = 2;
  let macOffset = -1;
  while (p < bytes.length) {
    if (p + 3 > bytes.length) throw new ContextError(`truncated field header at offset ${p}`);
    const type = bytes[p]!;
    const len = (bytes[p + 1]! << 8) | bytes[p + 2]!;
    const start = p + 3;
    const end = start + len;
    if (end > bytes.length) throw new ContextError(`field 0x${type.toString(16)} runs past the end at offset ${p}`);
    const v = bytes.subarray(start, end);
    const repeatable = type === Field.tag || type === Field.disabledApp;
    if (!repeatable && seen.has(type)) throw new ContextError(`field 0x${type.toString(16)} appears twice`);
    seen.add(type);
    const need = (n: number): void => {
      if (len !== n) throw new ContextError(`field 0x${type.toString(16)} has length ${len}, want ${n}`);
    };
    switch (type) {
      case Field.requestId:
        need(8);
        ctx.requestId = bytesToHex(v);
        break;
      case Field.question: {
        if (len < 5) throw new ContextError('question field too short');
        ctx.qtype = (v[0]! << 8) | v[1]!;
        ctx.qclass = (v[2]! << 8) | v[3]!;
        ctx.qname = checkName(v.slice(4));
        break;
      }
      case Field.client:
        ctx.client = decodeAddress(v);
        break;
      case Field.transport: {
        need(1);
        const name = transportNames[v[0]!];
        if (name === undefined) throw new ContextError(`unknown transport ${v[0]}`);
        ctx.transport = name;
        break;
      }
      case Field.flags:
        need(2);
        ctx.flags = (v[0]! << 8) | v[1]!;
        break;
      case Field.hops:
        need(1);
        if (v[0]! > MAX_HOPS) throw new ContextError(`hop count ${v[0]} above the limit of ${MAX_HOPS}`);
        ctx.hops = v[0]!;
        break;
      case Field.ingress:
        ctx.ingress = checkToken(v, 'ingress node id');
        break;
      case Field.deadline:
        need(8);
        ctx.deadline = Number(new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0));
        break;
      case Field.tag: {
        const t = utf8(v, 'tag');
        if (!isValidTag(t)) throw new ContextError(`invalid tag "${t}"`);
        ctx.tags.add(t);
        if (ctx.tags.size > MAX_TAGS) throw new ContextError(`more than ${MAX_TAGS} tags`);
        break;
      }
      case Field.route:
        ctx.route = checkToken(v, 'route');
        break;
      case Field.disabledApp:
        ctx.disabledApps.add(checkToken(v, 'app name'));
        if (ctx.disabledApps.size > MAX_TAGS) throw new ContextError(`more than ${MAX_TAGS} disabled apps`);
        break;
      case Field.ttlCap:
        need(4);
        ctx.ttlCap = ((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0;
        break;
      case Field.udpSize:
        need(2);
        ctx.udpSize = (v[0]! << 8) | v[1]!;
        break;
      case Field.mac:
        if (!opts.allowMac) throw new ContextError('context carries a MAC where none is allowed');
        if (end !== bytes.length) throw new ContextError('MAC is not the last field');
        macOffset = p;
        break;
      default:
        if (type < 0x80) throw new ContextError(`unknown critical field 0x${type.toString(16)}`);
    }
    p = end;
  }
  for (const [field, name] of [
    ['requestId', Field.requestId],
    ['qname', Field.question],
    ['transport', Field.transport],
    ['flags', Field.flags],
    ['hops', Field.hops],
    ['deadline', Field.deadline],
  ] as const) {
    if (ctx[field] === undefined) throw new ContextError(`required field 0x${name.toString(16)} (${field}) is missing`);
  }
  return { ctx: ctx as RequestContext, macOffset };
}

function utf8(v: Uint8Array, what: string): string {
  try {
    return dec.decode(v);
  } catch {
    throw new ContextError(`${what} is not UTF-8`);
  }
}

function checkToken(v: Uint8Array, what: string): string {
  const s = utf8(v, what);
  if (!NAME_RE.test(s)) throw new ContextError(`invalid ${what} "${s}"`);
  return s;
}

function checkName(name: Uint8Array): Uint8Array {
  let p = 0;
  while (p < name.length) {
    const l = name[p]!;
    if (l === 0) {
      if (p + 1 !== name.length) throw new ContextError('question name has bytes after the root label');
      return name;
    }
    if (l > 63) throw new ContextError('question name has a label longer than 63');
    p += l + 1;
  }
  throw new ContextError('question name is not terminated');
}

function decodeAddress(v: Uint8Array): ClientAddress {
  if (v[0] === 4 && v.length === 7) {
    return { address: `${v[1]}.${v[2]}.${v[3]}.${v[4]}`, port: (v[5]! << 8) | v[6]! };
  }
  if (v[0] === 6 && v.length === 19) {
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(((v[1 + 2 * i]! << 8) | v[2 + 2 * i]!).toString(16));
    return { address: compressIPv6(groups), port: (v[17]! << 8) | v[18]! };
  }
  throw new ContextError('malformed client address');
}

export function parseIPv4(s: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((n) => n <= 255) ? parts : null;
}

/** Parses an IPv6 address (with `::`, and an embedded IPv4 tail) into 16 bytes. */
export function parseIPv6(s: string): number[] | null {
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4) return null;
    tail = v4;
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return null;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...rest];
  const bytes: number[] = [];
  for (const g of groups) bytes.push(g >>> 8, g & 0xff);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function compressIPv6(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return groups.slice(0, best).join(':') + '::' + groups.slice(best + bestLen).join(':');
}

export function bytesToHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

export function hexToBytes(s: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/i.test(s)) throw new ContextError(`"${s}" is not hex`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// Request ids join log lines across nodes; they need to be unique, not unpredictable, so a
// random per-process prefix and a counter do (a CSPRNG call per query showed up at 9% of CPU).
const idPrefix = bytesToHex(crypto.getRandomValues(new Uint8Array(3)));
let idCounter = 0;

export function newRequestId(): string {
  idCounter = (idCounter + 1) % 0x10000000000;
  return idPrefix + idCounter.toString(16).padStart(10, '0');
}

/** A context for a question as it arrives from a client. */
export function newContext(init: {
  qname: Uint8Array;
  qtype: number;
  qclass: number;
  client: ClientAddress | null;
  transport: TransportName;
  flags: number;
  ingress: string;
  deadline: number;
  udpSize: number;
}): RequestContext {
  return {
    requestId: newRequestId(),
    hops: 0,
    tags: new Set(),
    route: '',
    disabledApps: new Set(),
    ttlCap: 0,
    ...init,
  };
}

/** Merges a context that arrived from a peer into this node's view: tags are merged, never dropped. */
export function mergeTags(into: RequestContext, from: Iterable<string>): void {
  for (const t of from) into.tags.add(t);
}
