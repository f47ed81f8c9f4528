/**
 * Where the validator's DS and DNSKEY queries go when zones are routed to different groups.
 *
 * With one route for everything the keys come from the answer's own route. With a route per
 * zone (the forward app's `routes`, e.g. `"corp.example." = "corp-auth"`, a group of the zone's
 * authoritative servers, as Unbound's stub-zone), the chain of trust for `www.corp.example.`
 * crosses routes: the DNSKEYs of `corp.example.` are on `corp-auth`, but its DS and every key
 * above it are in the parent zones, which `corp-auth` does not serve (it would answer REFUSED,
 * or for the DS a NODATA from the child side, RFC 4035 §2.4). So each key query follows the
 * routing table the way the forward app routes a client query: longest configured zone that
 * contains the name, and a DS by its parent's name. The answer's own route (which a rule may
 * have chosen, `forward-to <group>`) is kept for names under the same table entry as the
 * question, so a rule that sends a zone elsewhere sends its key queries there too.
 */

import { lowerName, nameToText, parentName, textToName } from '../dns/name.js';
import { RRType } from '../dns/rr-types.js';
import type { KeyFetcher } from '../dnssec/chain.js';
import type { AnswerOrigin } from './resolve-step.js';

export class KeyRoutes {
  /** Zone text (lower case, absolute) -> route. */
  private readonly zones: ReadonlyMap<string, string>;

  /**
   * `routes`: the forward app's table (zone -> group, or `iterate`); `defaultRoute`: where a
   * name outside every zone of the table goes (`upstream.default_group`, or `iterate`).
   */
  constructor(routes: Readonly<Record<string, string>>, private readonly defaultRoute: string) {
    const zones = new Map<string, string>();
    for (const [zone, route] of Object.entries(routes)) {
      try {
        zones.set(nameToText(lowerName(textToName(zone.endsWith('.') ? zone : `${zone}.`))), route);
      } catch {
        // Not a name: the forward app refuses such a table when the config loads.
      }
    }
    this.zones = zones;
  }

  /** Whether the table can send two names of one chain to different routes. */
  get splits(): boolean {
    return new Set([...this.zones.values(), this.defaultRoute]).size > 1;
  }

  /** The key fetcher for an answer to `qname` that came from `route`. */
  fetcher(origin: AnswerOrigin, route: string, qname: Uint8Array): KeyFetcher {
    if (!this.splits) return origin.keyFetcher(route);
    let home: string | null | undefined;
    return {
      fetch: (name, type, deadline, attempt) => {
        home ??= this.zoneOf(qname);
        const at = this.zoneOf(type === RRType.DS && name.length > 1 ? parentName(name) : name);
        const r = at === home ? route : at === null ? this.defaultRoute : this.zones.get(at)!;
        return origin.keyFetcher(origin.has(r) ? r : route).fetch(name, type, deadline, attempt);
      },
    };
  }

  /** The longest zone of the table that contains `name` (presentation form), or null. */
  zoneOf(name: Uint8Array): string | null {
    let n = lowerName(name.slice());
    for (;;) {
      const text = nameToText(n);
      if (this.zones.has(text)) return text;
      if (n.length <= 1) return null;
      n = parentName(n);
    }
  }
}
