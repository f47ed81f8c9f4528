/** A zone copy in a file: modification time and size as validators, and a directory watch. */

import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { watchFile } from './files.js';
import { SourceError, type SourceResult, type Validators, type ZoneSource } from '../../core/zone-source.js';

export class FileSource implements ZoneSource {
  readonly description: string;
  private readonly path: string;

  constructor(path: string) {
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
    if (previous && previous.mtimeMs === st.mtimeMs && previous.size === st.size) return { kind: 'unchanged', confirms: false };
    const bytes = new Uint8Array(await readFile(this.path));
    return { kind: 'data', bytes, validators: { mtimeMs: st.mtimeMs, size: st.size } };
  }

  watch(onChange: () => void): () => void {
    // Writers replace or append in several steps; act once they are done.
    return watchFile(this.path, onChange, 200);
  }
}
