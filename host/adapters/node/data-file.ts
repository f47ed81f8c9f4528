/**
 * A file whose contents are an app's data (a rule set, a block list): read at start, and again
 * whenever it changes. The directory is watched, not the file, so editors that replace the file
 * are seen too. A version the app refuses is reported and the running data stays.
 */

import { watch, type FSWatcher } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { AppDataManager, ApplyResult } from '../../apps/app-data.js';
import type { Logger } from '../../core/log.js';

const DEBOUNCE_MS = 150;

export class DataFile {
  private watcher: FSWatcher | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  readonly path: string;

  constructor(
    path: string,
    private readonly manager: AppDataManager,
    private readonly logger: Logger,
  ) {
    this.path = resolve(path);
  }

  async load(): Promise<ApplyResult> {
    let data: Uint8Array;
    try {
      data = new Uint8Array(await readFile(this.path));
    } catch (e) {
      return { ok: false, errors: [`${this.path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`] };
    }
    return this.manager.apply(data, this.path);
  }

  watch(): void {
    if (this.watcher) return;
    const name = basename(this.path);
    this.watcher = watch(dirname(this.path), (_event, file) => {
      if (file !== null && file !== name) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.load().then(
          (r) => {
            if (!r.ok) this.logger.log('error', 'changed file refused; keeping the running data', { app: this.manager.app, file: this.path, errors: r.errors.join('; ') });
          },
          (e: Error) => this.logger.log('error', 'changed file could not be loaded; keeping the running data', { app: this.manager.app, file: this.path, error: e.message }),
        );
      }, DEBOUNCE_MS);
    });
    this.watcher.on('error', (e) => this.logger.log('error', 'file watch failed', { file: this.path, error: e.message }));
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = null;
  }
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
