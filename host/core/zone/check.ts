/**
 * Load + verify + decide: the report `zone check` prints and the lifecycle uses to decide
 * whether a new copy may be activated. A copy is usable only when ZONEMD and DNSSEC satisfy
 * their policies and it has not expired.
 */

import { nameEquals, nameToText } from '../dns/wire.js';
import { dnssecAcceptable, verifyDnssec, type DnssecPolicy, type DnssecResult } from './dnssec-verify.js';
import { webCryptoVerifier, type SignatureVerifier } from './dnssec-keys.js';
import { RecordTable } from './record-table.js';
import { SignaturePrefetch, type PrefetchLookup } from './signature-prefetch.js';
import { expiresAt } from './expiry.js';
import type { TrustAnchor } from './trust-anchor.js';
import { loadZone, type LoadOptions } from './zone-load.js';
import type { SoaFields, Zone } from './zone.js';
import type { ZoneInput } from './zone-input.js';
import { verifyZonemd, zonemdAcceptable, type ZonemdHash, type ZonemdPolicy, type ZonemdResult } from './zonemd.js';

export interface VerifyOptions {
  trustAnchor?: TrustAnchor | null;
  /** The clock, in milliseconds since the epoch (default Date.now()). */
  now?: number;
  /** When this copy was last confirmed current (default `now`); SOA EXPIRE counts from here. */
  lastRefresh?: number;
  /** Operator cap on a copy's age; never extends past SOA EXPIRE. */
  maxAgeMs?: number;
  zonemd?: ZonemdPolicy;
  dnssec?: DnssecPolicy;
  /** How signatures are checked (default WebCrypto). */
  verifier?: SignatureVerifier;
  /** The ZONEMD hash function (default WebCrypto's). */
  zonemdHash?: ZonemdHash;
  /** Start signature checks while a text zone is parsed (default true; see signature-prefetch.ts). */
  prefetch?: boolean;
}

export interface ZoneReport {
  origin: string;
  serial: number;
  class: string;
  /** RRs after duplicates were removed, RRSIGs included. */
  records: number;
  /** RR count per type mnemonic. */
  types: Record<string, number>;
  soa: SoaFields;
  zonemd: ZonemdResult;
  dnssec: DnssecResult;
  /** Milliseconds since the epoch; null for an unsigned zone. */
  earliestRrsigExpiration: number | null;
  /** SOA EXPIRE in seconds (so `expiresAt(report, lastRefreshMs)` works, as for an image). */
  soaExpire: number;
  /** Milliseconds since the epoch after which the copy must not be served. */
  expiresAt: number;
  /** ISO 8601 form of expiresAt. */
  expires: string;
  /** The clock the report was made with (ISO 8601). */
  checkedAt: string;
  /** The clock in milliseconds (what the image records as its verification time). */
  checkedAtMs: number;
  lastRefresh: number;
  policy: { zonemd: ZonemdPolicy; dnssec: DnssecPolicy };
  usable: boolean;
  /** Why the copy is not usable (empty when it is). */
  reasons: string[];
  warnings: string[];
}

/** Verifies a loaded zone and decides whether it may be served. */
export async function verifyZone(zone: Zone, options: VerifyOptions = {}, prefetched?: PrefetchLookup): Promise<ZoneReport> {
  const now = options.now ?? Date.now();
  const lastRefresh = options.lastRefresh ?? now;
  const policy = { zonemd: options.zonemd ?? 'verify-if-present', dnssec: options.dnssec ?? 'verify-if-present' } as const;
  // DNSSEC first: once its signatures are handed to the verifier's threads, this thread
  // serialises the zone for ZONEMD while they are checked
  let dispatched!: () => void;
  const ready = new Promise<void>((resolve) => (dispatched = resolve));
  const dnssecP = verifyDnssec(zone, {
    anchor: options.trustAnchor ?? null,
    now,
    onDispatched: dispatched,
    ...(options.verifier ? { verifier: options.verifier } : {}),
    ...(prefetched ? { prefetch: prefetched } : {}),
  });
  const zonemdP = ready.then(() => verifyZonemd(zone, options.zonemdHash ? { hash: options.zonemdHash } : {}));
  // a DNSSEC failure before dispatch must not leave ZONEMD waiting
  dnssecP.then(dispatched, dispatched);
  let [dnssec, zonemd] = await Promise.all([dnssecP, zonemdP]);
  const anchor = options.trustAnchor ?? null;
  if (anchor && policy.dnssec !== 'ignore') {
    if (!nameEquals(anchor.owner, zone.origin)) {
      // An anchor for another zone vouches for nothing here; taking the copy as if no anchor had
      // been given would hide the mistake.
      dnssec = { ...dnssec, status: 'bogus', reason: `the trust anchor is for ${nameToText(anchor.owner)}, not for this zone's apex ${nameToText(zone.origin)}` };
    } else if (dnssec.status === 'unsigned') {
      // With an anchor for the apex, the zone is signed: a copy without DNSKEY, RRSIG, NSEC or
      // ZONEMD records is one they were stripped from (RFC 4035 §4.3: bogus, not insecure).
      dnssec = { ...dnssec, status: 'bogus', reason: `no DNSKEY or signatures, but the trust anchor says ${nameToText(zone.origin)} is signed` };
    }
  }
  const earliest = dnssec.earliestExpiration;
  const expiry = expiresAt({ earliestRrsigExpiration: earliest, soaExpire: zone.soa.expire }, lastRefresh, options.maxAgeMs);
  const reasons: string[] = [];
  if (!zonemdAcceptable(zonemd.status, policy.zonemd)) {
    reasons.push(`ZONEMD ${zonemd.status} (policy ${policy.zonemd})${zonemd.reason ? `: ${zonemd.reason}` : ''}`);
  }
  if (!dnssecAcceptable(dnssec.status, policy.dnssec)) {
    reasons.push(`DNSSEC ${dnssec.status} (policy ${policy.dnssec})${dnssec.reason ? `: ${dnssec.reason}` : ''}`);
  }
  if (now >= expiry) reasons.push(`the copy expired at ${new Date(expiry).toISOString()}`);
  const types: Record<string, number> = {};
  for (const k of Object.keys(zone.typeCounts).sort()) types[k] = zone.typeCounts[k]!;
  return {
    origin: nameToText(zone.origin),
    serial: zone.soa.serial,
    class: classText(zone.class),
    records: zone.recordCount,
    types,
    soa: zone.soa,
    zonemd,
    dnssec,
    earliestRrsigExpiration: earliest,
    soaExpire: zone.soa.expire,
    expiresAt: expiry,
    expires: new Date(expiry).toISOString(),
    checkedAt: new Date(now).toISOString(),
    checkedAtMs: now,
    lastRefresh,
    policy,
    usable: reasons.length === 0,
    reasons,
    warnings: [...zone.warnings, ...dnssec.warnings],
  };
}

function classText(cls: number): string {
  return cls === 1 ? 'IN' : cls === 3 ? 'CH' : cls === 4 ? 'HS' : `CLASS${cls}`;
}

/** Loads, verifies and reports. Throws ZoneError when the input is not a readable zone. */
export async function checkZone(
  input: ZoneInput,
  options: LoadOptions & VerifyOptions = {},
): Promise<{ zone: Zone; report: ZoneReport }> {
  const table = new RecordTable(32 * 1024, 1 << 20);
  const prefetch = options.prefetch === false ? null : new SignaturePrefetch(table, options.verifier ?? webCryptoVerifier);
  const zone = await loadZone(input, { ...options, table, ...(prefetch ? { onChunk: () => prefetch.advance() } : {}) });
  prefetch?.advance(true);
  const report = await verifyZone(zone, options, prefetch ?? undefined);
  return { zone, report };
}


