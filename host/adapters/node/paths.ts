import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/** The package root (where package.json names edge-resolver), from source or from dist/. */
export function projectRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'edge-resolver') return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the edge-resolver package root');
    dir = up;
  }
}
