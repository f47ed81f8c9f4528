/**
 * One resource record as every zone stage sees it: names and RDATA in uncompressed wire form,
 * case preserved as written. Canonical forms are derived later, only where a verifier needs them.
 */
export interface ZoneRecord {
  owner: Uint8Array;
  type: number;
  class: number;
  ttl: number;
  rdata: Uint8Array;
}
