/**
 * A hostile or odd upstream for tests: a UDP and TCP server on loopback whose every answer is
 * written by the test (`answer(query)` returns the reply bytes, or null to stay silent). With it
 * a test sends what no real server would: two OPT records, a forward compression pointer, an
 * extended rcode, a CNAME loop, a TTL with the top bit set.
 */

import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { HEADER_LEN, concat, put16, put32, readName, u16 } from '../../host/core/dns/wire.js';

export interface ScriptedUpstream {
  /** `HOST:PORT`, as the resolver's upstream list takes it. */
  address: string;
  /** Queries received so far (UDP and TCP). */
  readonly queries: number;
  answer: (query: Uint8Array) => Uint8Array | null;
  close(): Promise<void>;
}

export async function startScriptedUpstream(answer: ScriptedUpstream['answer'], host = '127.0.0.1'): Promise<ScriptedUpstream> {
  const fresh = () => {
    const u = createSocket('udp4');
    u.on('message', (msg, rinfo) => {
      queries++;
      const reply = up.answer(new Uint8Array(msg));
      if (reply) u.send(reply, rinfo.port, rinfo.address);
    });
    return u;
  };
  let udp = fresh();
  const conns = new Set<Socket>();
  let queries = 0;
  const up: ScriptedUpstream = {
    address: '',
    answer,
    get queries() {
      return queries;
    },
    close: async () => {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
  const tcp = createServer((c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    c.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const q = new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + q.length);
        queries++;
        const reply = up.answer(q);
        if (reply) {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(reply.length);
          c.write(Buffer.concat([len, reply]));
        }
      }
    });
  });
  // UDP and TCP on one port: the UDP port the system picks may be taken for TCP (another test's
  // listener or connection), so pick again until both are free.
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) udp = fresh();
    await new Promise<void>((r) => udp.bind(0, host, () => r()));
    const port = udp.address().port;
    try {
      await new Promise<void>((r, j) => {
        tcp.once('error', j);
        tcp.listen(port, host, () => {
          tcp.off('error', j);
          r();
        });
      });
      up.address = `${host}:${port}`;
      return up;
    } catch (e) {
      await new Promise<void>((r) => udp.close(() => r()));
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw e;
    }
  }
}

/** One resource record, uncompressed unless `owner` is given as raw bytes with a pointer. */
export function rr(owner: Uint8Array, type: number, ttl: number, rdata: Uint8Array, cls = 1): Uint8Array {
  const out = new Uint8Array(owner.length + 10 + rdata.length);
  out.set(owner, 0);
  put16(out, owner.length, type);
  put16(out, owner.length + 2, cls);
  put32(out, owner.length + 4, ttl);
  put16(out, owner.length + 8, rdata.length);
  out.set(rdata, owner.length + 10);
  return out;
}

/** An OPT record: payload size, extended rcode (upper eight bits), flags, options' bytes. */
export function opt(extendedRcode = 0, rdata: Uint8Array = new Uint8Array(0)): Uint8Array {
  const r = rr(new Uint8Array([0]), 41, ((extendedRcode & 0xff) << 24) >>> 0, rdata, 1232);
  return r;
}

/**
 * A reply to `query`: its ID and question, QR and RA (AA when asked), the rcode's low four
 * bits, and the given sections of already encoded records.
 */
export function reply(
  query: Uint8Array,
  opts: { rcode?: number; aa?: boolean; answer?: Uint8Array[]; authority?: Uint8Array[]; additional?: Uint8Array[] } = {},
): Uint8Array {
  const { end } = readName(query, HEADER_LEN);
  const qEnd = end + 4;
  const head = query.slice(0, qEnd);
  const flags = 0x8000 | (u16(query, 2) & 0x0100) | 0x0080 | (opts.aa ? 0x0400 : 0) | ((opts.rcode ?? 0) & 0xf);
  put16(head, 2, flags);
  put16(head, 4, 1);
  put16(head, 6, opts.answer?.length ?? 0);
  put16(head, 8, opts.authority?.length ?? 0);
  put16(head, 10, opts.additional?.length ?? 0);
  return concat([head, ...(opts.answer ?? []), ...(opts.authority ?? []), ...(opts.additional ?? [])]);
}

/** The question name of a query, in wire form. */
export function qnameOf(query: Uint8Array): Uint8Array {
  return readName(query, HEADER_LEN).name;
}
