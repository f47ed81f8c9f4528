/**
 * When a zone copy must stop being served (RFC 8806 §3 and the local-root BCP draft): the
 * earliest moment a signature it relies on expires, SOA EXPIRE after the last successful
 * refresh, and an operator's maximum age, which never extends past SOA EXPIRE. Serving past
 * this moment is what turned the October 2023 incident into an outage.
 */

export interface ExpiryInputs {
  /** Milliseconds since the epoch, or null for an unsigned zone. */
  earliestRrsigExpiration: number | null;
  /** SOA EXPIRE in seconds. */
  soaExpire: number;
}

/**
 * Milliseconds since the epoch after which the copy must not be served. `lastRefreshMs` is
 * when this copy was last confirmed current (loaded, or its serial confirmed upstream).
 */
export function expiresAt(zone: ExpiryInputs, lastRefreshMs: number, maxAgeMs?: number): number {
  let t = lastRefreshMs + zone.soaExpire * 1000;
  if (maxAgeMs !== undefined && maxAgeMs >= 0) t = Math.min(t, lastRefreshMs + maxAgeMs);
  if (zone.earliestRrsigExpiration !== null) t = Math.min(t, zone.earliestRrsigExpiration);
  return t;
}

/** RFC 1982 serial comparison: true when `a` is newer than `b` (the undefined case counts as not newer). */
export function serialNewer(a: number, b: number): boolean {
  const d = (a - b + 2 ** 32) % 2 ** 32;
  return d !== 0 && d < 2 ** 31;
}
