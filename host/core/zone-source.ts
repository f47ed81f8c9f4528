/**
 * Where zone copies come from. A source is asked for the zone with the validators of the copy
 * in hand and answers "unchanged" or new bytes; the lifecycle (host/apps/zone-lifecycle.ts)
 * does the rest. The URL source is here (fetch is a Web API); file and KV sources live in their
 * adapters.
 */

import { readBodyCapped } from './http-body.js';

export interface Validators {
  etag?: string;
  lastModified?: string;
  /** File sources: modification time and size. */
  mtimeMs?: number;
  size?: number;
}

export type SourceResult =
  /** `confirms`: the source vouches the copy is current (an HTTP 304), not merely unchanged. */
  | { kind: 'unchanged'; confirms: boolean }
  | { kind: 'data'; bytes: Uint8Array; validators: Validators };

export interface ZoneSource {
  /** For logs and /status. */
  readonly description: string;
  fetch(previous: Validators | null): Promise<SourceResult>;
  /** Calls `onChange` when the source may have changed (a file watch); returns a stop function. */
  watch?(onChange: () => void): () => void;
}

export class SourceError extends Error {
  override readonly name = 'SourceError';
}

/** The most a zone source may deliver, bytes (the root zone is about 2 MB; its text about 3 MB gzipped, 10 MB not). */
export const MAX_ZONE_BYTES = 256 * 1024 * 1024;
/** The longest one read of a zone source may take, ms: a source that stalls fails this refresh, never blocks it. */
export const ZONE_READ_TIMEOUT_MS = 60_000;

/** An HTTP(S) URL, fetched with a conditional GET (If-None-Match / If-Modified-Since). */
export class UrlSource implements ZoneSource {
  readonly description: string;

  constructor(
    private readonly url: string,
    private readonly timeoutMs = 30_000,
    private readonly maxBytes = MAX_ZONE_BYTES,
  ) {
    this.description = url;
  }

  async fetch(previous: Validators | null): Promise<SourceResult> {
    const headers: Record<string, string> = {};
    if (previous?.etag) headers['if-none-match'] = previous.etag;
    if (previous?.lastModified) headers['if-modified-since'] = previous.lastModified;
    let res: Response;
    // One deadline for the whole exchange, the body included: a server that stalls half way
    // through fails this refresh instead of holding it.
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      res = await fetch(this.url, { headers, signal });
    } catch (e) {
      throw new SourceError(`${this.url}: ${(e as Error).message}`);
    }
    if (res.status === 304) return { kind: 'unchanged', confirms: true };
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new SourceError(`${this.url}: HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > this.maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new SourceError(`${this.url}: ${declared} bytes is above the ${this.maxBytes}-byte limit`);
    }
    let bytes: Uint8Array | null;
    try {
      bytes = await readBodyCapped(res.body, this.maxBytes);
    } catch (e) {
      throw new SourceError(`${this.url}: ${(e as Error).message}`);
    }
    if (!bytes) throw new SourceError(`${this.url}: larger than the ${this.maxBytes}-byte limit`);
    const validators: Validators = {};
    const etag = res.headers.get('etag');
    const lastModified = res.headers.get('last-modified');
    if (etag) validators.etag = etag;
    if (lastModified) validators.lastModified = lastModified;
    return { kind: 'data', bytes, validators };
  }
}
