/**
 * One entry point for reading a zone in any of its forms, with the limits that keep a hostile
 * or broken input from taking the process down.
 */

import { nameFromText } from '../dns/name.js';
import { ZoneError } from './errors.js';
import { parsePresentation, type ChunkHook, type IncludeResolver } from './presentation-parser.js';
import { RecordTable } from './record-table.js';
import { parseAxfr, parseWireRecords } from './wire-reader.js';
import { buildZone, type Zone } from './zone.js';
import type { ZoneInput } from './zone-input.js';

export type ZoneFormat = 'text' | 'wire' | 'axfr';

export interface LoadOptions {
  /** Presentation text (default), a wire RR stream, or AXFR-style length-framed messages. */
  format?: ZoneFormat;
  /** Name used in messages. */
  file?: string;
  /** Identity of the file for $INCLUDE loop detection (a resolved path). */
  fileId?: string;
  /** Initial $ORIGIN for text, and the name the SOA must be at when given. */
  origin?: string;
  include?: IncludeResolver;
  /** Decompressed bytes across all files; default 64 MiB. */
  maxBytes?: number;
  /** Records; default 1,000,000. */
  maxRecords?: number;
  /** Records outside the apex: drop them with a warning naming them (default) or refuse the zone. */
  outOfZone?: 'error' | 'drop';
  /** Table to parse into (a caller that watches the records as they arrive passes its own). */
  table?: RecordTable;
  /** Called as text input is parsed, with the records so far (they must stay in the table). */
  onChunk?: ChunkHook;
}

/** Reads and assembles a zone. Throws ZoneError with the reason when it cannot. */
export async function loadZone(input: ZoneInput, options: LoadOptions = {}): Promise<Zone> {
  const table = options.table ?? new RecordTable(32 * 1024, 1 << 20);
  const format = options.format ?? 'text';
  const limits = {
    file: options.file ?? 'input',
    ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
    ...(options.maxRecords !== undefined ? { maxRecords: options.maxRecords } : {}),
  };
  if (format === 'text') {
    await parsePresentation(input, table, {
      ...limits,
      ...(options.fileId !== undefined ? { fileId: options.fileId } : {}),
      ...(options.origin !== undefined ? { origin: options.origin } : {}),
      ...(options.include !== undefined ? { include: options.include } : {}),
      ...(options.onChunk !== undefined ? { onChunk: options.onChunk } : {}),
    });
  } else if (format === 'wire') {
    await parseWireRecords(input, table, limits);
  } else {
    await parseAxfr(input, table, limits);
  }
  let originWire: Uint8Array | undefined;
  if (options.origin !== undefined) {
    try {
      originWire = nameFromText(options.origin);
    } catch (err) {
      throw new ZoneError('syntax', `bad origin: ${(err as Error).message}`);
    }
  }
  return buildZone(table, {
    ...(originWire ? { origin: originWire } : {}),
    ...(options.outOfZone ? { outOfZone: options.outOfZone } : {}),
  });
}
