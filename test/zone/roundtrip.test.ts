import { describe, expect, it } from 'vitest';
import {
  encodeWireRecords,
  formatRecords,
  loadZone,
  parseAxfr,
  parsePresentationAll,
  parseWireRecords,
  RecordTable,
  simpleSchemeInput,
  zoneRecords,
  type ZoneRecord,
} from '../../host/core/zone/index.js';
import { fixtureStream, LOOKALIKE, ROOT_2023110400 } from './support/fixtures.js';

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function wireToRecords(wire: Uint8Array): Promise<ZoneRecord[]> {
  const t = new RecordTable();
  await parseWireRecords(wire, t);
  return t.toRecords();
}

/** Frames records as AXFR responses of at most `perMessage` RRs, SOA first and last. */
function axfr(records: ZoneRecord[], perMessage: number): Uint8Array {
  const soa = records.find((r) => r.type === 6)!;
  const body = [soa, ...records.filter((r) => r !== soa), soa];
  const parts: Uint8Array[] = [];
  for (let i = 0; i < body.length; i += perMessage) {
    const chunk = body.slice(i, i + perMessage);
    const rrs = encodeWireRecords(chunk);
    const msg = new Uint8Array(12 + rrs.length);
    msg.set([0, 0, 0x84, 0, 0, 0, chunk.length >> 8, chunk.length & 0xff, 0, 0, 0, 0]);
    msg.set(rrs, 12);
    parts.push(Uint8Array.of(msg.length >> 8, msg.length & 0xff), msg);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('round trips', () => {
  for (const file of [LOOKALIKE, ROOT_2023110400]) {
    it(`${file}: text → wire → text → wire is the identity`, async () => {
      const chunks: Uint8Array[] = [];
      for await (const c of fixtureStream(file)) chunks.push(c);
      const records = await parsePresentationAll(chunks, { file });
      const wire1 = encodeWireRecords(records);
      const text1 = formatRecords(await wireToRecords(wire1));
      const again = await parsePresentationAll(text1, { file: 'text1' });
      const wire2 = encodeWireRecords(again);
      expect(equalBytes(wire1, wire2)).toBe(true);
      expect(formatRecords(await wireToRecords(wire2))).toBe(text1);
    });
  }

  it('the lookalike loads the same from text, a wire RR stream and an AXFR stream', async () => {
    const fromText = await loadZone(fixtureStream(LOOKALIKE), { file: LOOKALIKE });
    const records = [...zoneRecords(fromText)];
    const fromWire = await loadZone(encodeWireRecords(records), { format: 'wire' });
    const t = new RecordTable();
    await parseAxfr(axfr(records, 500), t);
    const fromAxfr = await loadZone(axfr(records, 500), { format: 'axfr' });
    const digest = simpleSchemeInput(fromText);
    expect(equalBytes(simpleSchemeInput(fromWire), digest)).toBe(true);
    expect(equalBytes(simpleSchemeInput(fromAxfr), digest)).toBe(true);
    expect(t.count).toBe(fromText.recordCount);
  });
});
