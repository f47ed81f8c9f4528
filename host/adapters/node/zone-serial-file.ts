/**
 * `[zone] state_file`: the serial last in service, kept across restarts so that a restarted node
 * refuses an older copy as a running one does (RFC 1982). JSON, written as the rule file is
 * (writeFileAtomically: synced, then renamed), so a crash never leaves half a file; saves run
 * one after another, so the last one asked for is the one that stays.
 */

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SerialStore, ServedSerial } from '../../apps/zone-lifecycle.js';
import { writeFileAtomically } from './files.js';

export class SerialFile implements SerialStore {
  readonly description: string;
  private readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
    this.description = this.path;
  }

  async load(): Promise<ServedSerial | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      // First start: nothing was in service yet.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    let v: { serial?: unknown; origin?: unknown };
    try {
      v = JSON.parse(text) as typeof v;
    } catch {
      throw new Error(`${this.path}: not JSON`);
    }
    if (typeof v.serial !== 'number' || !Number.isInteger(v.serial) || v.serial < 0 || v.serial > 0xffffffff || typeof v.origin !== 'string') {
      throw new Error(`${this.path}: expected {"serial": 0..4294967295, "origin": "NAME"}`);
    }
    return { serial: v.serial, origin: v.origin };
  }

  private saving: Promise<unknown> = Promise.resolve();

  save(s: ServedSerial): Promise<void> {
    const text = JSON.stringify({ serial: s.serial, origin: s.origin, saved_at: new Date().toISOString() }) + '\n';
    const run = this.saving.then(() => writeFileAtomically(this.path, new TextEncoder().encode(text)));
    this.saving = run.catch(() => undefined);
    return run;
  }
}
