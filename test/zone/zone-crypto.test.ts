import { describe, expect, it } from 'vitest';
import { startVerifyWorker } from '../../host/adapters/node/cli/verify-worker.js';
import { zoneCommand } from '../../host/adapters/node/cli/zone.js';
import { createWorkerVerifier } from '../../host/adapters/node/cli/zone-crypto.js';
import { parseDnskey } from '../../host/core/zone/index.js';
import { makeKey, signRRset } from './support/zone-signer.js';

async function fixture(alg: 8 | 10 | 13 | 14 | 15 | 16) {
  const key = await makeKey(alg);
  const owner = Uint8Array.of(7, ...new TextEncoder().encode('example'), 0);
  const rr = { owner, type: 1, class: 1, ttl: 300, rdata: Uint8Array.of(192, 0, 2, 1) };
  const sig = await signRRset([rr], key, owner, 0, 2 ** 31);
  // what the RRSIG signs: its RDATA head, then the RR in canonical form with the original TTL
  const head = sig.rdata.subarray(0, 18 + owner.length);
  const data = Uint8Array.from([...head, ...owner, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, 1]);
  return { info: parseDnskey(key.rdata)!, signature: sig.rdata.subarray(18 + owner.length), data };
}

describe('worker-thread signature verifier (Node CLI)', () => {
  it('verifies every supported algorithm and rejects altered data', async () => {
    const v = createWorkerVerifier();
    try {
      for (const alg of [8, 10, 13, 14, 15, 16] as const) {
        const f = await fixture(alg);
        const key = await v.importKey(f.info);
        const bad = f.data.slice();
        bad[bad.length - 1]! ^= 1;
        expect(await v.verifyBatch([{ key, signature: f.signature, data: f.data }, { key, signature: f.signature, data: bad }])).toEqual([true, false]);
      }
    } finally {
      await v.close();
    }
  });

  it('splits a large batch between the worker and the main thread, in order', async () => {
    const v = createWorkerVerifier();
    try {
      const f = await fixture(13);
      const key = await v.importKey(f.info);
      const bad = f.data.slice();
      bad[0]! ^= 1;
      const requests = Array.from({ length: 600 }, (_, i) => ({ key, signature: f.signature, data: i % 7 === 3 ? bad : f.data }));
      const out = await v.verifyBatch(requests);
      expect(out).toEqual(requests.map((_, i) => i % 7 !== 3));
    } finally {
      await v.close();
    }
  });

  it('uses a thread started before it (as main.ts starts one), and ends it', async () => {
    const early = startVerifyWorker();
    const v = createWorkerVerifier({ worker: early });
    const exited = new Promise((resolve) => early.worker.once('exit', resolve));
    try {
      const f = await fixture(8);
      const key = await v.importKey(f.info);
      expect(await v.verifyBatch([{ key, signature: f.signature, data: f.data }])).toEqual([true]);
    } finally {
      await v.close();
    }
    await exited;
  });

  it('a zone command given a thread it does not use (help, a wrong command line) ends it', async () => {
    for (const argv of [['check', '--help'], ['check'], ['inspect', '--help']]) {
      const early = startVerifyWorker();
      const exited = new Promise((resolve) => early.worker.once('exit', resolve));
      await zoneCommand(argv, { stdout: () => undefined, stderr: () => undefined }, { worker: early });
      await exited;
    }
  });

  it('finishes on the main thread when the worker is gone', async () => {
    const v = createWorkerVerifier();
    const f = await fixture(13);
    const key = await v.importKey(f.info);
    await v.close();
    expect(await v.verifyBatch([{ key, signature: f.signature, data: f.data }])).toEqual([true]);
  });
});
