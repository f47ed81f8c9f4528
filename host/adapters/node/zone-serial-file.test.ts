/** The zone state file: saves at once land in order, and a file that is not ours is refused by name. */

import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialFile } from './zone-serial-file.js';

describe('SerialFile', () => {
  it('keeps the last of several saves made at once, and leaves no temporary file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-serial-'));
    try {
      const f = new SerialFile(join(dir, 'zone.state'));
      expect(await f.load()).toBeNull();
      await Promise.all([f.save({ serial: 2026082201, origin: '.' }), f.save({ serial: 2026082300, origin: '.' })]);
      expect(await f.load()).toEqual({ serial: 2026082300, origin: '.' });
      expect(readdirSync(dir)).toEqual(['zone.state']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file that is not a saved serial, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-serial-'));
    try {
      const path = join(dir, 'zone.state');
      writeFileSync(path, '');
      await expect(new SerialFile(path).load()).rejects.toThrow(`${path}: not JSON`);
      writeFileSync(path, '{"serial": -1, "origin": "."}');
      await expect(new SerialFile(path).load()).rejects.toThrow(/expected \{"serial"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
