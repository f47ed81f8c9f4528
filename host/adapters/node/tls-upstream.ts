/**
 * DNS over TLS to upstreams (RFC 7858 §3.4, RFC 7766 §6.2.1): connections kept open and reused,
 * several queries in flight on one connection (pipelined, answers matched by ID and question in
 * whatever order they come), at most a few connections per server. A connection with nothing in
 * flight for IDLE_MS is closed by us; one the server closes is reopened on the next query, and
 * the queries it still had are sent again once on a new connection (a server may close an idle
 * connection just as we reuse it). Certificates are checked against the server's name (or its
 * IP address) and the configured roots; a handshake that fails rejects with UpstreamTlsError.
 */

import { readFile } from 'node:fs/promises';
import { connect, type TLSSocket } from 'node:tls';
import { UpstreamTimeout, UpstreamTlsError, type TlsServer } from '../../core/upstream.js';

/** A connection with nothing in flight for this long is closed, ms. */
const IDLE_MS = 20_000;
/** Queries one connection carries at once before another is opened. */
const MAX_PIPELINED = 64;
/** Connections to one server (with one name and CA) at most. */
const MAX_CONNECTIONS = 4;
const MAX_MESSAGE = 65535;

interface Pending {
  msg: Uint8Array;
  accept: (reply: Uint8Array) => boolean;
  resolve: (reply: Uint8Array) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Sent again already, after a reused connection closed under it. */
  retried: boolean;
  /** The connection it is in flight on. */
  conn: Connection | null;
}

class Connection {
  readonly pending = new Map<number, Pending>();
  private buf: Buffer = Buffer.alloc(0);
  private ready = false;
  private closed = false;
  /** Replies received: a connection that has answered once is a reused one from then on. */
  private answered = 0;
  private idle: ReturnType<typeof setTimeout> | undefined;
  private sock: TLSSocket | null = null;
  /** The TCP connection is up: an error from here to `ready` is the TLS handshake's. */
  private connected = false;
  private readonly handshake: ReturnType<typeof setTimeout>;

  constructor(
    private readonly server: TlsServer,
    ca: Promise<Buffer | undefined>,
    handshakeTimeoutMs: number,
    private readonly gone: (c: Connection, orphans: Pending[]) => void,
  ) {
    this.handshake = setTimeout(() => this.fail(new UpstreamTimeout(`no TLS handshake within ${handshakeTimeoutMs} ms`)), handshakeTimeoutMs);
    ca.then(
      (pem) => this.open(pem),
      (e: Error) => this.fail(new UpstreamTlsError(`cannot read tls_ca ${server.caFile}: ${e.message}`)),
    );
    this.armIdle();
  }

  private open(ca: Buffer | undefined): void {
    if (this.closed) return;
    const server = this.server;
    const sock = connect({
      host: server.host,
      port: server.port,
      // With a name: SNI and the certificate check use it. Without: the IP address is checked
      // against the certificate's IP entries (SNI cannot carry an address, RFC 6066 §3).
      ...(server.name !== undefined ? { servername: server.name.replace(/\.$/, '') } : {}),
      ...(ca ? { ca } : {}),
      ALPNProtocols: ['dot'],
      rejectUnauthorized: true,
    });
    this.sock = sock;
    sock.setNoDelay(true);
    // A kept connection does not hold the process open; a query waiting on it has its own timer.
    sock.unref();
    sock.once('connect', () => (this.connected = true));
    sock.once('secureConnect', () => {
      clearTimeout(this.handshake);
      this.ready = true;
      for (const [, p] of this.pending) this.write(p.msg);
    });
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // Between the TCP connect and the end of the handshake it is the handshake that failed
      // (the certificate, its name, the protocol); otherwise the connection (refused, reset).
      this.fail(this.connected && !this.ready ? new UpstreamTlsError(describeTlsError(e)) : e);
    });
    sock.on('close', () => {
      if (this.connected && !this.ready) this.fail(new UpstreamTlsError('TLS handshake failed: the server closed the connection'));
      else this.fail(new Error('the server closed the TLS connection'));
    });
  }

  get load(): number {
    return this.pending.size;
  }

  /** Sends `p` with the ID at the start of its message; false when that ID is in flight here. */
  send(p: Pending): boolean {
    const id = (p.msg[0]! << 8) | p.msg[1]!;
    if (this.closed || this.pending.has(id)) return false;
    this.pending.set(id, p);
    p.conn = this;
    clearTimeout(this.idle);
    if (this.ready) this.write(p.msg);
    return true;
  }

  /** A query given up (its timeout): the connection stays for the others. */
  forget(p: Pending): void {
    const id = (p.msg[0]! << 8) | p.msg[1]!;
    if (this.pending.get(id) === p) this.pending.delete(id);
    this.armIdle();
  }

  private write(msg: Uint8Array): void {
    const frame = Buffer.alloc(2 + msg.length);
    frame.writeUInt16BE(msg.length, 0);
    frame.set(msg, 2);
    this.sock!.write(frame);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 2) {
      const len = this.buf.readUInt16BE(0);
      if (this.buf.length < 2 + len) break;
      const reply = new Uint8Array(this.buf.subarray(2, 2 + len));
      this.buf = this.buf.subarray(2 + len);
      if (reply.length < 2) continue;
      const id = (reply[0]! << 8) | reply[1]!;
      const p = this.pending.get(id);
      // Not a reply to a query in flight here (a late one we gave up on): ignored.
      if (!p || !p.accept(reply)) continue;
      this.answered++;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(reply);
    }
    if (this.buf.length > MAX_MESSAGE + 2) this.fail(new Error('TLS reply too large'));
    this.armIdle();
  }

  private armIdle(): void {
    clearTimeout(this.idle);
    if (this.pending.size > 0 || this.closed) return;
    this.idle = setTimeout(() => this.close(), IDLE_MS);
    this.idle.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idle);
    clearTimeout(this.handshake);
    this.sock?.destroy();
    this.gone(this, []);
  }

  /**
   * The connection is over. Its queries fail with `e`, except, on a connection that had already
   * answered (a reused one), those not yet retried: they go back to the pool to be sent again.
   */
  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idle);
    clearTimeout(this.handshake);
    this.sock?.destroy();
    const orphans: Pending[] = [];
    for (const p of this.pending.values()) {
      if (this.answered > 0 && !p.retried && !(e instanceof UpstreamTlsError)) {
        p.retried = true;
        orphans.push(p);
      } else {
        clearTimeout(p.timer);
        p.reject(e);
      }
    }
    this.pending.clear();
    this.gone(this, orphans);
  }
}

function describeTlsError(e: NodeJS.ErrnoException): string {
  const code = e.code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `certificate name check failed: ${e.message}`;
  if (/CERT|SIGNATURE|ISSUER|SELF_SIGNED|VERIFY/.test(code)) return `certificate not trusted: ${e.message} (${code})`;
  return `TLS handshake failed: ${e.message}${code ? ` (${code})` : ''}`;
}

/** The connections of one process to its TLS upstreams, by server, name and CA file. */
export class TlsUpstreamPool {
  private readonly pools = new Map<string, Connection[]>();

  query(server: TlsServer, msg: Uint8Array, timeoutMs: number, accept: (reply: Uint8Array) => boolean): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const p: Pending = {
        msg,
        accept,
        resolve,
        reject,
        retried: false,
        conn: null,
        timer: setTimeout(() => {
          p.conn?.forget(p);
          reject(new UpstreamTimeout(`no TLS answer within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.place(server, timeoutMs, p);
    });
  }

  /** Puts `p` on the least loaded connection with room, or on a new one. */
  private place(server: TlsServer, timeoutMs: number, p: Pending): void {
    const key = `${server.host}|${server.port}|${server.name ?? ''}|${server.caFile ?? ''}`;
    const list = this.pools.get(key) ?? [];
    const open = [...list].sort((a, b) => a.load - b.load);
    for (const c of open) if ((c.load < MAX_PIPELINED || list.length >= MAX_CONNECTIONS) && c.send(p)) return;
    // Read when a connection opens, so a renewed CA file is used without a reload.
    const ca = server.caFile ? readFile(server.caFile) : Promise.resolve(undefined);
    const c = new Connection(server, ca, timeoutMs, (dead, orphans) => {
      const l = this.pools.get(key);
      const i = l ? l.indexOf(dead) : -1;
      if (i >= 0) l!.splice(i, 1);
      if (l && l.length === 0) this.pools.delete(key);
      for (const o of orphans) this.place(server, timeoutMs, o);
    });
    if (!this.pools.has(key)) this.pools.set(key, list);
    list.push(c);
    c.send(p);
  }

  /** Connections open now, for tests and /status. */
  get connections(): number {
    let n = 0;
    for (const l of this.pools.values()) n += l.length;
    return n;
  }

  /** Closes every connection. */
  closeAll(): void {
    for (const list of this.pools.values()) for (const c of [...list]) c.close();
    this.pools.clear();
  }
}
