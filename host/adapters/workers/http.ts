/** Small HTTP pieces shared by the ingress Worker and the shard Durable Object. */

import { parseIPv4, parseIPv6, type ClientAddress } from '../../core/context.js';

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body, null, 2), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } });
}

export function text(body: string, status: number): Response {
  return new Response(`${body}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
}

/** The client's address as Cloudflare's edge reports it; null when absent or not an address. */
export function clientOf(req: Request): ClientAddress | null {
  const ip = req.headers.get('cf-connecting-ip');
  if (!ip || (!parseIPv4(ip) && !parseIPv6(ip))) return null;
  return { address: ip, port: 0 };
}
