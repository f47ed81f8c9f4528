/**
 * The zone commands' code cache is only an optimisation: a cache made for the bundle is used,
 * and one that is damaged, truncated, made for another bundle or missing is ignored, with the
 * commands working the same. Runs on the built bundle (dist/, made by pretest).
 */

import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { codeCacheFile, codeCacheKey, codeCachePath, loadZoneCli, ZONE_BUNDLE } from '../../host/adapters/node/cli/zone-loader.js';
import { root } from '../helpers/edge.js';

const built = join(root, 'dist', 'host', 'adapters', 'node', 'cli');

async function help(dir: string): Promise<{ cached: boolean; text: string }> {
  const { cli, cached } = await loadZoneCli(dir);
  let text = '';
  const code = await cli.zoneCommand(['--help'], { stdout: (s) => (text += s), stderr: (s) => (text += s) });
  expect(code).toBe(0);
  return { cached, text };
}

describe('zone commands from the bundle with a code cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-zone-cache-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(built, ZONE_BUNDLE), join(dir, ZONE_BUNDLE));
  const cacheFile = codeCachePath(dir);

  it('uses a cache made from this bundle, and works without one', async () => {
    const plain = await help(dir);
    expect(plain.cached).toBe(false);
    expect(plain.text).toContain('zone check');
    const { script, source } = await loadZoneCli(dir, { cache: false });
    writeFileSync(cacheFile, codeCacheFile(source, script!.createCachedData()));
    const warm = await help(dir);
    expect(warm.cached).toBe(true);
    expect(warm.text).toBe(plain.text);
  });

  it('ignores a damaged or truncated cache, and one made for another bundle', async () => {
    const good = readFileSync(cacheFile);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 10]! ^= 0xff;
    for (const bad of [flipped, good.subarray(0, good.length - 100), good.subarray(0, 20), Buffer.from('not a cache')]) {
      writeFileSync(cacheFile, bad);
      expect((await help(dir)).cached).toBe(false);
    }
    // V8 checks only the source's length: a cache for another bundle of the same length must not be used
    const source = readFileSync(join(dir, ZONE_BUNDLE), 'utf8');
    const other = source.replace('zone check', 'zone chekc');
    expect(other.length).toBe(source.length);
    const { script } = await loadZoneCli(dir, { cache: false });
    writeFileSync(cacheFile, codeCacheFile(other, script!.createCachedData()));
    expect((await help(dir)).cached).toBe(false);
  });

  it('keys the cache by Node version and flags', () => {
    expect(codeCacheKey([], '')).not.toBe(codeCacheKey(['--max-semi-space-size=4'], ''));
    expect(codeCacheKey([], '')).not.toBe(codeCacheKey([], '--stack-size=500'));
    expect(codeCacheKey(['--max-semi-space-size=4'], '')).toBe(codeCacheKey(['--max-semi-space-size=4'], ''));
  });

  it('the build made a cache the CLI uses, for node main.js and for the bin', async () => {
    for (const flags of [[], ['--max-semi-space-size=4']]) {
      expect(() => readFileSync(codeCachePath(built, codeCacheKey(flags, '')))).not.toThrow();
    }
  });
});
