/**
 * The Workers adapter is checked against its own types (no Node types: tsconfig.workers.json),
 * since the main tsconfig and the Node build leave host/adapters/workers/ out.
 */

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { run } from '../helpers/dig.js';
import { root } from '../helpers/edge.js';

describe('Workers adapter types', () => {
  it('type-checks without Node types (tsc -p tsconfig.workers.json)', async () => {
    const r = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.workers.json')], 120_000);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 120_000);
});
