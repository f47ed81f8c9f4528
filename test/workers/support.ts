/**
 * What the Workers tests share: an upstream (NSD behind a Node resolver's DoH listener, both on
 * loopback) and DoH helpers; the zones and the zone image are the shared fixtures
 * (test/cases/fixtures.ts).
 */

import { startEdge, type TestNode } from '../helpers/edge.js';
import type { Nsd } from '../helpers/nsd.js';
import { buildErrorResponse, buildQuery, base64UrlEncode, concat, parseQuery, put16, put32, textToName } from '../../host/core/dns/wire.js';
import { toJson } from '../../host/core/doh.js';
import { startUpstreamNsd } from '../cases/fixtures.js';

export { JUNK, K1, zoneImage } from '../cases/fixtures.js';

export interface Upstream {
  nsd: Nsd;
  edge: TestNode;
  dohPort: number;
  stop(): Promise<void>;
}

/** The upstream: NSD with the shared fixtures' zones behind a Node resolver's DoH listener. */
export async function startUpstream(): Promise<Upstream> {
  const nsd = await startUpstreamNsd();
  const edge = await startEdge(`doh_http = ["127.0.0.1:0"]
[upstreams]
default = ["${nsd.address}"]
[apps.forward.config.routes]
"." = "default"
`);
  const dohPort = edge.edge.listening.doh[0]!.port;
  return {
    nsd,
    edge,
    dohPort,
    stop: async () => {
      await edge.stop();
      await nsd.stop();
    },
  };
}

/** Where the tests' NXDOMAIN with a long-lived SOA comes from (see `negativeUpstream`). */
export const NEGATIVE_HOST = 'negative.test';

/**
 * A DoH upstream that answers every query NXDOMAIN with an SOA of TTL 300 and MINIMUM 60, as an
 * authoritative that does not lower the SOA's TTL (RFC 2308 §3 asks it to) would: NSD does lower
 * it, so only this shows which of the two a DoH max-age follows.
 */
export async function negativeUpstream(req: Request): Promise<Response> {
  const q = new Uint8Array(await req.arrayBuffer());
  const p = parseQuery(q);
  const head = buildErrorResponse(q, 3, p);
  put16(head, 8, 1);
  const soa = new Uint8Array(12 + 22);
  put16(soa, 0, 0xc00c);
  put16(soa, 2, 6);
  put16(soa, 4, 1);
  put32(soa, 6, 300);
  put16(soa, 10, 22);
  for (const [i, v] of [1, 1800, 900, 604800, 60].entries()) put32(soa, 14 + 4 * i, v);
  return new Response(concat([head, soa]).slice(), { headers: { 'content-type': 'application/dns-message' } });
}

export function query(name: string, type = 1, o: { do?: boolean } = {}): Uint8Array {
  return buildQuery({ name: textToName(name.endsWith('.') ? name : `${name}.`), type, class: 1 }, { id: 0, rd: true, udpSize: 1232, do: o.do ?? false });
}

export const getUrl = (base: string, name: string, type = 1) => `${base}/dns-query?dns=${base64UrlEncode(query(name, type))}`;

export interface JsonAnswer {
  Status: number;
  Answer?: Array<{ name: string; type: number; TTL: number; data: string }>;
  Authority?: Array<{ name: string; type: number; TTL: number; data: string }>;
}

/** A DoH wire answer in the JSON form's shape (Status 3 is NXDOMAIN). */
export function answerOf(msg: Uint8Array): JsonAnswer {
  return toJson(msg) as unknown as JsonAnswer;
}
