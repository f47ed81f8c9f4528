/** Apps in folders outside the package: a dot folder (what a killed new-app leaves) is no app. */

import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeCatalog, withAppDirs } from './catalog.js';

describe('withAppDirs', () => {
  it('skips dot folders, such as the .new-app-* folder a killed new-app leaves', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-apps-'));
    try {
      mkdirSync(join(dir, '.new-app-x1'));
      writeFileSync(join(dir, '.new-app-x1', 'app.json'), JSON.stringify({ name: 'half_written', abi_version: 1 }));
      const catalog = withAppDirs(nodeCatalog(), [dir]);
      expect(catalog.names()).not.toContain('half_written');
      expect(catalog.names()).toEqual(nodeCatalog().names());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
