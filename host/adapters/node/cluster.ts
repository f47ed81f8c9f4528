/**
 * One node on every core (`server.workers` > 1): a primary process and N worker processes
 * (node:cluster). Each worker is a whole node (EdgeNode) on the same listeners: the cluster
 * module shares each UDP socket and TCP/DoH listener with every worker, and the kernel hands
 * each datagram to one of the workers reading it (Node 20's dgram has no SO_REUSEPORT option;
 * a TCP connection is handed to one worker in turn). What an operator sees is one node:
 *
 * - **Admin API**: the primary listens on `admin.listen` and relays every request to the
 *   workers over IPC, where the same routes answer it (AdminServer.handle): a read (GET) to
 *   worker 0, a write (rules, flush, reload, zone refresh, negative trust anchors, query log)
 *   to every worker, answered with worker 0's result (a worker that answers otherwise is
 *   logged). `/status` is worker 0's with `workers` added.
 * - **Metrics**: `/metrics` is every worker's exposition with a `worker` label on each series
 *   (sum them: `sum without (worker) (rate(edge_queries_total[1m]))`).
 * - **Run-time state**: what was pushed through the admin API (rules, negative trust anchors,
 *   the query log switch) is kept by the primary and given to a worker that replaces one that
 *   died, before it opens its listeners (takePrimaryState).
 * - **Config and signals**: SIGHUP to the primary reloads every worker from the file;
 *   SIGTERM/SIGINT stop them gracefully and the primary exits 0 once they have. A worker that
 *   dies is replaced (at most 5 times a minute, then every 10 s).
 * - **Per worker**: the answer cache, in-flight coalescing, rate-limit buckets and the zone copy
 *   (each worker ingests it: memory is per worker). An answer cached by one worker is not seen
 *   by another, so a name's first query costs one upstream query per worker that gets it.
 */

import cluster, { type Worker } from 'node:cluster';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/log.js';
import { MAX_BODY, readBody, type AdminReply } from './admin-server.js';
import { adminToken } from './admin-token.js';
import { configBaseDir } from './app-files.js';
import type { EdgeNode } from './edge-node.js';
import { hostPortText } from './edge-node.js';
import { requestPath } from './http-util.js';
import { workerExecArgv } from './v8-flags.js';

/** Primary → worker. */
type ToWorker =
  | { t: 'admin'; id: number; method: string; url: string; headers: Record<string, string | string[] | undefined>; body: Uint8Array }
  | { t: 'metrics'; id: number }
  | { t: 'reload' }
  | { t: 'stop' }
  | { t: 'state'; writes: AdminWrite[] };

/** An admin write as the primary relayed it. */
interface AdminWrite {
  /** Order of the write among all the primary relayed. */
  v?: number;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

/** Worker → primary. */
type FromWorker =
  | { t: 'want-state' }
  | { t: 'ready'; index: number; listening: Record<string, string> }
  | { t: 'reply'; id: number; reply: AdminReply }
  | { t: 'metrics'; id: number; text: string };

export const WORKER_ENV = 'EDGE_RESOLVER_WORKER';

/** Admin writes that are actions, not state a new worker must take. */
const ACTIONS = new Set(['/cache/flush', '/zone/refresh', '/reload']);

/** The worker index of this process, or undefined for a primary or a single process. */
export function workerIndex(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const n = Number(process.env[WORKER_ENV]);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/**
 * In a worker, before it opens its listeners: the run-time state its primary holds (rules,
 * negative trust anchors and the query log pushed through the admin API since the start),
 * applied in the order it was pushed, so a worker started to replace one that died answers as
 * the others do from its first query.
 */
export function takePrimaryState(edge: EdgeNode, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const onState = (m: ToWorker) => {
      if (m.t !== 'state') return;
      process.off('message', onState);
      void (async () => {
        for (const w of m.writes) {
          const r = await edge.admin?.handle(w);
          if (r && (r.status < 200 || r.status > 299)) logger.log('warn', 'a run-time change did not apply on this worker', { method: w.method, url: w.url, status: r.status });
        }
        resolve();
      })();
    };
    process.on('message', onState);
    process.send?.({ t: 'want-state' } satisfies FromWorker);
  });
}

/** In a worker: serve what the primary relays, until it says stop. */
export function serveWorker(edge: EdgeNode, index: number, logger: Logger, stop: () => void): void {
  const send = (m: FromWorker) => process.send?.(m);
  process.on('message', (m: ToWorker) => {
    if (m.t === 'admin') {
      const admin = edge.admin;
      const reply: Promise<AdminReply> = admin
        ? admin.handle({ method: m.method, url: m.url, headers: m.headers, body: m.body })
        : Promise.resolve({ status: 404, type: 'application/json', text: '{"error":"no admin API: admin.listen is not set"}\n' });
      void reply.then((r) => send({ t: 'reply', id: m.id, reply: r }));
    } else if (m.t === 'metrics') {
      void edge.node.metrics.text().then((text) => send({ t: 'metrics', id: m.id, text }));
    } else if (m.t === 'reload') {
      void edge.reload();
    } else if (m.t === 'stop') {
      stop();
    }
  });
  // The primary is gone (killed with -9): a worker must not run on without it.
  process.on('disconnect', () => {
    logger.log('warn', 'the primary process is gone; this worker stops', { worker: index });
    stop();
  });
  send({ t: 'ready', index, listening: edge.listenerSummary() });
}

interface Slot {
  index: number;
  worker: Worker | null;
  ready: boolean;
  pid: number | null;
  restarts: number[];
  /** The last write the worker took with its state, while it was starting. */
  tookUpTo: number;
}

/**
 * The primary: forks `count` workers running the same command line, relays the admin API,
 * forwards reloads and stops. Resolves with the exit status once every worker has stopped.
 */
export async function runPrimary(config: Config, o: { count: number; configPath: string | undefined; logger: Logger; onStopRequest: (stop: (sig: string) => void) => void }): Promise<number> {
  const { count, logger } = o;
  // The token file is made once, here, before any worker reads it (several making it at once
  // would each write their own token).
  if (config.admin.listen) adminToken(config, configBaseDir(o.configPath), logger);
  // The workers answer the queries, so they get the V8 start flags even when the primary was
  // started without them (`node main.js serve`).
  cluster.setupPrimary({ serialization: 'advanced', execArgv: workerExecArgv() });
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, worker: null, ready: false, pid: null, restarts: [], tookUpTo: 0 }));
  let stopping = false;
  let announced = false;
  let failed = false;
  let stopRef: ((sig: string) => void) | null = null;
  let nextId = 1;
  const waiting = new Map<number, (m: FromWorker) => void>();
  let leaderListening: Record<string, string> | null = null;
  let admin: Server | null = null;
  /** Run-time writes a new worker must take, the last one per path and query, in push order. */
  const state = new Map<string, AdminWrite>();
  let version = 0;
  let adminAddress: string | null = null;

  const fork = (slot: Slot) => {
    const w = cluster.fork({ [WORKER_ENV]: String(slot.index) });
    slot.worker = w;
    slot.ready = false;
    slot.pid = w.process.pid ?? null;
    w.on('message', (m: FromWorker) => {
      if (m.t === 'want-state') {
        slot.tookUpTo = version;
        w.send({ t: 'state', writes: [...state.values()] } satisfies ToWorker);
      } else if (m.t === 'ready') {
        slot.ready = true;
        // Writes relayed while it was starting went only to the workers that were ready.
        for (const x of state.values()) if ((x.v ?? 0) > slot.tookUpTo) w.send({ t: 'admin', id: 0, ...x } satisfies ToWorker);
        if (slot.index === 0) leaderListening = m.listening;
        announce();
      } else {
        waiting.get(m.id)?.(m);
        waiting.delete(m.id);
      }
    });
    w.on('exit', (code, signal) => {
      const wasReady = slot.ready;
      slot.worker = null;
      slot.ready = false;
      if (stopping) return;
      if (!announced && !wasReady) {
        // A worker that cannot start (a port in use, a file it cannot read) will not start
        // the next time either: the node does not start, as a single process would not.
        logger.log('error', 'a worker could not start; stopping', { worker: slot.index, code, signal });
        failed = true;
        stopRef?.('worker failed to start');
        return;
      }
      const now = Date.now();
      slot.restarts = slot.restarts.filter((t) => now - t < 60_000);
      const delay = slot.restarts.length >= 5 ? 10_000 : 500;
      slot.restarts.push(now);
      logger.log('error', 'worker exited; starting another', { worker: slot.index, pid: slot.pid, code, signal, in_ms: delay });
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delay).unref();
    });
  };

  const announce = () => {
    if (announced || !slots.every((s) => s.ready) || !leaderListening) return;
    announced = true;
    logger.log('info', 'edge-resolver listening', {
      node: config.node_id,
      ...leaderListening,
      admin: adminAddress ?? 'off',
      workers: count,
      pid: process.pid,
    });
  };

  /** Sends `m` to one worker and waits for its answer (null when it does not come). */
  const ask = (slot: Slot, make: (id: number) => ToWorker, timeoutMs = 30_000): Promise<FromWorker | null> => {
    const w = slot.worker;
    if (!w || !slot.ready) return Promise.resolve(null);
    const id = nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(null);
      }, timeoutMs);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      w.send(make(id));
    });
  };

  const relay = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const send = (r: AdminReply) => {
      res.writeHead(r.status, { 'content-type': r.type, 'content-length': Buffer.byteLength(r.text) });
      res.end(r.text);
    };
    const unavailable = (why: string): AdminReply => ({ status: 503, type: 'application/json', text: JSON.stringify({ error: why }) + '\n' });
    const path = requestPath(req.url);
    if (req.method === 'GET' && path === '/metrics') {
      const texts = await Promise.all(slots.map((s) => ask(s, (id) => ({ t: 'metrics', id }))));
      const parts = texts.map((m, i) => (m && m.t === 'metrics' ? { worker: i, text: m.text } : null)).filter((x) => x !== null);
      if (parts.length === 0) return send(unavailable('no worker is running'));
      return send({ status: 200, type: 'text/plain; version=0.0.4', text: mergeExpositions(parts) });
    }
    const body = await readBody(req, MAX_BODY);
    if (body === null) return send({ status: 413, type: 'application/json', text: JSON.stringify({ error: `body larger than ${MAX_BODY} bytes` }) + '\n' });
    const make = (id: number): ToWorker => ({ t: 'admin', id, method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body });
    const read = req.method === 'GET' || req.method === 'HEAD';
    const targets = read ? [slots[0]!] : slots;
    const replies = await Promise.all(targets.map((s) => ask(s, make)));
    const first = replies[0];
    if (!first || first.t !== 'reply') return send(unavailable('worker 0 did not answer'));
    replies.forEach((r, i) => {
      if (i > 0 && (!r || r.t !== 'reply' || r.reply.status !== first.reply.status)) {
        logger.log('warn', 'an admin write went differently on another worker', { path, worker: i, status: r && r.t === 'reply' ? r.reply.status : 'no answer', worker0: first.reply.status });
      }
    });
    if (!read && first.reply.status >= 200 && first.reply.status < 300 && !ACTIONS.has(path ?? '') && !/[?&]check=1(&|$)/.test(req.url ?? '')) {
      const key = (req.url ?? '/').replace(/^[^?]*/, path ?? '');
      state.delete(key);
      state.set(key, { v: ++version, method: req.method ?? 'PUT', url: req.url ?? '/', headers: req.headers, body });
      if (state.size > 10_000) state.delete(state.keys().next().value!);
    }
    let reply = first.reply;
    if (read && path === '/status' && reply.status === 200) {
      const doc = JSON.parse(reply.text) as Record<string, unknown>;
      doc['workers'] = slots.map((s) => ({ worker: s.index, pid: s.pid, ready: s.ready }));
      reply = { ...reply, text: JSON.stringify(doc, null, 2) + '\n' };
    }
    send(reply);
  };

  if (config.admin.listen) {
    const m = /^\[(.+)\]:(\d+)$/.exec(config.admin.listen) ?? /^(.+):(\d+)$/.exec(config.admin.listen)!;
    const server = createServer((req, res) =>
      void relay(req, res).catch((e: unknown) => {
        logger.log('error', 'admin request failed', { error: (e as Error).message });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end();
      }),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(m[2]), m[1], () => resolve());
    });
    admin = server;
    const a = server.address() as { address: string; port: number };
    adminAddress = `http://${hostPortText(a)}`;
  }

  return new Promise<number>((resolve) => {
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      logger.log('info', 'shutting down', { signal: sig, workers: count });
      for (const s of slots) s.worker?.send({ t: 'stop' } satisfies ToWorker);
      const grace = config.server.shutdown_grace_ms + 5000;
      const killer = setTimeout(() => {
        for (const s of slots) s.worker?.process.kill('SIGKILL');
      }, grace);
      killer.unref();
      const done = () => {
        if (slots.some((s) => s.worker)) return;
        clearTimeout(killer);
        admin?.closeAllConnections();
        admin?.close();
        resolve(failed ? 1 : 0);
      };
      cluster.on('exit', done);
      done();
    };
    stopRef = stop;
    o.onStopRequest(stop);
    process.on('SIGHUP', () => {
      if (!o.configPath) return logger.log('warn', 'SIGHUP: this node runs the embedded config; nothing to reload (start it with --config FILE)');
      for (const s of slots) s.worker?.send({ t: 'reload' } satisfies ToWorker);
    });
    for (const s of slots) fork(s);
  });
}

/**
 * Prometheus text expositions of several workers as one: each family once (its HELP and TYPE
 * from the first worker that has it), every sample with `worker="N"` added to its labels.
 */
export function mergeExpositions(parts: Array<{ worker: number; text: string }>): string {
  const families = new Map<string, { head: string[]; samples: string[] }>();
  const familyOf = (sampleName: string) => {
    for (const suffix of ['_bucket', '_sum', '_count', '']) {
      if (suffix && !sampleName.endsWith(suffix)) continue;
      const base = sampleName.slice(0, sampleName.length - suffix.length);
      if (families.has(base)) return base;
    }
    return sampleName;
  };
  for (const { worker, text } of parts) {
    for (const line of text.split('\n')) {
      if (!line) continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        const f = families.get(meta[2]!) ?? { head: [], samples: [] };
        if (!families.has(meta[2]!)) families.set(meta[2]!, f);
        if (f.head.length < 2 && !f.head.some((h) => h.startsWith(`# ${meta[1]} `))) f.head.push(line);
        continue;
      }
      if (line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?(\s.*)$/.exec(line);
      if (!m) continue;
      const name = m[1]!;
      const labels = m[3] ? `worker="${worker}",${m[3]}` : `worker="${worker}"`;
      const fam = familyOf(name);
      const f = families.get(fam) ?? { head: [], samples: [] };
      if (!families.has(fam)) families.set(fam, f);
      f.samples.push(`${name}{${labels}}${m[4]}`);
    }
  }
  let out = '';
  for (const f of families.values()) out += [...f.head, ...f.samples].join('\n') + '\n';
  return out;
}
