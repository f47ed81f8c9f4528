/**
 * Signature checks for the Node CLI, on both cores. A zone check makes thousands of RSA
 * verifications; through WebCrypto each costs the main thread more in JavaScript glue than the
 * verification itself, and the main thread is what parsing and ZONEMD need. Here a batch sits
 * in shared memory: a worker thread claims signatures one by one with an atomic counter and
 * verifies them with node:crypto (same OpenSSL), and the main thread claims from the same
 * counter whenever it has nothing else to do, so the last of the RSA work is split between
 * the two cores.
 */

import { createHash, createPublicKey, verify } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { dnskeyJwk, type DnskeyInfo, type SignatureVerifier, type VerifyRequest, type ZonemdHash } from '../../../core/zone/index.js';
import { keyFromJwk, PENDING, startVerifyWorker, verifyItem, type NodeKey, type VerifyWorker } from './verify-worker.js';

/** ZONEMD's hash through node:crypto: for the one 2 MB input of the root, a few ms less of this thread than WebCrypto's. */
export const nodeZonemdHash: ZonemdHash = (algorithm, data) => createHash(algorithm === 'SHA-384' ? 'sha384' : 'sha512').update(data).digest();

interface WorkerKey {
  id: number;
}

export interface ClosableVerifier extends SignatureVerifier {
  close(): Promise<void>;
}

/**
 * A verifier backed by one worker thread plus the main thread's idle time. If the worker cannot
 * start or dies, the main thread finishes the batch alone: slower, never wrong. `worker`: one
 * started earlier (startVerifyWorker), which this verifier then owns and closes.
 */
export function createWorkerVerifier(options: { lazy?: boolean; worker?: VerifyWorker } = {}): ClosableVerifier {
  let worker: Worker | null = null;
  let started = false;
  let nextKey = 1;
  let nextBatch = 1;
  let failure: Error | null = null;
  const localKeys = new Map<number, NodeKey>();
  const waiting = new Map<number, () => void>();
  const wake = (): void => {
    for (const w of waiting.values()) w();
  };
  const fail = (err: Error): void => {
    failure ??= err;
    wake();
  };
  const start = (): Worker | null => {
    if (started) return worker;
    started = true;
    let thread: VerifyWorker;
    try {
      thread = options.worker ?? startVerifyWorker();
    } catch (err) {
      failure = err as Error;
      return null;
    }
    worker = thread.worker;
    if (thread.failure) failure = thread.failure;
    worker.on('message', (m: { id: number }) => waiting.get(m.id)?.());
    worker.on('error', fail);
    // a worker that exits (crash, or close() too early) leaves the rest to the main thread
    worker.on('exit', () => fail(new Error('signature worker exited')));
    return worker;
  };
  if (!options.lazy) start();
  return {
    async importKey(info: DnskeyInfo): Promise<WorkerKey | null> {
      const jwk = dnskeyJwk(info);
      if (!jwk) return null;
      const id = nextKey++;
      localKeys.set(id, keyFromJwk(createPublicKey, info.algorithm, jwk));
      const w = start();
      if (w && !failure) w.postMessage({ type: 'key', id, alg: info.algorithm, jwk });
      return { id };
    },
    async verifyBatch(requests: VerifyRequest[]): Promise<boolean[]> {
      const n = requests.length;
      let size = 4 + 4 * n;
      for (const r of requests) size += 12 + r.signature.length + r.data.length;
      const shared = new SharedArrayBuffer(size);
      const buf = new Uint8Array(shared);
      const v = new DataView(shared);
      v.setUint32(0, n, true);
      let p = 4 + 4 * n;
      requests.forEach((r, i) => {
        v.setUint32(4 + 4 * i, p, true);
        v.setUint32(p, (r.key as WorkerKey).id, true);
        v.setUint32(p + 4, r.signature.length, true);
        v.setUint32(p + 8, r.data.length, true);
        buf.set(r.signature, p + 12);
        buf.set(r.data, p + 12 + r.signature.length);
        p += 12 + r.signature.length + r.data.length;
      });
      const outBuf = new SharedArrayBuffer(n);
      const out = new Uint8Array(outBuf).fill(PENDING);
      const ctlBuf = new SharedArrayBuffer(8);
      const ctl = new Int32Array(ctlBuf);
      const id = nextBatch++;
      const w = start();
      if (w && !failure) w.postMessage({ type: 'verify', id, buf: shared, out: outBuf, ctl: ctlBuf });
      await new Promise<void>((resolve) => {
        let finished = false;
        const finish = (): void => {
          if (finished) return;
          finished = true;
          waiting.delete(id);
          resolve();
        };
        // the main thread takes a few items whenever it gets the event loop, until none are left
        const steal = (): void => {
          if (finished) return;
          for (let c = 0; c < 16; c++) {
            const i = Atomics.add(ctl, 0, 1);
            if (i >= n) break;
            verifyItem(localKeys, buf, v, i, out, ctl, verify);
          }
          if (Atomics.load(ctl, 1) >= n) finish();
          else if (failure) rescue();
          else if (Atomics.load(ctl, 0) < n) setImmediate(steal);
        };
        // the worker died: whatever it had claimed but not finished is still PENDING
        const rescue = (): void => {
          for (let i = 0; i < n; i++) if (Atomics.load(out, i) === PENDING) verifyItem(localKeys, buf, v, i, out, ctl, verify);
          finish();
        };
        waiting.set(id, () => {
          if (Atomics.load(ctl, 1) >= n) finish();
          else if (failure) {
            while (Atomics.add(ctl, 0, 1) < n) {
              // claim everything left so a dying worker takes no more
            }
            rescue();
          }
        });
        setImmediate(steal);
      });
      return Array.from(out, (x) => x === 1);
    },
    async close(): Promise<void> {
      if (worker) await worker.terminate();
    },
  };
}
