import { describe, expect, it } from 'vitest';
import { nameFromText } from './dns/name.js';
import { MemoryMetrics } from './metrics.js';
import { SetAside } from './set-aside.js';

const n = (s: string) => nameFromText(s);

describe('SetAside', () => {
  it('sets a server aside for a zone after `after` bogus answers in a row, for that zone and below only', () => {
    let now = 1_000_000;
    const m = new MemoryMetrics();
    const sa = new SetAside({ after: 3, ttlMs: 60_000 }, m, () => now);
    sa.bogus('a', 'net.', 'signature-expired');
    sa.bogus('a', 'net.', 'signature-expired');
    expect(sa.isSetAside('a', n('www.example.net.'))).toBe(false);
    sa.bogus('a', 'net.', 'signature-expired');
    expect(sa.isSetAside('a', n('www.Example.NET.'))).toBe(true);
    expect(sa.isSetAside('a', n('net.'))).toBe(true);
    expect(sa.isSetAside('a', n('com.'))).toBe(false);
    expect(sa.isSetAside('a', n('xnet.'))).toBe(false);
    expect(sa.isSetAside('b', n('www.example.net.'))).toBe(false);
    expect(sa.list()).toEqual([{ server: 'a', zone: 'net.', reason: 'signature-expired', until: now + 60_000, bogus: 3, times: 1 }]);
    expect(m.snapshot()['edge_dnssec_servers_set_aside']).toEqual({ '': 1 });
    expect(m.snapshot()['edge_dnssec_set_aside_total']).toEqual({ 'server=a': 1 });
  });

  it('takes a server back when its time is up; a bogus probe sets it aside again for twice as long, a good one clears it', () => {
    let now = 0;
    const events: string[] = [];
    const sa = new SetAside({ after: 2, ttlMs: 1000 }, null, () => now, (what, e) => events.push(`${what} ${e.server} ${e.zone}`));
    sa.bogus('a', 'net.', 'x');
    sa.bogus('a', 'net.', 'x');
    now = 1000;
    expect(sa.isSetAside('a', n('net.'))).toBe(false);
    expect(sa.list()).toEqual([]);
    sa.bogus('a', 'net.', 'x');
    expect(sa.list()[0]).toMatchObject({ until: 3000, times: 2 });
    now = 3000;
    sa.good('a', 'net.');
    sa.bogus('a', 'net.', 'x');
    expect(sa.isSetAside('a', n('net.'))).toBe(false);
    expect(events).toEqual(['set-aside a net.', 'set-aside a net.', 'back a net.']);
  });

  it('caps the doubling at 16 times the first set-aside and ignores bogus answers without a zone', () => {
    let now = 0;
    const sa = new SetAside({ after: 1, ttlMs: 1000 }, null, () => now);
    for (let i = 0; i < 8; i++) {
      sa.bogus('a', 'net.', 'x');
      now = sa.list()[0]!.until;
    }
    sa.bogus('a', 'net.', 'x');
    expect(sa.list()[0]!.until - now).toBe(16_000);
    sa.bogus('b', null, 'malformed');
    expect(sa.list().map((e) => e.server)).toEqual(['a']);
  });
});
