/** Bridges node:http to Fetch Request/Response so the core's handlers run unchanged. */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

const MAX_BODY = 1024 * 1024 * 16;

export async function toRequest(req: IncomingMessage | Http2ServerRequest, base: string, maxBody = MAX_BODY): Promise<Request | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > maxBody) return 'too-large';
      chunks.push(c as Buffer);
    }
  }
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k.startsWith(':')) continue;
    headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  }
  let url: URL;
  try {
    url = new URL(req.url ?? '/', base);
  } catch {
    // A Host header that is not a host: the path is what matters.
    url = new URL(req.url ?? '/', 'http://localhost');
  }
  return new Request(url, {
    method: req.method,
    headers,
    body: chunks.length ? Buffer.concat(chunks) : undefined,
  });
}

export async function sendResponse(res: ServerResponse | Http2ServerResponse, r: Response): Promise<void> {
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => (headers[k] = v));
  const body = Buffer.from(await r.arrayBuffer());
  headers['content-length'] = String(body.length);
  (res as ServerResponse).writeHead(r.status, headers);
  (res as ServerResponse).end(body);
}

/**
 * The path of a request target (origin form `/a/b?q`, or absolute form `http://host/a/b`), or
 * null when it is not a URL (`//%`, `http://[/x`): those get 400, never an exception.
 */
export function requestPath(target: string | undefined): string | null {
  try {
    return new URL(target ?? '/', 'http://localhost').pathname;
  } catch {
    return null;
  }
}
