import { describe, expect, it } from 'vitest';
import { RRType } from '../dns/rr-types.js';
import { hex } from '../dns/wire.js';
import { ZoneError } from './errors.js';
import { checkRdata } from './rdata-wire.js';
import { parsePresentationAll } from './presentation-parser.js';
import { formatRecord } from './presentation-writer.js';
import type { ZoneRecord } from './record.js';

const HEAD = '$ORIGIN example.\n$TTL 3600\n';

async function one(line: string): Promise<ZoneRecord> {
  const recs = await parsePresentationAll(HEAD + line + '\n', { file: 't.zone' });
  expect(recs).toHaveLength(1);
  return recs[0]!;
}

/** text → wire → text → wire: the two wire forms and the two texts must agree. */
async function roundTrip(line: string): Promise<{ rec: ZoneRecord; text: string }> {
  const rec = await one(line);
  const text = formatRecord(rec);
  const again = await one(text);
  expect(hex(again.rdata)).toBe(hex(rec.rdata));
  expect(again.type).toBe(rec.type);
  expect(formatRecord(again)).toBe(text);
  return { rec, text };
}

const H64 = '0123456789abcdef'.repeat(4);
const KEY =
  'AwEAAcCxhPgrM8PdIk2jOX8pNrqaXzugn4w7utTejTl5NvqB87IkeOND1jXOv38geG3o5R9QEhrKQJwvKawme2P8d0xAWKrfVBVvXidVB+MFq/GmWG25dkwKnxP/UfztjiizyAmLhSnyfmY5JP8ZH1VS4s23ke3HqTIRHyFC24gjzKaBI1X6R5j7LTN3F08psvfyDev2T2Kekj7hY2a4Me91s4nKPhSAOenDG7qPNSqgCO0KoFykYpdvO9vztjnOOygM34s9hjfI8BJ8eFH62DndE3SLAW/pU8nqLNTyHv0/XtRVWzRPxGdpjXjreKW2+rCGPUesNaCM83BfoJSQojhazec=';

// Every type the issue lists, plus the other types the layout table knows.
const CASES: Array<[string, string]> = [
  ['A', 'a A 192.0.2.1'],
  ['NS', '@ NS ns1'],
  ['CNAME', 'www CNAME target.example.net.'],
  ['SOA', '@ SOA ns.example. admin.example. 2026010101 2h 1H 2w 300'],
  ['PTR', '1.2.0.192.in-addr.arpa. PTR host.example.'],
  ['MX', '@ MX 10 mail'],
  ['TXT', '@ TXT "hello world" second "with \\"quote\\" and \\\\ and \\010 and ;"'],
  ['AAAA', 'a AAAA 2001:db8::1'],
  ['SRV', '_sip._tcp SRV 10 60 5060 sip'],
  ['NAPTR', '@ NAPTR 100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .'],
  ['DNAME', 'old DNAME new.example.'],
  ['DS', `sub DS 12345 8 2 ${H64}`],
  ['DNSKEY', `@ DNSKEY 257 3 8 ${KEY}`],
  ['RRSIG', `@ RRSIG DNSKEY 8 1 3600 20360101000000 20260101000000 30167 example. ${KEY}`],
  ['NSEC', '@ NSEC next.example. A NS SOA RRSIG NSEC DNSKEY TYPE65000 CAA'],
  ['NSEC3', 'h NSEC3 1 1 10 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG'],
  ['NSEC3PARAM', '@ NSEC3PARAM 1 0 0 -'],
  ['CDS', `@ CDS 12345 13 2 ${H64}`],
  ['CDNSKEY', '@ CDNSKEY 0 3 0 AA=='],
  ['CSYNC', '@ CSYNC 66 3 A NS AAAA'],
  ['TLSA', `_443._tcp TLSA 3 1 1 ${H64}`],
  ['SMIMEA', `x._smimecert SMIMEA 3 1 1 ${H64}`],
  ['SSHFP', 'host SSHFP 2 1 123456789abcdef67890123456789abcdef67890'],
  ['CAA', '@ CAA 0 issue "letsencrypt.org; validationmethods=dns-01"'],
  ['SVCB', '_dns SVCB 1 dns.example. alpn=dot,h2 port=853 ipv4hint=192.0.2.1,192.0.2.2 ipv6hint=2001:db8::1 dohpath="/dns-query{?dns}" mandatory=alpn,port key65000="custom value" no-default-alpn ech=AEP+DQA/'],
  ['HTTPS', '@ HTTPS 1 . alpn="h2,h3" ipv4hint=192.0.2.10'],
  ['ZONEMD', `@ ZONEMD 2026010101 1 1 ${H64}${H64.slice(0, 32)}`],
  ['OPENPGPKEY', 'x._openpgpkey OPENPGPKEY mQINBFit2jsBEADrbl5vjVxYeAE0g0IDYCBpHirv1Sjlqxx5gjtPhb2YhvyDMXjq'],
  ['URI', '_ftp._tcp URI 10 1 "ftp://ftp1.example.com/public"'],
  ['LOC', 'loc LOC 52 22 23.000 N 4 53 32.000 E -2.00m 1.00m 10000.00m 10.00m'],
  ['HINFO', 'host HINFO "PC-Intel-700mhz" "Linux"'],
  ['EUI48', 'host EUI48 00-00-5e-00-53-2a'],
  ['EUI64', 'host EUI64 00-00-5e-ef-10-00-00-2a'],
  ['RP', '@ RP admin.example. txt.example.'],
  ['AFSDB', '@ AFSDB 1 afs.example.'],
  ['KX', '@ KX 10 kx.example.'],
  ['CERT', '@ CERT PGP 0 0 mQINBFit2jsBEADrbl5vjVxYeAE0g0IDYCBpHirv1Sjl'],
  ['DHCID', 'host DHCID AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA='],
  ['DSYNC', '_dsync DSYNC CDS 1 5359 rr-endpoint.example.'],
  ['SPF', '@ SPF "v=spf1 -all"'],
  ['NID', 'host NID 10 0014:4fff:ff20:ee64'],
  ['L32', 'host L32 10 10.1.2.0'],
  ['L64', 'host L64 10 2001:0db8:1140:1000'],
  ['LP', 'host LP 10 l64-subnet1.example.'],
  ['MINFO', '@ MINFO admin.example. errors.example.'],
  ['X25', 'host X25 "311061700956"'],
  ['GPOS', 'host GPOS "-32.6882" "116.8652" "10.0"'],
  ['RT', 'host RT 10 relay.example.'],
  ['PX', '@ PX 10 net2.it. PRMD-net2.ADMD-p400.C-it.'],
  ['RESINFO', '@ RESINFO qnamemin exterr=15,16,17 "infourl=https://resolver.example.com/guide"'],
  ['TA', `@ TA 12345 8 2 ${H64}`],
  ['DLV', `@ DLV 12345 8 2 ${H64}`],
];

describe('RDATA in presentation format', () => {
  for (const [type, line] of CASES) {
    it(`${type} parses and round-trips`, async () => {
      const { rec } = await roundTrip(line);
      expect(rec.type).toBe(RRType[type as keyof typeof RRType]);
    });
  }

  it('encodes the common types exactly', async () => {
    expect(hex((await one('a A 192.0.2.1')).rdata)).toBe('c0000201');
    expect(hex((await one('a AAAA ::ffff:192.0.2.1')).rdata)).toBe('00000000000000000000ffffc0000201');
    expect(hex((await one('@ MX 10 mail')).rdata)).toBe('000a046d61696c076578616d706c6500');
    expect(hex((await one('@ TXT "a\\"b" c\\032d \\255')).rdata)).toBe('03612262' + '0363206' + '4' + '01ff');
    expect(hex((await one('@ NSEC a.example. A MX RRSIG NSEC TYPE1234')).rdata)).toBe(
      '01610765' + '78616d706c6500' + '0006400100000003' + '04' + '1b' + '00'.repeat(26) + '20',
    );
    const loc = await one('loc LOC 42 21 54 N 71 06 18 W -24m 30m');
    expect(hex(loc.rdata)).toBe('00331613' + '89172dd0' + '70be15f0' + '00988d20');
  });

  // RFC 9460 appendix D test vectors
  it('encodes SVCB like RFC 9460 appendix D', async () => {
    const rd = async (s: string): Promise<string> => hex((await one(`example.com. ${s}`)).rdata);
    expect(await rd('HTTPS 0 foo.example.com.')).toBe('000003666f6f076578616d706c6503636f6d00');
    expect(await rd('SVCB 1 .')).toBe('000100');
    expect(await rd('SVCB 16 foo.example.com. port=53')).toBe('001003666f6f076578616d706c6503636f6d00' + '000300020035');
    expect(await rd('SVCB 1 foo.example.com. key667=hello')).toBe('000103666f6f076578616d706c6503636f6d00' + '029b000568656c6c6f');
    expect(await rd('SVCB 1 foo.example.com. key667="hello\\210qoo"')).toBe(
      '000103666f6f076578616d706c6503636f6d00' + '029b000968656c6c6fd2716f6f',
    );
    expect(await rd('SVCB 1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1"')).toBe(
      '000103666f6f076578616d706c6503636f6d00' + '00060020' + '20010db8000000000000000000000001' + '20010db8000000000000000000530001',
    );
    expect(await rd('SVCB 16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1')).toBe(
      '001003666f6f076578616d706c65036f726700' + '0000000400010004' + '000100090268320568332d3139' + '00040004c0000201',
    );
    expect(await rd('SVCB 16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"')).toBe(
      '001003666f6f076578616d706c65036f726700' + '0001000c' + '08665c6f6f2c626172' + '026832',
    );
    expect(await rd('SVCB 16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2')).toBe(
      '001003666f6f076578616d706c65036f726700' + '0001000c' + '08665c6f6f2c626172' + '026832',
    );
  });

  it('refuses the RFC 9460 appendix D.3 failure cases', async () => {
    for (const bad of [
      'SVCB 1 foo.example.com. key123=abc key123=def',
      'SVCB 1 foo.example.com. mandatory',
      'SVCB 1 foo.example.com. alpn',
      'SVCB 1 foo.example.com. port',
      'SVCB 1 foo.example.com. ipv4hint',
      'SVCB 1 foo.example.com. ipv6hint',
      'SVCB 1 foo.example.com. no-default-alpn=abc',
      'SVCB 1 foo.example.com. mandatory=key123,key123',
      'SVCB 1 foo.example.com. port=65536',
      'SVCB 1 foo.example.com. unknownkey=1',
    ]) {
      await expect(one(`example.com. ${bad}`), bad).rejects.toThrow(ZoneError);
    }
  });

  it('checks the mandatory list (RFC 9460 §8, appendix D.3) in text and in wire form', async () => {
    for (const [bad, re] of [
      ['SVCB 1 foo.example.com. mandatory=key123', /mandatory: key123 is mandatory but absent/],
      ['HTTPS 1 . alpn=h2 mandatory=alpn,port', /mandatory: port is mandatory but absent/],
      ['SVCB 1 foo.example.com. mandatory=mandatory', /mandatory must not list itself/],
      ['SVCB 1 foo.example.com. mandatory=key123,key123 key123=abc', /duplicate key in mandatory/],
      ['SVCB 1 . mandatory=port,port port=53', /duplicate key in mandatory/],
      // the same, arriving as wire RDATA
      ['SVCB \\# 9 000100 000000020000', /mandatory lists itself/],
      ['SVCB \\# 9 000100 000000020003', /port is mandatory but absent/],
      ['SVCB \\# 17 000100 0000000400030003 000300020035', /not in strictly increasing order/],
      ['HTTPS \\# 24 000100 0000000400030001 00010003026832 000300020035', /not in strictly increasing order/],
    ] as Array<[string, RegExp]>) {
      const err = await one(`example.com. ${bad}`).catch((e) => e);
      expect(err, bad).toBeInstanceOf(ZoneError);
      expect(err.message, bad).toMatch(re);
    }
    // listed in any order in text, sorted on the wire
    const ok = await one('example.com. HTTPS 1 . port=443 alpn=h2 mandatory=port,alpn');
    expect(hex(ok.rdata)).toBe('000100' + '0000000400010003' + '00010003026832' + '0003000201bb');
  });
});

// Encodings checked against ldns-read-zone 1.8.3 (`-U SOA` prints them in \# form); AMTRELAY,
// which ldns does not know, against the RFC 8777 §4 layout.
const IPSEC_KEY = 'AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==';
const IPSEC_KEY_HEX = '010351537986ed35533b6064478eeeb27b5bd74dae149b6e81ba3a0521af82ab7801';
const HIP_KEY =
  'AwEAAbdxyhNuSutc5EMzxTs9LBPCIkOFH8cIvM4p9+LrV4e19WzK00+CI6zBCQTdtWsuxKbWIy87UOoJTwkUs7lBu+Upr1gsNrut79ryra+bSRGQb1slImA8YVJyuIDsj7kwzG7jnERNqnWxZ48AWkskmdHaVDP4BcelrTI3rMXdXF5D';
const WIRE_CASES: Array<[string, string, string?]> = [
  ['w WKS 192.0.2.1 TCP ftp smtp 80 domain', 'c0000201060000044000000400000080', '192.0.2.1 6 21 25 53 80'],
  ['w WKS 192.0.2.1 17 53', 'c00002011100000000000004', '192.0.2.1 17 53'],
  ['w WKS 192.0.2.1 udp', 'c000020111'],
  ['apl APL 1:192.168.32.0/21 !1:192.168.38.0/28 2:ff00::/8 1:0.0.0.0/0', '00011503c0a82000011c83c0a82600020801ff00010000'],
  ['apl APL', ''],
  [`i IPSECKEY 10 1 2 192.0.2.38 ${IPSEC_KEY}`, '0a0102c0000226' + IPSEC_KEY_HEX],
  [`i IPSECKEY 10 0 2 . ${IPSEC_KEY}`, '0a0002' + IPSEC_KEY_HEX],
  [`i IPSECKEY 10 3 2 mygateway.Example.com. ${IPSEC_KEY}`, '0a0302096d7967617465776179074578616d706c6503636f6d00' + IPSEC_KEY_HEX],
  [`i IPSECKEY 10 2 2 2001:0DB8:0:8002::2000:1 ${IPSEC_KEY}`, '0a020220010db8000080020000000020000001' + IPSEC_KEY_HEX],
  ['i IPSECKEY 10 1 0 192.0.2.3', '0a0100c0000203'],
  ['i IPSECKEY 10 3 0 gw', '0a0300026777076578616d706c6500', '10 3 0 gw.example.'],
  [
    `h HIP 2 200100107B1A74DF365639CC39F1D578 ${HIP_KEY} rvs1.Example.com. rvs2.example.com.`,
    '10020084200100107b1a74df365639cc39f1d57803010001b771ca136e4aeb5ce44333c53b3d2c13c22243851fc708bcce29f7e2eb5787b5f56ccad34f8223acc10904ddb56b2ec4a6d6232f3b50ea094f0914b3b941bbe529af582c36bbadefdaf2adaf9b4911906f5b2522603c615272b880ec8fb930cc6ee39c444daa75b1678f005a4b2499d1da5433f805c7a5ad3237acc5dd5c5e430472767331074578616d706c6503636f6d000472767332076578616d706c6503636f6d00',
  ],
  ['h HIP 2 2001 AQID', '020200032001010203'],
  ['a AMTRELAY 10 0 1 203.0.113.15', '0a01cb00710f'],
  ['a AMTRELAY 10 0 2 2001:db8::15', '0a0220010db8000000000000000000000015'],
  ['a AMTRELAY 128 1 3 amtrelays.Example.com.', '808309616d7472656c617973074578616d706c6503636f6d00'],
  ['a AMTRELAY 128 1 0 .', '8080'],
  ['a AMTRELAY 0 0 0', '0000', '0 0 0 .'],
];

describe('WKS, APL, IPSECKEY, HIP and AMTRELAY', () => {
  for (const [line, wire, text] of WIRE_CASES) {
    it(line.slice(0, 60), async () => {
      const { rec, text: out } = await roundTrip(line);
      expect(hex(rec.rdata)).toBe(wire);
      if (text) expect(out.split('\t')[4]).toBe(text);
    });
  }

  it('keeps RDATA that text cannot spell in \\# form, so signatures over it still verify', async () => {
    // a later RFC's gateway / relay type, an APL family without text form, WKS and HIP edge cases
    for (const line of [
      'i IPSECKEY \\# 6 0A0402AABBCC',
      'a AMTRELAY \\# 4 0A05AABB',
      'apl APL \\# 6 000308020A0B',
      'w WKS \\# 7 C000020106 4000',
      'h HIP \\# 5 0002000100',
    ]) {
      const { text } = await roundTrip(line);
      expect(text, line).toMatch(/\t\\# /);
    }
  });

  it('refuses malformed RDATA in text and in generic form', async () => {
    for (const [line, re] of [
      ['w WKS 192.0.2.1 icmp 7', /WKS: unknown protocol "icmp"/],
      ['w WKS 192.0.2.1 tcp nosuchservice', /WKS: unknown service "nosuchservice"/],
      // names an object has of its own, not in the tables: errors, not protocol or port 0
      ['w WKS 192.0.2.1 constructor 25', /WKS: unknown protocol "constructor"/],
      ['w WKS 192.0.2.1 tcp __proto__', /WKS: unknown service "__proto__"/],
      ['w WKS 192.0.2.1 tcp 65536', /unknown service "65536"/],
      ['apl APL 3:192.0.2.0/24', /address family must be 1 \(IPv4\) or 2 \(IPv6\)/],
      ['apl APL 1:192.0.2.0/33', /prefix length must be 0..32/],
      ['apl APL 1:192.0.2.0', /no prefix length/],
      ['apl APL 2:192.0.2.0/8', /bad IPv6 address/],
      ['apl APL \\# 5 0001180201', /not valid APL RDATA/], // afdlength 2 but one octet
      ['apl APL \\# 6 000118020100', /not valid APL RDATA/], // trailing zero octet
      ['i IPSECKEY 10 1 2 2001:db8::1 AQID', /IPSECKEY: expected an IPv4 address for type 1/],
      ['i IPSECKEY 10 0 2 gw AQID', /type 0 has no address, write "\."/],
      ['i IPSECKEY 10 4 2 x AQID', /gateway type 4 has no text form/],
      ['i IPSECKEY 10 1 2 192.0.2.1 !!', /bad base64/],
      ['i IPSECKEY 10 1', /IPSECKEY RDATA is missing a field/],
      ['i IPSECKEY \\# 4 0A010203', /not valid IPSECKEY RDATA/],
      ['a AMTRELAY 10 2 1 192.0.2.1', /expected a number \(0..1\)/],
      ['a AMTRELAY 10 0 1 192.0.2.1 extra', /unexpected "extra"/],
      ['a AMTRELAY 10 0 1', /missing the relay/],
      ['a AMTRELAY \\# 3 0A0100', /not valid AMTRELAY RDATA/],
      ['h HIP 2 XYZ AQID', /HIP: bad hex in the HIT/],
      ['h HIP 2 2001', /HIP RDATA needs an algorithm, a HIT and a public key/],
      ['h HIP \\# 6 020200052001', /not valid HIP RDATA/],
    ] as Array<[string, RegExp]>) {
      const err = await one(line).catch((e) => e);
      expect(err, line).toBeInstanceOf(ZoneError);
      expect(err.message, line).toMatch(re);
    }
  });
});

describe('RFC 3597 generic forms', () => {
  it('reads \\# for any type, known or not, and TYPEnnn / CLASSnnn', async () => {
    const a = await one('a TYPE1 \\# 4 C0000201');
    expect(a.type).toBe(1);
    expect(hex(a.rdata)).toBe('c0000201');
    const u = await one('u CLASS1 TYPE65000 \\# 6 DEAD BEEF 0102');
    expect(u.type).toBe(65000);
    expect(u.class).toBe(1);
    expect(hex(u.rdata)).toBe('deadbeef0102');
    const empty = await one('e TYPE65001 \\# 0');
    expect(empty.rdata.length).toBe(0);
    const known = await one('k ZONEMD \\# 54 7894A34B 01 01 ' + 'ab'.repeat(48));
    expect(known.type).toBe(RRType.ZONEMD);
  });

  it('writes unknown types as TYPEnnn \\# and reads them back identically', async () => {
    const { text } = await roundTrip('u TYPE65000 \\# 3 010203');
    expect(text).toMatch(/TYPE65000\t\\# 3 010203$/);
    const { text: empty } = await roundTrip('u TYPE65001 \\# 0');
    expect(empty).toMatch(/\\# 0$/);
  });

  it('writes a type it knows but has no text format for (NULL) in \\# form', async () => {
    const { text } = await roundTrip('n NULL \\# 2 ABCD');
    expect(text).toMatch(/NULL\t\\# 2 ABCD$/);
  });

  it('checks generic RDATA of a known type against that type', async () => {
    await expect(one('a A \\# 3 C00002')).rejects.toThrow(/not valid A RDATA/);
    await expect(one('a TYPE1 \\# 4 C00002')).rejects.toThrow(/length is 4 but the hex holds 3/);
    await expect(one('a TYPE1 \\# 2 C0000201')).rejects.toThrow(/length is 2/);
    await expect(one('a TYPE1 \\# x')).rejects.toThrow(/bad generic RDATA length/);
  });

  it('never maps an unknown mnemonic to type 0: it is an error with file:line:column', async () => {
    const err = await parsePresentationAll(HEAD + 'a 300 IN A 192.0.2.1\nb 300 IN FOOBAR 1 2 3\n', { file: 'z.zone' }).catch((e) => e);
    expect(err).toBeInstanceOf(ZoneError);
    expect(err.code).toBe('unknown-type');
    expect(err.message).toBe('z.zone:4:10: unknown RR type "FOOBAR"');
    const inner = await parsePresentationAll(HEAD + 'n NSEC next.example. A NOSUCHTYPE\n', { file: 'z.zone' }).catch((e) => e);
    expect(inner.message).toBe('z.zone:3:24: unknown RR type "NOSUCHTYPE"');
  });

  it('refuses the classes zone data cannot have, however written, and names an unknown class as one', async () => {
    for (const line of ['a CLASS0 A 192.0.2.1', 'a CLASS254 A 192.0.2.1', 'a CLASS255 A 192.0.2.1', 'a ANY A 192.0.2.1', 'a 300 NONE A 192.0.2.1', 'a any TXT "x"']) {
      const err = await one(line).catch((e) => e);
      expect(err, line).toBeInstanceOf(ZoneError);
      expect(err.message, line).toMatch(/^t\.zone:3:\d+: class \S+ cannot appear in zone data \(0 is reserved, NONE and ANY are query classes\)$/);
    }
    for (const [line, re] of [
      ['a 300 XX A 192.0.2.1', /^t\.zone:3:7: unknown class "XX" \(IN, CH, HS or CLASSnnn; if "XX" is a type, write it TYPEnnn\)$/],
      ['a CLASS65536 A 192.0.2.1', /^t\.zone:3:3: unknown class "CLASS65536" \(CLASSnnn goes up to 65535\)$/],
    ] as Array<[string, RegExp]>) {
      const err = await one(line).catch((e) => e);
      expect(err.code, line).toBe('unknown-class');
      expect(err.message, line).toMatch(re);
    }
    // the zone classes still load, and a word no type follows is still an unknown type
    expect((await one('a CLASS1 A 192.0.2.1')).class).toBe(1);
    expect((await one('a CH TXT "x"')).class).toBe(3);
    expect((await one('a CLASS65535 TYPE1 \\# 4 C0000201')).class).toBe(65535);
    expect((await one('a 300 XX 1 2').catch((e) => e)).code).toBe('unknown-type');
  });

  it('refuses TYPE0, meta types and TYPE numbers above 65535', async () => {
    await expect(one('a TYPE0 \\# 0')).rejects.toThrow(/cannot appear in zone data/);
    await expect(one('a ANY \\# 0')).rejects.toThrow(/cannot appear in zone data/);
    await expect(one('a OPT \\# 0')).rejects.toThrow(/cannot appear in zone data/);
    await expect(one('a TYPE65536 \\# 0')).rejects.toThrow(/unknown RR type/);
  });
});

describe('bad RDATA is a clear error at its token', () => {
  const cases: Array<[string, RegExp]> = [
    ['a A 192.0.2', /3:5: bad IPv4 address "192.0.2"/],
    ['a A 192.0.2.256', /bad IPv4 address/],
    ['a A 192.0.2.1 extra', /3:15: unexpected "extra" after the A RDATA/],
    ['a AAAA 2001:db8:::1', /bad IPv6 address/],
    ['@ MX 70000 mail', /expected a number \(0..65535\)/],
    ['@ MX 10', /MX RDATA is missing a domain name/],
    ['@ SOA ns admin 1 2 3 4', /SOA RDATA is missing a time value/],
    ['@ DS 1 8 2 XYZ', /bad hex/],
    ['@ DNSKEY 257 3 8 !!!!', /bad base64/],
    ['@ RRSIG A 8 1 3600 20361301000000 20260101000000 1 example. AA==', /bad signature time/],
    ['@ TXT "unterminated', /quoted string not closed/],
    ['@ TXT ' + '"' + 'x'.repeat(256) + '"', /character string longer than 255 octets/],
    ['@ CAA 0 is-sue "x"', /CAA tag/],
    ['@ EUI48 00-00-5e-00-53', /bad EUI-48/],
    ['@ LOC 91 0 0 N 0 0 0 E 0m', /LOC: degrees must be 0..90/],
    ['@ NSEC3PARAM 1 0 0 ABC', /bad hex in salt/],
    ['a CNAME a..example.', /empty label/],
    ['a CNAME ' + 'x'.repeat(64) + '.example.', /label longer than 63 octets/],
  ];
  for (const [line, re] of cases) {
    it(line.slice(0, 50), async () => {
      const err = await one(line).catch((e) => e);
      expect(err).toBeInstanceOf(ZoneError);
      expect(err.message).toMatch(re);
      expect(err.message).toMatch(/^t\.zone:3:\d+: /);
    });
  }

  it('takes the DSYNC scheme mnemonic NOTIFY (RFC 9859 §2.1, as BIND writes it) as scheme 1', async () => {
    const a = await one('_dsync DSYNC CDS NOTIFY 5359 rr-endpoint.example.');
    const b = await one('_dsync DSYNC CDS 1 5359 rr-endpoint.example.');
    expect(hex(a.rdata)).toBe(hex(b.rdata));
    expect((await one('_dsync DSYNC CDS notify 5359 rr-endpoint.example.')).rdata).toEqual(b.rdata);
    await expect(one('_dsync DSYNC CDS NOTIFYX 5359 rr-endpoint.example.')).rejects.toThrow(ZoneError);
  });

  it('refuses an NSEC3 whose next hashed owner is not 20 octets for SHA-1, in text and in wire form', async () => {
    // 2T7B4G4VSA5SMI47K61MV5BV is 24 base32hex digits: 15 octets.
    await expect(one('h NSEC3 1 1 10 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV A RRSIG')).rejects.toThrow(/t\.zone:3:\d+: NSEC3: the next hashed owner name is 15 octets; hash algorithm 1 makes 20/);
    const good = await one('h NSEC3 1 1 10 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG');
    expect(checkRdata(RRType.NSEC3, good.rdata)).toBeNull();
    const short = new Uint8Array([...good.rdata.subarray(0, 9), 19, ...good.rdata.subarray(10, 29), ...good.rdata.subarray(30)]);
    expect(checkRdata(RRType.NSEC3, short)).toMatch(/19 octets; hash algorithm 1 makes 20/);
    // An algorithm with no known length is not judged.
    await one('h NSEC3 99 1 10 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV A RRSIG');
  });
});
