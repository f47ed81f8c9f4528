/**
 * The one set of DNS fixtures the Node and Workers tests share: the upstream's authoritative
 * data (a fake root that answers junk TLDs, and example.com), the local root they are checked
 * against (the lookalike root, its trust anchor, its zone image), and the site key. The
 * conformance cases (cases.ts), the pooling tests and the Workers tests all read these.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { compileImage, loadZone, parseTrustAnchor, verifyZone } from '../../host/core/zone/index.js';

const root = join(__dirname, '..', '..');
export const zoneFixtures = join(root, 'test/fixtures/zones');
/** The local root every node serves (serial 2026082201), and the anchor that verifies it. */
export const LOCAL_ROOT = join(zoneFixtures, 'root-lookalike-2026082201.zone.gz');
export const TRUST_ANCHOR = join(zoneFixtures, 'trust-anchor.ds');

/** A site key (contexts between nodes are signed with it). */
export const K1 = 'site-key-one-0123456789abcdef';

/**
 * Junk TLD names: the local root says they do not exist; the upstream's fake root answers
 * each, `host.junkN.` with 192.0.2.N, so an answer shows which of the two gave it.
 */
export const JUNK = Array.from({ length: 140 }, (_, i) => `host.junk${i + 1}.`);

/** A name with a one-second TTL, for serve-stale. */
export const SHORT_TTL_NAME = 'short.example.com.';

const upstreamRoot = `$ORIGIN .
$TTL 300
. IN SOA ns.upstream. hostmaster.upstream. 1 3600 900 604800 60
. IN NS ns.upstream.
ns.upstream. IN A 127.0.0.1
${JUNK.map((n, i) => `${n} IN A 192.0.2.${i + 1}`).join('\n')}
`;

/**
 * Under a TLD the local root delegates (com.), so static_zone passes these names to the
 * upstream: `nN.example.com.` is 198.51.100.(N+1) with TTL 120; NSD lowers a negative answer's
 * SOA TTL to the MINIMUM, 60.
 */
const exampleZone = `$ORIGIN example.com.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 604800 60
@ IN NS ns1
ns1 IN A 127.0.0.1
${Array.from({ length: 50 }, (_, i) => `n${i} 120 IN A 198.51.100.${i + 1}`).join('\n')}
short 1 IN A 198.51.100.250
`;

/** NSD with the upstream's zones: the fake root and example.com. */
export function startUpstreamNsd(): Promise<Nsd> {
  return startNsd({ '.': upstreamRoot, 'example.com.': exampleZone });
}

let image: Promise<Uint8Array> | null = null;

/** The local root compiled to a zone image, as `edge-resolver zone compile` does (Workers load images). */
export function zoneImage(): Promise<Uint8Array> {
  image ??= (async () => {
    const anchor = await parseTrustAnchor(new Uint8Array(readFileSync(TRUST_ANCHOR)));
    const zone = await loadZone(new Uint8Array(readFileSync(LOCAL_ROOT)), { file: 'root-lookalike' });
    const report = await verifyZone(zone, { trustAnchor: anchor, dnssec: 'require', zonemd: 'verify-if-present' });
    if (!report.usable) throw new Error(`fixture not usable: ${report.reasons.join('; ')}`);
    return compileImage(zone, report);
  })();
  return image;
}
