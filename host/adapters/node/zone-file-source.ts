/** A zone copy in a file: modification time and size as validators, and a directory watch. */

import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { watchFile } from './files.js';
import { MAX_ZONE_BYTES, SourceError, ZONE_READ_TIMEOUT_MS, type SourceResult, type Validators, type ZoneSource } from '../../core/zone-source.js';

export class FileSource implements ZoneSource {
  readonly description: string;
  private readonly path: string;

  constructor(
    path: string,
    private readonly maxBytes = MAX_ZONE_BYTES,
    private readonly timeoutMs = ZONE_READ_TIMEOUT_MS,
  ) {
    this.path = resolve(path);
    this.description = this.path;
  }

  async fetch(previous: Validators | null): Promise<SourceResult> {
    let st;
    try {
      st = await stat(this.path);
    } catch (e) {
      throw new SourceError(`${this.path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    // A FIFO with no writer, a device or a directory would block the read (and the refresh, and
    // POST /zone/refresh) for ever or never end: only a regular file is a zone copy.
    if (!st.isFile()) throw new SourceError(`${this.path}: not a regular file`);
    if (st.size > this.maxBytes) throw new SourceError(`${this.path}: ${st.size} bytes is above the ${this.maxBytes}-byte limit`);
    if (previous && previous.mtimeMs === st.mtimeMs && previous.size === st.size) return { kind: 'unchanged', confirms: false };
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(this.path, { signal: AbortSignal.timeout(this.timeoutMs) }));
    } catch (e) {
      throw new SourceError(`${this.path}: ${(e as Error).message}`);
    }
    // It may have grown between stat and read.
    if (bytes.length > this.maxBytes) throw new SourceError(`${this.path}: larger than the ${this.maxBytes}-byte limit`);
    return { kind: 'data', bytes, validators: { mtimeMs: st.mtimeMs, size: st.size } };
  }

  watch(onChange: () => void): () => void {
    // Writers replace or append in several steps; act once they are done.
    return watchFile(this.path, onChange, 200);
  }
}
