// The guest SDK: typed wrappers over the ABI v1 imports in abi.ts. An app's index.ts
// re-exports `abi_version`, `input` and `gc` from here and implements `on_query` (and, when it
// holds long-lived data, `on_load`). docs/abi/v1.md is the contract; docs/writing-apps.md the
// tutorial.

import * as abi from "./abi";
import { Context } from "./context";
import { CtxField, DATA_SCOPE_FORMAT, Phase, RESPONSE_PHASES, ScopeFlag, Status, Verdict } from "./tables.generated";
import { rcodeResponse, ResponseWriter, FLAG_TC, RCODE_NOERROR, RCODE_NXDOMAIN, TYPE_A, TYPE_AAAA, TYPE_TXT } from "./message";
import { isSubdomain, lowerName, nameFromString, nameToString } from "./name";
import { ipv4, ipv6, txt } from "./rdata";

export { Context, Span, spanEquals, spanToString } from "./context";
// What most apps need, from one module: record types, rcodes, the response writer, names and
// RDATA builders. The modules themselves stay importable for the rest.
export {
  ResponseWriter,
  RecordWalker,
  TYPE_A,
  TYPE_NS,
  TYPE_CNAME,
  TYPE_SOA,
  TYPE_PTR,
  TYPE_MX,
  TYPE_TXT,
  TYPE_AAAA,
  TYPE_ANY,
  CLASS_IN,
  RCODE_NOERROR,
  RCODE_FORMERR,
  RCODE_SERVFAIL,
  RCODE_NXDOMAIN,
  RCODE_NOTIMP,
  RCODE_REFUSED,
  SECTION_ANSWER,
  SECTION_AUTHORITY,
  SECTION_ADDITIONAL,
} from "./message";
export { isSubdomain, lowerName, nameFromString, nameToString, suffixOffset } from "./name";
export { ipv4, ipv6, txt } from "./rdata";

export const ABI_VERSION: i32 = 1;

// Verdicts, phases, load kinds, ctx_set fields and statuses: generated from the host's tables.
export { CtxField, LoadKind, Phase, PHASE_COUNT, PHASE_NAMES, RESPONSE_PHASES, ScopeFlag, Status, Verdict } from "./tables.generated";

export enum LogLevel {
  DEBUG = 0,
  INFO = 1,
  WARN = 2,
  ERROR = 3,
}

// ---- Exports every app re-exports ---------------------------------------------------------

/** The ABI version marker the host checks before anything else. */
export function abi_version(): i32 {
  return ABI_VERSION;
}

let inputBuffer = new ArrayBuffer(4096);

/**
 * Returns a buffer of at least `size` bytes in this module's memory for the host to write the
 * next call's input into. Valid until the next call into the module.
 */
export function input(size: i32): usize {
  if (size > inputBuffer.byteLength) inputBuffer = new ArrayBuffer(size);
  return changetype<usize>(inputBuffer);
}

/** Lets the host run the collector between calls (the module uses the minimal runtime). */
export function gc(): void {
  __collect();
}

// ---- Requests --------------------------------------------------------------------------

export class Request {
  phase: Phase = Phase.PRE_CACHE;
  readonly ctx: Context = new Context();
  /** The query (pre-cache, resolve) or the response (post-cache, post-resolve). */
  message: Uint8Array = new Uint8Array(0);
  /** The query in pre-cache and resolve phases; in post phases, the response. */
  get isResponse(): bool {
    return (RESPONSE_PHASES & (1 << this.phase)) != 0;
  }

  /** The question type: TYPE_A, TYPE_AAAA, ... (the same value in every phase). */
  get qtype(): u16 {
    return this.ctx.qtype;
  }

  get qclass(): u16 {
    return this.ctx.qclass;
  }

  /**
   * The question name as text, lower-cased, with the final dot: "www.example.com.". Allocates;
   * for matching many names, compare wire forms (`ctx.qname()`, `isSubdomain`) instead.
   */
  get qname(): string {
    return nameToString(lowerName(this.ctx.qname()));
  }

  /** True when the question name is `zone` or below it (whole labels, any case). */
  isUnder(zone: string): bool {
    const z = nameFromString(zone);
    return z != null && isSubdomain(this.ctx.qname(), z);
  }

  hasTag(tag: string): bool {
    return this.ctx.hasTag(tag);
  }

  /** Lets the request go on to the next app (the CONTINUE verdict). */
  pass(): Verdict {
    return Verdict.CONTINUE;
  }

  refuse(): Verdict {
    return Verdict.REFUSE;
  }

  servfail(): Verdict {
    return Verdict.SERVFAIL;
  }

  /** Answers with one record owned by the question name (`rdata` in wire form). */
  respondRecord(type: u16, ttl: u32, rdata: Uint8Array): Verdict {
    return this.respond(new ResponseWriter(this.message, 512).answer(type, ttl, rdata).finish());
  }

  /** Answers with an A record; traps when `address` is not a dotted quad (a bug in the app). */
  respondA(address: string, ttl: u32 = 300): Verdict {
    const rdata = ipv4(address);
    if (rdata == null) throw new Error("respondA: \"" + address + "\" is not an IPv4 address");
    return this.respondRecord(TYPE_A, ttl, rdata);
  }

  /** Answers with an AAAA record; traps when `address` is not an IPv6 address. */
  respondAAAA(address: string, ttl: u32 = 300): Verdict {
    const rdata = ipv6(address);
    if (rdata == null) throw new Error("respondAAAA: \"" + address + "\" is not an IPv6 address");
    return this.respondRecord(TYPE_AAAA, ttl, rdata);
  }

  /** Answers with a TXT record holding `text` (split into 255-byte strings when longer). */
  respondTxt(text: string, ttl: u32 = 300): Verdict {
    return this.respondRecord(TYPE_TXT, ttl, txt(text));
  }

  /** Answers NXDOMAIN: the name does not exist (no SOA is added). */
  respondNxdomain(): Verdict {
    return this.respondRcode(RCODE_NXDOMAIN);
  }

  /** Answers NOERROR with no records: the name exists, but not with this type (NODATA). */
  respondNoData(): Verdict {
    return this.respondRcode(RCODE_NOERROR);
  }

  /** Answers with a whole message (built with ResponseWriter). */
  respond(msg: Uint8Array): Verdict {
    // The host refuses a message over 65,535 bytes (a trap). Say the answer is truncated
    // instead: the client gets an answer it can act on, and the app is not counted as broken.
    if (msg.length > 65535) {
      const short = new ResponseWriter(this.message, 512).finish();
      short[2] = msg[2] | <u8>(FLAG_TC >> 8);
      short[3] = msg[3];
      msg = short;
    }
    abi.respond(msg.dataStart, <usize>msg.length);
    return Verdict.RESPOND;
  }

  /** Answers with just an rcode (NXDOMAIN, REFUSED, ...). */
  respondRcode(rcode: u8): Verdict {
    return this.respond(rcodeResponse(this.message, rcode));
  }

  /** Sends the query to an upstream group, or to a peer with "peer:<id>". */
  forward(target: string): Verdict {
    const b = String.UTF8.encode(target);
    abi.set_target(changetype<usize>(b), <usize>b.byteLength);
    return Verdict.FORWARD;
  }

  /** Adds a tag; false when the tag is not valid (lowercase [a-z0-9_.-], at most 63). */
  setTag(tag: string): bool {
    const b = String.UTF8.encode(tag);
    return abi.tag_set(changetype<usize>(b), <usize>b.byteLength) == Status.OK;
  }

  clearTag(tag: string): bool {
    const b = String.UTF8.encode(tag);
    return abi.tag_clear(changetype<usize>(b), <usize>b.byteLength) == Status.OK;
  }

  /** Chooses the upstream group used if the chain ends without an answer. */
  setRoute(group: string): bool {
    const b = String.UTF8.encode(group);
    return abi.ctx_set(CtxField.ROUTE, changetype<usize>(b), <usize>b.byteLength) == Status.OK;
  }

  /** Switches an app off for this request (and on every node it travels to). */
  disableApp(name: string): bool {
    const b = String.UTF8.encode(name);
    return abi.ctx_set(CtxField.DISABLE_APP, changetype<usize>(b), <usize>b.byteLength) == Status.OK;
  }

  /** Caps the TTLs of the answer, in seconds. */
  setTtlCap(seconds: u32): bool {
    const b = new ArrayBuffer(4);
    store<u32>(changetype<usize>(b), bswap<u32>(seconds));
    return abi.ctx_set(CtxField.TTL_CAP, changetype<usize>(b), 4) == Status.OK;
  }
}

const current = new Request();

/** Decodes the input of an `on_query` call. Call it first in `on_query`. */
export function request(phase: i32, ctxLen: i32, msgLen: i32): Request {
  current.phase = <Phase>phase;
  current.ctx.decode(inputBuffer, 0, ctxLen);
  current.message = Uint8Array.wrap(inputBuffer, ctxLen, msgLen);
  return current;
}

// ---- Loads ---------------------------------------------------------------------------------

/**
 * The bytes of an `on_load` call. The app takes ownership: the buffer is not reused for the next
 * call, so it can be kept as the app's data and swapped in with one assignment.
 */
export function takeInput(len: i32): Uint8Array {
  const data = Uint8Array.wrap(inputBuffer, 0, len);
  inputBuffer = new ArrayBuffer(4096);
  return data;
}

/** Reports why a load failed and returns the failure status for `on_load`. */
export function loadError(message: string): i32 {
  const b = String.UTF8.encode(message);
  abi.load_error(changetype<usize>(b), <usize>b.byteLength);
  return 1;
}

/**
 * The scope of the data an `on_load(DATA)` call is accepting (docs/abi/v1.md, "Data scope"):
 * for each unit of it (a rule of a rule set), the phase it acts in, whether it answers, and the
 * names whose answers it can act on. The host keeps the report of the data that runs and, when
 * the data changes, flushes the cached answers of the units added or removed, instead of
 * re-reading data only the app understands. Add every unit, then call `send()` just before
 * `on_load` returns 0. An app that never sends one gets everything flushed on every change.
 */
export class DataScope {
  private buf: Uint8Array = new Uint8Array(1024);
  private len: i32 = 5;
  private count: u32 = 0;

  constructor() {
    this.buf[0] = DATA_SCOPE_FORMAT;
  }

  /**
   * A unit, by `key` (the same key in two loads is the same unit: give a canonical spelling).
   * It acts on the exact `names` and on the names at and under `suffixes` (wire form); with
   * neither, on every name. A unit with `avoid` or `prefer` (nameserver addresses, 4 or 16
   * bytes) steers which nameservers the host's iterator asks for the zones `suffixes`.
   */
  unit(key: string, phase: Phase, answers: bool, names: Array<Uint8Array>, suffixes: Array<Uint8Array>, avoid: Array<Uint8Array> | null = null, prefer: Array<Uint8Array> | null = null): void {
    // The key is opaque to the host: its UTF-16 code units as they are, with no encoding pass.
    const keyBytes = key.length << 1;
    const steers = (avoid != null && avoid.length > 0) || (prefer != null && prefer.length > 0);
    let size = 14 + keyBytes;
    for (let i = 0; i < names.length; i++) size += names[i].length;
    for (let i = 0; i < suffixes.length; i++) size += suffixes[i].length;
    if (steers) size += 8 + this.addressBytes(avoid) + this.addressBytes(prefer);
    this.reserve(size);
    this.u32(<u32>keyBytes);
    memory.copy(this.buf.dataStart + <usize>this.len, changetype<usize>(key), <usize>keyBytes);
    this.len += keyBytes;
    this.buf[this.len++] = <u8>phase;
    let flags: i32 = answers ? ScopeFlag.ANSWERS : 0;
    if (names.length == 0 && suffixes.length == 0) flags |= ScopeFlag.ANY_NAME;
    if (steers) flags |= ScopeFlag.STEERS;
    this.buf[this.len++] = <u8>flags;
    this.u32(<u32>names.length);
    for (let i = 0; i < names.length; i++) this.bytes(names[i]);
    this.u32(<u32>suffixes.length);
    for (let i = 0; i < suffixes.length; i++) this.bytes(suffixes[i]);
    if (steers) {
      this.addresses(avoid);
      this.addresses(prefer);
    }
    this.count++;
  }

  /** Hands the report to the host; false when the host found it malformed (and ignores it). */
  send(): bool {
    store<u32>(this.buf.dataStart + 1, bswap<u32>(this.count));
    return abi.data_scope(this.buf.dataStart, <usize>this.len) == Status.OK;
  }

  private reserve(n: i32): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private u32(v: u32): void {
    store<u32>(this.buf.dataStart + <usize>this.len, bswap<u32>(v));
    this.len += 4;
  }

  private addressBytes(list: Array<Uint8Array> | null): i32 {
    let n = 0;
    if (list != null) for (let i = 0; i < list.length; i++) n += 1 + list[i].length;
    return n;
  }

  private addresses(list: Array<Uint8Array> | null): void {
    const n = list == null ? 0 : list.length;
    this.u32(<u32>n);
    for (let i = 0; i < n; i++) {
      const a = list![i];
      this.buf[this.len++] = <u8>a.length;
      this.bytes(a);
    }
  }

  private bytes(b: Uint8Array): void {
    memory.copy(this.buf.dataStart + <usize>this.len, b.dataStart, <usize>b.length);
    this.len += b.length;
  }
}

/** The `key=value` lines of an app's config (LoadKind.CONFIG). */
export class Config {
  keys: Array<string> = new Array<string>();
  values: Array<string> = new Array<string>();

  static parse(data: Uint8Array): Config {
    const c = new Config();
    const text = String.UTF8.decodeUnsafe(data.dataStart, <usize>data.length);
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const eq = line.indexOf("=");
      if (eq <= 0) continue;
      c.keys.push(line.substring(0, eq));
      c.values.push(line.substring(eq + 1));
    }
    return c;
  }

  get(key: string, fallback: string = ""): string {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return this.values[i];
    return fallback;
  }

  has(key: string): bool {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return true;
    return false;
  }
}

// ---- Capabilities ---------------------------------------------------------------------------

/** A log line, prefixed with the app's name by the host. Needs the "log" capability. */
export function log(level: LogLevel, message: string): void {
  const b = String.UTF8.encode(message);
  abi.log(level, changetype<usize>(b), <usize>b.byteLength);
}

/** Milliseconds since the Unix epoch. Needs the "clock" capability. */
export function now(): f64 {
  return abi.now_ms();
}

/**
 * Adds `delta` to the app's counter `name` (snake_case; at most 64 names per app), exported as
 * `edge_app_events_total{app="<app>",event="<name>"}`. Needs the "metrics" capability.
 */
export function count(name: string, delta: i32 = 1): void {
  const b = String.UTF8.encode(name);
  abi.metric_add(changetype<usize>(b), <usize>b.byteLength, delta);
}
