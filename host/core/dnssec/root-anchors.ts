/**
 * The IANA root trust anchors built in, used when `[dnssec] trust_anchor` names no file: the DS
 * records of the root KSKs, KSK-2017 (20326) and KSK-2024 (38696), as IANA publishes them
 * (https://data.iana.org/root-anchors/root-anchors.xml; the same records as
 * test/fixtures/zones/root-anchors.ds, which a test compares). A KSK rollover changes this
 * file, as it changes every resolver's built-in anchor; RFC 5011 tracking is not implemented,
 * so a node that must follow a rollover on its own is given a file instead.
 */

import { parseTrustAnchors, type TrustAnchor } from '../zone/trust-anchor.js';

export const ROOT_ANCHORS_TEXT = `.	IN	DS	20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
.	IN	DS	38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
`;

let parsed: Promise<TrustAnchor[]> | null = null;

/** The built-in root anchors, parsed once. */
export function rootAnchors(): Promise<TrustAnchor[]> {
  parsed ??= parseTrustAnchors(new TextEncoder().encode(ROOT_ANCHORS_TEXT), { file: 'built-in root anchors' });
  return parsed;
}
