import { describe, expect, it } from 'vitest';
import { textToName } from '../dns/wire.js';
import { ServerSelection, defaultSelectionOptions, type SelectionOptions } from './servers.js';

function table(opts: Partial<SelectionOptions> = {}, random: () => number = () => 0.5) {
  const clock = { t: 1_000_000 };
  const s = new ServerSelection({ ...defaultSelectionOptions, ...opts }, () => clock.t, random);
  return { s, clock };
}
const zone = textToName('example.');
const other = textToName('other.');

describe('server selection', () => {
  it('smooths RTT as RFC 6298 does and derives the timeout from it', () => {
    const { s } = table();
    expect(s.timeout('a')).toBe(400); // never heard from
    s.answered('a', 100);
    expect(s.timeout('a')).toBe(100 + 4 * 50);
    s.answered('a', 20);
    // rttvar = 3/4·50 + 1/4·|100−20| = 57.5; srtt = 7/8·100 + 1/8·20 = 90
    expect(s.timeout('a')).toBe(90 + 4 * 57.5);
    s.answered('b', 1);
    expect(s.timeout('b')).toBe(50); // the floor
  });

  it('backs off on consecutive timeouts, sets the address aside, and doubles the hold on each failed retry', () => {
    const { s, clock } = table({ deadAfterTimeouts: 3, deadHoldMs: 1000, deadHoldMaxMs: 3000 });
    s.answered('a', 100);
    expect(s.timedOut('a')).toBe(false);
    expect(s.timeout('a')).toBe(600);
    expect(s.timedOut('a')).toBe(false);
    expect(s.timeout('a')).toBe(1200);
    expect(s.timedOut('a')).toBe(true);
    expect(s.isDead('a')).toBe(true);
    expect(s.choose(zone, ['a'])).toBeNull();
    clock.t += 1001;
    expect(s.isDead('a')).toBe(false);
    expect(s.choose(zone, ['a'])?.address).toBe('a'); // the retry
    s.timedOut('a');
    clock.t += 1999;
    expect(s.isDead('a')).toBe(true); // held 2 s now
    clock.t += 2;
    s.timedOut('a');
    clock.t += 3001;
    expect(s.isDead('a')).toBe(false); // capped at 3 s
    s.answered('a', 10);
    // An answer ends the backoff: srtt 88.75, rttvar 60 from the samples so far.
    expect(s.timeout('a')).toBe(88.75 + 4 * 60);
    expect(s.status()[0]).toMatchObject({ address: 'a', dead: false, consecutiveTimeouts: 0 });
  });

  it('counts the timeouts of queries that were in flight together as one', () => {
    const { s, clock } = table({ deadAfterTimeouts: 3 });
    s.answered('a', 10);
    // 50 queries sent at t0, all lost in one slow moment of the server
    const t0 = clock.t;
    clock.t += 50;
    for (let i = 0; i < 50; i++) expect(s.timedOut('a', t0)).toBe(false);
    expect(s.status()[0]).toMatchObject({ consecutiveTimeouts: 1, dead: false });
    expect(s.timeout('a')).toBe(100); // backed off once: 2 × the 50 ms floor
    // tries sent after it each count: three in a row and it is set aside
    expect(s.timedOut('a', clock.t)).toBe(false);
    clock.t += 100;
    expect(s.timedOut('a', clock.t - 100)).toBe(true);
    expect(s.isDead('a')).toBe(true);
  });

  it('caps the timeout', () => {
    const { s } = table({ maxTimeoutMs: 2000, deadAfterTimeouts: 100 });
    for (let i = 0; i < 10; i++) s.timedOut('a');
    expect(s.timeout('a')).toBe(2000);
  });

  it('tries every address once, then the best, exploring with probability ε', () => {
    let r = 0.5;
    const { s } = table({ explore: 0.05 }, () => r);
    s.answered('fast', 5);
    expect(s.choose(zone, ['fast', 'new'])?.address).toBe('new');
    s.answered('new', 300);
    expect(s.choose(zone, ['fast', 'new'])?.address).toBe('fast');
    r = 0.01; // below ε: explore, and the same draw then picks the first of the pool
    expect(s.choose(zone, ['new', 'fast'])?.address).toBe('new');
  });

  it('sets lame and bogus servers aside for their zone only, for a while', () => {
    const { s, clock } = table({ lameHoldMs: 1000, bogusHoldMs: 500 });
    s.setAside(zone, 'a', 'lame');
    s.setAside(zone, 'b', 'bogus');
    expect(s.choose(zone, ['a', 'b'])).toBeNull();
    expect(s.choose(other, ['a'])?.address).toBe('a');
    clock.t += 501;
    expect(s.asideFor(zone, 'b')).toBeNull();
    expect(s.asideFor(zone, 'a')).toBe('lame');
    clock.t += 500;
    expect(s.choose(zone, ['a'])?.address).toBe('a');
  });

  it('remembers a server without EDNS for a while', () => {
    const { s, clock } = table({ noEdnsHoldMs: 1000 });
    expect(s.edns('a')).toBe(true);
    s.noEdns('a');
    expect(s.edns('a')).toBe(false);
    clock.t += 1001;
    expect(s.edns('a')).toBe(true);
  });

  it('steers: prefer while any preferred is usable, avoid unless nothing else is, inherited by zones below', () => {
    const { s } = table({ explore: 0 });
    for (const a of ['a', 'b', 'c']) s.answered(a, a === 'a' ? 1 : 50);
    s.steer(textToName('com.'), { avoid: ['a'], prefer: [] });
    const sub = textToName('example.com.');
    expect(s.choose(sub, ['a', 'b'])).toEqual({ address: 'b', steered: 'avoid' });
    expect(s.choose(sub, ['a'])).toEqual({ address: 'a', steered: null });
    s.steer(sub, { avoid: [], prefer: ['c'] });
    expect(s.choose(sub, ['a', 'b', 'c'])).toEqual({ address: 'c', steered: 'prefer' });
    s.setAside(sub, 'c', 'lame');
    expect(s.choose(sub, ['a', 'b', 'c'])?.address).toBe('a'); // its own rule has no avoid list
    expect(s.steeringRules().map((r) => r.prefer)).toEqual([[], ['c']]);
    s.steer(sub, null);
    s.steer(textToName('com.'), null);
    expect(s.steeringRules()).toEqual([]);
  });

  it('forgets an address after the host TTL and bounds the table', () => {
    const { s, clock } = table({ hostTtlMs: 1000, maxHosts: 2 });
    s.answered('a', 100);
    clock.t += 1001;
    expect(s.timeout('a')).toBe(400);
    s.answered('x', 1);
    s.answered('y', 1);
    s.answered('z', 1);
    expect(s.status().map((h) => h.address)).toEqual(['y', 'z']);
  });
});
