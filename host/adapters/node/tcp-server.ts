/**
 * DNS over TCP (RFC 7766): 2-byte length framing, several queries per connection answered as
 * they complete (possibly out of order, §6.2.1.1), an idle timeout that does not fire while
 * queries are in progress, and caps on connections and queries per connection.
 */

import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../core/log.js';
import type { Counter } from '../../core/metrics.js';
import type { Resolver } from '../../core/resolver.js';

export interface TcpServerOptions {
  host: string;
  port: number;
  idleTimeoutMs: number;
  maxConnections: number;
  maxQueriesPerConnection: number;
}

const HEADER_LEN = 12;
/** Queries one connection may have in progress before we stop reading from it. */
const MAX_PIPELINED = 100;

export class TcpServer {
  private server!: Server;
  private readonly conns = new Set<Socket>();
  private inflight = 0;

  constructor(
    private readonly resolver: () => Resolver,
    private readonly opts: TcpServerOptions,
    private readonly logger: Logger,
    private readonly dropped: Counter,
  ) {}

  get pending(): number {
    return this.inflight;
  }

  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => this.onConnection(sock));
      this.server = server;
      server.maxConnections = this.opts.maxConnections;
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        const a = server.address() as { address: string; port: number };
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private onConnection(sock: Socket): void {
    this.conns.add(sock);
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let pendingHere = 0;
    let served = 0;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const client = { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 };
    const armIdle = () => {
      clearTimeout(idle);
      if (pendingHere === 0) idle = setTimeout(() => sock.end(), this.opts.idleTimeoutMs);
    };
    armIdle();
    // Backpressure: a client that sends faster than it reads, or pipelines more than we take at
    // once, is not read from until it catches up; its buffers stay bounded.
    let writeBlocked = false;
    const flow = () => {
      if (sock.destroyed) return;
      if (writeBlocked || pendingHere >= MAX_PIPELINED) sock.pause();
      else sock.resume();
    };
    sock.on('drain', () => {
      writeBlocked = false;
      flow();
    });
    sock.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (len < HEADER_LEN) {
          // Not even a header: nothing sensible to answer; close as RFC 7766 §8 allows.
          this.dropped.inc({ transport: 'tcp', reason: 'short-frame' });
          sock.destroy();
          return;
        }
        if (buf.length < 2 + len) break;
        const query = new Uint8Array(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        if (++served > this.opts.maxQueriesPerConnection) {
          this.dropped.inc({ transport: 'tcp', reason: 'query-limit' });
          sock.end();
          return;
        }
        pendingHere++;
        this.inflight++;
        clearTimeout(idle);
        this.resolver()
          .handle(query, { client, transport: 'tcp' })
          .then((reply) => {
            if (!reply || sock.destroyed) return;
            const frame = Buffer.alloc(2 + reply.message.length);
            frame.writeUInt16BE(reply.message.length, 0);
            frame.set(reply.message, 2);
            if (!sock.write(frame)) writeBlocked = true;
          })
          .catch((e: Error) => this.logger.log('error', 'tcp request failed', { error: e.message, stack: e.stack }))
          .finally(() => {
            pendingHere--;
            this.inflight--;
            if (!sock.destroyed) armIdle();
            flow();
          });
      }
      flow();
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      clearTimeout(idle);
      this.conns.delete(sock);
    });
  }

  /** Stops accepting connections; open ones keep being served until `close`. */
  stopAccepting(): void {
    this.server.close();
  }

  async close(): Promise<void> {
    this.server.close();
    for (const s of this.conns) s.destroy();
    this.conns.clear();
  }
}
