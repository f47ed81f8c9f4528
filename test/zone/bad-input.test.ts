import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { zone } from './support/cli.js';
import { fixturePath, LOOKALIKE } from './support/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'zone-bad-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const SOA = '$ORIGIN example.\n$TTL 300\n@ SOA ns h 1 7200 3600 1209600 300\n@ NS ns\nns A 192.0.2.1\n';

describe('bad input through the CLI: a clear error, never a crash or a hang', () => {
  it('a truncated gzip file', async () => {
    const gz = readFileSync(fixturePath(LOOKALIKE));
    const r = await zone('check', write('cut.zone.gz', gz.subarray(0, gz.length >> 1)));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/gzip data is truncated or corrupt/);
  });

  it('a text file cut in the middle of a record', async () => {
    const text = gunzipSync(readFileSync(fixturePath(LOOKALIKE))).toString('latin1');
    const cut = text.slice(0, text.indexOf('\tDS\t', 100_000) + 12);
    const r = await zone('check', write('cut.zone', cut));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cut\.zone:\d+:\d+: DS RDATA is missing/);
  });

  it('a text file cut at a line boundary loads but is refused', async () => {
    const text = gunzipSync(readFileSync(fixturePath(LOOKALIKE))).toString('latin1');
    const cut = text.slice(0, text.indexOf('\n', text.length >> 1) + 1);
    const r = await zone('check', write('half.zone', cut), '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.zonemd.status).toBe('mismatch');
    expect(j.usable).toBe(false);
  });

  it('binary garbage', async () => {
    const junk = new Uint8Array(65536).map((_, i) => (i * 7919 + 13) & 0xff);
    const r = await zone('check', write('junk.zone', junk), '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('binary');
    expect(r.stderr).toMatch(/junk\.zone:1:\d+: binary data/);
  });

  it('a line longer than 64 KiB', async () => {
    const r = await zone('check', write('long.zone', SOA + 'x TXT "' + 'a'.repeat(70_000) + '"\n'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/long\.zone:6:1: line longer than 65536 bytes/);
  });

  it('an $INCLUDE of a directory, with the file and line of the $INCLUDE', async () => {
    mkdirSync(join(dir, 'incdir'), { recursive: true });
    const r = await zone('check', write('incdir.zone', SOA + '$INCLUDE incdir\n'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/incdir\.zone:6:\d+: \$INCLUDE incdir refused: /);
  });

  it('an $INCLUDE loop', async () => {
    write('loop-a.zone', SOA + '$INCLUDE loop-b.inc\n');
    write('loop-b.inc', '$INCLUDE loop-a.zone\n');
    const r = await zone('check', join(dir, 'loop-a.zone'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/loop-b\.inc:1:10: \$INCLUDE loop: .*loop-a\.zone -> .*loop-b\.inc -> .*loop-a\.zone/);
  });

  it('an $INCLUDE that leaves the zone directory, by path or by symlink', async () => {
    const zdir = join(dir, 'zones');
    mkdirSync(zdir, { recursive: true });
    writeFileSync(join(dir, 'secret.inc'), 'x A 192.0.2.66\n');
    writeFileSync(join(zdir, 'up.zone'), SOA + '$INCLUDE ../secret.inc\n');
    symlinkSync(join(dir, 'secret.inc'), join(zdir, 'link.inc'));
    writeFileSync(join(zdir, 'link.zone'), SOA + '$INCLUDE link.inc\n');
    writeFileSync(join(zdir, 'abs.zone'), SOA + `$INCLUDE ${join(dir, 'secret.inc')}\n`);
    for (const f of ['up.zone', 'link.zone', 'abs.zone']) {
      const r = await zone('check', join(zdir, f));
      expect(r.code, f).toBe(1);
      expect(r.stderr, f).toMatch(/\$INCLUDE .* refused: .* resolves outside the zone directory/);
    }
    writeFileSync(join(zdir, 'ok.inc'), 'www A 192.0.2.80\n');
    writeFileSync(join(zdir, 'ok.zone'), SOA + '$INCLUDE ok.inc\n');
    const ok = await zone('check', join(zdir, 'ok.zone'), '--json');
    expect(JSON.parse(ok.stdout).types.A).toBe(2);
  });

  it('more records or bytes than the configured limits', async () => {
    const f = fixturePath(LOOKALIKE);
    const recs = await zone('check', f, '--max-records', '1000');
    expect(recs.code).toBe(1);
    expect(recs.stderr).toMatch(/more than 1000 records \(maxRecords\)/);
    const bytes = await zone('check', f, '--max-bytes', '100000');
    expect(bytes.stderr).toMatch(/larger than the 100000-byte limit/);
  });

  it('an empty file and a file with no SOA', async () => {
    expect((await zone('check', write('empty.zone', ''))).stderr).toMatch(/no SOA record/);
    expect((await zone('check', write('nosoa.zone', 'a. 300 IN A 192.0.2.1\n'))).stderr).toMatch(/no SOA record/);
  });
});
