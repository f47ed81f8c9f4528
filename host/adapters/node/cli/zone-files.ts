/**
 * Files for the zone commands: streamed reads (a zone is never read whole into a string) and the
 * $INCLUDE resolver that keeps includes inside the zone's own directory, symlinks included.
 */

import { createReadStream } from 'node:fs';
import { open, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import { createGunzip } from 'node:zlib';
import { ZoneError, type IncludeResolver } from '../../../core/zone/index.js';

const CHUNK = 256 * 1024;

/**
 * The file in chunks of 256 KiB (small enough that signature checks start while the rest is
 * parsed). A gzip file is inflated here with zlib: on Node it is about four times faster than
 * the DecompressionStream the core falls back to (40 ms against 9 ms for the root zone).
 */
export async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  if (!(await isGzip(path))) {
    yield* createReadStream(path, { highWaterMark: CHUNK });
    return;
  }
  const file = createReadStream(path, { highWaterMark: CHUNK });
  const inflated = createGunzip({ chunkSize: CHUNK });
  // pipe() does not pass a read error on: without this the reader would wait for ever
  file.on('error', (e) => inflated.destroy(e));
  file.pipe(inflated);
  try {
    yield* inflated;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.syscall) throw err; // the file, not its contents: reported as a read error
    throw new ZoneError('truncated', `${basename(path)}: gzip data is truncated or corrupt (${e.message})`);
  } finally {
    // stopping early (a limit, a syntax error) closes the file too
    inflated.destroy();
    file.destroy();
  }
}

async function isGzip(path: string): Promise<boolean> {
  const f = await open(path, 'r');
  try {
    const head = new Uint8Array(2);
    const { bytesRead } = await f.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await f.close();
  }
}

export async function readWhole(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path));
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
