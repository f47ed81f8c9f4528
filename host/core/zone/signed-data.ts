/**
 * The bytes an RRSIG signs (RFC 4034 §3.1.8.1): its RDATA up to the signature with the signer
 * name lower-cased, then each RR of the RRset in canonical form with the original TTL, the
 * owner shortened to `*.` + the last `labels` labels when the RRSIG is for a wildcard
 * (RFC 4035 §5.3.2). One builder (`signedData`) for every caller: the zone verifier and the
 * while-parsing prefetch reach it through `buildSignedData` (records in a RecordTable), the
 * message validator with RDATA it took from a response.
 */

import { wireNameLength } from '../dns/name.js';
import type { RecordTable } from './record-table.js';

/** The signature field of RRSIG record r. */
export function signatureOf(t: RecordTable, r: number): Uint8Array {
  const o = t.rdOff[r]!;
  const end = o + t.rdLen[r]!;
  const signerLen = wireNameLength(t.bytes, o + 18, end);
  return t.bytes.subarray(o + 18 + signerLen, end);
}

/**
 * @param head the RRSIG RDATA up to its signature (18 octets and the signer name)
 * @param owner lower-case wire owner of the RRset; `ownerLabels` its label count
 * @param canon the RRset's RDATA in canonical form and canonical order, duplicates removed
 */
export function signedData(
  head: Uint8Array,
  owner: Uint8Array,
  ownerLabels: number,
  type: number,
  cls: number,
  canon: readonly Uint8Array[],
): Uint8Array {
  const labels = head[3]!;
  const origTtl = ((head[4]! << 24) | (head[5]! << 16) | (head[6]! << 8) | head[7]!) >>> 0;
  let ownerOff = 0;
  let wildcard = false;
  if (labels < ownerLabels) {
    for (let x = 0; x < ownerLabels - labels; x++) ownerOff += owner[ownerOff]! + 1;
    wildcard = true;
  }
  const ownerLen = owner.length - ownerOff;
  let size = head.length;
  for (const c of canon) size += (wildcard ? 2 : 0) + ownerLen + 10 + c.length;
  const out = new Uint8Array(size);
  out.set(head, 0);
  for (let i = 18; i < head.length; i++) {
    const c = out[i]!;
    if (c >= 0x41 && c <= 0x5a) out[i] = c + 0x20;
  }
  let p = head.length;
  for (const c of canon) {
    if (wildcard) {
      out[p++] = 1;
      out[p++] = 0x2a;
    }
    for (let i = 0; i < ownerLen; i++) out[p + i] = owner[ownerOff + i]!;
    p += ownerLen;
    const len = c.length;
    out[p] = type >>> 8;
    out[p + 1] = type;
    out[p + 2] = cls >>> 8;
    out[p + 3] = cls;
    out[p + 4] = origTtl >>> 24;
    out[p + 5] = origTtl >>> 16;
    out[p + 6] = origTtl >>> 8;
    out[p + 7] = origTtl;
    out[p + 8] = len >>> 8;
    out[p + 9] = len;
    p += 10;
    out.set(c, p);
    p += len;
  }
  return out;
}

/**
 * `signedData` for RRSIG record `sig` of a RecordTable over the RRset `rrs[first, first+count)`
 * (record indices in canonical order); `canonOf` gives a record's canonical RDATA.
 */
export function buildSignedData(
  t: RecordTable,
  sig: number,
  owner: Uint8Array,
  ownerLabels: number,
  type: number,
  cls: number,
  rrs: ArrayLike<number>,
  first: number,
  count: number,
  canonOf: (r: number) => Uint8Array,
): Uint8Array {
  const o = t.rdOff[sig]!;
  const end = o + t.rdLen[sig]!;
  const head = t.bytes.subarray(o, o + 18 + wireNameLength(t.bytes, o + 18, end));
  const canon: Uint8Array[] = [];
  for (let q = first; q < first + count; q++) canon.push(canonOf(rrs[q]!));
  return signedData(head, owner, ownerLabels, type, cls, canon);
}
