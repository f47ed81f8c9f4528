/**
 * Upstream I/O on Node: a fresh UDP socket per query (random source port, RFC 5452), TCP, DoH,
 * and DNS over TLS on kept connections (tls-upstream.ts).
 */

import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { UpstreamTimeout, type UpstreamTransport } from '../../core/upstream.js';
import { TlsUpstreamPool } from './tls-upstream.js';

/** The process's DNS-over-TLS connections, shared by its nodes as an HTTP agent would be. */
export const tlsUpstreams = new TlsUpstreamPool();

const MAX_TCP_MESSAGE = 65535;

export const nodeTransport: UpstreamTransport = {
  udp(host, port, msg, timeoutMs, accept) {
    return new Promise((resolve, reject) => {
      const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
      let settled = false;
      const done = (err: Error | null, reply?: Uint8Array) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.close();
        if (err) reject(err);
        else resolve(reply!);
      };
      const timer = setTimeout(() => done(new UpstreamTimeout(`no UDP answer within ${timeoutMs} ms`)), timeoutMs);
      sock.on('error', (e) => done(e));
      sock.on('message', (data, rinfo) => {
        // Only the server we asked, and only a reply to this query (RFC 5452 §9.1); anything
        // else is ignored and we keep waiting.
        if (rinfo.port !== port || !sameHost(rinfo.address, host)) return;
        const reply = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        if (accept(reply)) done(null, reply.slice());
      });
      sock.send(msg, port, host, (e) => e && done(e));
    });
  },

  tcp(host, port, msg, timeoutMs) {
    return new Promise((resolve, reject) => {
      const sock = connect({ host, port });
      let buf = Buffer.alloc(0);
      let settled = false;
      const done = (err: Error | null, reply?: Uint8Array) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(reply!);
      };
      const timer = setTimeout(() => done(new UpstreamTimeout(`no TCP answer within ${timeoutMs} ms`)), timeoutMs);
      sock.on('error', (e) => done(e));
      sock.on('connect', () => {
        const frame = Buffer.alloc(2 + msg.length);
        frame.writeUInt16BE(msg.length, 0);
        frame.set(msg, 2);
        sock.write(frame);
      });
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length > MAX_TCP_MESSAGE + 2) return done(new Error('TCP reply too large'));
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          done(null, new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        }
      });
      sock.on('end', () => done(new Error('TCP connection closed before a full reply')));
    });
  },

  tls(server, msg, timeoutMs, accept) {
    return tlsUpstreams.query(server, msg, timeoutMs, accept);
  },

  async doh(url, msg, timeoutMs, headers) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/dns-message', accept: 'application/dns-message', ...headers },
      body: msg.slice(),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 200) throw new Error(`DoH server answered HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  },
};

function sameHost(a: string, b: string): boolean {
  return a === b || a.replace(/^::ffff:/, '') === b.replace(/^::ffff:/, '');
}
