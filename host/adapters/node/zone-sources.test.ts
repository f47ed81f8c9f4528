/**
 * Zone sources that never deliver (issue 13, item 5, the part about reads): a FIFO with no
 * writer, an HTTP server that stalls before or in the middle of the body, and one that sends
 * without end. Each read ends with a SourceError within its timeout or at its size limit, so a
 * refresh (and POST /zone/refresh) is never blocked by its source.
 */

import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource } from './zone-file-source.js';
import { SourceError, UrlSource } from '../../core/zone-source.js';

const dir = mkdtempSync(join(tmpdir(), 'zone-sources-'));
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.closeAllConnections(), s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler!);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as { port: number }).port}/zone`;
}

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const timer = new Promise<never>((_, j) => (t = setTimeout(() => j(new Error(`still waiting after ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timer]);
  } finally {
    clearTimeout(t);
  }
}

describe('zone sources that never deliver', () => {
  it('refuses a FIFO with no writer at once instead of blocking on it', async () => {
    const fifo = join(dir, 'root.fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(within(2000, new FileSource(fifo).fetch(null))).rejects.toThrow(/not a regular file/);
  });

  it('refuses a directory, and a file above the size limit', async () => {
    mkdirSync(join(dir, 'adir'));
    await expect(new FileSource(join(dir, 'adir')).fetch(null)).rejects.toThrow(SourceError);
    writeFileSync(join(dir, 'big.zone'), 'x'.repeat(5000));
    await expect(new FileSource(join(dir, 'big.zone'), 4096).fetch(null)).rejects.toThrow(/5000 bytes is above the 4096-byte limit/);
  });

  it('gives up on an HTTP server that never answers, or stops half way through the body', async () => {
    const silent = await serve(() => undefined);
    await expect(within(3000, new UrlSource(silent, 300).fetch(null))).rejects.toThrow(SourceError);
    const half = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100000' });
      res.write('x'.repeat(1000));
    });
    await expect(within(3000, new UrlSource(half, 300).fetch(null))).rejects.toThrow(SourceError);
  });

  it('stops reading a body without Content-Length at the size limit', async () => {
    const endless = await serve((_req, res) => {
      res.writeHead(200);
      const chunk = 'x'.repeat(16384);
      const more = () => {
        while (res.write(chunk));
        res.once('drain', more);
      };
      more();
    });
    await expect(within(5000, new UrlSource(endless, 10_000, 100_000).fetch(null))).rejects.toThrow(/larger than the 100000-byte limit/);
  });
});
