import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTrustAnchors } from '../zone/trust-anchor.js';
import { rootAnchors } from './root-anchors.js';

describe('built-in root anchors', () => {
  it('are the IANA root KSK DS records of test/fixtures/zones/root-anchors.ds', async () => {
    const fixture = await parseTrustAnchors(readFileSync(join(__dirname, '../../../test/fixtures/zones/root-anchors.ds')));
    const built = await rootAnchors();
    expect(built).toHaveLength(1);
    expect(built[0]!.owner).toEqual(new Uint8Array([0]));
    expect(built[0]!.ds.map((d) => Buffer.from(d).toString('hex'))).toEqual(fixture[0]!.ds.map((d) => Buffer.from(d).toString('hex')));
    expect(built[0]!.dnskey).toEqual([]);
  });
});
