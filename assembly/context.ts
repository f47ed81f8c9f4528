// Guest-side decoder of the request context encoding (docs/abi/v1.md, "Context encoding";
// host side: host/core/context.ts). The host has validated the bytes before the call, so this
// decoder only has to find the fields; it still never reads past the end.

// Field types, flags and transports, generated from the host's tables (host/core/context.ts).
import {
  FIELD_CLIENT, FIELD_DEADLINE, FIELD_DISABLED_APP, FIELD_FLAGS, FIELD_HOPS, FIELD_INGRESS, FIELD_QUESTION, FIELD_ROUTE,
  FIELD_TAG, FIELD_TRANSPORT, FIELD_TTL_CAP, FIELD_UDP_SIZE, CTX_FLAG_CD, CTX_FLAG_DO,
} from "./context.generated";
export * from "./context.generated";

/** A byte range inside the input buffer. */
export class Span {
  constructor(public ptr: usize, public len: i32) {}
}

@inline
function be16(p: usize): u32 {
  return (<u32>load<u8>(p) << 8) | <u32>load<u8>(p + 1);
}

export class Context {
  qnamePtr: usize = 0;
  qnameLen: i32 = 0;
  qtype: u16 = 0;
  qclass: u16 = 0;
  flags: u16 = 0;
  hops: u8 = 0;
  transport: u8 = 0;
  /** 4 or 6; 0 when the client address is unknown. */
  clientFamily: u8 = 0;
  clientPtr: usize = 0;
  ttlCap: u32 = 0;
  udpSize: u16 = 0;
  deadline: f64 = 0;
  route: Span = new Span(0, 0);
  ingress: Span = new Span(0, 0);
  tags: Array<Span> = new Array<Span>();
  disabledApps: Array<Span> = new Array<Span>();

  private base: ArrayBuffer = new ArrayBuffer(0);

  /** Decodes `len` bytes at `offset` in `buf`; returns false when they are not a v1 context. */
  decode(buf: ArrayBuffer, offset: i32, len: i32): bool {
    this.base = buf;
    const ptr = changetype<usize>(buf) + <usize>offset;
    if (len < 2 || load<u8>(ptr) != 0xec || load<u8>(ptr + 1) != 1) return false;
    // The same Context object serves every call: reset what an absent field would leave behind.
    this.tags.length = 0;
    this.disabledApps.length = 0;
    this.qnameLen = 0;
    this.qtype = 0;
    this.qclass = 0;
    this.flags = 0;
    this.hops = 0;
    this.transport = 0;
    this.clientFamily = 0;
    this.ttlCap = 0;
    this.udpSize = 0;
    this.deadline = 0;
    this.route.len = 0;
    this.ingress.len = 0;
    let p = ptr + 2;
    const end = ptr + <usize>len;
    while (p + 3 <= end) {
      const type = load<u8>(p);
      const flen = <i32>be16(p + 1);
      const v = p + 3;
      if (v + <usize>flen > end) return false;
      switch (type) {
        case FIELD_QUESTION: {
          this.qtype = <u16>be16(v);
          this.qclass = <u16>be16(v + 2);
          this.qnamePtr = v + 4;
          this.qnameLen = flen - 4;
          break;
        }
        case FIELD_CLIENT: {
          this.clientFamily = load<u8>(v);
          this.clientPtr = v + 1;
          break;
        }
        case FIELD_TRANSPORT: this.transport = load<u8>(v); break;
        case FIELD_FLAGS: this.flags = <u16>be16(v); break;
        case FIELD_HOPS: this.hops = load<u8>(v); break;
        case FIELD_INGRESS: this.ingress.ptr = v; this.ingress.len = flen; break;
        case FIELD_DEADLINE: {
          let d: u64 = 0;
          for (let i = 0; i < 8; i++) d = (d << 8) | <u64>load<u8>(v + <usize>i);
          this.deadline = <f64>d;
          break;
        }
        case FIELD_TAG: this.tags.push(new Span(v, flen)); break;
        case FIELD_ROUTE: this.route.ptr = v; this.route.len = flen; break;
        case FIELD_DISABLED_APP: this.disabledApps.push(new Span(v, flen)); break;
        case FIELD_TTL_CAP: this.ttlCap = (be16(v) << 16) | be16(v + 2); break;
        case FIELD_UDP_SIZE: this.udpSize = <u16>be16(v); break;
        default: break;
      }
      p = v + <usize>flen;
    }
    return this.qnameLen > 0;
  }

  /** The question name in wire form, as a view into the input buffer (case as the client sent it). */
  qname(): Uint8Array {
    return Uint8Array.wrap(this.base, <i32>(this.qnamePtr - changetype<usize>(this.base)), this.qnameLen);
  }

  get dnssecOk(): bool {
    return (this.flags & CTX_FLAG_DO) != 0;
  }

  get checkingDisabled(): bool {
    return (this.flags & CTX_FLAG_CD) != 0;
  }

  hasTag(tag: string): bool {
    for (let i = 0; i < this.tags.length; i++) {
      if (spanEquals(unchecked(this.tags[i]), tag)) return true;
    }
    return false;
  }

  isAppDisabled(name: string): bool {
    for (let i = 0; i < this.disabledApps.length; i++) {
      if (spanEquals(unchecked(this.disabledApps[i]), name)) return true;
    }
    return false;
  }
}

/** Compares ASCII bytes with an ASCII string without allocating. */
export function spanEquals(s: Span, str: string): bool {
  if (s.len != str.length) return false;
  for (let i = 0; i < s.len; i++) {
    if (<i32>load<u8>(s.ptr + <usize>i) != str.charCodeAt(i)) return false;
  }
  return true;
}

export function spanToString(s: Span): string {
  return String.UTF8.decodeUnsafe(s.ptr, <usize>s.len);
}
