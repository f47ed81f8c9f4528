/** DNS over UDP: one socket per listen address; answers larger than the client can take get TC. */

import { createSocket, type Socket, type SocketOptions } from 'node:dgram';
import { lookup, type LookupOptions } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import { truncateResponse } from '../../core/dns/wire.js';
import type { Logger } from '../../core/log.js';
import type { Counter } from '../../core/metrics.js';
import type { Resolver, Reply } from '../../core/resolver.js';
import type { Dnstap } from '../../core/dnstap/tap.js';
import type { ClientGate } from './client-gate.js';

export interface UdpServerOptions {
  host: string;
  port: number;
  /** Requests in progress above which new ones are dropped (backpressure). */
  maxInflight: number;
  /** The listener as the config names it (its access rules). */
  listener: string;
  /** SO_RCVBUF to ask for, bytes; 0 leaves the system's default. */
  receiveBuffer: number;
  /** dnstap: each query and the bytes sent back (after truncation). */
  tap?: Dnstap;
}

/**
 * Every answer goes to the address a datagram came from, an IP literal: handed back as it is,
 * where dgram's default lookup (dns.lookup) defers each send to the next tick.
 */
const literalLookup = ((hostname: string, options: unknown, callback: (err: Error | null, address: string, family: number) => void) => {
  const family = isIP(hostname);
  if (family === 0) return lookup(hostname, options as LookupOptions, callback as never);
  callback(null, hostname, family);
}) as unknown as SocketOptions['lookup'];

export class UdpServer {
  private sock!: Socket;
  private inflight = 0;
  private closing = false;
  private local: { address: string; port: number } | null = null;

  constructor(
    private readonly resolver: () => Resolver,
    private readonly opts: UdpServerOptions,
    private readonly logger: Logger,
    private readonly dropped: Counter,
    private readonly truncated: Counter,
    private readonly gate: ClientGate,
  ) {}

  get pending(): number {
    return this.inflight;
  }

  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      // The system's default (often 208 KiB, some 250 small queries) is under two seconds of a
      // busy listener's queries: a pause in the event loop longer than that loses the rest.
      const recvBufferSize = this.opts.receiveBuffer || undefined;
      const sock = createSocket({ type: isIPv6(this.opts.host) ? 'udp6' : 'udp4', reuseAddr: false, recvBufferSize, lookup: literalLookup });
      this.sock = sock;
      sock.once('error', reject);
      sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
      sock.bind(this.opts.port, this.opts.host, () => {
        sock.off('error', reject);
        sock.on('error', (e) => this.logger.log('error', 'udp socket error', { error: e.message }));
        const a = sock.address();
        // Linux caps SO_RCVBUF at net.core.rmem_max (and reports twice what it grants).
        const granted = sock.getRecvBufferSize();
        if (recvBufferSize && granted < recvBufferSize) {
          this.logger.log('info', 'udp receive buffer smaller than asked; raise net.core.rmem_max', { listen: `${a.address}:${a.port}`, asked: recvBufferSize, granted });
        }
        this.local = { address: a.address, port: a.port };
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    if (this.closing || this.inflight >= this.opts.maxInflight) {
      this.dropped.inc({ transport: 'udp', reason: this.closing ? 'shutdown' : 'overload' });
      return;
    }
    const query = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    const client = { address, port };
    const v = this.gate.check(this.opts.listener, address, 'udp');
    if (v.kind !== 'allow') {
      // Answered here and now, or not at all: nothing of it reaches the resolver. What is
      // answered (refused, or TC=1 over the rate limit) goes to dnstap too; what is dropped does not.
      const r = v.kind === 'refuse' ? this.resolver().refuse(query, v.why) : v.kind === 'limited' && v.slip ? this.resolver().truncated(query) : null;
      if (r) {
        const tapped = this.opts.tap?.client('udp', client, this.local, query) ?? null;
        this.sock.send(r.message, port, address);
        tapped?.(r.message);
      }
      return;
    }
    this.inflight++;
    const tapped = this.opts.tap?.client('udp', client, this.local, query) ?? null;
    const r = this.resolver().respond(query, { client, transport: 'udp' });
    if (r instanceof Promise) {
      r.then((reply) => this.reply(reply, port, address, tapped))
        .catch((e: Error) => this.failed(e))
        .finally(() => this.inflight--);
      return;
    }
    // A cache hit or an app's answer: sent now, without a promise and its microtasks.
    try {
      this.reply(r, port, address, tapped);
    } catch (e) {
      this.failed(e as Error);
    }
    this.inflight--;
  }

  private reply(reply: Reply | null, port: number, address: string, tapped: ((m: Uint8Array) => void) | null): void {
    if (!reply) return;
    let out = reply.message;
    if (out.length > reply.udpLimit) {
      this.truncated.inc();
      // Header, question and our OPT stay, so the retry over TCP still negotiates EDNS.
      out = truncateResponse(out, reply.udpLimit, reply.opt ?? undefined);
    }
    this.sock.send(out, port, address);
    tapped?.(out);
  }

  private failed(e: Error): void {
    this.logger.log('error', 'udp request failed', { error: e.message, stack: e.stack });
  }

  /** Stops accepting; requests in progress still get their answers until `close`. */
  stopAccepting(): void {
    this.closing = true;
  }

  close(): Promise<void> {
    this.closing = true;
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}
