import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Nodes the tests start without an admin token make one at first start in the state folder
// (docs/operations.md); the run gets its own, so a developer's ~/.local/state is left alone.
const stateHome = mkdtempSync(join(tmpdir(), 'edge-test-state-'));

export default defineConfig({
  test: {
    include: ['host/**/*.test.ts', 'apps/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Network tests start real servers (NSD, the resolver itself); two cores, two workers.
    maxWorkers: 2,
    reporters: ['default'],
    env: { XDG_STATE_HOME: stateHome },
  },
});
