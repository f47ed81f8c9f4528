import { beforeAll, describe, expect, it } from 'vitest';
import { checkZone, type TrustAnchor, type ZoneReport } from '../../host/core/zone/index.js';
import { anchor, AUG_23_2026, fixtureText, LOOKALIKE } from './support/fixtures.js';

// Copies of the verified lookalike changed in one place each; every one must be refused
// and say why.
let text: string;
let ta: TrustAnchor;

async function check(t: string): Promise<ZoneReport> {
  return (await checkZone(t, { trustAnchor: ta, now: AUG_23_2026 })).report;
}

function replaceLine(t: string, match: (line: string) => boolean, edit: (line: string) => string | null): string {
  let done = false;
  const out: string[] = [];
  for (const line of t.split('\n')) {
    if (!done && match(line)) {
      done = true;
      const e = edit(line);
      if (e !== null) out.push(e);
    } else out.push(line);
  }
  if (!done) throw new Error('no line matched');
  return out.join('\n');
}

beforeAll(async () => {
  text = fixtureText(LOOKALIKE);
  ta = await anchor('trust-anchor.ds');
});

describe('tampered copies of the lookalike root', () => {
  it('the untouched copy is usable (baseline)', async () => {
    expect((await check(text)).usable).toBe(true);
  });

  it('one signed record changed: ZONEMD mismatch and a signature that no longer verifies', async () => {
    const t = replaceLine(text, (l) => l.startsWith('aaa.\t') && l.includes('\tDS\t'), (l) => l.replace(/[0-9a-f](?=[0-9a-f]*$)/, (c) => (c === '0' ? '1' : '0')));
    const r = await check(t);
    expect(r.usable).toBe(false);
    expect(r.zonemd.status).toBe('mismatch');
    expect(r.dnssec.status).toBe('bogus');
    expect(r.dnssec.failures).toContain('aaa. DS: signature by key 10425 does not verify');
    expect(r.reasons.join(' ')).toMatch(/ZONEMD mismatch.*DNSSEC bogus/);
  });

  it('one glue record changed: DNSSEC cannot see it, ZONEMD can', async () => {
    const t = replaceLine(text, (l) => l.startsWith('a.nic.aaa.\t') && l.includes('\tA\t'), (l) => l.replace(/\d+$/, '99'));
    const r = await check(t);
    expect(r.dnssec.status).toBe('verified');
    expect(r.zonemd.status).toBe('mismatch');
    expect(r.usable).toBe(false);
    expect(r.reasons).toEqual([expect.stringMatching(/^ZONEMD mismatch \(policy verify-if-present\)/)]);
  });

  it('one RRSIG removed: the RRset is unsigned and the digest changes', async () => {
    const t = replaceLine(text, (l) => l.startsWith('aaa.\t') && l.includes('\tRRSIG\tNSEC '), () => null);
    const r = await check(t);
    expect(r.usable).toBe(false);
    expect(r.dnssec.status).toBe('bogus');
    expect(r.dnssec.failures).toEqual(['aaa. NSEC: no RRSIG']);
    expect(r.zonemd.status).toBe('mismatch');
  });

  it('ZONEMD serial changed: serial-mismatch, and its signature fails', async () => {
    const t = replaceLine(text, (l) => l.includes('\tZONEMD\t'), (l) => l.replace('2026082201', '2026082202'));
    const r = await check(t);
    expect(r.usable).toBe(false);
    expect(r.zonemd.status).toBe('serial-mismatch');
    expect(r.zonemd.reason).toMatch(/ZONEMD serial 2026082202 does not match SOA serial 2026082201/);
    expect(r.dnssec.failures).toContain('. ZONEMD: signature by key 10425 does not verify');
  });

  it('one delegation removed: the NSEC chain and the digest no longer match', async () => {
    const t = text
      .split('\n')
      .filter((l) => !/^zuerich\.\t/.test(l))
      .join('\n');
    const r = await check(t);
    expect(r.usable).toBe(false);
    expect(r.zonemd.status).toBe('mismatch');
    expect(r.dnssec.nsec).toBe('broken');
  });

  it('with zonemd=ignore a digest-only change is accepted; with require an absent digest is not', async () => {
    const glue = replaceLine(text, (l) => l.startsWith('a.nic.aaa.\t') && l.includes('\tA\t'), (l) => l.replace(/\d+$/, '99'));
    expect((await checkZone(glue, { trustAnchor: ta, now: AUG_23_2026, zonemd: 'ignore' })).report.usable).toBe(true);
    // ZONEMD and its RRSIG removed; the apex NSEC still lists ZONEMD, so DNSSEC is set aside here
    // to look at the ZONEMD policy alone
    const absent = text
      .split('\n')
      .filter((l) => !l.includes('\tZONEMD\t') && !l.includes('\tRRSIG\tZONEMD '))
      .join('\n');
    const lenient = (await checkZone(absent, { trustAnchor: ta, now: AUG_23_2026, dnssec: 'ignore' })).report;
    expect(lenient.zonemd.status).toBe('absent');
    expect(lenient.usable).toBe(true);
    const strict = (await checkZone(absent, { trustAnchor: ta, now: AUG_23_2026, dnssec: 'ignore', zonemd: 'require' })).report;
    expect(strict.zonemd.status).toBe('absent');
    expect(strict.usable).toBe(false);
    expect(strict.reasons).toEqual([expect.stringMatching(/^ZONEMD absent \(policy require\)/)]);
  });
});
