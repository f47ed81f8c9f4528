/**
 * Trust anchors: DS and/or DNSKEY records in presentation format (the form of IANA's
 * root-anchors and of `ldns-keygen` output), read with the zone parser so the same escapes and
 * generic forms work. TTLs are optional here.
 */

import { nameEquals } from '../dns/name.js';
import { RRType } from '../dns/rr-types.js';
import { nameToText } from '../dns/wire.js';
import { ZoneError } from './errors.js';
import { parsePresentationAll } from './presentation-parser.js';
import type { ZoneInput } from './zone-input.js';

export interface TrustAnchor {
  /** Lower-case wire form of the name the anchor is for. */
  owner: Uint8Array;
  ds: Uint8Array[];
  dnskey: Uint8Array[];
}

export async function parseTrustAnchor(input: ZoneInput, options: { file?: string } = {}): Promise<TrustAnchor> {
  const file = options.file ?? 'trust anchor';
  let records;
  try {
    records = await parsePresentationAll(input, { file, defaultTtl: 0 });
  } catch (err) {
    if (err instanceof ZoneError) throw new ZoneError('anchor', err.message);
    throw err;
  }
  if (records.length === 0) throw new ZoneError('anchor', `${file}: no DS or DNSKEY record`);
  const owner = records[0]!.owner;
  const anchor: TrustAnchor = { owner: owner.map((c) => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c)), ds: [], dnskey: [] };
  for (const r of records) {
    if (!nameEquals(r.owner, owner)) {
      throw new ZoneError('anchor', `${file}: anchors for ${nameToText(owner)} and ${nameToText(r.owner)}; use one file per zone`);
    }
    if (r.type === RRType.DS) anchor.ds.push(r.rdata);
    else if (r.type === RRType.DNSKEY) anchor.dnskey.push(r.rdata);
    else throw new ZoneError('anchor', `${file}: only DS and DNSKEY records belong in a trust anchor file`);
  }
  return anchor;
}
