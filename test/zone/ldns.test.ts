import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { ZoneReport } from '../../host/core/zone/index.js';
import { needTool } from '../helpers/tools.js';
import { zone } from './support/cli.js';
import { fixturePath, fixtureText, LOOKALIKE, LOOKALIKE_EXPIRED } from './support/fixtures.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'zone-ldns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** ldns-verify-zone's verdict: 0 when it accepts the zone. */
async function ldns(file: string, anchor: string, when: string): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout, stderr } = await run('ldns-verify-zone', ['-Z', '-k', anchor, '-t', when, file], { maxBuffer: 64 << 20 });
    return { ok: true, out: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

interface Case {
  name: string;
  file: () => string;
  anchor: string;
  /** ISO time for us, YYYYMMDDhhmmss for ldns. */
  now: [string, string];
}

const LOOK_TEXT = (): string => fixtureText(LOOKALIKE);
const aug23: [string, string] = ['2026-08-23T00:00:00Z', '20260823000000'];
const TA = fixturePath('trust-anchor.ds');

const cases: Case[] = [
  { name: 'lookalike root', file: () => write('look.zone', LOOK_TEXT()), anchor: TA, now: aug23 },
  { name: 'expired lookalike after its window', file: () => write('expired.zone', fixtureText(LOOKALIKE_EXPIRED)), anchor: TA, now: ['2026-11-23T00:00:00Z', '20261123000000'] },
  {
    name: 'lookalike with one DS changed',
    file: () => write('ds.zone', LOOK_TEXT().replace(/^(aaa\.\t\d+\tIN\tDS\t\d+ \d+ \d+ )[0-9a-f]/m, '$1f')),
    anchor: TA,
    now: aug23,
  },
  {
    name: 'lookalike with one RRSIG removed',
    file: () => write('nosig.zone', LOOK_TEXT().replace(/^aaa\.\t\d+\tIN\tRRSIG\tNSEC .*\n/m, '')),
    anchor: TA,
    now: aug23,
  },
  {
    name: 'lookalike with the ZONEMD serial changed',
    file: () => write('serial.zone', LOOK_TEXT().replace(/(\tZONEMD\t)2026082201/, '$12026082202')),
    anchor: TA,
    now: aug23,
  },
  {
    name: 'lookalike with one glue address changed',
    file: () => write('glue.zone', LOOK_TEXT().replace(/^(a\.nic\.aaa\.\t\d+\tIN\tA\t)[\d.]+/m, '$1192.0.2.99')),
    anchor: TA,
    now: aug23,
  },
  {
    name: 'ldns-signed NSEC3 example with one NSEC3 removed',
    file: () => {
      const text = readFileSync(fixturePath('ldns/example-nsec3.signed'), 'latin1');
      const victim = text.split('\n').find((l) => /\tNSEC3\t/.test(l) && !l.startsWith('example.'))!;
      const owner = victim.split('\t')[0]!;
      return write('nsec3-gap.zone', text.split('\n').filter((l) => !l.startsWith(owner + '\t')).join('\n'));
    },
    anchor: fixturePath('ldns/example-nsec3.ds'),
    now: aug23,
  },
  ...['RSASHA256', 'RSASHA512', 'ECDSAP256SHA256', 'ECDSAP384SHA384', 'ED25519', 'nsec3'].map((alg) => ({
    name: `ldns-signed example (${alg})`,
    file: () => fixturePath(`ldns/example-${alg}.signed`),
    anchor: fixturePath(`ldns/example-${alg}.ds`),
    now: aug23,
  })),
];

/** The kinds of problem ldns-verify-zone reports, recognised by the wording of its messages. */
function ldnsKinds(out: string): string[] {
  const kinds = new Set<string>();
  if (/Bogus DNSSEC signature/.test(out)) kinds.add('signature');
  if (/has no signatures/.test(out)) kinds.add('unsigned');
  if (/signature has expired/.test(out)) kinds.add('expired');
  if (/there is no NSEC\(3\) for|points to the wrong next hashed owner name/.test(out)) kinds.add('denial');
  if (/Could not validate zone digest/.test(out)) kinds.add('zonemd');
  return [...kinds].sort();
}

/** The same kinds in our report (checked with --zonemd require, as ldns -Z does). */
function ourKinds(report: ZoneReport): string[] {
  const kinds = new Set<string>();
  const d = report.dnssec;
  if (d.failures.some((f) => / does not verify$/.test(f))) kinds.add('signature');
  if (d.failures.some((f) => /: no RRSIG$/.test(f))) kinds.add('unsigned');
  if (d.status === 'expired') kinds.add('expired');
  if (d.nsec === 'broken') kinds.add('denial');
  if (report.zonemd.status !== 'verified') kinds.add('zonemd');
  return [...kinds].sort();
}

describe('agreement with ldns-verify-zone', () => {
  for (const c of cases) {
    it(c.name, async () => {
      if (!needTool('ldns-verify-zone')) return;
      const file = c.file();
      const theirs = await ldns(file, c.anchor, c.now[1]);
      const ours = await zone('check', file, '--trust-anchor', c.anchor, '--now', c.now[0], '--zonemd', 'require', '--json');
      const report = JSON.parse(ours.stdout);
      expect({ ok: report.usable, why: report.reasons }).toEqual({ ok: theirs.ok, why: expect.anything() });
      if (theirs.ok) expect(theirs.out).toMatch(/Zone is verified and complete/);
      // not only the verdict: the same kinds of reason, none for a zone both accept
      expect(ourKinds(report), theirs.out).toEqual(ldnsKinds(theirs.out));
      expect(ourKinds(report).length > 0).toBe(!theirs.ok);
    }, 60_000);
  }

  it('the tampered copies ldns refuses are the ones we refuse, for the same kind of reason', async () => {
    if (!needTool('ldns-verify-zone')) return;
    const file = write('ds2.zone', LOOK_TEXT().replace(/^(aaa\.\t\d+\tIN\tDS\t\d+ \d+ \d+ )[0-9a-f]/m, '$1f'));
    const theirs = await ldns(file, TA, aug23[1]);
    expect(theirs.out).toMatch(/[Bb]ogus|signature|ZONEMD/);
    const ours = JSON.parse((await zone('check', file, '--trust-anchor', TA, '--now', aug23[0], '--json')).stdout);
    expect(ours.dnssec.failures[0]).toMatch(/^aaa\. DS: signature/);
    expect(readFileSync(file, 'latin1').length).toBeGreaterThan(1_000_000);
  }, 60_000);
});
