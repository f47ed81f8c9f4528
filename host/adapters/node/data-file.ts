/**
 * A file whose contents are an app's data (a rule set, a block list): read at start, and again
 * whenever it changes. The directory is watched, not the file, so editors that replace the file
 * are seen too. A version the app refuses is reported and the running data stays.
 */

import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
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
        void this.load().then((r) => {
          if (!r.ok) this.logger.log('error', 'changed file refused; keeping the running data', { app: this.manager.app, file: this.path, errors: r.errors.join('; ') });
        });
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
