/**
 * The admin HTTP listener: Prometheus metrics, a JSON status, health, authenticated writes
 * (config reload) and authenticated reads of what an operator may keep private (the rule text)
 * with a bearer token. Extra routes (rules, zones) are registered by the parts that own them.
 */

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../core/log.js';
import { requestPath } from './http-util.js';

/** What a route reads of its request (an IncomingMessage is one). */
export interface AdminRequestHead {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
}

export type AdminRoute = (req: AdminRequestHead, body: string) => Promise<{ status: number; body: unknown; type?: string }>;

/** An answer as it goes on the wire. */
export interface AdminReply {
  status: number;
  type: string;
  text: string;
}

/**
 * Who may call a route: `open` anyone; `read` anyone while no token is configured, else only
 * with it; `write` only with the token, and nobody while none is configured.
 */
export type AdminAccess = 'open' | 'read' | 'write';

export interface AdminOptions {
  host: string;
  port: number;
  token: string | undefined;
}

export const MAX_BODY = 16 * 1024 * 1024;

export class AdminServer {
  private server: Server | null = null;
  private readonly routes = new Map<string, { access: AdminAccess; fn: AdminRoute }>();

  constructor(
    private readonly opts: AdminOptions,
    private readonly logger: Logger,
  ) {}

  /** Registers `METHOD /path`; by default a GET is open and anything else a write. */
  route(method: string, path: string, fn: AdminRoute, access: AdminAccess = method === 'GET' ? 'open' : 'write'): void {
    this.routes.set(`${method} ${path}`, { access, fn });
  }

  setToken(token: string | undefined): void {
    this.opts.token = token;
  }

  listen(): Promise<{ address: string; port: number }> {
    const server = createServer((req, res) =>
      void this.serve(req, res).catch((e: unknown) => {
        // Nothing a request holds may leave it without an answer.
        this.logger.log('error', 'admin request failed', { error: (e as Error).message });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end();
      }),
    );
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        const a = server.address() as { address: string; port: number };
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private authorized(req: AdminRequestHead): boolean {
    const token = this.opts.token;
    if (!token) return false;
    const got = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const a = Buffer.from(got);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * The route for a request, or the answer when there is none or the caller may not use it
   * (checked before the body is read, so nobody unauthorised makes us read 16 MiB).
   */
  private lookup(req: AdminRequestHead): { reply: AdminReply } | { path: string; fn: AdminRoute } {
    const path = requestPath(req.url);
    if (path === null) return { reply: json(400, { error: 'the request target is not a path' }) };
    const route = this.routes.get(`${req.method} ${path}`);
    if (!route) {
      const allowed = [...this.routes.keys()].filter((k) => k.endsWith(` ${path}`)).map((k) => k.split(' ')[0]);
      if (allowed.length) return { reply: json(405, { error: `method ${req.method} not allowed`, allow: allowed }) };
      return { reply: json(404, { error: 'not found' }) };
    }
    if (route.access === 'write' && !this.opts.token) return { reply: json(403, { error: 'admin writes are disabled: set admin.token in the config (or leave admin.token_file unset on Node: a token is made at first start)' }) };
    if (route.access !== 'open' && this.opts.token && !this.authorized(req)) return { reply: json(401, { error: 'missing or wrong bearer token' }) };
    return { path, fn: route.fn };
  }

  private async run(path: string, fn: AdminRoute, req: AdminRequestHead, body: Uint8Array): Promise<AdminReply> {
    try {
      // Decoded whole: a character split across chunks must not change what was pushed.
      const r = await fn(req, Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
      return reply(r.status, r.body, r.type);
    } catch (e) {
      this.logger.log('error', 'admin request failed', { path, error: (e as Error).message });
      return json(500, { error: (e as Error).message });
    }
  }

  /**
   * One request whose body has been read already, answered as the listener would answer it:
   * how a worker process (server.workers > 1) serves the admin requests its primary relays.
   */
  async handle(req: AdminRequestHead & { body: Uint8Array }): Promise<AdminReply> {
    const found = this.lookup(req);
    if ('reply' in found) return found.reply;
    if (req.body.length > MAX_BODY) return json(413, { error: `body larger than ${MAX_BODY} bytes` });
    return this.run(found.path, found.fn, req, req.body);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (r: AdminReply) => {
      res.writeHead(r.status, { 'content-type': r.type, 'content-length': Buffer.byteLength(r.text) });
      res.end(r.text);
    };
    const found = this.lookup(req);
    if ('reply' in found) {
      req.resume();
      return send(found.reply);
    }
    const body = await readBody(req, MAX_BODY);
    if (body === null) return send(json(413, { error: `body larger than ${MAX_BODY} bytes` }));
    send(await this.run(found.path, found.fn, req, body));
  }

  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/** The request body, or null past `max` bytes. */
export async function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) return null;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function reply(status: number, body: unknown, type = 'application/json'): AdminReply {
  return { status, type, text: typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n' };
}

function json(status: number, body: unknown): AdminReply {
  return reply(status, body);
}
