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

import { hex, hexDigit } from './dns/bytes.js';
import { ipv6Text } from './dns/ipv6-text.js';

export const CONTEXT_MAGIC = 0xec;
export const CONTEXT_VERSION = 1;
export const MAX_CONTEXT_BYTES = 4096;
export const MAX_TAGS = 32;
export const MAX_TAG_LEN = 63;
export const MAX_HOPS = 4;

/**
 * What a query arrived over: the one table of transports (the context's transport field; the
 * guest SDK's TRANSPORT_* constants and the override app's `transport` matcher are generated
 * from it). `client`: clients send queries over it, so a rule can name it; `internal` marks the
 * resolver's own queries. A transport's value is its wire value and never changes.
 */
export const transportTable = {
  udp: { value: 0, client: true },
  tcp: { value: 1, client: true },
  doh: { value: 2, client: true },
  internal: { value: 3, client: false },
  dot: { value: 4, client: true },
} as const;
export type TransportName = keyof typeof transportTable;
export const Transport = Object.fromEntries(Object.entries(transportTable).map(([k, t]) => [k, t.value])) as {
  readonly [K in TransportName]: (typeof transportTable)[K]['value'];
};
const transportNames: TransportName[] = [];
for (const [name, t] of Object.entries(transportTable)) transportNames[t.value] = name as TransportName;

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

/** Context flag bits. `local`: resolve here, do not forward to a peer (its owner is down or slow, or it came from a peer with a refused context). */
export const CtxFlag = { do: 1, cd: 2, rd: 4, local: 8 } as const;

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

// Encoding runs for every app call on the hot path, so it writes into one buffer sized up front,
// and the strings that repeat (tags, node ids, app names, client addresses) are encoded once.
const textCache = new Map<string, Uint8Array>();
const addressCache = new Map<string, Uint8Array>();
const CACHE_LIMIT = 4096;

function utf8Bytes(s: string): Uint8Array {
  let b = textCache.get(s);
  if (!b) {
    b = enc.encode(s);
    if (textCache.size >= CACHE_LIMIT) textCache.clear();
    textCache.set(s, b);
  }
  return b;
}

/** Family byte and address bytes of a client address (no port). */
function addressBytes(address: string): Uint8Array {
  let b = addressCache.get(address);
  if (!b) {
    const v4 = parseIPv4(address);
    const v6 = v4 ? null : parseIPv6(address);
    if (!v4 && !v6) throw new ContextError(`client address "${address}" is neither IPv4 nor IPv6`);
    b = new Uint8Array([v4 ? 4 : 6, ...(v4 ?? v6!)]);
    if (addressCache.size >= CACHE_LIMIT) addressCache.clear();
    addressCache.set(address, b);
  }
  return b;
}

export function encodeAddress(c: ClientAddress): Uint8Array {
  const a = addressBytes(c.address);
  const out = new Uint8Array(a.length + 2);
  out.set(a, 0);
  out[a.length] = c.port >>> 8;
  out[a.length + 1] = c.port & 0xff;
  return out;
}

function hexNibble(c: number): number {
  const v = hexDigit(c);
  if (v < 0) throw new ContextError('request id is not hex');
  return v;
}

/** A sized output buffer with a write position (no closures on the hot path). */
class Out {
  p = 2;
  constructor(readonly b: Uint8Array) {}
  head(type: number, len: number): void {
    if (len > 0xffff) throw new ContextError(`context field 0x${type.toString(16)} too long`);
    const b = this.b;
    b[this.p] = type;
    b[this.p + 1] = len >>> 8;
    b[this.p + 2] = len & 0xff;
    this.p += 3;
  }
  bytes(type: number, v: Uint8Array): void {
    this.head(type, v.length);
    this.b.set(v, this.p);
    this.p += v.length;
  }
  u8(v: number): void {
    this.b[this.p++] = v & 0xff;
  }
  u16(v: number): void {
    this.b[this.p++] = (v >>> 8) & 0xff;
    this.b[this.p++] = v & 0xff;
  }
  u32(v: number): void {
    this.u16(v >>> 16);
    this.u16(v & 0xffff);
  }
}

/**
 * Encodes a context. The result is the only form that crosses the Wasm boundary or the wire.
 * Not cached: the encoding costs well under a microsecond, less than any cache keyed on the
 * context object did (a WeakMap, or a hidden property, cost more than the encoding for objects
 * this short-lived); the app chain reuses one encoding across the apps of a phase.
 */
export function encodeContext(ctx: RequestContext): Uint8Array {
  const out = new Uint8Array(contextSize(ctx));
  encodeContextInto(ctx, out);
  return out;
}

/** The encoded size of a context; a ContextError when it exceeds MAX_CONTEXT_BYTES. */
function contextSize(ctx: RequestContext): number {
  let size = 2 + 11 + (7 + ctx.qname.length) + 4 + 5 + 4 + 11;
  if (ctx.client) size += 3 + addressBytes(ctx.client.address).length + 2;
  if (ctx.ingress) size += 3 + utf8Bytes(ctx.ingress).length;
  if (ctx.route) size += 3 + utf8Bytes(ctx.route).length;
  for (const t of ctx.tags) size += 3 + utf8Bytes(t).length;
  for (const a of ctx.disabledApps) size += 3 + utf8Bytes(a).length;
  if (ctx.ttlCap > 0) size += 7;
  if (ctx.udpSize > 0) size += 5;
  if (size > MAX_CONTEXT_BYTES) throw new ContextError(`context of ${size} bytes exceeds ${MAX_CONTEXT_BYTES}`);
  return size;
}

/**
 * Encodes a context into the front of `buf` (at least MAX_CONTEXT_BYTES long, or the context's
 * size) and returns its length. The hot path encodes into one reused buffer: V8 puts typed
 * arrays past 64 bytes outside the heap, and allocating one costs more than the encoding.
 */
export function encodeContextInto(ctx: RequestContext, buf: Uint8Array): number {
  const size = contextSize(ctx);
  if (buf.length < size) throw new ContextError(`context of ${size} bytes does not fit a ${buf.length}-byte buffer`);
  const addr = ctx.client ? addressBytes(ctx.client.address) : null;
  const ingress = ctx.ingress ? utf8Bytes(ctx.ingress) : null;
  const route = ctx.route ? utf8Bytes(ctx.route) : null;
  const o = new Out(buf);
  o.b[0] = CONTEXT_MAGIC;
  o.b[1] = CONTEXT_VERSION;
  o.head(Field.requestId, 8);
  const id = ctx.requestId;
  if (id.length !== 16) throw new ContextError('request id must be 16 hex digits');
  for (let i = 0; i < 8; i++) o.u8((hexNibble(id.charCodeAt(2 * i)) << 4) | hexNibble(id.charCodeAt(2 * i + 1)));
  o.head(Field.question, 4 + ctx.qname.length);
  o.u16(ctx.qtype);
  o.u16(ctx.qclass);
  o.b.set(ctx.qname, o.p);
  o.p += ctx.qname.length;
  if (addr) {
    o.head(Field.client, addr.length + 2);
    o.b.set(addr, o.p);
    o.p += addr.length;
    o.u16(ctx.client!.port);
  }
  o.head(Field.transport, 1);
  o.u8(Transport[ctx.transport]);
  o.head(Field.flags, 2);
  o.u16(ctx.flags);
  o.head(Field.hops, 1);
  o.u8(ctx.hops);
  if (ingress) o.bytes(Field.ingress, ingress);
  o.head(Field.deadline, 8);
  const d = Math.max(0, Math.floor(ctx.deadline));
  o.u32(Math.floor(d / 0x100000000));
  o.u32(d >>> 0);
  for (const t of ctx.tags) o.bytes(Field.tag, utf8Bytes(t));
  if (route) o.bytes(Field.route, route);
  for (const a of ctx.disabledApps) o.bytes(Field.disabledApp, utf8Bytes(a));
  if (ctx.ttlCap > 0) {
    o.head(Field.ttlCap, 4);
    o.u32(ctx.ttlCap);
  }
  if (ctx.udpSize > 0) {
    o.head(Field.udpSize, 2);
    o.u16(ctx.udpSize);
  }
  return o.p;
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
        ctx.requestId = hex(v);
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
    return { address: ipv6Text(v, 1), port: (v[17]! << 8) | v[18]! };
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

// Request ids join log lines across nodes; they need to be unique, not unpredictable, so a
// random per-process prefix and a counter do (a CSPRNG call per query showed up at 9% of CPU).
// The prefix is drawn on first use: Workers refuse random values at module load.
let idPrefix = '';
let idCounter = 0;

export function newRequestId(): string {
  if (!idPrefix) idPrefix = hex(crypto.getRandomValues(new Uint8Array(3)));
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
