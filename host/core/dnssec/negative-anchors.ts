/**
 * Negative trust anchors (RFC 7646): an operator's statement that a domain's DNSSEC is known
 * broken and its answers are to be treated as insecure until an expiry, instead of SERVFAIL.
 * Each has a name, an expiry (RFC 7646 §2: NTAs must expire) and a reason for `/status`. An
 * NTA covers its name and everything below, except below a configured (positive) trust anchor
 * deeper than it (§2.1).
 */

import { lowerName, nameFromText, nameToText } from '../dns/name.js';
import { isAtOrBelow, nameKey } from './names.js';

export interface NegativeTrustAnchor {
  /** Presentation form, absolute. */
  name: string;
  /** Milliseconds since the epoch. */
  expires: number;
  reason: string;
}

export class NegativeTrustAnchors {
  private readonly entries = new Map<string, { wire: Uint8Array; nta: NegativeTrustAnchor }>();

  /** Sets (or replaces) the NTA for `name` (presentation or wire form). Throws Error on a bad name or expiry. */
  set(name: string | Uint8Array, expires: number, reason = ''): NegativeTrustAnchor {
    if (!Number.isFinite(expires)) throw new Error('a negative trust anchor needs an expiry (RFC 7646 §2)');
    const wire = lowerName(typeof name === 'string' ? nameFromText(name.endsWith('.') ? name : `${name}.`) : name.slice());
    const nta = { name: nameToText(wire), expires, reason };
    this.entries.set(nameKey(wire), { wire, nta });
    return nta;
  }

  remove(name: string | Uint8Array): boolean {
    const wire = lowerName(typeof name === 'string' ? nameFromText(name.endsWith('.') ? name : `${name}.`) : name.slice());
    return this.entries.delete(nameKey(wire));
  }

  /** Drops expired NTAs; returns those dropped. */
  expire(now: number): NegativeTrustAnchor[] {
    const gone: NegativeTrustAnchor[] = [];
    for (const [k, e] of this.entries) {
      if (e.nta.expires <= now) {
        gone.push(e.nta);
        this.entries.delete(k);
      }
    }
    return gone;
  }

  /** The live NTAs, by name. */
  list(now: number): NegativeTrustAnchor[] {
    this.expire(now);
    return [...this.entries.values()].map((e) => ({ ...e.nta })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The deepest live NTA at or above lower-case `name`, with its wire name; null when none. */
  covering(name: Uint8Array, now: number): { wire: Uint8Array; nta: NegativeTrustAnchor } | null {
    let best: { wire: Uint8Array; nta: NegativeTrustAnchor } | null = null;
    for (const e of this.entries.values()) {
      if (e.nta.expires <= now || !isAtOrBelow(name, e.wire)) continue;
      if (!best || e.wire.length > best.wire.length) best = e;
    }
    return best;
  }

  get size(): number {
    return this.entries.size;
  }
}
