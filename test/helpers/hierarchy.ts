/**
 * A DNS hierarchy for recursion tests: NSD instances on loopback addresses, port 53, one
 * address per nameserver, in a random 127.R1.R2.0/24 (R1 in 20..250) chosen per call and
 * checked to be free. A test root delegates to TLDs and they to second-level zones, all
 * pointing at those addresses; the zone texts are the caller's (they may be signed already:
 * NSD serves whatever text it is given).
 *
 * By default every server sits behind a small relay on its address (NSD itself on a free port
 * of the same address): the relay logs every query the server sees (name, type, transport,
 * EDNS) and can make the server slow, dead, lame, EDNS-broken or a forger at run time. With
 * `front: false` NSD binds the address's port 53 itself (no log, no behaviours: for benchmarks
 * and differential runs). A server listed without zones gets its address and nothing on it: a
 * dead server.
 *
 * ```ts
 * const h = await startHierarchy({
 *   servers: { root: ['.'], tld: ['test.'], sld: ['example.test.'] },
 *   zones: (ip) => ({
 *     '.': zone('.', ['a.root.test.'], `test. NS ns.test.\nns.test. A ${ip.tld}\na.root.test. A ${ip.root}`),
 *     ...
 *   }),
 * });
 * h.servers.sld.queries  // what example.test.'s server was asked
 * h.servers.sld.behaviour.delayMs = 800
 * ```
 */

import { createSocket, type Socket } from 'node:dgram';
import { createServer, connect, type Server } from 'node:net';
import { RRType, Rcode, typeToName } from '../../host/core/dns/rr-types.js';
import {
  EDNS_FLAG_DO, buildErrorResponse, concat, nameToText, parseQuery, put16, stripOpt, u16, walkRecords,
} from '../../host/core/dns/wire.js';
import { parsePresentationAll } from '../../host/core/zone/index.js';
import { freePort } from './net.js';
import { startNsd, type Nsd } from './nsd.js';

export interface ServerBehaviour {
  /** Hold each reply this long, ms (a slow server). */
  delayMs: number;
  /** Answer nothing (a server that is up but dead). */
  drop: boolean;
  /** Answer REFUSED to everything (a lame server). */
  refuse: boolean;
  /** Answer FORMERR, without OPT, to any query with EDNS (a server that does not know EDNS). */
  formerrOnEdns: boolean;
  /** Pass queries on without their OPT record, so replies carry none (a server that ignores EDNS). */
  ignoreEdns: boolean;
  /** Rewrite each reply before it goes out (a forger); returning null drops it. */
  mutate: ((reply: Uint8Array, query: Uint8Array) => Uint8Array | null) | null;
}

export interface LoggedQuery {
  /** Lower-case presentation name, fully qualified. */
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
  edns: boolean;
  do: boolean;
  /** Arrival order across every server of the hierarchy. */
  seq: number;
}

export interface HierarchyServer {
  id: string;
  address: string;
  zones: string[];
  /** Queries this address received (through the relay), oldest first. */
  queries: LoggedQuery[];
  behaviour: ServerBehaviour;
  /** Forgets the logged queries. */
  clear(): void;
}

export interface HierarchySpec {
  /** Server id → zones it serves; null: the address is reserved and nothing answers there. */
  servers: Record<string, string[] | null>;
  /** Zone texts by zone name, given each server's address. */
  zones: (ip: Record<string, string>) => Record<string, string>;
  /** Texts for particular servers (server id → zone → text) that replace `zones` there: a fake copy. */
  perServer?: (ip: Record<string, string>) => Record<string, Record<string, string>>;
  /** Relay (and log) every server; default true. */
  front?: boolean;
}

export interface Hierarchy {
  /** Server id → its address. */
  ip: Record<string, string>;
  servers: Record<string, HierarchyServer>;
  /** The /24 prefix in use, e.g. "127.83.17". */
  prefix: string;
  /** All queries seen by every server, in the order they arrived. */
  queries(): Array<LoggedQuery & { server: string }>;
  clearLogs(): void;
  /** Forgets the logs and puts every server's behaviour back to normal. */
  reset(): void;
  stop(): Promise<void>;
}

const defaultBehaviour = (): ServerBehaviour => ({
  delayMs: 0,
  drop: false,
  refuse: false,
  formerrOnEdns: false,
  ignoreEdns: false,
  mutate: null,
});

/** A zone text with SOA and NS records at its apex (`ns` fully qualified), then `body`. */
export function zone(origin: string, ns: string[], body: string, opts: { minimum?: number; ttl?: number } = {}): string {
  const ttl = opts.ttl ?? 3600;
  const soaName = origin === '.' ? '.' : origin;
  return [
    `$ORIGIN ${origin}`,
    `$TTL ${ttl}`,
    `${soaName} IN SOA ${ns[0]} hostmaster.${origin === '.' ? '' : origin} 1 3600 900 604800 ${opts.minimum ?? 300}`,
    ...ns.map((n) => `${soaName} IN NS ${n}`),
    body,
    '',
  ].join('\n');
}

/** named.root-style hints for root servers given as NS name → address. */
export function namedRoot(servers: Record<string, string>): string {
  return Object.entries(servers)
    .map(([name, addr]) => `.  3600000  NS  ${name}\n${name}  3600000  ${addr.includes(':') ? 'AAAA' : 'A'}  ${addr}`)
    .join('\n') + '\n';
}

async function bindable(host: string, port: number): Promise<boolean> {
  const udp = await new Promise<boolean>((resolve) => {
    const u = createSocket('udp4');
    u.once('error', () => resolve(false));
    u.bind(port, host, () => u.close(() => resolve(true)));
  });
  if (!udp) return false;
  return new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** A random 127.R1.R2 prefix whose first `n` host addresses have port 53 free. */
async function pickPrefix(n: number): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const prefix = `127.${20 + Math.floor(Math.random() * 231)}.${Math.floor(Math.random() * 256)}`;
    let ok = true;
    for (let i = 1; i <= n && ok; i++) ok = await bindable(`${prefix}.${i}`, 53);
    if (ok) return prefix;
  }
  throw new Error('no free 127.x.y.0/24 with port 53 available for a hierarchy');
}

let arrivals = 0;

function logged(msg: Uint8Array, transport: 'udp' | 'tcp'): LoggedQuery | null {
  try {
    const p = parseQuery(msg);
    if (!p.question) return null;
    return {
      name: nameToText(p.question.name).toLowerCase(),
      type: typeToName(p.question.type),
      transport,
      edns: !!p.edns,
      do: !!p.edns && (p.edns.flags & EDNS_FLAG_DO) !== 0,
      seq: arrivals++,
    };
  } catch {
    return null;
  }
}

/** The reply the behaviour makes for `query`: null to stay silent, 'pass' to ask NSD (with `forward` bytes). */
function decide(b: ServerBehaviour, query: Uint8Array): { reply: Uint8Array } | { forward: Uint8Array } | null {
  if (b.drop) return null;
  let p;
  try {
    p = parseQuery(query);
  } catch {
    return { forward: query };
  }
  if (b.refuse) return { reply: buildErrorResponse(query, Rcode.REFUSED, p) };
  if (p.edns && b.formerrOnEdns) return { reply: buildErrorResponse(query, Rcode.FORMERR, p) };
  if (p.edns && b.ignoreEdns) return { forward: stripOpt(query) };
  return { forward: query };
}

class Relay {
  private udp: Socket | null = null;
  private tcp: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly conns = new Set<import('node:net').Socket>();

  constructor(
    private readonly server: HierarchyServer,
    private readonly nsdPort: number,
  ) {}

  private later(fn: () => void): void {
    const ms = this.server.behaviour.delayMs;
    if (ms <= 0) return fn();
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private finish(reply: Uint8Array, query: Uint8Array): Uint8Array | null {
    const m = this.server.behaviour.mutate;
    return m ? m(reply, query) : reply;
  }

  private sendUdp(reply: Uint8Array, query: Uint8Array, port: number, address: string): void {
    this.later(() => {
      const out = this.finish(reply, query);
      if (out) this.udp!.send(out, port, address);
    });
  }

  async start(): Promise<void> {
    const host = this.server.address;
    const udp = createSocket('udp4');
    this.udp = udp;
    udp.on('message', (msg, client) => {
      const query = new Uint8Array(msg);
      const entry = logged(query, 'udp');
      if (entry) this.server.queries.push(entry);
      const d = decide(this.server.behaviour, query);
      if (!d) return;
      if ('reply' in d) return this.sendUdp(d.reply, query, client.port, client.address);
      const back = createSocket('udp4');
      this.sockets.add(back);
      const done = () => {
        if (this.sockets.delete(back)) back.close();
      };
      const giveUp = setTimeout(done, 10_000);
      back.on('message', (reply) => {
        clearTimeout(giveUp);
        done();
        this.sendUdp(new Uint8Array(reply), query, client.port, client.address);
      });
      back.send(d.forward, this.nsdPort, host);
    });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(53, host, () => resolve());
    });
    const tcp = createServer((conn) => {
      this.conns.add(conn);
      conn.on('close', () => this.conns.delete(conn));
      conn.on('error', () => conn.destroy());
      let buf = Buffer.alloc(0);
      conn.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const query = new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + query.length);
          this.tcpQuery(conn, query);
        }
      });
    });
    this.tcp = tcp;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(53, host, () => resolve());
    });
  }

  private tcpQuery(conn: import('node:net').Socket, query: Uint8Array): void {
    const entry = logged(query, 'tcp');
    if (entry) this.server.queries.push(entry);
    const d = decide(this.server.behaviour, query);
    if (!d) return;
    const write = (reply: Uint8Array | null) => {
      if (!reply || conn.destroyed) return;
      const frame = Buffer.alloc(2 + reply.length);
      frame.writeUInt16BE(reply.length, 0);
      frame.set(reply, 2);
      conn.write(frame);
    };
    if ('reply' in d) return this.later(() => write(this.finish(d.reply, query)));
    const up = connect({ host: this.server.address, port: this.nsdPort });
    this.conns.add(up);
    let buf = Buffer.alloc(0);
    up.on('connect', () => {
      const frame = Buffer.alloc(2 + d.forward.length);
      frame.writeUInt16BE(d.forward.length, 0);
      frame.set(d.forward, 2);
      up.write(frame);
    });
    up.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const reply = new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        up.destroy();
        this.later(() => write(this.finish(reply, query)));
      }
    });
    up.on('error', () => up.destroy());
    up.on('close', () => this.conns.delete(up));
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.close();
    for (const c of this.conns) c.destroy();
    await new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r()));
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
  }
}

export async function startHierarchy(spec: HierarchySpec): Promise<Hierarchy> {
  const front = spec.front ?? true;
  const ids = Object.keys(spec.servers);
  const prefix = await pickPrefix(ids.length);
  const ip: Record<string, string> = {};
  ids.forEach((id, i) => (ip[id] = `${prefix}.${i + 1}`));
  const texts = spec.zones(ip);
  const overrides = spec.perServer?.(ip) ?? {};
  const servers: Record<string, HierarchyServer> = {};
  const nsds: Nsd[] = [];
  const relays: Relay[] = [];
  const stop = async () => {
    await Promise.all(relays.map((r) => r.stop()));
    await Promise.all(nsds.map((n) => n.stop()));
  };
  try {
    await Promise.all(
      ids.map(async (id) => {
        const zones = spec.servers[id];
        const server: HierarchyServer = {
          id,
          address: ip[id]!,
          zones: zones ?? [],
          queries: [],
          behaviour: defaultBehaviour(),
          clear() {
            this.queries.length = 0;
          },
        };
        servers[id] = server;
        if (!zones) return;
        const own: Record<string, string> = {};
        for (const z of zones) {
          const text = overrides[id]?.[z] ?? texts[z];
          if (text === undefined) throw new Error(`server ${id} serves ${z}, for which zones() gave no text`);
          own[z] = text;
        }
        const port = front ? await freePort(ip[id]!) : 53;
        nsds.push(await startNsd(own, { host: ip[id]!, port }));
        if (front) {
          const relay = new Relay(server, port);
          relays.push(relay);
          await relay.start();
        }
      }),
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    ip,
    servers,
    prefix,
    queries: () => ids.flatMap((id) => servers[id]!.queries.map((q) => ({ ...q, server: id }))).sort((a, b) => a.seq - b.seq),
    clearLogs: () => ids.forEach((id) => servers[id]!.clear()),
    reset: () =>
      ids.forEach((id) => {
        servers[id]!.clear();
        Object.assign(servers[id]!.behaviour, defaultBehaviour());
      }),
    stop,
  };
}

/** Presentation lines (absolute names) as uncompressed wire RRs, for `insertRecords`. */
export async function wireRecords(text: string): Promise<Uint8Array[]> {
  const rrs = await parsePresentationAll(text, { origin: '.', defaultTtl: 3600 });
  return rrs.map((r) => {
    const b = new Uint8Array(r.owner.length + 10 + r.rdata.length);
    b.set(r.owner, 0);
    const o = r.owner.length;
    put16(b, o, r.type);
    put16(b, o + 2, r.class);
    put16(b, o + 4, r.ttl >>> 16);
    put16(b, o + 6, r.ttl & 0xffff);
    put16(b, o + 8, r.rdata.length);
    b.set(r.rdata, o + 10);
    return b;
  });
}

/**
 * Returns `msg` with `rrs` (from `wireRecords`) added at the end of `section` (0 answer,
 * 1 authority, 2 additional): a forger's reply. Synchronous, for `behaviour.mutate`. The
 * sections after `section` are dropped, except the OPT record: their compression pointers may
 * point past the insertion, and moving them would break those names.
 */
export function insertRecords(msg: Uint8Array, section: 0 | 1 | 2, rrs: Uint8Array[]): Uint8Array {
  const { questionEnd, records } = walkRecords(msg);
  const kept = records.filter((r) => r.section <= section && r.type !== RRType.OPT);
  const opt = records.find((r) => r.type === RRType.OPT);
  const at = kept.length > 0 ? kept[kept.length - 1]!.end : questionEnd;
  const optBytes = opt ? msg.subarray(opt.nameOffset, opt.end) : new Uint8Array(0);
  const out = concat([msg.subarray(0, at), ...rrs, optBytes]);
  const counts = [0, 0, 0];
  for (const r of kept) counts[r.section]!++;
  counts[section]! += rrs.length;
  if (opt) counts[2]!++;
  put16(out, 6, counts[0]!);
  put16(out, 8, counts[1]!);
  put16(out, 10, counts[2]!);
  return out;
}

/** The rcode of `msg` replaced (a server that answers NXDOMAIN or REFUSED where it should not). */
export function withRcode(msg: Uint8Array, rcode: number): Uint8Array {
  const out = msg.slice();
  out[3] = (out[3]! & 0xf0) | (rcode & 0xf);
  return out;
}

/** The question name of a query, lower-case presentation form. */
export function queryName(query: Uint8Array): string {
  return logged(query, 'udp')?.name ?? '';
}

/** The A records (addresses) in the answer section of a reply, for assertions. */
export function answerAddresses(msg: Uint8Array): string[] {
  const { records } = walkRecords(msg);
  return records
    .filter((r) => r.section === 0 && r.type === RRType.A && r.rdlength === 4)
    .map((r) => Array.from(msg.subarray(r.rdataOffset, r.end)).join('.'));
}

