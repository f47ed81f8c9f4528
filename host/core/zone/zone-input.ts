/**
 * Every way a zone arrives (ReadableStream from fetch or KV, a Node file stream, bytes, a
 * string) as one async sequence of byte chunks, with gzip recognised by its magic number and
 * undone with DecompressionStream (a Web API on Node and Workers).
 */

import { ZoneError } from './errors.js';

export type ZoneInput =
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | Uint8Array
  | string;

async function* fromReader(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value.length > 0) yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

function isReadableStream(x: unknown): x is ReadableStream<Uint8Array> {
  return typeof x === 'object' && x !== null && typeof (x as ReadableStream).getReader === 'function';
}

/** The input as chunks, exactly as given (no decompression). */
export async function* rawChunks(input: ZoneInput): AsyncGenerator<Uint8Array> {
  if (typeof input === 'string') {
    yield new TextEncoder().encode(input);
    return;
  }
  if (input instanceof Uint8Array) {
    yield input;
    return;
  }
  if (isReadableStream(input)) {
    yield* fromReader(input);
    return;
  }
  if (Symbol.asyncIterator in (input as object)) {
    for await (const c of input as AsyncIterable<Uint8Array>) if (c.length > 0) yield c;
    return;
  }
  for (const c of input as Iterable<Uint8Array>) if (c.length > 0) yield c;
}

function toStream(first: Uint8Array, rest: AsyncIterator<Uint8Array>): ReadableStream<Uint8Array> {
  let sentFirst = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!sentFirst) {
        sentFirst = true;
        controller.enqueue(first);
        return;
      }
      const { done, value } = await rest.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await rest.return?.();
    },
  });
}

/**
 * The input's bytes, gunzipped when it starts with the gzip magic. A corrupt or truncated gzip
 * stream becomes a ZoneError('truncated') instead of an opaque TypeError.
 */
export async function* byteChunks(input: ZoneInput, file = 'input'): AsyncGenerator<Uint8Array> {
  const it = rawChunks(input)[Symbol.asyncIterator]();
  let first = await it.next();
  if (first.done) return;
  // The magic is two bytes; a first chunk of one byte is possible from a stream.
  while (first.value.length < 2) {
    const more = await it.next();
    if (more.done) break;
    const joined: Uint8Array = new Uint8Array(first.value.length + more.value.length);
    joined.set(first.value);
    joined.set(more.value, first.value.length);
    first = { done: false, value: joined };
  }
  const head = first.value;
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  }
  const inflated = toStream(head, it).pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>);
  try {
    yield* fromReader(inflated);
  } catch (err) {
    if (err instanceof ZoneError) throw err;
    throw new ZoneError('truncated', `${file}: gzip data is truncated or corrupt (${(err as Error).message})`);
  }
}
