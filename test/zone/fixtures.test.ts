import { describe, expect, it } from 'vitest';
import { nameToText } from '../../host/core/dns/wire.js';
import { checkZone, nameAt, NODE_CUT } from '../../host/core/zone/index.js';
import {
  anchor,
  AUG_23_2026,
  fixtureStream,
  LOOKALIKE,
  LOOKALIKE_EXPIRED,
  LOOKALIKE_NEXT,
  ROOT_2023110400,
  ROOT_2023120800,
  ROOT_2026082200,
  ROOT_2026082201,
} from './support/fixtures.js';

describe('real root zones (archive copies: RRSIGs stripped except apex SOA and DNSKEY)', () => {
  it('2023110400 parses completely and reports ZONEMD unsupported (private algorithm 241)', async () => {
    const { zone, report } = await checkZone(fixtureStream(ROOT_2023110400), {
      file: ROOT_2023110400,
      trustAnchor: await anchor('root-anchors.ds'),
      now: Date.UTC(2023, 10, 5),
    });
    expect(report.serial).toBe(2023110400);
    expect(report.records).toBe(22286);
    expect(report.types.ZONEMD).toBe(1);
    expect(report.zonemd.status).toBe('unsupported');
    expect(report.zonemd.records).toEqual([expect.objectContaining({ serial: 2023110400, scheme: 1, algorithm: 241 })]);
    // the apex DNSKEY RRset is signed by KSK-2017 and verifies; the stripped RRSIGs make the rest bogus
    expect(report.dnssec.keyset).toBe('verified');
    expect(report.dnssec.status).toBe('bogus');
    expect(report.usable).toBe(false);
    expect(nameToText(nameAt(zone, 0))).toBe('.');
  });

  it('2023120800 parses and its SHA-384 ZONEMD mismatches (RRSIGs missing)', async () => {
    const { report } = await checkZone(fixtureStream(ROOT_2023120800), { now: Date.UTC(2023, 11, 9) });
    expect(report.serial).toBe(2023120800);
    expect(report.zonemd.status).toBe('mismatch');
  });

  it('2026082200 parses completely; its SHA-384 ZONEMD mismatches (RRSIGs stripped); the apex DNSKEY RRset verifies', async () => {
    const { zone, report } = await checkZone(fixtureStream(ROOT_2026082200), {
      file: ROOT_2026082200,
      trustAnchor: await anchor('root-anchors.ds'),
      now: AUG_23_2026,
    });
    expect(report.serial).toBe(2026082200);
    expect(report.records).toBe(22094); // every RR in the file, as ldns-read-zone counts them
    expect(nameToText(nameAt(zone, 0))).toBe('.');
    expect(report.types.ZONEMD).toBe(1);
    expect(report.zonemd.records).toEqual([expect.objectContaining({ serial: 2026082200, scheme: 1, algorithm: 1 })]);
    expect(report.zonemd.status).toBe('mismatch');
    expect(report.dnssec.keyset).toBe('verified');
    expect(report.dnssec.keys.find((k) => k.tag === 20326)).toMatchObject({ anchored: true, supported: true });
    // only the apex SOA and DNSKEY keep their RRSIGs in the archive: the rest cannot verify
    expect(report.dnssec.status).toBe('bogus');
    expect(report.usable).toBe(false);
    expect(report.reasons.join(' ')).toMatch(/ZONEMD mismatch/);
  });

  it('2026082201: the apex DNSKEY RRset verifies against the real root anchors at 2026-08-23', async () => {
    const { report } = await checkZone(fixtureStream(ROOT_2026082201), {
      trustAnchor: await anchor('root-anchors.ds'),
      now: AUG_23_2026,
    });
    expect(report.dnssec.keyset).toBe('verified');
    const ksk = report.dnssec.keys.find((k) => k.tag === 20326)!;
    expect(ksk).toMatchObject({ algorithm: 8, anchored: true, supported: true });
    expect(report.dnssec.keys.find((k) => k.tag === 38696)).toMatchObject({ anchored: true });
    expect(report.zonemd.status).toBe('mismatch');
  });
});

describe('lookalike root zones (re-signed with test keys)', () => {
  it('2026082201 verifies fully and is usable', async () => {
    const { report } = await checkZone(fixtureStream(LOOKALIKE), {
      file: LOOKALIKE,
      trustAnchor: await anchor('trust-anchor.ds'),
      now: AUG_23_2026,
    });
    expect(report.zonemd.status).toBe('verified');
    expect(report.dnssec.status).toBe('verified');
    expect(report.dnssec.keyset).toBe('verified');
    expect(report.dnssec.nsec).toBe('verified');
    expect(report.dnssec.valid).toBe(2793);
    expect(report.records).toBe(24884);
    expect(report.earliestRrsigExpiration).toBe(Date.UTC(2036, 0, 1));
    expect(report.expiresAt).toBe(AUG_23_2026 + 604800 * 1000);
    expect(report.usable).toBe(true);
    expect(report.reasons).toEqual([]);
  });

  it('verifies against the DNSKEY form of the anchor too', async () => {
    const { report } = await checkZone(fixtureStream(LOOKALIKE), { trustAnchor: await anchor('trust-anchor.dnskey'), now: AUG_23_2026 });
    expect(report.dnssec.status).toBe('verified');
  });

  it('2026082300 verifies; the zuerich. delegation is gone and example-new. is new', async () => {
    const names = async (file: string) => {
      const { zone, report } = await checkZone(fixtureStream(file), { trustAnchor: await anchor('trust-anchor.ds'), now: AUG_23_2026 });
      // delegations only: the fixture keeps a.nic.zuerich., so zuerich. lives on as an empty non-terminal
      const set = new Set<string>();
      for (let k = 0; k < zone.names.count; k++) if (zone.names.flags[k]! & NODE_CUT) set.add(nameToText(nameAt(zone, k)));
      return { set, report };
    };
    const before = await names(LOOKALIKE);
    const after = await names(LOOKALIKE_NEXT);
    expect(after.report.serial).toBe(2026082300);
    expect(after.report.usable).toBe(true);
    expect(before.set.has('zuerich.')).toBe(true);
    expect(after.set.has('zuerich.')).toBe(false);
    expect(after.set.has('example-new.')).toBe(true);
    expect(before.set.has('example-new.')).toBe(false);
  });

  it('the expired copy verifies inside its window and reports expired after it', async () => {
    const ta = await anchor('trust-anchor.ds');
    const inside = await checkZone(fixtureStream(LOOKALIKE_EXPIRED), { trustAnchor: ta, now: Date.UTC(2026, 7, 25) });
    expect(inside.report.dnssec.status).toBe('verified');
    expect(inside.report.expiresAt).toBe(Date.UTC(2026, 8, 1)); // SOA EXPIRE (7 days) comes first here
    const after = await checkZone(fixtureStream(LOOKALIKE_EXPIRED), { trustAnchor: ta, now: Date.UTC(2026, 10, 23) });
    expect(after.report.zonemd.status).toBe('verified');
    expect(after.report.dnssec.status).toBe('expired');
    expect(after.report.dnssec.earliestExpiration).toBe(Date.UTC(2026, 8, 5, 16));
    expect(after.report.expiresAt).toBe(Date.UTC(2026, 8, 5, 16));
    expect(after.report.usable).toBe(false);
    expect(after.report.reasons.join(' ')).toMatch(/DNSSEC expired/);
  });
});
