/**
 * The thread that checks signatures for the zone commands (zone-crypto.ts), in a module of its
 * own so the CLI can start it before it loads the zone commands: a worker thread takes some
 * 60 ms to start, and started first it is up well before the zone is parsed. Nothing here
 * needs node:crypto at load time; the worker imports it itself.
 */

import type { createPublicKey, KeyObject, verify } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** An item's result before it is checked (0 and 1 are the results). */
export const PENDING = 2;

/**
 * Verifies item i of a batch into out[i] (0 or 1) and counts it done. Runs on both threads: the
 * worker gets this function's source text. Batch layout: u32 n, n × u32 item offset, then per
 * item u32 key id, u32 signature length, u32 data length, signature, data. Control words:
 * [next item to claim, items done].
 */
export function verifyItem(
  keys: Map<number, NodeKey>,
  buf: Uint8Array,
  v: DataView,
  i: number,
  out: Uint8Array,
  ctl: Int32Array,
  verifyFn: typeof verify,
): void {
  const p = v.getUint32(4 + 4 * i, true);
  const id = v.getUint32(p, true);
  const sl = v.getUint32(p + 4, true);
  const dl = v.getUint32(p + 8, true);
  const k = keys.get(id);
  let ok = 0;
  try {
    ok = k && verifyFn(k.hash, buf.subarray(p + 12 + sl, p + 12 + sl + dl), k.key, buf.subarray(p + 12, p + 12 + sl)) ? 1 : 0;
  } catch {
    ok = 0;
  }
  out[i] = ok;
  Atomics.add(ctl, 1, 1);
}

// Plain JavaScript evaluated by the worker: no module file to locate, so it works the same from
// dist/ and under the test runner.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
${verifyItem.toString()}
${keyFromJwk.toString()}
const keys = new Map();
parentPort.on('message', (m) => {
  if (m.type === 'key') {
    keys.set(m.id, keyFromJwk(createPublicKey, m.alg, m.jwk));
    return;
  }
  const buf = new Uint8Array(m.buf);
  const v = new DataView(m.buf);
  const out = new Uint8Array(m.out);
  const ctl = new Int32Array(m.ctl);
  const n = v.getUint32(0, true);
  for (;;) {
    const i = Atomics.add(ctl, 0, 1);
    if (i >= n) break;
    verifyItem(keys, buf, v, i, out, ctl, verify);
  }
  parentPort.postMessage({ id: m.id });
});
`;

export interface NodeKey {
  hash: string | null;
  key: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' };
}

export function keyFromJwk(create: typeof createPublicKey, alg: number, jwk: JsonWebKey): NodeKey {
  const hash = alg === 5 || alg === 7 ? 'sha1' : alg === 8 || alg === 13 ? 'sha256' : alg === 10 ? 'sha512' : alg === 14 ? 'sha384' : null;
  const key = create({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  return { hash, key: alg === 13 || alg === 14 ? { key, dsaEncoding: 'ieee-p1363' } : key };
}

/** A verifier thread, already started; `failure` is set if it could not start or ended. */
export interface VerifyWorker {
  worker: Worker;
  failure: Error | null;
}

/** Starts the thread (unreferenced: it never keeps the process alive). Throws when it cannot start. */
export function startVerifyWorker(): VerifyWorker {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  worker.unref();
  const started: VerifyWorker = { worker, failure: null };
  // listened to from the start: an 'error' event with no listener would end the process
  worker.on('error', (err) => (started.failure ??= err));
  worker.on('exit', () => (started.failure ??= new Error('signature worker exited')));
  return started;
}
