/**
 * A DoH listener: HTTPS with HTTP/2 and HTTP/1.1 (`server.doh`; HTTP/2 is what `kdig +https`
 * speaks), or plain HTTP/1.1 (`server.doh_http`, for a TLS proxy in front). The certificate is the
 * configured one or, without one, a self-signed certificate made at start, so DoH works out of
 * the box for testing; production configures a real one. Requests go to the core's Fetch-based
 * handler.
 *
 * Connections are capped per listener and per client address (conn-limits.ts), and one with no
 * traffic for `idleTimeoutMs` is closed, whether it never sent a request or sits idle between
 * them (HTTP/1.1 keep-alive, an HTTP/2 session).
 */

import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import { handleDoh, type DohHandler } from '../../core/doh.js';
import type { Resolver } from '../../core/resolver.js';
import type { ClientGate } from './client-gate.js';
import type { Logger } from '../../core/log.js';
import { requestPath, sendResponse, toRequest } from './http-util.js';
import type { ConnectionLimits } from './conn-limits.js';
import type { Gauge } from '../../core/metrics.js';
import { loadCertificate, type CertificateSetting } from './tls-cert.js';
import { MessageType, type Dnstap, type Endpoint } from '../../core/dnstap/tap.js';

export interface DohServerOptions {
  host: string;
  port: number;
  path: string;
  /** 'http' for plain HTTP; for HTTPS, PEM files, or 'self-signed' for a certificate made at start. */
  tls: 'http' | CertificateSetting;
  /** A connection without traffic for this long is closed, ms. */
  idleTimeoutMs: number;
  /** The listener as the config names it (its access rules). */
  listener: string;
  /** dnstap: each DNS query and the answer sent back (JSON answers as the DNS message they render). */
  tap?: Dnstap;
}

/** Requests in progress above which new ones get 503 (as UDP drops past its own limit). */
const MAX_INFLIGHT = 10_000;

export class DohServer {
  private server!: HttpServer | Http2SecureServer;
  private readonly sockets = new Set<Socket>();
  private inflight = 0;

  constructor(
    private readonly resolver: () => Resolver,
    private readonly opts: DohServerOptions,
    private readonly logger: Logger,
    private readonly limits: ConnectionLimits,
    private readonly open: Gauge,
    private readonly gate: ClientGate,
  ) {}

  get pending(): number {
    return this.inflight;
  }

  async listen(): Promise<{ address: string; port: number }> {
    const scheme = this.opts.tls === 'http' ? 'http' : 'https';
    const handler = (req: Parameters<typeof toRequest>[0], res: Parameters<typeof sendResponse>[0]) => {
      if (this.inflight >= MAX_INFLIGHT) {
        void sendResponse(res, new Response('busy\n', { status: 503, headers: { 'retry-after': '1' } }));
        return;
      }
      this.inflight++;
      this.serve(scheme, req, res).finally(() => this.inflight--);
    };
    if (this.opts.tls === 'http') {
      this.server = createHttpServer(handler);
    } else {
      const tls = await loadCertificate(this.opts.tls);
      if (tls.fingerprint) {
        this.logger.log('info', 'DoH uses a self-signed certificate made at start; set server.tls_cert and tls_key for production', {
          port: this.opts.port,
          fingerprint: tls.fingerprint,
        });
      }
      const h2 = createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true }, handler);
      // HTTP/2 reads the connection through its session, so the timer on the TCP socket never
      // sees the traffic and would close a busy session as idle, streams in flight and all: the
      // session's own timer takes over once there is one.
      h2.on('session', (session) => {
        const tcp = [...this.sockets].find((s) => s.remoteAddress === session.socket.remoteAddress && s.remotePort === session.socket.remotePort);
        tcp?.setTimeout(0);
        session.setTimeout(this.opts.idleTimeoutMs, () => {
          this.limits.closed('idle');
          session.destroy();
        });
      });
      this.server = h2;
    }
    let label = '';
    this.server.on('connection', (s: Socket) => {
      if (!this.gate.admitConnection(this.opts.listener, s.remoteAddress ?? '')) {
        this.limits.refusedBy('access-control');
        s.destroy();
        return;
      }
      if (!this.limits.admit(s)) return;
      this.sockets.add(s);
      this.open.set({ listener: label }, this.sockets.size);
      s.setTimeout(this.opts.idleTimeoutMs, () => {
        this.limits.closed('idle');
        s.destroy();
      });
      s.on('close', () => {
        this.sockets.delete(s);
        this.open.set({ listener: label }, this.sockets.size);
      });
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as { address: string; port: number };
        label = a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
        this.open.set({ listener: label }, 0);
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private async serve(scheme: string, req: Parameters<typeof toRequest>[0], res: Parameters<typeof sendResponse>[0]): Promise<void> {
    try {
      if (requestPath(req.url) === null) {
        await sendResponse(res, new Response('the request target is not a path\n', { status: 400 }));
        return;
      }
      const request = await toRequest(req, `${scheme}://${req.headers.host ?? req.headers[':authority'] ?? 'localhost'}`, 65536);
      if (request === 'too-large') {
        await sendResponse(res, new Response('query too large\n', { status: 413 }));
        return;
      }
      const client = { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 };
      const v = this.gate.check(this.opts.listener, client.address, 'doh');
      if (v.kind === 'deny') {
        req.socket.destroy();
        return;
      }
      if (v.kind === 'limited') {
        await sendResponse(res, new Response('too many queries from this address\n', { status: 429, headers: { 'retry-after': '1' } }));
        return;
      }
      const resolver = this.resolver();
      const handler: DohHandler = v.kind === 'refuse' ? { handle: async (q) => resolver.refuse(q, v.why) } : resolver;
      const local = { address: req.socket.localAddress ?? '', port: req.socket.localPort ?? 0 };
      await sendResponse(res, await handleDoh(request, this.tapped(handler, client, local, req.httpVersionMajor === 2), client, this.opts.path));
    } catch (e) {
      this.logger.log('error', 'doh request failed', { error: (e as Error).message });
      if (!res.headersSent) await sendResponse(res, new Response('internal error\n', { status: 500 }));
    }
  }

  /** `resolver` with its queries and answers going to dnstap, when dnstap logs client messages. */
  private tapped(resolver: DohHandler, client: Endpoint, local: Endpoint, http2: boolean): DohHandler {
    const tap = this.opts.tap;
    if (!tap || !(tap.wants(MessageType.CLIENT_QUERY) || tap.wants(MessageType.CLIENT_RESPONSE))) return resolver;
    return {
      handle: async (query, info) => {
        const done = tap.client('doh', client, local, query, http2);
        const reply = await resolver.handle(query, info);
        done?.(reply?.message ?? null);
        return reply;
      },
    };
  }

  stopAccepting(): void {
    this.server.close();
  }

  async close(): Promise<void> {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }
}
