/**
 * DNS-over-HTTPS (RFC 8484) on Fetch types, shared by the Node server and the Worker:
 * GET `?dns=<base64url>` and POST `application/dns-message`, plus the JSON form
 * (`application/dns-json`, `?name=&type=`) that public resolvers offer.
 */

import type { ClientAddress } from './context.js';
import { CONTEXT_HEADER } from './context-auth.js';
import { RRType, typeFromName } from './dns/rr-types.js';
import { base64UrlDecode, buildQuery, concat, nameToText, readName, textToName, u16, u32, walkRecords, readHeader, WireError } from './dns/wire.js';
import { readBodyCapped } from './http-body.js';
import type { Reply } from './resolver.js';
import { formatGeneric, formatRdata } from './zone/rdata-format.js';
import { rdataFromMessage } from './zone/rdata-wire.js';

export const DNS_MESSAGE = 'application/dns-message';
export const DNS_JSON = 'application/dns-json';
const MAX_BODY = 65535;
/**
 * Past MAX_BODY a body is read on, unkept, up to this many bytes in all, so a client still
 * writing a modestly oversize body reads its 413 rather than a reset connection; past this the
 * stream is cancelled.
 */
const MAX_DRAIN = 1024 * 1024;

export interface DohHandler {
  handle(query: Uint8Array, info: { client: ClientAddress | null; transport: 'doh'; context?: Uint8Array }): Promise<Reply | null>;
}

function problem(status: number, text: string, extra: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...extra } });
}

/** Answers one DoH request on `path`; anything else is 404. */
export async function handleDoh(req: Request, resolver: DohHandler, client: ClientAddress | null, path = '/dns-query'): Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname !== path) return problem(404, 'not found');
  let query: Uint8Array;
  let json = false;
  if (req.method === 'GET') {
    const dns = url.searchParams.get('dns');
    const name = url.searchParams.get('name');
    if (dns !== null) {
      const decoded = base64UrlDecode(dns);
      if (!decoded || decoded.length === 0) return problem(400, 'the dns parameter is not base64url');
      if (decoded.length > MAX_BODY) return problem(413, 'query too large');
      query = decoded;
    } else if (name !== null) {
      // The JSON API convention (Google, Cloudflare): no type (or an empty one) asks for A.
      const built = jsonQuery(name, url.searchParams.get('type') || 'A', url.searchParams.get('do'), url.searchParams.get('cd'));
      if (typeof built === 'string') return problem(400, built);
      query = built;
      json = true;
    } else {
      return problem(400, 'missing the dns parameter');
    }
    json ||= (req.headers.get('accept') ?? '').includes(DNS_JSON);
  } else if (req.method === 'POST') {
    const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== DNS_MESSAGE) return problem(415, `content type must be ${DNS_MESSAGE}`);
    const declared = Number(req.headers.get('content-length') ?? '0');
    if (declared > MAX_DRAIN) return problem(413, 'query too large');
    const body = await readBodyCapped(req.body, MAX_BODY, MAX_DRAIN);
    if (!body) return problem(413, 'query too large');
    if (body.length === 0) return problem(400, 'empty body');
    query = body;
    json = (req.headers.get('accept') ?? '').includes(DNS_JSON) && !(req.headers.get('accept') ?? '').includes(DNS_MESSAGE);
  } else {
    return problem(405, 'method not allowed', { allow: 'GET, POST' });
  }

  // A peer's signed request context (base64url); the resolver authenticates it or strips it.
  const header = req.headers.get(CONTEXT_HEADER);
  const context = header ? (base64UrlDecode(header) ?? new Uint8Array([0])) : undefined;
  const reply = await resolver.handle(query, { client, transport: 'doh', ...(context ? { context } : {}) });
  if (!reply) return problem(400, 'not a DNS query');
  const headers: Record<string, string> = { 'cache-control': `max-age=${freshness(reply)}` };
  if (json) {
    let body: Record<string, unknown>;
    try {
      body = toJson(reply.message);
    } catch {
      // Never a 500: an answer that does not render is a failure to resolve.
      body = { Status: 2, TC: false, RD: true, RA: true, AD: false, CD: false, Question: [] };
    }
    return new Response(JSON.stringify(body), { status: 200, headers: { ...headers, 'content-type': `${DNS_JSON}; charset=utf-8` } });
  }
  return new Response(reply.message.slice(), { status: 200, headers: { ...headers, 'content-type': DNS_MESSAGE } });
}

/**
 * Seconds an HTTP cache may keep the answer (RFC 8484 §5.1): no longer than the smallest TTL
 * in it (the resolver counts cached TTLs down); for an answer with no records in the Answer
 * section, no longer than its SOA's MINIMUM either: a negative answer lives min(SOA TTL,
 * MINIMUM) (RFC 2308 §5), and the SOA's TTL is already among the TTLs.
 */
function freshness(reply: Reply): number {
  let seconds = reply.minTtl;
  try {
    const h = readHeader(reply.message);
    if (h.ancount > 0) return seconds;
    const soa = walkRecords(reply.message, h).records.find((r) => r.section === 1 && r.type === RRType.SOA);
    if (soa && soa.rdlength >= 22) seconds = Math.min(seconds, u32(reply.message, soa.end - 4));
  } catch {
    // a message we cannot walk keeps the resolver's figure
  }
  return seconds;
}

function jsonQuery(name: string, type: string, doFlag: string | null, cd: string | null): Uint8Array | string {
  // An empty name is a mistake in the request, not a question about the root (ask for `.`).
  if (name === '') return 'the name parameter is empty (ask for the root as name=.)';
  let qname: Uint8Array;
  try {
    qname = textToName(name.endsWith('.') ? name : `${name}.`);
  } catch (e) {
    return `bad name: ${(e as WireError).message}`;
  }
  const qtype = /^\d+$/.test(type) ? Number(type) : typeFromName(type);
  if (qtype === undefined || qtype > 0xffff) return `unknown type "${type}"`;
  const truthy = (v: string | null) => v !== null && v !== '0' && v !== 'false';
  return buildQuery({ name: qname, type: qtype, class: 1 }, { id: 0, cd: truthy(cd), udpSize: 4096, do: truthy(doFlag) });
}

interface JsonRecord {
  name: string;
  type: number;
  TTL: number;
  data: string;
}

/** The `application/dns-json` shape Google and Cloudflare use, RDATA in presentation form. */
export function toJson(msg: Uint8Array): Record<string, unknown> {
  const h = readHeader(msg);
  const { records } = walkRecords(msg, h);
  const sections: JsonRecord[][] = [[], [], []];
  for (const r of records) {
    if (r.type === RRType.OPT) continue;
    const { name } = readName(msg, r.nameOffset);
    sections[r.section]!.push({ name: nameToText(name), type: r.type, TTL: r.ttl, data: rdataText(msg, r.type, r.rdataOffset, r.rdlength) });
  }
  const out: Record<string, unknown> = {
    Status: h.rcode,
    TC: !!(h.flags & 0x0200),
    RD: !!(h.flags & 0x0100),
    RA: !!(h.flags & 0x0080),
    AD: !!(h.flags & 0x0020),
    CD: !!(h.flags & 0x0010),
    Question: [] as Array<{ name: string; type: number }>,
  };
  if (h.qdcount > 0) {
    const { name: qname, end } = readName(msg, 12);
    (out.Question as Array<{ name: string; type: number }>).push({ name: nameToText(qname), type: u16(msg, end) });
  }
  if (sections[0]!.length) out.Answer = sections[0];
  if (sections[1]!.length) out.Authority = sections[1];
  return out;
}

/**
 * RDATA in presentation form for every type the zone code knows (the same writer as zone files,
 * names decompressed first); RFC 3597 `\#` form only for types without a known layout or RDATA
 * that does not fit its type's.
 */
function rdataText(msg: Uint8Array, type: number, off: number, len: number): string {
  const rd = rdataFromMessage(type, msg, off, len);
  return rd ? formatRdata(type, rd) : formatGeneric(msg.subarray(off, off + len));
}
