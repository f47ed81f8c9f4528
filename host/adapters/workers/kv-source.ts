/**
 * A zone copy in Workers KV. KV has no conditional read, so the validator is the SHA-256 of
 * the value: an unchanged value is settled without parsing or loading it again.
 */

import { sha256Hex } from '../../apps/app-data.js';
import { SourceError, type SourceResult, type Validators, type ZoneSource } from '../../core/zone-source.js';

export class KvSource implements ZoneSource {
  readonly description: string;

  constructor(
    private readonly kv: KVNamespace,
    private readonly key: string,
  ) {
    this.description = `kv:${key}`;
  }

  async fetch(previous: Validators | null): Promise<SourceResult> {
    let value: ArrayBuffer | null;
    try {
      value = await this.kv.get(this.key, 'arrayBuffer');
    } catch (e) {
      throw new SourceError(`${this.description}: ${(e as Error).message}`);
    }
    if (value === null) throw new SourceError(`${this.description}: no such key (upload a zone image with wrangler kv key put)`);
    const bytes = new Uint8Array(value);
    const etag = await sha256Hex(bytes);
    // Unchanged bytes in KV say nothing about whether the copy is still current: no confirmation.
    if (previous?.etag === etag) return { kind: 'unchanged', confirms: false };
    return { kind: 'data', bytes, validators: { etag } };
  }
}
