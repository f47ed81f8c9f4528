/**
 * Files for the zone commands: streamed reads (a zone is never read whole into a string) and the
 * $INCLUDE resolver that keeps includes inside the zone's own directory, symlinks included.
 */

import { createReadStream } from 'node:fs';
import { readFile, realpath, rename, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import type { IncludeResolver } from '../../../core/zone/index.js';

/** Chunks of 256 KiB: small enough that signature checks start while the rest is parsed. */
export function fileChunks(path: string): AsyncIterable<Uint8Array> {
  return createReadStream(path, { highWaterMark: 256 * 1024 });
}

export async function readWhole(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path));
}

/** Writes via a temporary file and a rename, so a reader never sees half an image. */
export async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

/**
 * The real path of the zone file (its include identity) and a resolver that opens included
 * files relative to the including file, refusing anything whose real path leaves the zone's
 * directory.
 */
export async function includeResolverFor(zoneFile: string): Promise<{ id: string; resolver: IncludeResolver }> {
  const id = await realpath(zoneFile);
  const root = dirname(id);
  const resolver: IncludeResolver = async (path, fromId) => {
    const target = resolve(dirname(fromId), path);
    let real: string;
    try {
      real = await realpath(target);
    } catch (err) {
      throw new Error(`cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (real !== root && !real.startsWith(root + sep)) {
      throw new Error(`${path} resolves outside the zone directory ${root}`);
    }
    return { id: real, name: relative(root, real) || path, chunks: fileChunks(real) };
  };
  return { id, resolver };
}
