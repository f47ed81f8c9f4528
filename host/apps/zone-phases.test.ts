/**
 * The zone copy's transition table on its own: every move it allows, every move it refuses, and
 * the incident lessons read off it. The lifecycle that makes the moves is tested in
 * zone-lifecycle.test.ts.
 */

import { describe, expect, it } from 'vitest';
import {
  SERVES,
  ZONE_TRANSITIONS,
  allowed,
  clockEvent,
  clockPhase,
  isStale,
  judgeSerial,
  type ZoneEvent,
  type ZonePhase,
} from './zone-phases.js';

const PHASES: ZonePhase[] = ['empty', 'serving', 'stale', 'expired', 'disabled', 'stopped'];
const EVENTS: ZoneEvent[] = ['activate', 'age', 'freshen', 'expire', 'reinstate', 'withdraw', 'disable', 'enable', 'stop'];

/** The table as it must be, spelt out so that any change to it shows here. */
const ALLOWED = [
  'empty --activate--> serving',
  'empty --activate--> stale',
  'empty --disable--> disabled',
  'empty --stop--> stopped',
  'serving --activate--> serving',
  'serving --activate--> stale',
  'serving --age--> stale',
  'serving --expire--> expired',
  'serving --withdraw--> empty',
  'serving --disable--> disabled',
  'serving --stop--> stopped',
  'stale --activate--> serving',
  'stale --activate--> stale',
  'stale --freshen--> serving',
  'stale --expire--> expired',
  'stale --withdraw--> empty',
  'stale --disable--> disabled',
  'stale --stop--> stopped',
  'expired --activate--> serving',
  'expired --activate--> stale',
  'expired --reinstate--> serving',
  'expired --reinstate--> stale',
  'expired --withdraw--> empty',
  'expired --disable--> disabled',
  'expired --stop--> stopped',
  'disabled --activate--> disabled',
  'disabled --withdraw--> disabled',
  'disabled --enable--> empty',
  'disabled --enable--> serving',
  'disabled --enable--> stale',
  'disabled --enable--> expired',
  'disabled --stop--> stopped',
];

const every = PHASES.flatMap((from) => EVENTS.flatMap((event) => PHASES.map((to) => ({ from, event, to, key: `${from} --${event}--> ${to}` }))));

describe('the zone copy transition table', () => {
  it('allows exactly the listed moves', () => {
    const listed = PHASES.flatMap((from) =>
      Object.entries(ZONE_TRANSITIONS[from]).flatMap(([event, tos]) => tos!.map((to) => `${from} --${event}--> ${to}`)),
    );
    expect(new Set(listed)).toEqual(new Set(ALLOWED));
    for (const t of every.filter((t) => ALLOWED.includes(t.key))) expect(allowed(t.from, t.event, t.to), t.key).toBe(true);
  });

  it('refuses every other move', () => {
    const refused = every.filter((t) => !ALLOWED.includes(t.key));
    expect(refused.length).toBe(PHASES.length * EVENTS.length * PHASES.length - ALLOWED.length);
    for (const t of refused) expect(allowed(t.from, t.event, t.to), t.key).toBe(false);
    // a stopped lifecycle goes nowhere, not even to stopped again
    for (const event of EVENTS) for (const to of PHASES) expect(allowed('stopped', event, to)).toBe(false);
  });

  it('serves only in serving and stale, and enters them only with a verified copy or a moved expiry', () => {
    expect(PHASES.filter((p) => SERVES[p])).toEqual(['serving', 'stale']);
    const into = every.filter((t) => ALLOWED.includes(t.key) && SERVES[t.to] && !SERVES[t.from]).map((t) => t.event);
    expect(new Set(into)).toEqual(new Set(['activate', 'reinstate', 'enable']));
    // out of expiry only activate (a newer verified copy) and reinstate (its expiry moved) serve again
    expect(every.filter((t) => t.from === 'expired' && SERVES[t.to] && ALLOWED.includes(t.key)).map((t) => t.event).sort()).toEqual([
      'activate',
      'activate',
      'reinstate',
      'reinstate',
    ]);
    // the clock takes any serving copy out at its expiry
    for (const from of ['serving', 'stale'] as const) expect(allowed(from, 'expire', 'expired')).toBe(true);
  });

  it('makes stale serving a state of its own, left only by a fresh word, an expiry or a newer copy', () => {
    const leaving = every.filter((t) => t.from === 'stale' && t.to !== 'stale' && ALLOWED.includes(t.key)).map((t) => `${t.event}->${t.to}`);
    expect(leaving.sort()).toEqual(['activate->serving', 'disable->disabled', 'expire->expired', 'freshen->serving', 'stop->stopped', 'withdraw->empty']);
  });
});

describe('the clock of a copy', () => {
  const base = { lastSuccess: 0, expiresAt: 7 * 86_400_000, staleAgeSec: 172_800, staleBeforeExpirySec: 86_400 };
  it('is serving, then stale by age or by nearness to expiry, then expired at the expiry itself', () => {
    expect(clockPhase({ ...base, now: 0 })).toBe('serving');
    expect(clockPhase({ ...base, now: 172_800_000 })).toBe('serving'); // stale only once older than stale_age
    expect(clockPhase({ ...base, now: 172_800_001 })).toBe('stale');
    expect(clockPhase({ ...base, staleAgeSec: 10 * 86_400, now: 6 * 86_400_000 + 1 })).toBe('stale'); // under 24 h left
    expect(clockPhase({ ...base, now: base.expiresAt - 1 })).toBe('stale');
    expect(clockPhase({ ...base, now: base.expiresAt })).toBe('expired');
    // with no stale alarm before expiry and a young copy, expiry is still expiry
    expect(clockPhase({ ...base, expiresAt: 1000, staleBeforeExpirySec: 0, now: 1000 })).toBe('expired');
    expect(isStale({ ...base, expiresAt: 1000, staleBeforeExpirySec: 0, now: 1000 })).toBe(false);
  });

  it('names the event for each move the clock makes, and none when it makes none', () => {
    expect(clockEvent('serving', 'serving')).toBeNull();
    expect(clockEvent('stale', 'stale')).toBeNull();
    expect(clockEvent('serving', 'stale')).toBe('age');
    expect(clockEvent('stale', 'serving')).toBe('freshen');
    expect(clockEvent('serving', 'expired')).toBe('expire');
    expect(clockEvent('stale', 'expired')).toBe('expire');
    for (const from of ['serving', 'stale'] as const) {
      for (const to of ['serving', 'stale', 'expired'] as const) {
        const e = clockEvent(from, to);
        if (e) expect(allowed(from, e, to), `${from} ${e} ${to}`).toBe(true);
      }
    }
  });
});

describe('judgeSerial', () => {
  const at = (serial: number, origin = '.') => ({ serial, origin });
  it('takes a newer serial and confirms an equal one, in RFC 1982 arithmetic', () => {
    expect(judgeSerial(at(2), at(1), null)).toBe('take');
    expect(judgeSerial(at(0), at(0xffffffff), null)).toBe('take'); // wraps
    expect(judgeSerial(at(5), at(5), null)).toBe('same');
    expect(judgeSerial(at(1), null, null)).toBe('take');
  });

  it('never lets an older serial replace a newer one, in service or last in service', () => {
    expect(judgeSerial(at(1), at(2), null)).toBe('older-than-in-service');
    expect(judgeSerial(at(0xffffffff), at(0), null)).toBe('older-than-in-service');
    expect(judgeSerial(at(0x80000000), at(0), null)).toBe('older-than-in-service'); // RFC 1982's undefined case is not newer
    expect(judgeSerial(at(1), null, at(2))).toBe('older-than-floor');
    expect(judgeSerial(at(2), null, at(2))).toBe('take'); // what was in service is taken again
  });

  it('compares serials of one origin only', () => {
    expect(judgeSerial(at(1, 'example.'), at(2), null)).toBe('take');
    expect(judgeSerial(at(1, 'example.'), null, at(2))).toBe('take');
  });
});
