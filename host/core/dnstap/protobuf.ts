/**
 * The dnstap payload (dnstap.proto, github.com/dnstap/dnstap.pb): a `Dnstap` message holding one
 * `Message`, protobuf-encoded by hand. Only the fields a resolver fills are written; the schema
 * is proto2 with every field but the types optional, so a field left out is simply absent.
 * Written here rather than with a protobuf library: it is two messages of scalars and bytes, on
 * the answer path, and the encoding below allocates one buffer per frame.
 */

/** `Message.Type` values a resolver sends (dnstap.proto). */
export const MessageType = {
  RESOLVER_QUERY: 3,
  RESOLVER_RESPONSE: 4,
  CLIENT_QUERY: 5,
  CLIENT_RESPONSE: 6,
  FORWARDER_QUERY: 7,
  FORWARDER_RESPONSE: 8,
} as const;
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];

/** `SocketFamily`. */
export const SocketFamily = { INET: 1, INET6: 2 } as const;
/** `SocketProtocol` (DOT, DOH and DOQ are in dnstap.proto since 2021). */
export const SocketProtocol = { UDP: 1, TCP: 2, DOT: 3, DOH: 4 } as const;
/** `HttpProtocol`, set only with DOH. */
export const HttpProtocol = { HTTP1: 1, HTTP2: 2, HTTP3: 3 } as const;

export interface DnstapMessage {
  type: MessageTypeValue;
  family?: number;
  protocol?: number;
  httpProtocol?: number;
  /** The initiator (the client; for resolver and forwarder messages, us). 4 or 16 bytes. */
  queryAddress?: Uint8Array;
  queryPort?: number;
  /** The responder (us for client messages; the server asked otherwise). 4 or 16 bytes. */
  responseAddress?: Uint8Array;
  responsePort?: number;
  /** Milliseconds since the epoch, fractions kept (down to the clock's resolution). */
  queryTime?: number;
  queryMessage?: Uint8Array;
  /** The zone the query is about, a wire-format name. */
  queryZone?: Uint8Array;
  responseTime?: number;
  responseMessage?: Uint8Array;
}

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** The bytes of a protobuf message being written, grown as needed. */
class Writer {
  buf: Uint8Array;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** A varint of a non-negative integer up to 2^53. */
  varint(v: number): void {
    this.room(10);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  uint(field: number, v: number): void {
    this.key(field, WIRE_VARINT);
    this.varint(v);
  }

  fixed32(field: number, v: number): void {
    this.key(field, WIRE_FIXED32);
    this.room(4);
    this.buf[this.pos++] = v & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 24) & 0xff;
  }

  bytes(field: number, b: Uint8Array): void {
    this.key(field, WIRE_LEN);
    this.varint(b.length);
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  done(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** Seconds and the nanoseconds within them, of a time in (fractional) milliseconds. */
function splitTime(ms: number): [number, number] {
  const sec = Math.floor(ms / 1000);
  const nsec = Math.min(999_999_999, Math.max(0, Math.round((ms - sec * 1000) * 1e6)));
  return [sec, nsec];
}

function encodeMessage(m: DnstapMessage): Uint8Array {
  const w = new Writer(64 + (m.queryMessage?.length ?? 0) + (m.responseMessage?.length ?? 0) + (m.queryZone?.length ?? 0));
  w.uint(1, m.type);
  if (m.family !== undefined) w.uint(2, m.family);
  if (m.protocol !== undefined) w.uint(3, m.protocol);
  if (m.queryAddress) w.bytes(4, m.queryAddress);
  if (m.responseAddress) w.bytes(5, m.responseAddress);
  if (m.queryPort !== undefined) w.uint(6, m.queryPort);
  if (m.responsePort !== undefined) w.uint(7, m.responsePort);
  if (m.queryTime !== undefined) {
    const [s, ns] = splitTime(m.queryTime);
    w.uint(8, s);
    w.fixed32(9, ns);
  }
  if (m.queryMessage) w.bytes(10, m.queryMessage);
  if (m.queryZone) w.bytes(11, m.queryZone);
  if (m.responseTime !== undefined) {
    const [s, ns] = splitTime(m.responseTime);
    w.uint(12, s);
    w.fixed32(13, ns);
  }
  if (m.responseMessage) w.bytes(14, m.responseMessage);
  if (m.httpProtocol !== undefined) w.uint(16, m.httpProtocol);
  return w.done();
}

/** One `Dnstap` payload: identity and version (when given), type MESSAGE, the message. */
export function encodeDnstap(m: DnstapMessage, identity: Uint8Array | null = null, version: Uint8Array | null = null): Uint8Array {
  const inner = encodeMessage(m);
  const w = new Writer(inner.length + 16 + (identity?.length ?? 0) + (version?.length ?? 0));
  if (identity) w.bytes(1, identity);
  if (version) w.bytes(2, version);
  w.bytes(14, inner);
  w.uint(15, 1); // Dnstap.Type MESSAGE
  return w.done();
}
