/**
 * What the Workers tests share: an upstream (NSD behind a Node resolver's DoH listener, both on
 * loopback), a zone image compiled from the lookalike root fixture, DoH helpers.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { root, startEdge, type TestNode } from '../helpers/edge.js';
import { buildErrorResponse, buildQuery, base64UrlEncode, concat, parseQuery, put16, put32, textToName } from '../../host/core/dns/wire.js';
import { compileImage, loadZone, parseTrustAnchor, verifyZone } from '../../host/core/zone/index.js';
import { toJson } from '../../host/core/doh.js';

export const fixtures = join(root, 'test/fixtures/zones');
export const K1 = 'site-key-one-0123456789abcdef';

/** Junk TLD names the lookalike root says do not exist, and the fake upstream root answers. */
export const JUNK = Array.from({ length: 40 }, (_, i) => `host.junk${i}.`);

const upstreamRoot = `$ORIGIN .
$TTL 300
. IN SOA ns.upstream. hostmaster.upstream. 1 3600 900 604800 60
. IN NS ns.upstream.
ns.upstream. IN A 127.0.0.1
${JUNK.map((n, i) => `${n} IN A 192.0.2.${i + 1}`).join('\n')}
`;
// Under a TLD the local root delegates (com.), so static_zone passes these to the upstream.
const exampleZone = `$ORIGIN example.com.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 604800 60
@ IN NS ns1
ns1 IN A 127.0.0.1
${Array.from({ length: 40 }, (_, i) => `n${i} 120 IN A 198.51.100.${i + 1}`).join('\n')}
`;

export interface Upstream {
  nsd: Nsd;
  edge: TestNode;
  dohPort: number;
  stop(): Promise<void>;
}

export async function startUpstream(): Promise<Upstream> {
  const nsd = await startNsd({ '.': upstreamRoot, 'example.com.': exampleZone });
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

let image: Promise<Uint8Array> | null = null;

/** The lookalike root (serial 2026082201) compiled to a zone image, as `edge-resolver zone compile` does. */
export function zoneImage(): Promise<Uint8Array> {
  image ??= (async () => {
    const anchor = await parseTrustAnchor(new Uint8Array(readFileSync(join(fixtures, 'trust-anchor.ds'))));
    const zone = await loadZone(new Uint8Array(readFileSync(join(fixtures, 'root-lookalike-2026082201.zone.gz'))), { file: 'root-lookalike' });
    const report = await verifyZone(zone, { trustAnchor: anchor, dnssec: 'require', zonemd: 'verify-if-present' });
    if (!report.usable) throw new Error(`fixture not usable: ${report.reasons.join('; ')}`);
    return compileImage(zone, report);
  })();
  return image;
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
