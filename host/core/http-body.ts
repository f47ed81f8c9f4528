/**
 * An HTTP body read chunk by chunk so that a peer without Content-Length cannot make us hold more
 * than `cap` bytes: past it nothing more is kept, and the stream is cancelled once `drain` bytes
 * have come (default `cap`; DoH drains a little further so the client still reads its 413).
 * Null past the cap. Used by the DoH handler for requests and by the zone source for URLs.
 */

import { concat } from './dns/bytes.js';

export async function readBodyCapped(body: ReadableStream<Uint8Array> | null, cap: number, drain = cap): Promise<Uint8Array | null> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > drain) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    if (size <= cap) chunks.push(value);
  }
  return size > cap ? null : concat(chunks);
}
