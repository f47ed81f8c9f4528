/**
 * DNS over TCP (RFC 7766), and DNS over TLS (RFC 7858) on the same code: 2-byte length framing,
 * several queries per connection answered as they complete (possibly out of order, §6.2.1.1), an
 * idle timeout that does not fire while queries are in progress, and caps on connections and
 * queries per connection.
 *
 * A connection we close is ended (FIN, after the answers already written) and then destroyed a
 * moment later: a client that never closes its side would otherwise keep its slot, and
 * `tcp_max_connections` such clients would shut everyone else out.
 *
 * What a client can make us hold is bounded: connections per listener and per client address
 * (conn-limits.ts), queries in progress per connection, and answers waiting to be written: no new
 * query is taken while the socket's output is above its high-water mark, and a connection whose
 * unread output passes `maxOutputBytes` (a client that sends and never reads) is closed.
 *
 * With `tls`, the listener is DNS over TLS: a connection is counted against the caps from its
 * first byte (before the handshake, so clients that never finish one still hold a slot and are
 * capped), must finish its handshake within `handshakeTimeoutMs`, and then is served exactly as
 * a TCP connection is. A handshake that fails or times out closes that connection only.
 */

import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from '../../core/log.js';
import type { Counter, Gauge } from '../../core/metrics.js';
import type { Resolver } from '../../core/resolver.js';
import type { ClientGate } from './client-gate.js';
import type { Dnstap } from '../../core/dnstap/tap.js';
import { ConnectionLimits } from './conn-limits.js';

export interface TcpServerOptions {
  host: string;
  port: number;
  idleTimeoutMs: number;
  maxConnections: number;
  maxQueriesPerConnection: number;
  maxConnectionsPerClient: number;
  /** Answers a connection may have written and the client not read, bytes. */
  maxOutputBytes: number;
  /** The listener as the config names it (its access rules). */
  listener: string;
  /** DNS over TLS: the certificate to present and how long a handshake may take, ms. */
  tls?: { cert: string | Buffer; key: string | Buffer; handshakeTimeoutMs: number };
  /** dnstap: each query and the answer sent back. */
  tap?: Dnstap;
}

const HEADER_LEN = 12;
/** Queries one connection may have in progress before we stop reading from it. */
const MAX_PIPELINED = 100;
/** How long a connection we ended may take to flush our answers and close its side. */
const CLOSE_GRACE_MS = 1000;

export class TcpServer {
  private server!: Server;
  private readonly conns = new Set<Socket>();
  /** DoT: the TCP sockets under the TLS ones, handshaking or not (closed with the listener). */
  private readonly raw = new Set<Socket>();
  private inflight = 0;
  private label = '';
  private readonly transport: 'tcp' | 'dot';
  private context: SecureContext | undefined;

  constructor(
    private readonly resolver: () => Resolver,
    private readonly opts: TcpServerOptions,
    private readonly logger: Logger,
    private readonly dropped: Counter,
    private readonly open: Gauge,
    private readonly limits: ConnectionLimits,
    private readonly gate: ClientGate,
  ) {
    this.transport = opts.tls ? 'dot' : 'tcp';
  }

  get pending(): number {
    return this.inflight;
  }

  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true }, (sock) => this.onTcpConnection(sock));
      this.server = server;
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        const a = server.address() as { address: string; port: number };
        this.label = a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
        this.open.set({ listener: this.label }, 0);
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  /**
   * A TCP connection taken past the caps: served as it is, or (DoT) once its TLS handshake is
   * done. The TLS layer is put on the admitted socket here rather than by a TLS server, so a
   * refused connection is dropped before any handshake work and every handshake is timed.
   */
  private onTcpConnection(raw: Socket): void {
    if (!this.gate.admitConnection(this.opts.listener, raw.remoteAddress ?? '')) {
      this.limits.refusedBy('access-control');
      raw.destroy();
      return;
    }
    if (!this.limits.admit(raw)) return;
    const tls = this.opts.tls;
    if (!tls) return this.onConnection(raw);
    this.context ??= createSecureContext({ cert: tls.cert, key: tls.key });
    this.raw.add(raw);
    raw.once('close', () => this.raw.delete(raw));
    const sock = new TLSSocket(raw, { isServer: true, secureContext: this.context });
    const failed = (reason: 'handshake-timeout' | 'handshake-failed', error: string) => {
      clearTimeout(timer);
      this.limits.closed(reason);
      this.logger.log('debug', 'DoT handshake failed', { client: raw.remoteAddress, reason, error });
      sock.destroy();
      raw.destroy();
    };
    const timer = setTimeout(() => failed('handshake-timeout', `no TLS handshake within ${tls.handshakeTimeoutMs} ms`), tls.handshakeTimeoutMs);
    const onError = (e: Error) => failed('handshake-failed', e.message);
    // The socket allows half-open (for TCP's sake): a client gone before its handshake is done
    // would otherwise keep its slot until the handshake timeout.
    const onEnd = () => failed('handshake-failed', 'the client closed during the handshake');
    sock.once('error', onError);
    sock.once('end', onEnd);
    sock.once('secure', () => {
      clearTimeout(timer);
      sock.off('error', onError);
      sock.off('end', onEnd);
      this.onConnection(sock);
    });
  }

  private onConnection(sock: Socket): void {
    const transport = this.transport;
    this.conns.add(sock);
    this.open.set({ listener: this.label }, this.conns.size);
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let pendingHere = 0;
    let served = 0;
    /** No more queries are read; the connection closes once the answers in progress are out. */
    let draining = false;
    let idle: ReturnType<typeof setTimeout> | undefined;
    let kill: ReturnType<typeof setTimeout> | undefined;
    const client = { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 };
    const local = { address: sock.localAddress ?? '', port: sock.localPort ?? 0 };
    const shut = () => {
      draining = true;
      clearTimeout(idle);
      if (kill || sock.destroyed) return;
      sock.end();
      kill = setTimeout(() => sock.destroy(), CLOSE_GRACE_MS);
    };
    const armIdle = () => {
      clearTimeout(idle);
      if (pendingHere === 0) {
        idle = setTimeout(() => {
          this.limits.closed('idle');
          shut();
        }, this.opts.idleTimeoutMs);
      }
    };
    armIdle();
    // Backpressure: a client that sends faster than it reads, or pipelines more than we take at
    // once, is not read from until it catches up; its buffers stay bounded.
    let writeBlocked = false;
    const flow = () => {
      if (sock.destroyed) return;
      if (draining || writeBlocked || pendingHere >= MAX_PIPELINED) sock.pause();
      else sock.resume();
    };
    sock.on('drain', () => {
      writeBlocked = false;
      pump();
    });
    sock.on('data', (chunk) => {
      if (draining) return;
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      pump();
    });
    /** Takes the complete queries in `buf`, while the connection may have more in progress. */
    const pump = () => {
      while (buf.length >= 2 && !draining && !writeBlocked && pendingHere < MAX_PIPELINED && !sock.destroyed) {
        const len = buf.readUInt16BE(0);
        if (len < HEADER_LEN) {
          // Not even a header: nothing sensible to answer; close as RFC 7766 §8 allows.
          this.dropped.inc({ transport, reason: 'short-frame' });
          sock.destroy();
          return;
        }
        if (buf.length < 2 + len) break;
        const query = new Uint8Array(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        if (++served > this.opts.maxQueriesPerConnection) {
          // The queries already taken are answered first; the rest of the buffer is not read.
          this.dropped.inc({ transport, reason: 'query-limit' });
          draining = true;
          if (pendingHere === 0) shut();
          break;
        }
        const v = this.gate.check(this.opts.listener, client.address, transport);
        if (v.kind === 'deny') {
          // Denied since the connection opened (a reload): nothing more is read from it.
          sock.destroy();
          return;
        }
        // Over the rate limit over TCP the query goes unanswered; the connection stays.
        if (v.kind === 'limited') continue;
        pendingHere++;
        this.inflight++;
        clearTimeout(idle);
        const tapped = this.opts.tap?.client(transport, client, local, query) ?? null;
        const answer = v.kind === 'refuse' ? Promise.resolve(this.resolver().refuse(query, v.why)) : this.resolver().handle(query, { client, transport });
        answer
          .then((reply) => {
            if (!reply || sock.destroyed) return;
            const frame = Buffer.alloc(2 + reply.message.length);
            frame.writeUInt16BE(reply.message.length, 0);
            frame.set(reply.message, 2);
            if (!sock.write(frame)) writeBlocked = true;
            tapped?.(reply.message);
            if (sock.writableLength > this.opts.maxOutputBytes) {
              // The client sends and does not read: what it left unread is all it gets.
              this.limits.closed('output-limit');
              sock.destroy();
            }
          })
          .catch((e: Error) => this.logger.log('error', `${transport} request failed`, { error: e.message, stack: e.stack }))
          .finally(() => {
            pendingHere--;
            this.inflight--;
            if (draining && pendingHere === 0) shut();
            else if (!sock.destroyed && !draining) armIdle();
            pump();
            flow();
          });
      }
      flow();
    };
    // A client that half-closes after its queries still gets their answers (the server allows
    // half-open sockets for this); then we close too.
    sock.on('end', () => {
      draining = true;
      if (pendingHere === 0) shut();
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      clearTimeout(idle);
      clearTimeout(kill);
      this.conns.delete(sock);
      this.open.set({ listener: this.label }, this.conns.size);
    });
  }

  /** Stops accepting connections; open ones keep being served until `close`. */
  stopAccepting(): void {
    this.server.close();
  }

  async close(): Promise<void> {
    this.server.close();
    for (const s of this.conns) s.destroy();
    for (const s of this.raw) s.destroy();
    this.conns.clear();
  }
}
