/**
 * A minimal KeyFetcher for tests: DS and DNSKEY queries (DO=1, CD=1) to one or more real
 * servers over UDP, again over TCP when the answer is truncated. Attempt n goes to server
 * n mod count, so a test with two servers sees the validator route around a bad one.
 */

import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { RRType } from '../../../host/core/dns/rr-types.js';
import { buildQuery, FLAG_TC, u16 } from '../../../host/core/dns/wire.js';
import type { KeyFetcher, KeyResponse } from '../../../host/core/dnssec/index.js';

export interface Server {
  host: string;
  port: number;
}

let nextId = 1;

/** One query (name, type) with DO=1 and CD=1; the response bytes, or null on timeout or error. */
export async function query(server: Server, name: Uint8Array, type: number, timeoutMs = 2000, options: { cd?: boolean } = {}): Promise<Uint8Array | null> {
  const id = nextId++ & 0xffff;
  const msg = buildQuery({ name, type, class: 1 }, { id, rd: true, cd: options.cd ?? true, udpSize: 1232, do: true });
  const udp = await new Promise<Uint8Array | null>((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, timeoutMs);
    s.on('message', (m) => {
      if (m.length < 12 || u16(m, 0) !== id) return;
      clearTimeout(timer);
      s.close();
      resolve(new Uint8Array(m));
    });
    s.on('error', () => {
      clearTimeout(timer);
      s.close();
      resolve(null);
    });
    s.send(msg, server.port, server.host);
  });
  if (!udp || (u16(udp, 2) & FLAG_TC) === 0) return udp;
  return new Promise<Uint8Array | null>((resolve) => {
    const sock = connect(server.port, server.host);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(null);
    }, timeoutMs);
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      sock.write(Buffer.concat([len, msg]));
    });
    sock.on('data', (d) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(new Uint8Array(all.subarray(2, 2 + all.readUInt16BE(0))));
      }
    });
    sock.on('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

/** A KeyFetcher over `servers`; `log` records every fetch (name text, type, server). */
export function socketFetcher(servers: Server[], log?: Array<{ type: number; server: string }>): KeyFetcher {
  return {
    async fetch(name, type, deadline, attempt): Promise<KeyResponse | null> {
      if (attempt >= servers.length * 2) return null;
      const s = servers[attempt % servers.length]!;
      const server = `${s.host}:${s.port}`;
      log?.push({ type, server });
      const response = await query(s, name, type, Math.max(100, Math.min(2000, deadline - Date.now())));
      return response ? { response, server } : null;
    },
  };
}

export { RRType };
