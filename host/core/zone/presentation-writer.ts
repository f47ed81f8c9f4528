/**
 * Records back to presentation text: one fully qualified line per RR, every RDATA in its type's
 * format or RFC 3597 `\#` form, so that reading the output gives back the same wire form.
 */

import { classToName, typeToName } from '../dns/rr-types.js';
import { nameToText } from '../dns/wire.js';
import { formatRdata } from './rdata-format.js';
import type { ZoneRecord } from './record.js';

export function formatRecord(r: ZoneRecord): string {
  return `${nameToText(r.owner)}\t${r.ttl}\t${classToName(r.class)}\t${typeToName(r.type)}\t${formatRdata(r.type, r.rdata)}`;
}

export function formatRecords(records: Iterable<ZoneRecord>): string {
  let out = '';
  for (const r of records) out += formatRecord(r) + '\n';
  return out;
}
