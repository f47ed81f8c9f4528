/**
 * The DoH listener: HTTP/1.1 and, with a certificate, HTTPS with HTTP/2 (which `kdig +https`
 * requires) and HTTP/1.1 fallback. Requests go to the core's Fetch-based handler.
 */

import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { handleDoh, type DohHandler } from '../../core/doh.js';
import type { Logger } from '../../core/log.js';
import { sendResponse, toRequest } from './http-util.js';

export interface DohServerOptions {
  host: string;
  port: number;
  path: string;
  tls?: { cert: string; key: string };
}

export class DohServer {
  private server!: HttpServer | Http2SecureServer;
  private readonly sockets = new Set<Socket>();
  private inflight = 0;

  constructor(
    private readonly resolver: () => DohHandler,
    private readonly opts: DohServerOptions,
    private readonly logger: Logger,
  ) {}

  get pending(): number {
    return this.inflight;
  }

  listen(): Promise<{ address: string; port: number }> {
    const handler = (req: Parameters<typeof toRequest>[0], res: Parameters<typeof sendResponse>[0]) => {
      this.inflight++;
      this.serve(req, res).finally(() => this.inflight--);
    };
    this.server = this.opts.tls
      ? createSecureServer({ cert: readFileSync(this.opts.tls.cert), key: readFileSync(this.opts.tls.key), allowHTTP1: true }, handler)
      : createHttpServer(handler);
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as { address: string; port: number };
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private async serve(req: Parameters<typeof toRequest>[0], res: Parameters<typeof sendResponse>[0]): Promise<void> {
    try {
      const scheme = this.opts.tls ? 'https' : 'http';
      const request = await toRequest(req, `${scheme}://${req.headers.host ?? req.headers[':authority'] ?? 'localhost'}`, 65536);
      if (request === 'too-large') {
        await sendResponse(res, new Response('query too large\n', { status: 413 }));
        return;
      }
      const client = { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 };
      await sendResponse(res, await handleDoh(request, this.resolver(), client, this.opts.path));
    } catch (e) {
      this.logger.log('error', 'doh request failed', { error: (e as Error).message });
      if (!res.headersSent) await sendResponse(res, new Response('internal error\n', { status: 500 }));
    }
  }

  stopAccepting(): void {
    this.server.close();
  }

  async close(): Promise<void> {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }
}
