/**
 * Where zone copies come from. A source is asked for the zone with the validators of the copy
 * in hand and answers "unchanged" or new bytes; the lifecycle (host/apps/zone-lifecycle.ts)
 * does the rest. The URL source is here (fetch is a Web API); file and KV sources live in their
 * adapters.
 */

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

const MAX_ZONE_BYTES = 256 * 1024 * 1024;

/** An HTTP(S) URL, fetched with a conditional GET (If-None-Match / If-Modified-Since). */
export class UrlSource implements ZoneSource {
  readonly description: string;

  constructor(
    private readonly url: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.description = url;
  }

  async fetch(previous: Validators | null): Promise<SourceResult> {
    const headers: Record<string, string> = {};
    if (previous?.etag) headers['if-none-match'] = previous.etag;
    if (previous?.lastModified) headers['if-modified-since'] = previous.lastModified;
    let res: Response;
    try {
      res = await fetch(this.url, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw new SourceError(`${this.url}: ${(e as Error).message}`);
    }
    if (res.status === 304) return { kind: 'unchanged', confirms: true };
    if (res.status !== 200) throw new SourceError(`${this.url}: HTTP ${res.status}`);
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > MAX_ZONE_BYTES) throw new SourceError(`${this.url}: ${declared} bytes is above the ${MAX_ZONE_BYTES}-byte limit`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > MAX_ZONE_BYTES) throw new SourceError(`${this.url}: larger than the ${MAX_ZONE_BYTES}-byte limit`);
    const validators: Validators = {};
    const etag = res.headers.get('etag');
    const lastModified = res.headers.get('last-modified');
    if (etag) validators.etag = etag;
    if (lastModified) validators.lastModified = lastModified;
    return { kind: 'data', bytes, validators };
  }
}
