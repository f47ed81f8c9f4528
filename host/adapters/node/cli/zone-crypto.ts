/**
 * Signature checks for the Node CLI on a worker thread. A zone check makes thousands of RSA
 * verifications; through WebCrypto each one costs the main thread more in JavaScript glue than
 * the verification itself, and the main thread is what parsing and ZONEMD need. Here a batch
 * crosses to a worker in one transferred buffer, the worker verifies with node:crypto (same
 * OpenSSL), and the main thread computes the ZONEMD digest meanwhile.
 */

import { Worker } from 'node:worker_threads';
import { dnskeyJwk, webCryptoVerifier, type DnskeyInfo, type SignatureVerifier, type VerifyRequest } from '../../../core/zone/index.js';

// Plain JavaScript evaluated by the worker: no module file to locate, so it works the same from
// dist/ and under the test runner.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const keys = new Map();
parentPort.on('message', (m) => {
  if (m.type === 'key') {
    const hash = m.alg === 8 || m.alg === 13 ? 'sha256' : m.alg === 10 ? 'sha512' : m.alg === 14 ? 'sha384' : null;
    const key = createPublicKey({ key: m.jwk, format: 'jwk' });
    keys.set(m.id, { hash, key: m.alg === 13 || m.alg === 14 ? { key, dsaEncoding: 'ieee-p1363' } : key });
    return;
  }
  const buf = new Uint8Array(m.buf);
  const v = new DataView(m.buf);
  const n = v.getUint32(0, true);
  const out = new Uint8Array(n);
  let p = 4;
  for (let i = 0; i < n; i++) {
    const id = v.getUint32(p, true), sl = v.getUint32(p + 4, true), dl = v.getUint32(p + 8, true);
    p += 12;
    const k = keys.get(id);
    try {
      out[i] = k && verify(k.hash, buf.subarray(p + sl, p + sl + dl), k.key, buf.subarray(p, p + sl)) ? 1 : 0;
    } catch {
      out[i] = 0;
    }
    p += sl + dl;
  }
  parentPort.postMessage({ id: m.id, out }, [out.buffer]);
});
`;

interface WorkerKey {
  id: number;
  info: DnskeyInfo;
  /** WebCrypto handle, made only if the worker fails. */
  web?: Promise<unknown>;
}

export interface ClosableVerifier extends SignatureVerifier {
  close(): Promise<void>;
}

/**
 * A verifier backed by one worker thread. If the worker cannot start or dies, verification
 * carries on through WebCrypto: slower, never wrong.
 */
export function createWorkerVerifier(options: { lazy?: boolean } = {}): ClosableVerifier {
  let worker: Worker | null = null;
  let started = false;
  let nextKey = 1;
  let nextBatch = 1;
  const pending = new Map<number, (out: Uint8Array) => void>();
  let failure: Error | null = null;
  const onMessage = (m: { id: number; out: Uint8Array }): void => {
    const done = pending.get(m.id);
    pending.delete(m.id);
    done?.(m.out);
  };
  const viaWebCrypto = async (requests: VerifyRequest[]): Promise<boolean[]> => {
    const keys = await Promise.all(
      requests.map((r) => {
        const k = r.key as WorkerKey;
        k.web ??= webCryptoVerifier.importKey(k.info);
        return k.web;
      }),
    );
    return webCryptoVerifier.verifyBatch(requests.map((r, i) => ({ ...r, key: keys[i] })));
  };
  const fail = (err: Error): void => {
    failure ??= err;
    for (const done of pending.values()) done(new Uint8Array(0));
    pending.clear();
  };
  const start = (): Worker | null => {
    if (started) return worker;
    started = true;
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true });
    } catch (err) {
      failure = err as Error;
      return null;
    }
    worker.unref();
    worker.on('message', onMessage);
    worker.on('error', fail);
    // a worker that exits (crash, or close() too early) must not leave batches waiting forever
    worker.on('exit', () => fail(new Error('signature worker exited')));
    return worker;
  };
  if (!options.lazy) start();
  return {
    async importKey(info: DnskeyInfo): Promise<WorkerKey | null> {
      const jwk = dnskeyJwk(info);
      if (!jwk) return null;
      const id = nextKey++;
      const w = start();
      if (w && !failure) w.postMessage({ type: 'key', id, alg: info.algorithm, jwk });
      return { id, info };
    },
    async verifyBatch(requests: VerifyRequest[]): Promise<boolean[]> {
      if (failure) return viaWebCrypto(requests);
      let size = 4;
      for (const r of requests) size += 12 + r.signature.length + r.data.length;
      const buf = new ArrayBuffer(size);
      const bytes = new Uint8Array(buf);
      const v = new DataView(buf);
      v.setUint32(0, requests.length, true);
      let p = 4;
      for (const r of requests) {
        v.setUint32(p, (r.key as WorkerKey).id, true);
        v.setUint32(p + 4, r.signature.length, true);
        v.setUint32(p + 8, r.data.length, true);
        p += 12;
        bytes.set(r.signature, p);
        bytes.set(r.data, p + r.signature.length);
        p += r.signature.length + r.data.length;
      }
      const id = nextBatch++;
      const w = start();
      if (!w || failure) return viaWebCrypto(requests);
      const out = await new Promise<Uint8Array>((resolve) => {
        pending.set(id, resolve);
        w.postMessage({ type: 'verify', id, buf }, [buf]);
      });
      if (out.length !== requests.length) return viaWebCrypto(requests);
      return Array.from(out, (x) => x === 1);
    },
    async close(): Promise<void> {
      if (worker) await worker.terminate();
    },
  };
}
