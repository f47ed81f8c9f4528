/** Paths and loaders for the zone fixtures in test/fixtures/zones (copied from the shared set). */

import { createReadStream, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parseTrustAnchor, type TrustAnchor } from '../../../host/core/zone/index.js';

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../../fixtures/zones/${name}`, import.meta.url));
}

export function fixtureStream(name: string): AsyncIterable<Uint8Array> {
  return createReadStream(fixturePath(name));
}

/** The fixture as text (gunzipped when it ends in .gz). */
export function fixtureText(name: string): string {
  const raw = readFileSync(fixturePath(name));
  return (name.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1');
}

export async function anchor(name: string): Promise<TrustAnchor> {
  return parseTrustAnchor(readFileSync(fixturePath(name)), { file: name });
}

export const LOOKALIKE = 'root-lookalike-2026082201.zone.gz';
export const LOOKALIKE_NEXT = 'root-lookalike-2026082300.zone.gz';
export const LOOKALIKE_EXPIRED = 'root-lookalike-expired-2026082201.zone.gz';
export const ROOT_2023110400 = 'root-2023110400.zone.gz';
export const ROOT_2023120800 = 'root-2023120800.zone.gz';
export const ROOT_2026082200 = 'root-2026082200.zone.gz';
export const ROOT_2026082201 = 'root-2026082201.zone.gz';

/** Inside every lookalike signature window and the real 2026082201 one. */
export const AUG_23_2026 = Date.UTC(2026, 7, 23);
