/**
 * Signatures already verified, so the same RRSIG over the same data with the same key is
 * checked by crypto once. A zone's NSEC or NSEC3 records come back in many answers (every name
 * in one span is denied by the same NSEC, every NXDOMAIN by the same wildcard proof, every
 * answer of a zone with its SOA in a negative response), and each verification costs more than
 * the rest of the answer's work (an ECDSA P-256 check is about 100 µs through WebCrypto).
 * Unbound gets the same from its RRset cache, which keeps each RRset's security status.
 *
 * Only the crypto result is kept: the RRSIG's validity window, its signer, labels and key tag
 * are still checked on every use (precheckRrsig runs before this is asked), so an entry never
 * makes an expired signature valid. The entry holds the key handle it was verified with (the
 * handles live in the key cache's rings) and the exact signed data, compared byte for byte.
 * Failures are not kept: a bad signature is charged to the work budget every time (KeyTrap).
 * Bounded: least recently used entries go first.
 */

import { sameBytes } from '../dns/bytes.js';

interface Entry {
  key: unknown;
  data: Uint8Array;
}

export class VerifiedSignatures {
  private readonly map = new Map<string, Entry>();
  hits = 0;

  constructor(readonly maxEntries = 10_000) {}

  /** Whether `signature` over `data` was verified with `key` before. */
  has(key: unknown, signature: Uint8Array, data: Uint8Array): boolean {
    const id = keyOf(signature);
    const e = this.map.get(id);
    if (!e || e.key !== key || !sameBytes(e.data, data)) return false;
    this.map.delete(id);
    this.map.set(id, e);
    this.hits++;
    return true;
  }

  add(key: unknown, signature: Uint8Array, data: Uint8Array): void {
    const id = keyOf(signature);
    this.map.delete(id);
    this.map.set(id, { key, data: data.slice() });
    if (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value!);
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}

function keyOf(signature: Uint8Array): string {
  let s = '';
  for (let i = 0; i < signature.length; i++) s += String.fromCharCode(signature[i]!);
  return s;
}
