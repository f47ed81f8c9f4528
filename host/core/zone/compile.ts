/**
 * Zone ingestion as one unit of work that can run away from the thread that answers queries:
 * bytes in (zone text, or a zone image whose records are to be checked again), a verified zone
 * image and its report out.
 *
 * Two steps, because the zone lifecycle looks at the serial before it pays for verification
 * (an equal or older copy is settled without it):
 *
 *   const parsed = await compiler.parse(bytes, { kind: 'text', file });
 *   // ... judge parsed.serial / parsed.origin ...
 *   const { image, report } = await parsed.finish({ trustAnchor, zonemd, dnssec, now, lastRefresh });
 *   // or parsed.drop()
 *
 * `inThreadCompiler` does it here (Workers, where there are no threads, and tests of the
 * lifecycle); the Node adapter's compiler runs the same functions in a worker thread
 * (host/adapters/node/zone-worker.ts), so parsing a million records, ZONEMD hashing and
 * writing the image never hold up an answer. Either way `finish` throws with the refusal
 * ("serial N refused: ...") when the checks say the copy must not be served, and `parse`
 * throws the parser's error (with file and line).
 */

import type { ZoneReport } from './check.js';
import { verifyZone } from './check.js';
import { imageRecords, readImage } from './image-reader.js';
import { compileImage } from './image-writer.js';
import type { DnssecPolicy } from './dnssec-verify.js';
import type { TrustAnchor } from './trust-anchor.js';
import { nameToText } from '../dns/name.js';
import { zoneFromRecords, type Zone } from './zone.js';
import { loadZone } from './zone-load.js';
import type { ZonemdPolicy } from './zonemd.js';

export interface ParseRequest {
  /** `text`: zone presentation text; `image`: a zone image whose records are checked again. */
  kind: 'text' | 'image';
  /** Name used in messages. */
  file: string;
}

export interface CompileChecks {
  trustAnchor: TrustAnchor | null;
  zonemd: ZonemdPolicy;
  dnssec: DnssecPolicy;
  /** The clock, ms since the epoch. */
  now: number;
  /** When this copy was last confirmed current, ms (SOA EXPIRE counts from here). */
  lastRefresh: number;
  maxAgeMs?: number;
}

export interface Compiled {
  image: Uint8Array;
  report: ZoneReport;
}

export interface ParsedCopy {
  serial: number;
  /** Presentation form of the apex. */
  origin: string;
  /** Verifies the parsed zone and writes its image; throws when the checks refuse it. */
  finish(checks: CompileChecks): Promise<Compiled>;
  /** Lets go of the parsed zone without verifying it. */
  drop(): void;
}

export interface ZoneCompiler {
  /** `where` for /status: `"worker thread"` or `"in thread"`. */
  readonly where: string;
  parse(bytes: Uint8Array, req: ParseRequest): Promise<ParsedCopy>;
  /** Stops a worker, if there is one. */
  close(): Promise<void>;
}

/** Parses `bytes` into a zone (what both compilers run). */
export async function parseCopy(bytes: Uint8Array, req: ParseRequest): Promise<Zone> {
  if (req.kind === 'image') return zoneFromRecords(imageRecords(await readImage(bytes)));
  return loadZone(bytes, { file: req.file });
}

/** Verifies `zone` and writes its image (what both compilers run). */
export async function finishCopy(zone: Zone, checks: CompileChecks): Promise<Compiled> {
  const report = await verifyZone(zone, {
    trustAnchor: checks.trustAnchor,
    zonemd: checks.zonemd,
    dnssec: checks.dnssec,
    now: checks.now,
    lastRefresh: checks.lastRefresh,
    ...(checks.maxAgeMs !== undefined ? { maxAgeMs: checks.maxAgeMs } : {}),
  });
  if (!report.usable) throw new Error(`serial ${report.serial} refused: ${report.reasons.join('; ')}`);
  return { image: await compileImage(zone, report), report };
}

export const inThreadCompiler: ZoneCompiler = {
  where: 'in thread',
  async parse(bytes, req) {
    let zone: Zone | null = await parseCopy(bytes, req);
    return {
      serial: zone.soa.serial,
      origin: nameToText(zone.origin),
      finish(checks) {
        const z = zone;
        zone = null;
        if (!z) return Promise.reject(new Error('internal: the parsed zone was already used'));
        return finishCopy(z, checks);
      },
      drop() {
        zone = null;
      },
    };
  },
  async close() {},
};
