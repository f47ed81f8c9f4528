import { describe, expect, it } from 'vitest';
import { Rcode, RRType } from '../dns/rr-types.js';
import { FLAG_AA, HEADER_LEN, concat, encodeOpt, nameToText, put16, textToName, type Question } from '../dns/wire.js';
import { buildResponse, parseResponse, type OutRecord, type RRset } from './message.js';
import { followChain, referralTo, scrub } from './scrub.js';

const n = textToName;
const rec = (owner: string, type: number, rdata: Uint8Array | number[], ttl = 300): OutRecord => ({
  owner: n(owner), type, class: 1, ttl, rdata: Uint8Array.from(rdata),
});
const a = (owner: string, last: number, ttl = 300) => rec(owner, RRType.A, [192, 0, 2, last], ttl);
const nameRd = (t: string) => n(t);
const q: Question = { name: n('www.example.'), type: RRType.A, class: 1 };

describe('responses', () => {
  it('parse into RRsets with their RRSIGs beside them, the smallest TTL, compressed names expanded', () => {
    const sigRd = new Uint8Array(30);
    put16(sigRd, 0, RRType.A);
    const sections: [OutRecord[], OutRecord[], OutRecord[]] = [
      [a('www.example.', 1, 300), a('www.example.', 2, 100), rec('www.example.', RRType.RRSIG, sigRd, 100)],
      [rec('example.', RRType.NS, nameRd('ns.example.'))],
      [a('ns.example.', 53)],
    ];
    const msg = buildResponse(q, FLAG_AA, Rcode.NOERROR, sections);
    // Owner names are compressed: www.example. three times (2 octets each), example. once, ns.example. once.
    const plain = HEADER_LEN + q.name.length + 4 + sections.flat().reduce((t, r) => t + r.owner.length + 10 + r.rdata.length, 0);
    expect(msg.length).toBe(plain - 3 * (13 - 2) - (9 - 2) - (12 - 5));
    const p = parseResponse(msg);
    expect(p.aa).toBe(true);
    const [an, ns, ar] = p.sections;
    expect(an).toHaveLength(1);
    expect(an[0]).toMatchObject({ type: RRType.A, ttl: 100, sigTtl: 100 });
    expect(an[0]!.rdatas).toHaveLength(2);
    expect(an[0]!.sigs).toHaveLength(1);
    expect(nameToText(ns[0]!.rdatas[0]!)).toBe('ns.example.');
    expect(ar[0]!.owner).toEqual(n('ns.example.'));
  });

  it('reads the extended rcode and the EDNS flags from OPT, and drops other classes', () => {
    const base = buildResponse(q, 0, 0, [[a('www.example.', 1), { ...a('www.example.', 9), class: 3 }], [], []]);
    const opt = encodeOpt(1232, 0x8000, [], 1); // extended rcode 1: BADVERS (16) with header rcode 0
    const msg = concat([base, opt]);
    put16(msg, 10, 1);
    const p = parseResponse(msg);
    expect(p.rcode).toBe(16);
    expect(p.edns).toEqual({ udpSize: 1232, flags: 0x8000, version: 0 });
    expect(p.sections[0][0]!.rdatas).toHaveLength(1);
  });

  it('refuses a malformed message', () => {
    const msg = buildResponse(q, 0, 0, [[a('www.example.', 1)], [], []]);
    expect(() => parseResponse(msg.subarray(0, msg.length - 2))).toThrow();
  });
});

describe('scrubbing', () => {
  const zone = n('example.');
  it('keeps only what the zone’s server may speak for, and only referenced addresses', () => {
    const msg = buildResponse(q, FLAG_AA, 0, [
      [a('www.example.', 1), a('www.victim.', 66)],
      [rec('example.', RRType.NS, nameRd('ns.example.')), rec('victim.', RRType.NS, nameRd('ns.evil.'))],
      [a('ns.example.', 53), a('ns.evil.', 66), a('mail.example.', 67)],
    ]);
    const s = scrub(parseResponse(msg), zone);
    expect(s.answer.map((x) => nameToText(x.owner))).toEqual(['www.example.']);
    expect(s.authority.map((x) => nameToText(x.owner))).toEqual(['example.']);
    expect(s.additional.map((x) => nameToText(x.owner))).toEqual(['ns.example.']);
    expect(s.dropped).toBe(4);
  });

  const rrset = (owner: string, type: number, rdata: Uint8Array, ttl = 300): RRset => ({ owner: n(owner), type, class: 1, ttl, rdatas: [rdata], sigs: [], sigTtl: 0 });

  it('follows DNAME before CNAME, synthesizing the CNAME, and notices loops and overlong names', () => {
    const answer = [
      rrset('old.example.', RRType.DNAME, n('new.example.')),
      rrset('www.old.example.', RRType.CNAME, n('forged.example.')),
      rrset('www.new.example.', RRType.A, Uint8Array.from([192, 0, 2, 1])),
    ];
    const c = followChain(answer, n('www.old.example.'), RRType.A);
    expect(c.links.map((l) => `${nameToText(l.set.owner)} ${l.synthesized}`)).toEqual(['old.example. false', 'www.old.example. true']);
    expect(nameToText(c.links[1]!.set.rdatas[0]!)).toBe('www.new.example.');
    expect(c.final).toHaveLength(1);
    const loop = followChain([rrset('a.example.', RRType.CNAME, n('b.example.')), rrset('b.example.', RRType.CNAME, n('a.example.'))], n('a.example.'), RRType.A);
    expect(loop.loop).toBe(true);
    const long = followChain([rrset('x.', RRType.DNAME, n(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(50)}.`))], n(`${'e'.repeat(20)}.x.`), RRType.A);
    expect(long.yxdomain).toBe(true);
  });

  it('takes the deepest referral below the zone and at or above the name (strictly above for DS)', () => {
    const auth = [
      rrset('example.', RRType.NS, n('ns.example.')),
      rrset('sub.example.', RRType.NS, n('ns.sub.example.')),
      rrset('other.', RRType.NS, n('ns.other.')),
    ];
    expect(nameToText(referralTo(auth, n('example.'), n('www.sub.example.'), false)!.owner)).toBe('sub.example.');
    expect(referralTo(auth, n('example.'), n('www.example.'), false)).toBeNull();
    expect(referralTo(auth, n('example.'), n('sub.example.'), true)).toBeNull();
    expect(referralTo(auth, n('sub.example.'), n('www.sub.example.'), false)).toBeNull();
  });
});
