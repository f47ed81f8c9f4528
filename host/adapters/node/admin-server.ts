/**
 * The admin HTTP listener: Prometheus metrics, a JSON status, health, authenticated writes
 * (config reload) and authenticated reads of what an operator may keep private (the rule text)
 * with a bearer token. Extra routes (rules, zones) are registered by the parts that own them.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../core/log.js';
import { requestPath } from './http-util.js';

export type AdminRoute = (req: IncomingMessage, body: string) => Promise<{ status: number; body: unknown; type?: string }>;

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

const MAX_BODY = 16 * 1024 * 1024;

export class AdminServer {
  private server!: Server;
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
    this.server = createServer((req, res) =>
      void this.serve(req, res).catch((e: unknown) => {
        // Nothing a request holds may leave it without an answer.
        this.logger.log('error', 'admin request failed', { error: (e as Error).message });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end();
      }),
    );
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as { address: string; port: number };
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private authorized(req: IncomingMessage): boolean {
    const token = this.opts.token;
    if (!token) return false;
    const got = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const a = Buffer.from(got);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown, type = 'application/json') => {
      const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n';
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const path = requestPath(req.url);
    if (path === null) {
      req.resume();
      return send(400, { error: 'the request target is not a path' });
    }
    const route = this.routes.get(`${req.method} ${path}`);
    if (!route) {
      const allowed = [...this.routes.keys()].filter((k) => k.endsWith(` ${path}`)).map((k) => k.split(' ')[0]);
      if (allowed.length) return send(405, { error: `method ${req.method} not allowed`, allow: allowed });
      return send(404, { error: 'not found' });
    }
    if (route.access === 'write' && !this.opts.token) return send(403, { error: 'admin writes are disabled: set admin.token in the config (or leave admin.token_file unset on Node: a token is made at first start)' });
    if (route.access !== 'open' && this.opts.token && !this.authorized(req)) return send(401, { error: 'missing or wrong bearer token' });
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MAX_BODY) return send(413, { error: `body larger than ${MAX_BODY} bytes` });
        chunks.push(c as Buffer);
      }
      // Decoded whole: a character split across chunks must not change what was pushed.
      const body = Buffer.concat(chunks).toString('utf8');
      const r = await route.fn(req, body);
      send(r.status, r.body, r.type);
    } catch (e) {
      this.logger.log('error', 'admin request failed', { path, error: (e as Error).message });
      send(500, { error: (e as Error).message });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
