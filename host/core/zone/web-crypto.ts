/**
 * The one place zone code touches `crypto.subtle` (present on Node and on Workers). TypeScript's
 * DOM types want ArrayBuffer-backed views; our views may sit on any buffer, which WebCrypto
 * accepts at run time.
 */

export function bufferSource(b: Uint8Array): BufferSource {
  return b as Uint8Array<ArrayBuffer>;
}

export async function digest(algorithm: 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512', data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(algorithm, bufferSource(data)));
}
