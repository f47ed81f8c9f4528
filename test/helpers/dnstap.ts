/**
 * Reading dnstap back in tests: dnstap-read (bind9-dnsutils) on a Frame Streams file, its YAML
 * form taken apart, and a collector on a unix socket that speaks the bidirectional handshake
 * (READY, ACCEPT, START ... STOP, FINISH) and writes what it gets as a file dnstap-read reads.
 * The collector and the frame reader here are written from the Frame Streams spec on their own,
 * not with the resolver's code, so they check it rather than agree with it.
 */

import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { run } from './dig.js';

const CONTENT_TYPE = 'protobuf:dnstap.Dnstap';

export interface TapEntry {
  type: string;
  family: string;
  protocol: string;
  queryAddress?: string;
  queryPort?: number;
  responseAddress?: string;
  responsePort?: number;
  identity?: string;
  version?: string;
  /** The question, as dnstap-read prints it: `www.example.test. IN A`. */
  question?: string;
}

/** `dnstap-read -y FILE` taken apart, one entry per frame. Throws when dnstap-read fails. */
export async function readDnstapYaml(file: string): Promise<TapEntry[]> {
  const r = await run('dnstap-read', ['-y', file]);
  if (r.code !== 0) throw new Error(`dnstap-read -y failed (${r.code}): ${r.stderr}`);
  return r.stdout
    .split(/^---$/m)
    .filter((d) => d.includes('type: MESSAGE'))
    .map((doc) => {
      const field = (k: string) => new RegExp(`^\\s*${k}: "?([^"\\n]*)"?$`, 'm').exec(doc)?.[1];
      const port = (k: string) => (field(k) === undefined ? undefined : Number(field(k)));
      return {
        type: /^ {2}type: (\S+)$/m.exec(doc)?.[1] ?? '',
        family: field('socket_family') ?? '',
        protocol: field('socket_protocol') ?? '',
        queryAddress: field('query_address'),
        queryPort: port('query_port'),
        responseAddress: field('response_address'),
        responsePort: port('response_port'),
        identity: field('identity'),
        version: field('version'),
        question: /QUESTION_SECTION:\n\s+- '([^']+)'/.exec(doc)?.[1],
      };
    });
}

/** `dnstap-read FILE`: one line per frame. */
export async function readDnstapLines(file: string): Promise<string[]> {
  const r = await run('dnstap-read', [file]);
  if (r.code !== 0) throw new Error(`dnstap-read failed (${r.code}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

/**
 * The data frames of a Frame Streams file, with the control frames around them checked; each
 * payload decoded as far as the tests look (Message: type, socket_protocol, http_protocol).
 */
export function dataFrames(file: string): Array<{ type: number; protocol?: number; http?: number }> {
  const b = readFileSync(file);
  let p = 0;
  const control = () => {
    if (b.readUInt32BE(p) !== 0) throw new Error(`expected a control frame at ${p}`);
    const len = b.readUInt32BE(p + 4);
    const type = b.readUInt32BE(p + 8);
    p += 8 + len;
    return type;
  };
  if (control() !== 2) throw new Error('the file does not start with START');
  const out: Array<{ type: number; protocol?: number; http?: number }> = [];
  for (;;) {
    const len = b.readUInt32BE(p);
    if (len === 0) {
      if (control() !== 3) throw new Error('the file does not end with STOP');
      if (p !== b.length) throw new Error('bytes after STOP');
      return out;
    }
    const msg = fields(b.subarray(p + 4, p + 4 + len)).get(14);
    if (!(msg instanceof Uint8Array)) throw new Error('a frame without a message');
    const m = fields(msg);
    out.push({ type: m.get(1) as number, protocol: m.get(3) as number | undefined, http: m.get(16) as number | undefined });
    p += 4 + len;
  }
}

/** Protobuf fields of one message: varints as numbers, length-delimited as bytes (last one wins). */
function fields(b: Uint8Array): Map<number, number | Uint8Array> {
  const out = new Map<number, number | Uint8Array>();
  let p = 0;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const x = b[p++]!;
      v += (x & 0x7f) * mul;
      if (!(x & 0x80)) return v;
      mul *= 128;
    }
  };
  while (p < b.length) {
    const key = varint();
    const wire = key & 7;
    const field = Math.floor(key / 8);
    if (wire === 0) out.set(field, varint());
    else if (wire === 2) {
      const len = varint();
      out.set(field, b.subarray(p, p + len));
      p += len;
    } else if (wire === 5) p += 4;
    else if (wire === 1) p += 8;
    else throw new Error(`wire type ${wire}`);
  }
  return out;
}

function control(type: number, withContentType: boolean): Buffer {
  const ct = Buffer.from(CONTENT_TYPE);
  const body = withContentType ? Buffer.concat([u32(type), u32(1), u32(ct.length), ct]) : u32(type);
  return Buffer.concat([u32(0), u32(body.length), body]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export interface Collector {
  /** Connections that completed the handshake. */
  connections: number;
  /** Data frames received. */
  frames: number;
  /** Connections whose writer sent STOP (and got FINISH). */
  stopped: number;
  /** What the writer got wrong (the connection was dropped). */
  errors: string[];
  /** Stops listening and drops every connection (the collector going away). */
  close(): Promise<void>;
}

/**
 * A collector on the unix socket `path`. Each connection's stream (from START) goes to
 * `file(n)` for connection n = 0, 1, ...: a Frame Streams file, closed with STOP when the
 * writer stops or, for dnstap-read's sake, when the connection drops.
 */
export function startCollector(path: string, file: (n: number) => string): Promise<Collector> {
  const sockets = new Set<Socket>();
  let n = 0;
  const c: Collector = {
    connections: 0,
    frames: 0,
    stopped: 0,
    errors: [],
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    const out = file(n++);
    let buf = Buffer.alloc(0);
    let state: 'ready' | 'started' | 'stopped' = 'ready';
    const fail = (why: string) => {
      c.errors.push(why);
      sock.destroy();
    };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (buf.length < 4) return;
        const len = buf.readUInt32BE(0);
        const whole = len === 0 ? (buf.length >= 8 ? 8 + buf.readUInt32BE(4) : Infinity) : 4 + len;
        if (buf.length < whole) return;
        const frame = buf.subarray(0, whole);
        buf = buf.subarray(whole);
        if (len !== 0) {
          if (state !== 'started') return fail('a data frame before START');
          c.frames++;
          appendFileSync(out, frame);
          continue;
        }
        const type = frame.readUInt32BE(8);
        if (type === 4 && state === 'ready') {
          if (!frame.includes(Buffer.from(CONTENT_TYPE))) return fail('READY without the dnstap content type');
          sock.write(control(1, true));
        } else if (type === 2 && state === 'ready') {
          state = 'started';
          c.connections++;
          writeFileSync(out, frame);
        } else if (type === 3 && state === 'started') {
          state = 'stopped';
          appendFileSync(out, frame);
          c.stopped++;
          sock.write(control(5, false));
        }
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      sockets.delete(sock);
      if (state === 'started') appendFileSync(out, control(3, false));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(c));
  });
}
