/**
 * Trust anchors: DS and/or DNSKEY records in presentation format (the form of IANA's
 * root-anchors and of `ldns-keygen` output), read with the zone parser so the same escapes and
 * generic forms work. TTLs are optional here.
 *
 * One file may hold anchors for several zones (`parseTrustAnchors`: the root and, say, an
 * internal zone whose parent is unsigned); the message validator takes them all, and the
 * zone verifier takes the one for its zone (`anchorFor`), so one file serves both.
 * `parseTrustAnchor` reads a file for exactly one zone.
 */

import { lowerName, nameEquals } from '../dns/name.js';
import { RRType } from '../dns/rr-types.js';
import { nameToText } from '../dns/wire.js';
import { ZoneError } from './errors.js';
import { parsePresentationAll } from './presentation-parser.js';
import type { ZoneRecord } from './record.js';
import type { ZoneInput } from './zone-input.js';

export interface TrustAnchor {
  /** Lower-case wire form of the name the anchor is for. */
  owner: Uint8Array;
  ds: Uint8Array[];
  dnskey: Uint8Array[];
}

async function anchorRecords(input: ZoneInput, file: string): Promise<ZoneRecord[]> {
  let records;
  try {
    records = await parsePresentationAll(input, { file, defaultTtl: 0 });
  } catch (err) {
    if (err instanceof ZoneError) throw new ZoneError('anchor', err.message);
    throw err;
  }
  if (records.length === 0) throw new ZoneError('anchor', `${file}: no DS or DNSKEY record`);
  for (const r of records) {
    if (r.type !== RRType.DS && r.type !== RRType.DNSKEY) {
      throw new ZoneError('anchor', `${file}: only DS and DNSKEY records belong in a trust anchor file (${nameToText(r.owner)} has another type)`);
    }
    if ((r.type === RRType.DS && r.rdata.length < 5) || (r.type === RRType.DNSKEY && r.rdata.length < 4)) {
      throw new ZoneError('anchor', `${file}: ${nameToText(r.owner)} ${r.type === RRType.DS ? 'DS' : 'DNSKEY'} record is too short to be one`);
    }
  }
  return records;
}

/** Anchors for one or more zones, one entry per owner name, in the order the file names them. */
export async function parseTrustAnchors(input: ZoneInput, options: { file?: string } = {}): Promise<TrustAnchor[]> {
  const file = options.file ?? 'trust anchor';
  const anchors: TrustAnchor[] = [];
  for (const r of await anchorRecords(input, file)) {
    let a = anchors.find((x) => nameEquals(x.owner, r.owner));
    if (!a) {
      a = { owner: lowerName(r.owner.slice()), ds: [], dnskey: [] };
      anchors.push(a);
    }
    (r.type === RRType.DS ? a.ds : a.dnskey).push(r.rdata);
  }
  return anchors;
}

/** Anchors for exactly one zone; a file naming several is refused (the zone verifier's input). */
export async function parseTrustAnchor(input: ZoneInput, options: { file?: string } = {}): Promise<TrustAnchor> {
  const file = options.file ?? 'trust anchor';
  const anchors = await parseTrustAnchors(input, { file });
  if (anchors.length > 1) {
    throw new ZoneError('anchor', `${file}: anchors for ${nameToText(anchors[0]!.owner)} and ${nameToText(anchors[1]!.owner)}; use one file per zone`);
  }
  return anchors[0]!;
}

/** The anchor for zone `origin` among several, or null when the file has none for it. */
export function anchorFor(anchors: readonly TrustAnchor[], origin: Uint8Array): TrustAnchor | null {
  return anchors.find((a) => nameEquals(a.owner, origin)) ?? null;
}
