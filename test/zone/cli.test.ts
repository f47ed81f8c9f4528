import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readImage } from '../../host/core/zone/index.js';
import { zone } from './support/cli.js';
import { fixturePath, LOOKALIKE, LOOKALIKE_EXPIRED, ROOT_2023110400 } from './support/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'zone-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const AUG23 = '2026-08-23T00:00:00Z';
const TA = fixturePath('trust-anchor.ds');

describe('edge-resolver zone check', () => {
  it('prints serial, counts per type, ZONEMD, DNSSEC, expiry and usable; exit 0 when usable', async () => {
    const r = await zone('check', fixturePath(LOOKALIKE), '--trust-anchor', TA, '--now', AUG23);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^serial {4}2026082201$/m);
    expect(r.stdout).toMatch(/^ {2}NS {9}7581$/m);
    expect(r.stdout).toMatch(/^ZONEMD {4}verified \(scheme 1, algorithm SHA-384\)$/m);
    expect(r.stdout).toMatch(/^DNSSEC {4}verified: DNSKEY RRset verified; 2793\/2793 signatures valid/m);
    expect(r.stdout).toMatch(/^expires {3}2026-08-30T00:00:00.000Z$/m);
    expect(r.stdout).toMatch(/^usable {4}yes$/m);
  });

  it('with an anchor for the apex, a copy stripped of DNSKEY, RRSIG, NSEC and ZONEMD is bogus, not unsigned', async () => {
    const text = gunzipSync(readFileSync(fixturePath(LOOKALIKE))).toString('latin1');
    const stripped = text
      .split('\n')
      .filter((l) => !/\s(RRSIG|DNSKEY|NSEC|NSEC3|NSEC3PARAM|ZONEMD)\s/.test(l))
      .join('\n');
    const file = join(dir, 'stripped.zone');
    writeFileSync(file, stripped);
    const r = await zone('check', file, '--trust-anchor', TA, '--now', AUG23, '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.dnssec.status).toBe('bogus');
    expect(j.dnssec.reason).toMatch(/trust anchor says \. is signed/);
    expect(j.usable).toBe(false);
    // Without an anchor the same copy is what it looks like: unsigned.
    expect(JSON.parse((await zone('check', file, '--now', AUG23, '--json')).stdout).dnssec.status).toBe('unsigned');
  });

  it('refuses an anchor for another apex instead of ignoring it', async () => {
    const other = join(dir, 'other-anchor.ds');
    writeFileSync(other, `example. 3600 IN DS 12345 8 2 ${'ab'.repeat(32)}\n`);
    const r = await zone('check', fixturePath(LOOKALIKE), '--trust-anchor', other, '--now', AUG23, '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.dnssec.status).toBe('bogus');
    expect(j.dnssec.reason).toMatch(/trust anchor is for example\., not for this zone's apex \./);
  });

  it('--json gives the report as an object', async () => {
    const r = await zone('check', fixturePath(LOOKALIKE), '--trust-anchor', TA, '--now', AUG23, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.serial).toBe(2026082201);
    expect(j.records).toBe(24884);
    expect(j.types).toMatchObject({ A: 5941, AAAA: 5646, DNSKEY: 2, DS: 1480, NS: 7581, NSEC: 1439, RRSIG: 2793, SOA: 1, ZONEMD: 1 });
    expect(j.zonemd.status).toBe('verified');
    expect(j.dnssec.status).toBe('verified');
    expect(j.expires).toBe('2026-08-30T00:00:00.000Z');
    expect(j.usable).toBe(true);
  });

  it('exits non-zero with the reason for the expired copy', async () => {
    const r = await zone('check', fixturePath(LOOKALIKE_EXPIRED), '--trust-anchor', TA, '--now', '2026-11-23T00:00:00Z');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^DNSSEC {4}expired/m);
    expect(r.stderr).toMatch(/is not usable: DNSSEC expired .*the copy expired at 2026-09-05T16:00:00.000Z/);
  });

  it('the 2023 root: ZONEMD unsupported blocks nothing, unless the policy requires ZONEMD', async () => {
    const args = ['check', fixturePath(ROOT_2023110400), '--now', '2023-11-05T00:00:00Z', '--dnssec', 'ignore'];
    const ok = await zone(...args, '--json');
    expect(JSON.parse(ok.stdout).zonemd.status).toBe('unsupported');
    expect(ok.code).toBe(0);
    const strict = await zone(...args, '--zonemd', 'require');
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/ZONEMD unsupported \(policy require\)/);
  });

  it('reads plain text as well as gzip', async () => {
    const plain = join(dir, 'lookalike.zone');
    writeFileSync(plain, gunzipSync(readFileSync(fixturePath(LOOKALIKE))));
    const r = await zone('check', plain, '--trust-anchor', TA, '--now', AUG23, '--json');
    expect(JSON.parse(r.stdout).usable).toBe(true);
  });

  it('refuses bad command lines with exit 2 and a missing file with exit 1', async () => {
    expect((await zone('check')).code).toBe(2);
    expect((await zone('check', 'a', 'b')).code).toBe(2);
    expect((await zone('check', 'a', '--zonemd', 'maybe')).code).toBe(2);
    expect((await zone('check', 'a', '--now', 'yesterday')).code).toBe(2);
    expect((await zone('check', 'a', '--bogus')).code).toBe(2);
    expect((await zone('frobnicate')).code).toBe(2);
    expect((await zone('compile', fixturePath(LOOKALIKE))).stderr).toMatch(/missing -o IMAGE/);
    const missing = await zone('check', join(dir, 'nope.zone'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ENOENT/);
  });
});

describe('edge-resolver zone compile / inspect', () => {
  it('writes an image of a usable zone that reads back with the same results', async () => {
    const out = join(dir, 'root.img');
    const r = await zone('compile', fixturePath(LOOKALIKE), '-o', out, '--trust-anchor', TA, '--now', AUG23);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*root\.img \(\d+ bytes\): \. serial 2026082201, ZONEMD verified, DNSSEC verified/);
    const bytes = readFileSync(out);
    expect(bytes.length).toBeLessThan(4 * 1024 * 1024);
    const image = await readImage(new Uint8Array(bytes));
    expect(image.serial).toBe(2026082201);
    expect(image.zonemd).toBe('verified');
    expect(image.dnssec).toBe('verified');
    expect(image.expiresAt).toBe(Date.parse('2026-08-30T00:00:00Z'));
    const i = await zone('inspect', out, '--json', '--now', AUG23);
    expect(i.code).toBe(0);
    expect(JSON.parse(i.stdout)).toMatchObject({ serial: 2026082201, records: 24884, usable: true });
    const late = await zone('inspect', out, '--now', '2026-09-01T00:00:00Z');
    expect(late.code).toBe(1);
  });

  it('writes no image for an unusable zone unless forced', async () => {
    const out = join(dir, 'expired.img');
    const r = await zone('compile', fixturePath(LOOKALIKE_EXPIRED), '-o', out, '--trust-anchor', TA, '--now', '2026-11-23T00:00:00Z');
    expect(r.code).toBe(1);
    expect(existsSync(out)).toBe(false);
    const forced = await zone('compile', fixturePath(LOOKALIKE_EXPIRED), '-o', out, '--trust-anchor', TA, '--now', '2026-11-23T00:00:00Z', '--force');
    expect(forced.code).toBe(1);
    expect(forced.stdout).toMatch(/NOT USABLE, --force/);
    expect((await readImage(new Uint8Array(readFileSync(out)))).dnssec).toBe('expired');
  });

  it('refuses a corrupted image', async () => {
    const out = join(dir, 'bad.img');
    await zone('compile', fixturePath(LOOKALIKE), '-o', out, '--trust-anchor', TA, '--now', AUG23);
    const bytes = readFileSync(out);
    bytes[bytes.length - 100]! ^= 0xff;
    writeFileSync(out, bytes);
    const r = await zone('inspect', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/zone image: digest mismatch/);
  });
});
