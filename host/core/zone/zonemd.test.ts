import { describe, expect, it } from 'vitest';
import { hexUpper } from '../dns/bytes.js';
import { parsePresentationAll } from './presentation-parser.js';
import { zoneFromRecords } from './zone.js';
import { verifyZonemd, zoneDigest, zonemdAcceptable } from './zonemd.js';

// RFC 8976 appendix A.1
const SIMPLE = `example.      86400  IN  SOA     ns1 admin 2018031900 (
                                 1800 900 604800 86400 )
              86400  IN  NS      ns1
              86400  IN  NS      ns2
              86400  IN  ZONEMD  2018031900 1 1 (
                                 c68090d90a7aed71
                                 6bc459f9340e3d7c
                                 1370d4d24b7e2fc3
                                 a1ddc0b9a87153b9
                                 a9713b3c9ae5cc27
                                 777f98b8e730044c )
ns1           3600   IN  A       203.0.113.63
ns2           3600   IN  AAAA    2001:db8::63
`;

// RFC 8976 appendix A.2: occluded data, a duplicate, out-of-zone data, a wildcard, upper case.
const COMPLEX = `example.      86400  IN  SOA     ns1 admin 2018031900 (
                                 1800 900 604800 86400 )
              86400  IN  NS      ns1
              86400  IN  NS      ns2
              86400  IN  ZONEMD  2018031900 1 1 (
                                 a3b69bad980a3504
                                 e1cffcb0fd6397f9
                                 3848071c93151f55
                                 2ae2f6b1711d4bd2
                                 d8b39808226d7b9d
                                 b71e34b72077f8fe )
ns1           3600   IN  A       203.0.113.63
NS2           3600   IN  AAAA    2001:db8::63
occluded.sub  7200   IN  TXT     "I'm occluded but must be digested"
sub           7200   IN  NS      ns1
duplicate     300    IN  TXT     "I must be digested just once"
duplicate     300    IN  TXT     "I must be digested just once"
foo.test.     555    IN  TXT     "out-of-zone data must be excluded"
UPPERCASE     3600   IN  TXT     "canonicalize uppercase owner names"
*             777    IN  PTR     dont-forget-about-wildcards
mail          3600   IN  MX      20 MAIL1
mail          3600   IN  MX      10 Mail2.Example.
sortme        3600   IN  AAAA    2001:db8::5:61
sortme        3600   IN  AAAA    2001:db8::3:62
sortme        3600   IN  AAAA    2001:db8::4:63
sortme        3600   IN  AAAA    2001:db8::1:65
sortme        3600   IN  AAAA    2001:db8::2:64
non-apex      900    IN  ZONEMD  2018031900 1 1 (
                                 616c6c6f77656420
                                 6275742069676e6f
                                 7265642e20616c6c
                                 6f77656420627574
                                 2069676e6f726564
                                 2e20616c6c6f7765 )
`;

async function check(text: string) {
  return verifyZonemd(zoneFromRecords(await parsePresentationAll(text, { origin: 'example.' })));
}

describe('ZONEMD (RFC 8976)', () => {
  it('verifies the RFC 8976 A.1 example', async () => {
    const r = await check(SIMPLE);
    expect(r.status).toBe('verified');
    expect(r.verifiedWith).toEqual({ scheme: 1, algorithm: 1 });
  });

  it('verifies the RFC 8976 A.2 example: its out-of-zone data is left out, with a warning naming it', async () => {
    const z = zoneFromRecords(await parsePresentationAll(COMPLEX, { origin: 'example.' }));
    expect(z.warnings.join('\n')).toMatch(/ignoring out-of-zone data: foo\.test\./);
    expect((await verifyZonemd(z)).status).toBe('verified');
  });

  it('computes SHA-512 digests that verify', async () => {
    const z = zoneFromRecords(await parsePresentationAll(SIMPLE, { origin: 'example.' }));
    const d512 = hexUpper(await zoneDigest(z, 2));
    const r = await check(SIMPLE.replace(/ZONEMD[\s\S]*?\)/, `ZONEMD 2018031900 1 2 ${d512}`));
    expect(r.status).toBe('verified');
    expect(r.verifiedWith).toEqual({ scheme: 1, algorithm: 2 });
  });

  it('reports a changed record as mismatch', async () => {
    expect((await check(SIMPLE.replace('203.0.113.63', '203.0.113.64'))).status).toBe('mismatch');
  });

  it('ignores duplicate records as RFC 8976 §3.3.1.1 says, and refuses duplicate digests', async () => {
    expect((await check(SIMPLE + 'ns1 3600 IN A 203.0.113.63\n')).status).toBe('verified');
    const dup = SIMPLE.replace('ns1           3600', 'example. 86400 IN ZONEMD 2018031900 1 1 ' + 'ab'.repeat(48) + '\nns1           3600');
    const r = await check(dup);
    expect(r.status).toBe('mismatch');
    expect(r.reason).toMatch(/more than one ZONEMD record with scheme 1 and algorithm 1/);
  });

  it('reports serial-mismatch, unsupported and absent', async () => {
    const serial = await check(SIMPLE.replace('ZONEMD  2018031900', 'ZONEMD  2018031901'));
    expect(serial.status).toBe('serial-mismatch');
    const alg241 = await check(SIMPLE.replace('ZONEMD  2018031900 1 1', 'ZONEMD  2018031900 1 241'));
    expect(alg241.status).toBe('unsupported');
    expect(alg241.reason).toMatch(/scheme 1 algorithm 241/);
    const scheme2 = await check(SIMPLE.replace('ZONEMD  2018031900 1 1', 'ZONEMD  2018031900 2 1'));
    expect(scheme2.status).toBe('unsupported');
    const absent = await check(SIMPLE.replace(/\s+86400\s+IN\s+ZONEMD[\s\S]*?\)\n/, '\n'));
    expect(absent.status).toBe('absent');
  });

  it('verifies with one supported digest among unsupported ones', async () => {
    const both = SIMPLE.replace('ns1           3600', 'example. 86400 IN ZONEMD 2018031900 1 241 ' + 'cd'.repeat(20) + '\nns1           3600');
    expect((await check(both)).status).toBe('verified');
  });

  it('applies the policy', () => {
    expect(zonemdAcceptable('unsupported', 'verify-if-present')).toBe(true);
    expect(zonemdAcceptable('absent', 'verify-if-present')).toBe(true);
    expect(zonemdAcceptable('mismatch', 'verify-if-present')).toBe(false);
    expect(zonemdAcceptable('serial-mismatch', 'verify-if-present')).toBe(false);
    expect(zonemdAcceptable('unsupported', 'require')).toBe(false);
    expect(zonemdAcceptable('verified', 'require')).toBe(true);
    expect(zonemdAcceptable('mismatch', 'ignore')).toBe(true);
  });
});
