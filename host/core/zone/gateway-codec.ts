/**
 * The two types whose RDATA holds an address of a kind named by a type octet before it:
 * IPSECKEY (RFC 4025: gateway type, algorithm, gateway, public key) and AMTRELAY (RFC 8777:
 * discovery-optional bit and relay type in one octet, then the relay). Type 0 is no address
 * (`.` in text), 1 IPv4, 2 IPv6, 3 an uncompressed domain name that keeps its case in canonical
 * form (neither type is in RFC 4034 §6.2). A type number from a later RFC is kept from wire
 * and written as `\#`: we cannot know where its address ends, but it is valid DNS.
 */

import { encodeBase64 } from '../dns/bytes.js';
import { parseNameInto, wireNameLength } from '../dns/name.js';
import { nameToText } from '../dns/wire.js';
import { decodeBase64Ranges } from './base-encodings.js';
import { FieldError } from './errors.js';
import { MAX_RDATA, type RdataWriter } from './rdata-writer.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6, parseUint } from './text-scalars.js';
import { tokenForMessage, type Tokens } from './tokens.js';

const NONE = 0;
const IPV4 = 1;
const IPV6 = 2;
const NAME = 3;

/** Writes the address of `kind` from token i. */
function parseAddress(what: string, kind: number, t: Tokens, i: number, w: RdataWriter, origin: Uint8Array | null): void {
  const b = t.buf;
  const s = t.start[i]!;
  const e = t.end[i]!;
  const bad = (why: string): never => {
    throw new FieldError(i, `${what}: ${why}, got "${tokenForMessage(t, i)}"`);
  };
  switch (kind) {
    case NONE:
      if (e - s !== 1 || b[s] !== 0x2e) bad('type 0 has no address, write "."');
      return;
    case IPV4:
      w.room(4);
      if (!parseIpv4(b, s, e, w.buf, w.pos)) bad('expected an IPv4 address for type 1');
      w.pos += 4;
      return;
    case IPV6:
      w.room(16);
      if (!parseIpv6(b, s, e, w.buf, w.pos)) bad('expected an IPv6 address for type 2');
      w.pos += 16;
      return;
    default:
      try {
        w.pos = parseNameInto(b, s, e, origin, w.buf, w.pos);
      } catch (err) {
        bad((err as Error).message);
      }
  }
}

/** Offset past the address of `kind` at `p`, or -1 (also for kinds we do not know). */
function addressEnd(kind: number, b: Uint8Array, p: number, end: number): number {
  const fixed = kind === NONE ? 0 : kind === IPV4 ? 4 : kind === IPV6 ? 16 : -1;
  if (fixed >= 0) return p + fixed <= end ? p + fixed : -1;
  if (kind !== NAME) return -1;
  const n = wireNameLength(b, p, end);
  return n < 0 ? -1 : p + n;
}

function addressText(kind: number, b: Uint8Array, p: number, q: number): string {
  if (kind === NONE) return '.';
  if (kind === IPV4) return formatIpv4(b, p);
  if (kind === IPV6) return formatIpv6(b, p);
  return nameToText(b.subarray(p, q));
}

function kindToken(what: string, t: Tokens, i: number, max: number): number {
  if (i >= t.count) throw new FieldError(t.count - 1, `${what} RDATA is missing a field`, 'truncated');
  const v = parseUint(t.buf, t.start[i]!, t.end[i]!, max);
  if (v < 0) throw new FieldError(i, `${what}: expected a number (0..${max}), got "${tokenForMessage(t, i)}"`);
  return v;
}

/** IPSECKEY after the precedence: gateway type, algorithm, gateway, optional base64 key; returns t.count. */
export function parseIpseckey(t: Tokens, first: number, w: RdataWriter, origin: Uint8Array | null): number {
  const kind = kindToken('IPSECKEY', t, first, 0xff);
  if (kind > NAME) throw new FieldError(first, `IPSECKEY: gateway type ${kind} has no text form here; write the RDATA as \\#`);
  w.u8(kind);
  w.u8(kindToken('IPSECKEY', t, first + 1, 0xff));
  if (first + 2 >= t.count) throw new FieldError(t.count - 1, 'IPSECKEY RDATA is missing the gateway', 'truncated');
  parseAddress('IPSECKEY', kind, t, first + 2, w, origin);
  // RFC 4025 §2.4: the key may be absent (algorithm 0)
  const end = decodeBase64Ranges(t.buf, t.start, t.end, first + 3, t.count, w.buf, w.pos, MAX_RDATA);
  if (end === -1) throw new FieldError(first + 3, 'IPSECKEY: bad base64 in the public key');
  if (end === -2) throw new FieldError(first + 3, 'RDATA longer than 65535 octets');
  w.pos = end;
  return t.count;
}

export function ipseckeyEnd(b: Uint8Array, p: number, end: number): number {
  if (p + 2 > end) return -1;
  const kind = b[p]!;
  if (kind > NAME) return end; // opaque from here: a later RFC's gateway
  return addressEnd(kind, b, p + 2, end) < 0 ? -1 : end;
}

export function formatIpseckey(b: Uint8Array, p: number, end: number): string {
  const kind = b[p]!;
  const q = addressEnd(kind, b, p + 2, end);
  if (q < 0) throw new Error(`IPSECKEY gateway type ${kind} has no text form`);
  const words = [String(kind), String(b[p + 1]), addressText(kind, b, p + 2, q)];
  if (q < end) words.push(encodeBase64(b, q, end));
  return words.join(' ');
}

/** AMTRELAY after the precedence: discovery-optional bit, relay type, relay; returns t.count. */
export function parseAmtrelay(t: Tokens, first: number, w: RdataWriter, origin: Uint8Array | null): number {
  const d = kindToken('AMTRELAY', t, first, 1);
  const kind = kindToken('AMTRELAY', t, first + 1, 0x7f);
  if (kind > NAME) throw new FieldError(first + 1, `AMTRELAY: relay type ${kind} has no text form here; write the RDATA as \\#`);
  w.u8((d << 7) | kind);
  // type 0's empty relay is written "."; left out, it is accepted too
  if (kind === NONE && first + 2 >= t.count) return t.count;
  if (first + 2 >= t.count) throw new FieldError(t.count - 1, 'AMTRELAY RDATA is missing the relay', 'truncated');
  parseAddress('AMTRELAY', kind, t, first + 2, w, origin);
  if (first + 3 < t.count) throw new FieldError(first + 3, `unexpected "${tokenForMessage(t, first + 3)}" after the AMTRELAY RDATA`);
  return t.count;
}

export function amtrelayEnd(b: Uint8Array, p: number, end: number): number {
  if (p + 1 > end) return -1;
  const kind = b[p]! & 0x7f;
  if (kind > NAME) return end;
  return addressEnd(kind, b, p + 1, end) === end ? end : -1;
}

export function formatAmtrelay(b: Uint8Array, p: number, end: number): string {
  const kind = b[p]! & 0x7f;
  const q = addressEnd(kind, b, p + 1, end);
  if (q !== end) throw new Error(`AMTRELAY relay type ${kind} has no text form`);
  return `${b[p]! >>> 7} ${kind} ${addressText(kind, b, p + 1, q)}`;
}
