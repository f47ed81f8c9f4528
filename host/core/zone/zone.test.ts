import { describe, expect, it } from 'vitest';
import { compareBytes } from '../dns/bytes.js';
import { canonicalKey, nameFromText } from '../dns/name.js';
import { RRType } from '../dns/rr-types.js';
import { nameToText } from '../dns/wire.js';
import { ZoneError } from './errors.js';
import { parsePresentationAll } from './presentation-parser.js';
import {
  findSet,
  nameAt,
  NODE_APEX,
  NODE_BELOW_CUT,
  NODE_BELOW_DNAME,
  NODE_CUT,
  NODE_ENT,
  NODE_WILDCARD,
  SET_AUTH,
  SET_DELEGATION,
  SET_GLUE,
  SET_OCCLUDED,
  zoneFromRecords,
  type Zone,
} from './zone.js';

async function zone(text: string, opts: Parameters<typeof zoneFromRecords>[1] = {}): Promise<Zone> {
  return zoneFromRecords(await parsePresentationAll('$ORIGIN example.\n$TTL 300\n' + text), opts);
}

function names(z: Zone): string[] {
  const out: string[] = [];
  for (let k = 0; k < z.names.count; k++) out.push(nameToText(nameAt(z, k)));
  return out;
}

function index(z: Zone, name: string): number {
  return names(z).indexOf(name);
}

describe('canonical order (RFC 4034 §6.1)', () => {
  it('orders the RFC example names', () => {
    const expected = ['example.', 'a.example.', 'yljkjljk.a.example.', 'Z.a.example.', 'zABC.a.EXAMPLE.', 'z.example.', '\\001.z.example.', '*.z.example.', '\\200.z.example.'];
    const shuffled = [...expected].reverse();
    const sorted = shuffled.map((n) => ({ n, k: canonicalKey(nameFromText(n)) })).sort((a, b) => compareBytes(a.k, b.k)).map((x) => x.n);
    expect(sorted).toEqual(expected);
  });

  it('sorts names that arrive out of order and groups repeated owners', async () => {
    const z = await zone('b A 192.0.2.2\n@ SOA ns h 1 2 3 4 5\na A 192.0.2.1\nB AAAA ::1\na TXT "x"\n');
    expect(names(z)).toEqual(['example.', 'a.example.', 'b.example.']);
    expect(z.names.setCount[index(z, 'b.example.')]).toBe(2);
  });

  it('sorts RDATA canonically and removes duplicates (names compared lower-case)', async () => {
    const z = await zone('@ SOA ns h 1 2 3 4 5\n@ NS NS2.example.\n@ NS ns1.example.\n@ NS ns2.example.\n');
    const s = findSet(z, 0, RRType.NS);
    expect(z.sets.rrCount[s]).toBe(2);
    expect(z.duplicates).toBe(1);
    expect(z.warnings).toContain('1 duplicate records removed');
  });
});

describe('zone structure', () => {
  it('classifies apex, delegations, glue, occluded data, empty non-terminals and wildcards', async () => {
    const z = await zone(`@ SOA ns h 1 2 3 4 5
@ NS ns
ns A 192.0.2.1
sub NS ns.sub
sub DS 1 8 2 00
sub A 192.0.2.9
ns.sub A 192.0.2.53
deep.below.sub TXT "occluded"
a.b.c A 192.0.2.3
*.w TXT "wild"
d DNAME other.example.
x.d A 192.0.2.4
`);
    expect(names(z)).toEqual([
      'example.', 'c.example.', 'b.c.example.', 'a.b.c.example.', 'd.example.', 'x.d.example.', 'ns.example.',
      'sub.example.', 'below.sub.example.', 'deep.below.sub.example.', 'ns.sub.example.', 'w.example.', '*.w.example.',
    ]);
    const flags = (n: string): number => z.names.flags[index(z, n)]!;
    expect(flags('example.') & NODE_APEX).toBeTruthy();
    expect(flags('c.example.') & NODE_ENT).toBeTruthy();
    expect(flags('sub.example.') & NODE_CUT).toBeTruthy();
    expect(flags('ns.sub.example.') & NODE_BELOW_CUT).toBeTruthy();
    expect(flags('below.sub.example.') & (NODE_ENT | NODE_BELOW_CUT)).toBe(NODE_ENT | NODE_BELOW_CUT);
    expect(flags('x.d.example.') & NODE_BELOW_DNAME).toBeTruthy();
    expect(flags('*.w.example.') & NODE_WILDCARD).toBeTruthy();
    const setFlags = (n: string, t: number): number => z.sets.flags[findSet(z, index(z, n), t)]!;
    expect(setFlags('example.', RRType.NS)).toBe(SET_AUTH);
    expect(setFlags('sub.example.', RRType.NS)).toBe(SET_DELEGATION);
    expect(setFlags('sub.example.', RRType.DS)).toBe(SET_AUTH);
    expect(setFlags('sub.example.', RRType.A)).toBe(SET_GLUE);
    expect(setFlags('ns.sub.example.', RRType.A)).toBe(SET_GLUE);
    expect(setFlags('deep.below.sub.example.', RRType.TXT)).toBe(SET_OCCLUDED);
    expect(setFlags('x.d.example.', RRType.A)).toBe(SET_OCCLUDED);
    expect(z.typeCounts).toEqual({ SOA: 1, NS: 2, A: 5, DS: 1, TXT: 2, DNAME: 1 });
  });

  it('refuses input that is not one zone', async () => {
    await expect(zone('a A 192.0.2.1\n')).rejects.toThrow(/no SOA record/);
    await expect(zone('@ SOA ns h 1 2 3 4 5\n@ SOA ns h 2 2 3 4 5\n')).rejects.toThrow(/2 different SOA records/);
    await expect(zone('@ SOA ns h 1 2 3 4 5\nother.org. A 192.0.2.1\n', { outOfZone: 'error' })).rejects.toThrow(ZoneError);
    const dropped = await zone('@ SOA ns h 1 2 3 4 5\nother.org. A 192.0.2.1\n');
    expect(dropped.warnings[0]).toMatch(/^ignoring out-of-zone data: other\.org\. \(not under /);
    await expect(zone('@ SOA ns h 1 2 3 4 5\n', { origin: nameFromText('example.org.') })).rejects.toThrow(/expected at example\.org\./);
  });

  it('reads SOA timers and keeps per-RR TTLs when they differ', async () => {
    const z = await zone('@ 100 SOA ns h 2026 7200 3600 1209600 300\na 60 A 192.0.2.1\na 30 A 192.0.2.2\n');
    expect(z.soa).toEqual({ ttl: 100, serial: 2026, refresh: 7200, retry: 3600, expire: 1209600, minimum: 300 });
    const s = findSet(z, index(z, 'a.example.'), RRType.A);
    expect(z.sets.ttl[s]).toBe(30);
    expect(z.warnings.some((w) => w.includes('different TTLs'))).toBe(true);
  });
});
