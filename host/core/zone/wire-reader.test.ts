import { describe, expect, it } from 'vitest';
import { hex } from '../dns/wire.js';
import { ZoneError } from './errors.js';
import { parsePresentationAll } from './presentation-parser.js';
import { RecordTable } from './record-table.js';
import type { ZoneRecord } from './record.js';
import { encodeWireRecords, parseAxfr, parseWireRecords } from './wire-reader.js';

const TEXT = `$ORIGIN example.
$TTL 300
@ SOA ns1 hostmaster 7 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.1
@ MX 10 ns1
x TYPE65000 \\# 3 0A0B0C
`;

function* split(b: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.slice(i, i + size);
}

async function wireRecords(input: Uint8Array | Iterable<Uint8Array>): Promise<ZoneRecord[]> {
  const t = new RecordTable();
  await parseWireRecords(input, t, { file: 'w' });
  return t.toRecords();
}

/** A DNS response message holding `records`, names compressed where RFC 1035 allows. */
function message(records: ZoneRecord[], withQuestion: boolean): Uint8Array {
  const out: number[] = [0, 1, 0x84, 0, 0, withQuestion ? 1 : 0, 0, records.length, 0, 0, 0, 0];
  const names = new Map<string, number>();
  const writeName = (name: Uint8Array, compress: boolean): void => {
    let o = 0;
    while (name[o] !== 0) {
      const key = hex(name.subarray(o));
      const at = names.get(key);
      if (compress && at !== undefined) {
        out.push(0xc0 | (at >> 8), at & 0xff);
        return;
      }
      if (out.length < 0x3fff) names.set(key, out.length);
      out.push(...name.subarray(o, o + name[o]! + 1));
      o += name[o]! + 1;
    }
    out.push(0);
  };
  if (withQuestion) {
    writeName(records[0]!.owner, true);
    out.push(0, 252, 0, 1);
  }
  for (const r of records) {
    writeName(r.owner, true);
    out.push(r.type >> 8, r.type & 0xff, r.class >> 8, r.class & 0xff, (r.ttl >>> 24) & 0xff, (r.ttl >>> 16) & 0xff, (r.ttl >>> 8) & 0xff, r.ttl & 0xff);
    const lenAt = out.length;
    out.push(0, 0);
    if (r.type === 2) writeName(r.rdata, true); // NS: compressed target
    else if (r.type === 15) {
      out.push(r.rdata[0]!, r.rdata[1]!);
      writeName(r.rdata.subarray(2), true);
    } else out.push(...r.rdata);
    const len = out.length - lenAt - 2;
    out[lenAt] = len >> 8;
    out[lenAt + 1] = len & 0xff;
  }
  return Uint8Array.from(out);
}

function frame(msgs: Uint8Array[]): Uint8Array {
  const parts: number[] = [];
  for (const m of msgs) parts.push(m.length >> 8, m.length & 0xff, ...m);
  return Uint8Array.from(parts);
}

describe('wire-format input', () => {
  it('reads a stream of RRs in any chunking, unknown types as opaque RDATA', async () => {
    const text = await parsePresentationAll(TEXT);
    const wire = encodeWireRecords(text);
    for (const size of [1, 5, 17, wire.length]) {
      const got = await wireRecords(split(wire, size));
      expect(got.map((r) => hex(r.rdata))).toEqual(text.map((r) => hex(r.rdata)));
      expect(got.map((r) => r.type)).toEqual(text.map((r) => r.type));
    }
  });

  it('keeps its read buffer near one chunk plus one record on a long stream', async () => {
    // ~7.5 MB of 280-octet TXT records, in chunks that split records
    const txt = Uint8Array.from([255, ...new Uint8Array(255).fill(0x61)]);
    const records: ZoneRecord[] = [];
    for (let i = 0; i < 28_000; i++) {
      const label = new TextEncoder().encode(`r${i}`);
      records.push({ owner: Uint8Array.of(label.length, ...label, 7, ...new TextEncoder().encode('example'), 0), type: 16, class: 1, ttl: 60, rdata: txt });
    }
    const wire = encodeWireRecords(records);
    expect(wire.length).toBeGreaterThan(7_500_000);
    let largest = 0;
    const t = new (class extends RecordTable {
      override setOwner(src: Uint8Array, s: number, n: number): void {
        largest = Math.max(largest, src.length); // the reader's own buffer, where owners are read from
        super.setOwner(src, s, n);
      }
    })();
    expect(await parseWireRecords(split(wire, 65_537), t, { file: 'w' })).toBe(records.length);
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(256 * 1024);
    // one record larger than the buffer still arrives whole, in small chunks
    const big: ZoneRecord = { owner: Uint8Array.of(0), type: 16, class: 1, ttl: 60, rdata: new Uint8Array(65_280).fill(3) };
    for (let i = 0; i < big.rdata.length; i += 256) big.rdata[i] = 255;
    const got = await wireRecords(split(encodeWireRecords([big, records[0]!]), 100));
    expect(got.map((r) => r.rdata.length)).toEqual([65_280, txt.length]);
  });

  it('refuses truncated, malformed and mixed-class input', async () => {
    const wire = encodeWireRecords(await parsePresentationAll(TEXT));
    await expect(wireRecords(wire.subarray(0, wire.length - 2))).rejects.toThrow(/ends inside a record/);
    const badA = encodeWireRecords([{ owner: Uint8Array.of(0), type: 1, class: 1, ttl: 1, rdata: Uint8Array.of(1, 2, 3) }]);
    await expect(wireRecords(badA)).rejects.toThrow(/malformed A RDATA/);
    const pointer = Uint8Array.of(0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4);
    await expect(wireRecords(pointer)).rejects.toThrow(/malformed owner name/);
    const mixed = encodeWireRecords([
      { owner: Uint8Array.of(0), type: 1, class: 1, ttl: 1, rdata: Uint8Array.of(1, 2, 3, 4) },
      { owner: Uint8Array.of(0), type: 1, class: 3, ttl: 1, rdata: Uint8Array.of(1, 2, 3, 4) },
    ]);
    const err = await wireRecords(mixed).catch((e) => e);
    expect(err).toBeInstanceOf(ZoneError);
    expect(err.message).toMatch(/class 3 differs/);
    for (const cls of [0, 254, 255]) {
      const q = encodeWireRecords([{ owner: Uint8Array.of(0), type: 1, class: cls, ttl: 1, rdata: Uint8Array.of(1, 2, 3, 4) }]);
      await expect(wireRecords(q)).rejects.toThrow(`class ${cls} cannot appear in zone data`);
    }
  });

  it('reads AXFR-style message sequences, decompressing names, dropping the closing SOA', async () => {
    const recs = await parsePresentationAll(TEXT);
    const soa = recs[0]!;
    const stream = frame([message([soa, recs[1]!, recs[2]!], true), message([recs[3]!, recs[4]!, soa], false)]);
    for (const size of [3, 64, stream.length]) {
      const t = new RecordTable();
      const n = await parseAxfr(split(stream, size), t, { file: 'axfr' });
      expect(n).toBe(5);
      expect(t.toRecords().map((r) => hex(r.rdata))).toEqual(recs.map((r) => hex(r.rdata)));
    }
  });

  it('refuses an AXFR without its closing SOA, an error rcode, or data after the end', async () => {
    const recs = await parsePresentationAll(TEXT);
    const soa = recs[0]!;
    const t = (): RecordTable => new RecordTable();
    await expect(parseAxfr(frame([message([soa, recs[1]!], true)]), t())).rejects.toThrow(/no closing SOA/);
    const refused = message([soa], true);
    refused[3] = 5;
    await expect(parseAxfr(frame([refused]), t())).rejects.toThrow(/rcode 5/);
    await expect(parseAxfr(frame([message([soa, recs[1]!, soa], true), message([recs[2]!], false)]), t())).rejects.toThrow(/after the closing SOA/);
    await expect(parseAxfr(frame([message([recs[1]!, soa], true)]), t())).rejects.toThrow(/starts with the SOA/);
    const full = frame([message([soa, soa], true)]);
    await expect(parseAxfr(full.subarray(0, full.length - 3), t())).rejects.toThrow(/ends inside message/);
  });
});
