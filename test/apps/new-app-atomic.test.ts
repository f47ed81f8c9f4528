/**
 * `edge-resolver new-app` writes its files into a folder beside the target and renames it: a
 * write that fails midway (here the third, as on a full disk) leaves nothing behind, so the same
 * command run again succeeds.
 */

import { describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const fault = vi.hoisted(() => ({ failWrite: -1 }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    writeFileSync: (...args: Parameters<typeof fs.writeFileSync>) => {
      if (fault.failWrite >= 0 && fault.failWrite-- === 0) {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return fs.writeFileSync(...args);
    },
  };
});

const { newAppCommand } = await import('../../host/adapters/node/cli/new-app.js');

async function newApp(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await newAppCommand(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe('new-app: all four files or none', () => {
  it('leaves no half folder when a write fails midway, and a rerun creates the app', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-new-app-atomic-'));
    fault.failWrite = 2;
    const failed = await newApp('half_done', '--dir', dir);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/cannot create .*half_done: ENOSPC; nothing was left behind/);
    expect(existsSync(join(dir, 'half_done'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);

    const again = await newApp('half_done', '--dir', dir);
    expect(again.code, again.stderr).toBe(0);
    expect(readdirSync(join(dir, 'half_done')).sort()).toEqual(['README.md', 'app.json', 'half_done.test.ts', 'index.ts']);
    expect(readdirSync(dir)).toEqual(['half_done']);
  });
});
