/**
 * Files on Node: a watch that sees a file replaced or rewritten, and a write that readers see
 * whole or not at all.
 */

import { watch } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Calls `onChange` once a change to `path` has settled (`debounceMs` without another). The
 * directory is watched, not the file, so editors that replace the file are seen too. Returns a
 * stop function. A watch that fails is reported to `onError` (the caller keeps its schedule).
 */
export function watchFile(path: string, onChange: () => void, debounceMs: number, onError: (e: Error) => void = () => undefined): () => void {
  const full = resolve(path);
  const name = basename(full);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const w = watch(dirname(full), (_event, file) => {
    if (file !== null && file !== name) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  });
  w.on('error', onError);
  return () => {
    clearTimeout(timer);
    w.close();
  };
}

let writes = 0;

/**
 * Replaces `path` with `data` so that a reader (the watch, a reload, a restart after a crash)
 * sees the old file or the new one, never a part: a temporary file in the same folder, synced,
 * then renamed over it. Rule files, the zone state file and `zone compile` images alike.
 */
export async function writeFileAtomically(path: string, data: Uint8Array): Promise<void> {
  // A name of its own per write: two writes of one file at once must not share a temporary.
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++writes}.tmp`);
  const mode = await stat(path).then((s) => s.mode & 0o777, () => 0o644);
  try {
    const f = await open(tmp, 'w', mode);
    try {
      await f.writeFile(data);
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  // The rename is durable once the folder is synced; not every platform lets a folder be opened.
  try {
    const d = await open(dirname(path), 'r');
    await d.sync().finally(() => d.close());
  } catch {
    // best effort
  }
}
