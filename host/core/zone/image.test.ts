import { describe, expect, it } from 'vitest';
import { nameFromText } from '../dns/name.js';
import { RRType } from '../dns/rr-types.js';
import { hex, nameToText } from '../dns/wire.js';
import { verifyZone } from './check.js';
import { ZoneError } from './errors.js';
import { H, HEADER_SIZE, NAME_ENTRY, NE, RE, RRSET_ENTRY } from './image-format.js';
import { findName } from './image-lookup.js';
import { imageRecords, readImage } from './image-reader.js';
import { compileImage } from './image-writer.js';
import { parsePresentationAll } from './presentation-parser.js';
import { formatRecord } from './presentation-writer.js';
import { digest } from './web-crypto.js';
import { zoneFromRecords, zoneRecords } from './zone.js';
import { simpleSchemeInput } from './zonemd.js';

const TEXT = `$ORIGIN example.
$TTL 300
@ SOA ns h 2026010101 7200 3600 1209600 300
@ NS ns
@ NSEC a.b.example. NS SOA NSEC
a.b NSEC ns.example. A NSEC
a.b A 192.0.2.1
ns NSEC sub.example. A NSEC
ns A 192.0.2.2
ns AAAA 2001:db8::2
sub NS ns.sub
sub NSEC example. NS NSEC
ns.sub A 192.0.2.53
x TYPE65000 \\# 2 0102
x NSEC example. TYPE65000 NSEC
`;

async function build(text = TEXT) {
  const zone = zoneFromRecords(await parsePresentationAll(text));
  const report = await verifyZone(zone, { now: Date.UTC(2026, 0, 2) });
  const image = await compileImage(zone, report);
  return { zone, report, image };
}

/** Re-seals an edited image so a check other than the digest is what refuses it. */
async function reseal(img: Uint8Array): Promise<Uint8Array> {
  const copy = img.slice();
  copy.fill(0, H.BODY_DIGEST, H.BODY_DIGEST + 32);
  copy.set(await digest('SHA-256', copy), H.BODY_DIGEST);
  return copy;
}

describe('zone image', () => {
  it('round-trips the zone and its verification results', async () => {
    const { zone, report, image } = await build();
    const img = await readImage(image);
    expect(img.originText).toBe('example.');
    expect(img.serial).toBe(2026010101);
    expect(img.recordCount).toBe(zone.recordCount);
    expect(img.zonemd).toBe(report.zonemd.status);
    expect(img.dnssec).toBe('unsigned'); // NSEC records alone do not make a zone signed
    expect(img.soaExpire).toBe(1209600);
    expect(img.expiresAt).toBe(Math.floor(report.expiresAt / 1000) * 1000);
    expect(img.verifiedAt).toBe(Date.UTC(2026, 0, 2));
    const back = [...imageRecords(img)].map(formatRecord);
    expect(back).toEqual([...zoneRecords(zone)].map(formatRecord));
    const again = zoneFromRecords(imageRecords(img));
    expect(hex(simpleSchemeInput(again))).toBe(hex(simpleSchemeInput(zone)));
  });

  it('puts the apex first and the names in canonical order, empty non-terminals included', async () => {
    const img = await readImage((await build()).image);
    const v = new DataView(img.bytes.buffer);
    const names: string[] = [];
    for (let k = 0; k < img.nameCount; k++) {
      const e = img.sections.names.offset + k * NAME_ENTRY;
      const o = img.sections.namedata.offset + v.getUint32(e + NE.NAME_OFF, true);
      names.push(nameToText(img.bytes.subarray(o, o + img.bytes[e + NE.NAME_LEN]!)));
    }
    expect(names).toEqual(['example.', 'b.example.', 'a.b.example.', 'ns.example.', 'sub.example.', 'ns.sub.example.', 'x.example.']);
    expect(img.apexIndex).toBe(0);
  });

  it('finds names by binary search and the covering NSEC for names that do not exist', async () => {
    const img = await readImage((await build()).image);
    const at = (n: string) => findName(img, nameFromText(n));
    expect(at('example.')).toEqual({ index: 0, exact: true, nsecName: 0 });
    expect(at('NS.Example.')).toMatchObject({ index: 3, exact: true, nsecName: 3 });
    expect(at('b.example.')).toMatchObject({ index: 1, exact: true, nsecName: 0 }); // empty non-terminal: NODATA
    expect(at('c.example.')).toMatchObject({ exact: false, nsecName: 2 }); // a.b.example. < c.example. < ns.example.
    expect(at('zz.example.')).toMatchObject({ index: 6, exact: false, nsecName: 6 });
    expect(at('below.ns.sub.example.')).toMatchObject({ index: 5, exact: false, nsecName: 4 }); // glue has no NSEC
    expect(at('com.')).toEqual({ index: -1, exact: false, nsecName: -1 });
  });

  it('groups RRSIGs with the RRset they cover', async () => {
    const text = TEXT + 'ns RRSIG A 8 2 300 20360101000000 20260101000000 1 example. AAAA\nns RRSIG AAAA 8 2 300 20360101000000 20260101000000 1 example. AAAA\n';
    const img = await readImage((await build(text)).image);
    const v = new DataView(img.bytes.buffer);
    const k = findName(img, nameFromText('ns.example.')).index;
    const e = img.sections.names.offset + k * NAME_ENTRY;
    const first = v.getUint32(e + NE.RRSET_FIRST, true);
    const sets: Array<[number, number, number]> = [];
    for (let s = first; s < first + v.getUint16(e + NE.RRSET_COUNT, true); s++) {
      const se = img.sections.rrsets.offset + s * RRSET_ENTRY;
      sets.push([v.getUint16(se + RE.TYPE, true), v.getUint16(se + RE.RR_COUNT, true), v.getUint16(se + RE.SIG_COUNT, true)]);
    }
    expect(sets).toEqual([
      [RRType.A, 1, 1],
      [RRType.AAAA, 1, 1],
      [RRType.NSEC, 1, 0],
    ]);
  });

  it('refuses every malformed image with a clear error', async () => {
    const { image } = await build();
    const refuse = async (bytes: Uint8Array, re: RegExp): Promise<void> => {
      const err = await readImage(bytes).catch((e) => e);
      expect(err).toBeInstanceOf(ZoneError);
      expect(err.code).toBe('image');
      expect(err.message).toMatch(re);
    };
    await refuse(image.subarray(0, 100), /shorter than the 256-byte header/);
    await refuse(image.subarray(0, image.length - 4), /truncated/);
    const flipped = image.slice();
    flipped[image.length - 10]! ^= 1;
    await refuse(flipped, /digest mismatch/);
    const magic = image.slice();
    magic[0] = 0;
    await refuse(magic, /bad magic/);
    const version = image.slice();
    new DataView(version.buffer).setUint16(H.VERSION_MAJOR, 2, true);
    await refuse(await reseal(version), /version 2\.1 is not supported/);
    const section = image.slice();
    new DataView(section.buffer).setUint32(H.SECTIONS + 8 * 5 + 4, image.length, true);
    await refuse(await reseal(section), /section rdata .* out of bounds/);
    const order = image.slice();
    const ov = new DataView(order.buffer);
    const img = await readImage(image);
    // point name 2's key at name 1's: no longer strictly increasing
    const e1 = img.sections.names.offset + NAME_ENTRY;
    const e2 = e1 + NAME_ENTRY;
    ov.setUint32(e2 + NE.KEY_OFF, ov.getUint32(e1 + NE.KEY_OFF, true), true);
    ov.setUint16(e2 + NE.KEY_LEN, ov.getUint16(e1 + NE.KEY_LEN, true), true);
    await refuse(await reseal(order), /not in canonical order/);
    const rd = image.slice();
    const rv = new DataView(rd.buffer);
    rv.setUint32(img.sections.rrsets.offset + RE.RDATA_OFF, 7, true);
    await refuse(await reseal(rd), /RDATA not contiguous/);
    const header = image.slice();
    new DataView(header.buffer).setUint32(H.HEADER_LENGTH, 3, true);
    await refuse(await reseal(header), /bad header length/);
    expect(HEADER_SIZE).toBe(256);
  });

  it('refuses an RRset too large for one DNS message, naming it (static_zone could never answer it)', async () => {
    const txt = Array.from({ length: 300 }, (_, i) => `big TXT "${'x'.repeat(240)}-${i}"`).join('\n');
    await expect(build(`${TEXT}big NSEC example. TXT NSEC\n${txt}\n`)).rejects.toThrow(
      /the RRset big\.example\. TXT is \d+ bytes in wire form with its signatures, more than one DNS message can carry .*\(65264\)/,
    );
    // a large one that fits is taken
    const fits = Array.from({ length: 200 }, (_, i) => `big TXT "${'x'.repeat(240)}-${i}"`).join('\n');
    await expect(build(`${TEXT}big NSEC example. TXT NSEC\n${fits}\n`)).resolves.toBeTruthy();
  });
});
