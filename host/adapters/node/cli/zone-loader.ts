/**
 * Loads the zone commands from the build's one-file bundle (zone.bundle.cjs, made by
 * scripts/build.mjs) with V8's code cache for it. A `zone check` is a short-lived process that
 * spends much of its life in code V8 has only just compiled: with the cache, V8 takes the
 * bytecode of the bundle's functions (those a check of the lookalike root ran, at build time)
 * from the file instead of parsing and compiling them again (bench/RESULTS.md, *Zone check*).
 *
 * The cache is only ever an optimisation. V8 refuses data made by another V8 or under other V8
 * flags (vm.Script's cachedDataRejected), so each Node version and command line has its own
 * file (`zone.bundle.<key>.v8cache`); V8 checks only the source's length, so the file also
 * carries a SHA-256 of the source and of its own payload, and data for another bundle, a
 * truncated or damaged file, or none at all just means compiling as usual. Without the bundle
 * (a dist/ built with --no-tsc) the plain modules are imported.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

type ZoneCli = typeof import('./zone.js');

const HERE = dirname(fileURLToPath(import.meta.url));
export const ZONE_BUNDLE = 'zone.bundle.cjs';
const MAGIC = 'edge-zone-v8cache-1\n';
const HEADER = MAGIC.length + 64;

/** What the cache depends on besides the source: V8 (Node's version) and the flags it runs with. */
export function codeCacheKey(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string {
  const text = [process.version, process.arch, ...execArgv, nodeOptions].join('\0');
  let h = 0x811c9dc5; // FNV-1a: a file name, not a check (V8 and the digests below do that)
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

export function codeCachePath(dir = HERE, key = codeCacheKey()): string {
  return join(dir, `zone.bundle.${key}.v8cache`);
}

function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

/** The cached data in `file` if it was made from `source` and is whole; otherwise undefined. */
function cachedDataFor(file: string, source: string): Buffer | undefined {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch {
    return undefined;
  }
  if (raw.length <= HEADER || raw.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const data = raw.subarray(HEADER);
  const p = MAGIC.length;
  if (!sha256(source).equals(raw.subarray(p, p + 32)) || !sha256(data).equals(raw.subarray(p + 32, p + 64))) return undefined;
  return data;
}

/** The bytes of a cache file for `source` holding V8's `data`. */
export function codeCacheFile(source: string, data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(MAGIC, 'latin1'), sha256(source), sha256(data), data]);
}

export interface LoadedZoneCli {
  cli: ZoneCli;
  /** The compiled bundle (null when the plain modules were imported): the build makes the cache from it. */
  script: Script | null;
  /** Source of the bundle, for codeCacheFile. */
  source: string;
  /** Whether V8 used a cache. */
  cached: boolean;
}

export async function loadZoneCli(dir = HERE, options: { cache?: boolean } = {}): Promise<LoadedZoneCli> {
  const file = join(dir, ZONE_BUNDLE);
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return { cli: await import('./zone.js'), script: null, source: '', cached: false };
  }
  const cachedData = options.cache === false ? undefined : cachedDataFor(codeCachePath(dir), source);
  // the CommonJS wrapper on the bundle's first line, so its line numbers stay as in the file
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const mod = { exports: {} as ZoneCli };
  (script.runInThisContext() as (...args: unknown[]) => void)(mod.exports, createRequire(file), mod, file, dir);
  return { cli: mod.exports, script, source, cached: cachedData !== undefined && !script.cachedDataRejected };
}
