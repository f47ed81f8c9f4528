/**
 * WKS (RFC 1035 §3.4.2): an IPv4 address (a plain A field before this one), an IP protocol and
 * a bitmap of the ports that protocol serves. Text names the protocol as `tcp`, `udp` or a
 * number and each service by number or by one of the well-known names below. The names are a
 * fixed table, not getservbyname: a zone must mean the same on every machine, and
 * /etc/services differs between them (and does not exist on Workers). Output uses numbers only,
 * which every reader accepts.
 */

import { FieldError } from './errors.js';
import type { RdataWriter } from './rdata-writer.js';
import { parseUint } from './text-scalars.js';
import { tokenForMessage, tokenText, type Tokens } from './tokens.js';

const PROTOCOLS: Readonly<Record<string, number>> = { tcp: 6, udp: 17 };

/** IANA service names whose port is the same for TCP and UDP, as zone files use them. */
export const WKS_SERVICES: Readonly<Record<string, number>> = {
  echo: 7, discard: 9, daytime: 13, 'ftp-data': 20, ftp: 21, ssh: 22, telnet: 23, smtp: 25,
  time: 37, domain: 53, tftp: 69, gopher: 70, finger: 79, http: 80, kerberos: 88, pop3: 110,
  sunrpc: 111, nntp: 119, ntp: 123, imap: 143, snmp: 161, ldap: 389, https: 443, submission: 587,
  ldaps: 636, imaps: 993, pop3s: 995,
};

/** A name's number, or -1: own keys only ("constructor" is not a protocol). */
function lookup(table: Readonly<Record<string, number>>, name: string): number {
  return Object.hasOwn(table, name) ? table[name]! : -1;
}

/** 65,536 ports, one bit each. */
const MAX_BITMAP = 8192;

/** Protocol and services from token `first` to the end; returns t.count. */
export function parseWks(t: Tokens, first: number, w: RdataWriter): number {
  let proto = parseUint(t.buf, t.start[first]!, t.end[first]!, 0xff);
  if (proto < 0) proto = lookup(PROTOCOLS, tokenText(t, first).toLowerCase());
  if (proto < 0) throw new FieldError(first, `WKS: unknown protocol "${tokenForMessage(t, first)}" (tcp, udp or a number)`);
  w.u8(proto);
  const bits = new Uint8Array(MAX_BITMAP);
  let length = 0;
  for (let i = first + 1; i < t.count; i++) {
    let port = parseUint(t.buf, t.start[i]!, t.end[i]!, 0xffff);
    if (port < 0) port = lookup(WKS_SERVICES, tokenText(t, i).toLowerCase());
    if (port < 0) throw new FieldError(i, `WKS: unknown service "${tokenForMessage(t, i)}" (a port number, or a name such as smtp or domain)`);
    bits[port >>> 3]! |= 0x80 >>> (port & 7);
    if ((port >>> 3) + 1 > length) length = (port >>> 3) + 1;
  }
  w.bytes(bits.subarray(0, length));
  return t.count;
}

/** Offset past protocol and bitmap at `p`, or -1. */
export function wksEnd(p: number, end: number): number {
  return p < end && end - p - 1 <= MAX_BITMAP ? end : -1;
}

export function formatWks(b: Uint8Array, p: number, end: number): string {
  // trailing zero octets are legal but have no text form; `\#` keeps them, so signatures still verify
  if (end > p + 1 && b[end - 1] === 0) throw new Error('WKS bitmap with trailing zero octets');
  const words = [String(b[p])];
  for (let i = p + 1; i < end; i++) {
    for (let bit = 0; bit < 8; bit++) if (b[i]! & (0x80 >>> bit)) words.push(String((i - p - 1) * 8 + bit));
  }
  return words.join(' ');
}
