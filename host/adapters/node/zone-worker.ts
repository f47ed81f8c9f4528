/**
 * The worker thread zone copies are parsed, verified and compiled in (zone-compiler.ts starts
 * it). It runs core/zone/compile.ts's two steps on messages from the main thread and keeps each
 * parsed zone until it is finished or dropped:
 *
 *   { op: 'parse', id, bytes, req }  -> { id, ok: true, serial, origin } | { id, ok: false, error }
 *   { op: 'finish', id, checks }     -> { id, ok: true, image, report }  | { id, ok: false, error }
 *   { op: 'drop', id }               (no reply)
 */

import { parentPort } from 'node:worker_threads';
import { nameToText } from '../../core/dns/name.js';
import { finishCopy, parseCopy, type CompileChecks, type ParseRequest } from '../../core/zone/compile.js';
import type { Zone } from '../../core/zone/zone.js';

export type ToWorker =
  | { op: 'parse'; id: number; bytes: Uint8Array; req: ParseRequest }
  | { op: 'finish'; id: number; checks: CompileChecks }
  | { op: 'drop'; id: number };

const port = parentPort;
if (!port) throw new Error('zone-worker.js runs as a worker thread (zone-compiler.ts starts it)');
const parsed = new Map<number, Zone>();

port.on('message', (m: ToWorker) => {
  void handle(m);
});

async function handle(m: ToWorker): Promise<void> {
  if (m.op === 'drop') {
    parsed.delete(m.id);
    return;
  }
  try {
    if (m.op === 'parse') {
      const zone = await parseCopy(m.bytes, m.req);
      parsed.set(m.id, zone);
      port!.postMessage({ id: m.id, ok: true, serial: zone.soa.serial, origin: nameToText(zone.origin) });
      return;
    }
    const zone = parsed.get(m.id);
    parsed.delete(m.id);
    if (!zone) throw new Error('internal: the parsed zone is gone');
    const { image, report } = await finishCopy(zone, m.checks);
    const out = image.byteOffset === 0 && image.byteLength === image.buffer.byteLength ? image : image.slice();
    port!.postMessage({ id: m.id, ok: true, image: out, report }, [out.buffer as ArrayBuffer]);
  } catch (e) {
    port!.postMessage({ id: m.id, ok: false, error: (e as Error).message ?? String(e) });
  }
}
