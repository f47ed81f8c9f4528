/**
 * Zone ingestion off the thread that answers queries: a ZoneCompiler (core/zone/compile.ts)
 * that runs in one worker thread (zone-worker.ts). Parsing a zone of a million records,
 * hashing it for ZONEMD and writing its image take seconds of CPU; on the main thread every
 * answer waited for them. The worker is started when a copy comes and stopped as soon as no
 * copy is being parsed or verified: an idle worker held its own V8 heap, grown to the size of
 * the last zone it parsed (about 25 MB of resident memory after the root zone), for the half
 * hour until the next refresh, which costs it a start of a few tens of milliseconds. It is
 * unref'd (it never keeps the process alive) and started again after it dies (out of memory on
 * a hostile zone, say): the copy that killed it fails like any bad copy, with the reason, and
 * the copy in service stays.
 *
 * Run from TypeScript sources (the test suite), the compiled worker is taken from dist/, which
 * the test command builds first; with neither there, the work is done in thread.
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ZoneReport } from '../../core/zone/check.js';
import { inThreadCompiler, type CompileChecks, type Compiled, type ParsedCopy, type ParseRequest, type ZoneCompiler } from '../../core/zone/compile.js';
import type { ToWorker } from './zone-worker.js';

type FromWorker =
  | { id: number; ok: true; serial: number; origin: string }
  | { id: number; ok: true; image: Uint8Array; report: ZoneReport }
  | { id: number; ok: false; error: string };

/** The compiled worker script: beside this file, or in dist/ when this file is the TypeScript source. */
export function zoneWorkerScript(): string | null {
  const beside = fileURLToPath(new URL('./zone-worker.js', import.meta.url));
  if (existsSync(beside)) return beside;
  const built = fileURLToPath(new URL('../../../dist/host/adapters/node/zone-worker.js', import.meta.url));
  return existsSync(built) ? built : null;
}

export class WorkerZoneCompiler implements ZoneCompiler {
  readonly where = 'worker thread';
  private worker: Worker | null = null;
  private nextId = 1;
  /** Copies parsed in the worker and neither finished nor dropped: the worker holds them. */
  private open = 0;
  private readonly pending = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: Error) => void }>();

  constructor(private readonly script: string) {}

  async parse(bytes: Uint8Array, req: ParseRequest): Promise<ParsedCopy> {
    const id = this.nextId++;
    // A copy of the bytes goes over (a source's buffer may be a view into a shared pool).
    const own = bytes.slice();
    const w = this.started();
    this.open++;
    let open = true;
    const release = () => {
      if (!open) return false;
      open = false;
      this.open--;
      return true;
    };
    let r: FromWorker;
    try {
      r = await this.ask(id, { op: 'parse', id, bytes: own, req }, [own.buffer as ArrayBuffer]);
      if (!('serial' in r)) throw new Error('internal: the zone worker answered out of turn');
    } catch (e) {
      release();
      this.stopIfIdle();
      throw e;
    }
    return {
      serial: r.serial,
      origin: r.origin,
      finish: async (checks: CompileChecks): Promise<Compiled> => {
        if (!release()) throw new Error('internal: the parsed zone was already used');
        try {
          if (this.worker !== w) throw new Error('the zone worker stopped before the copy was verified');
          const done = await this.ask(id, { op: 'finish', id, checks });
          if (!('image' in done)) throw new Error('internal: the zone worker answered out of turn');
          return { image: done.image, report: done.report };
        } finally {
          this.stopIfIdle();
        }
      },
      drop: () => {
        if (!release()) return;
        if (this.worker === w) w.postMessage({ op: 'drop', id } satisfies ToWorker);
        this.stopIfIdle();
      },
    };
  }

  /** Whether a worker thread is running now (it runs only while a copy is being ingested). */
  get running(): boolean {
    return this.worker !== null;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(new Error('the zone worker stopped: the node is stopping'));
    this.pending.clear();
    if (w) await w.terminate();
  }

  /** Ends the worker when it holds no parsed copy and owes no answer. */
  private stopIfIdle(): void {
    const w = this.worker;
    if (!w || this.open > 0 || this.pending.size > 0) return;
    this.worker = null;
    void w.terminate();
  }

  private ask(id: number, m: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    return new Promise<FromWorker>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.started().postMessage(m, transfer);
    }).then((r) => {
      if (!r.ok) throw new Error(r.error);
      return r;
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.script);
    w.unref();
    w.on('message', (m: FromWorker) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve(m);
    });
    const gone = (why: string) => {
      // A worker stopped for being idle owes nothing; the answers owed are the current one's.
      if (this.worker !== w) return;
      this.worker = null;
      for (const p of this.pending.values()) p.reject(new Error(`the zone worker stopped: ${why}`));
      this.pending.clear();
    };
    w.on('error', (e) => gone(e.message));
    w.on('exit', (code) => gone(`exit code ${code}`));
    this.worker = w;
    return w;
  }
}

/** The worker compiler where its script is built, else the in-thread one. */
export function nodeZoneCompiler(): ZoneCompiler {
  const script = zoneWorkerScript();
  return script ? new WorkerZoneCompiler(script) : inThreadCompiler;
}
