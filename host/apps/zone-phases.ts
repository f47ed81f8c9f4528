/**
 * The states a zone copy goes through, and the one table of moves between them. The October
 * 2023 lessons are the shape of this table:
 *
 * - a copy is never served past its expiry: the two states that serve (`serving`, `stale`)
 *   leave on `expire` the moment the clock reaches the expiry, and nothing leads back into
 *   them but a verified newer copy (`activate`), an expiry that moved (`reinstate`), or the
 *   app coming back on before the clock passed it (`enable`, which clockPhase decides);
 * - an older serial never replaces a newer one: `activate` happens only for a serial judgeSerial
 *   takes, newer than the copy in service and not older than the last one ever in service;
 * - the operator's maximum age never stretches SOA EXPIRE: the expiry is expiresAt()'s, the
 *   earliest of the signatures, SOA EXPIRE and max_age;
 * - serving an old copy is visible: `stale` is a state of its own, entered and left loudly.
 *
 * Everything here is pure; the lifecycle (zone-lifecycle.ts) makes the moves and their effects.
 */

import { serialNewer } from '../core/zone/index.js';

export type ZonePhase =
  /** No copy in service (none verified yet, or the copy failed new settings): queries are forwarded. */
  | 'empty'
  /** A verified copy in service, fresh. */
  | 'serving'
  /** A copy in service that is old or close to its expiry: still served, and loud about it. */
  | 'stale'
  /** The copy reached its expiry: held (it comes back if its expiry moves), never served; queries are forwarded. */
  | 'expired'
  /** static_zone is out of the chain: nothing is fetched or served; any copy is held for its return. */
  | 'disabled'
  /** The lifecycle was stopped: nothing moves any more. */
  | 'stopped';

export type ZoneEvent =
  /** A copy was fully parsed, verified, not expired, of a newer serial, and static_zone took it. */
  | 'activate'
  /** The clock made the copy in service stale (stale_age since its last success, or stale_before_expiry before its expiry). */
  | 'age'
  /** The copy in service is not stale any more (a source vouched for it, or the stale settings changed). */
  | 'freshen'
  /** The clock reached the copy's expiry. */
  | 'expire'
  /** The expired copy's expiry moved past now (a source vouched for it, or max_age grew) and static_zone took it again. */
  | 'reinstate'
  /** The copy failed changed verification settings and was taken away. */
  | 'withdraw'
  /** static_zone left the chain. */
  | 'disable'
  /** static_zone is back in the chain: the held copy is where the clock puts it. */
  | 'enable'
  /** The node stopped the lifecycle (a reload without a zone source, or shutdown). */
  | 'stop';

const SERVING = ['serving', 'stale'] as const;

/** Every move a copy may make: from a state, on an event, to one of these states. Nothing else. */
export const ZONE_TRANSITIONS: { readonly [P in ZonePhase]: { readonly [E in ZoneEvent]?: readonly ZonePhase[] } } = {
  empty: { activate: SERVING, disable: ['disabled'], stop: ['stopped'] },
  serving: { activate: SERVING, age: ['stale'], expire: ['expired'], withdraw: ['empty'], disable: ['disabled'], stop: ['stopped'] },
  stale: { activate: SERVING, freshen: ['serving'], expire: ['expired'], withdraw: ['empty'], disable: ['disabled'], stop: ['stopped'] },
  expired: { activate: SERVING, reinstate: SERVING, withdraw: ['empty'], disable: ['disabled'], stop: ['stopped'] },
  // A refresh or a recheck that was under way when the app left the chain still ends: what it
  // activated or took away is what comes back with the app.
  disabled: { enable: ['empty', 'serving', 'stale', 'expired'], activate: ['disabled'], withdraw: ['disabled'], stop: ['stopped'] },
  stopped: {},
};

/** The states in which static_zone answers from the copy. */
export const SERVES: { readonly [P in ZonePhase]: boolean } = {
  empty: false,
  serving: true,
  stale: true,
  expired: false,
  disabled: false,
  stopped: false,
};

/** Whether the table lets a copy in `from` go to `to` on `event`. */
export function allowed(from: ZonePhase, event: ZoneEvent, to: ZonePhase): boolean {
  return ZONE_TRANSITIONS[from][event]?.includes(to) ?? false;
}

/** What the clock and the stale settings say of a copy. */
export interface CopyClock {
  now: number;
  /** When a source last vouched for the copy, ms. */
  lastSuccess: number;
  /** expiresAt() of the copy, ms. */
  expiresAt: number;
  staleAgeSec: number;
  staleBeforeExpirySec: number;
}

export function isStale(c: CopyClock): boolean {
  return (c.now - c.lastSuccess) / 1000 > c.staleAgeSec || (c.expiresAt - c.now) / 1000 < c.staleBeforeExpirySec;
}

/** Where the clock alone puts a copy: past its expiry it is expired, whatever else holds. */
export function clockPhase(c: CopyClock): 'serving' | 'stale' | 'expired' {
  if (c.now >= c.expiresAt) return 'expired';
  return isStale(c) ? 'stale' : 'serving';
}

/** The event that takes a serving copy from `from` to `to` as the clock moves (null: none). */
export function clockEvent(from: 'serving' | 'stale', to: 'serving' | 'stale' | 'expired'): ZoneEvent | null {
  if (to === from) return null;
  return to === 'expired' ? 'expire' : to === 'stale' ? 'age' : 'freshen';
}

export interface Versioned {
  serial: number;
  origin: string;
}

/**
 * RFC 1982 for a candidate version of the zone: `take` it (a newer serial, or no copy of its
 * origin in service), `same` serial as the copy in service (it confirms that copy), or refuse
 * an older one. With no copy of that origin in service, the last version ever in service (the
 * floor, kept across restarts with a serial store) still refuses an older serial; its own
 * serial is taken again.
 */
export function judgeSerial(
  candidate: Versioned,
  inService: Versioned | null,
  floor: Versioned | null,
): 'take' | 'same' | 'older-than-in-service' | 'older-than-floor' {
  if (inService && inService.origin === candidate.origin) {
    if (serialNewer(candidate.serial, inService.serial)) return 'take';
    return candidate.serial === inService.serial ? 'same' : 'older-than-in-service';
  }
  if (floor && floor.origin === candidate.origin && serialNewer(floor.serial, candidate.serial)) return 'older-than-floor';
  return 'take';
}
