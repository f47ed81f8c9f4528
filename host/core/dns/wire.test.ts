import { describe, expect, it } from 'vitest';
import {
  buildQuery, nameToText, parseQuery, readName, stripOpt, textToName, truncateResponse, walkRecords, WireError,
  appendOpt, encodeOpt, FLAG_TC, u16,
} from './wire.js';
import { countLabels, isSubdomain, lowerName, nameEquals, nameFromText, parentName, wireNameLength } from './name.js';
import { RRType, typeFromName, typeToName, classFromName } from './rr-types.js';

describe('names', () => {
  it('round-trips presentation names with escapes', () => {
    for (const t of ['.', 'example.com.', 'a\\.b.example.', 'x\\032y.', '\\255\\000.', '*.example.']) {
      expect(nameToText(textToName(t))).toBe(t);
    }
  });
  it('makes relative names absolute against the origin', () => {
    const origin = textToName('example.com.');
    expect(nameToText(textToName('www', origin))).toBe('www.example.com.');
    expect(nameToText(textToName('@', origin))).toBe('example.com.');
  });
  it('rejects overlong labels and names', () => {
    expect(() => textToName('a'.repeat(64) + '.')).toThrow(WireError);
    expect(() => textToName(('a'.repeat(63) + '.').repeat(4))).toThrow(/255/);
    expect(() => textToName('a..b.')).toThrow(/empty label/);
    expect(() => textToName('a\\999.')).toThrow(/above 255/);
  });
  it('names the text in its errors and refuses characters no octet can hold', () => {
    expect(() => textToName('a..b.')).toThrow('empty label in name: "a..b."');
    expect(() => textToName('www')).toThrow(/relative name/);
    expect(() => textToName('@')).toThrow(/"@"/);
    expect(() => textToName('\u0100.')).toThrow(WireError);
    // one character is one octet, so a name the text shows as \DDD comes back the same
    expect(textToName('\u00e9.')).toEqual(new Uint8Array([1, 0xe9, 0]));
  });
  it('reads UTF-8 origins for the zone parser and measures uncompressed names', () => {
    expect(nameFromText('\u00e9.')).toEqual(new Uint8Array([2, 0xc3, 0xa9, 0]));
    expect(() => nameFromText('example')).toThrow(/absolute/);
    const n = textToName('www.Example.');
    expect(wireNameLength(n, 0, n.length)).toBe(n.length);
    expect(wireNameLength(n, 0, n.length - 1)).toBe(-1); // a stream would wait for the rest
    expect(wireNameLength(new Uint8Array([0xc0, 12]), 0, 2)).toBe(-2); // a pointer: malformed
    expect(wireNameLength(new Uint8Array([64, ...new Array(65).fill(97)]), 0, 66)).toBe(-2);
    expect(countLabels(n)).toBe(2);
    expect(nameToText(lowerName(n))).toBe('www.example.');
    const lower = textToName('a.b.');
    expect(lowerName(lower)).toBe(lower); // nothing to lower: no copy
    expect(nameEquals(n, textToName('WWW.example.'))).toBe(true);
    expect(nameEquals(n, textToName('www.example.org.'))).toBe(false);
  });
  it('follows compression pointers and refuses loops', () => {
    // header(12) + "\x03com\x00" at 12, then "\x03www" + ptr to 12 at 17
    const msg = new Uint8Array([...new Array(12).fill(0), 3, 99, 111, 109, 0, 3, 119, 119, 119, 0xc0, 12]);
    expect(nameToText(readName(msg, 17).name)).toBe('www.com.');
    const loop = new Uint8Array([...new Array(12).fill(0), 0xc0, 12]);
    expect(() => readName(loop, 12)).toThrow(/backwards/);
    const forward = new Uint8Array([...new Array(12).fill(0), 0xc0, 14, 0]);
    expect(() => readName(forward, 12)).toThrow(/backwards/);
  });
});

describe('types', () => {
  it('never maps an unknown mnemonic to type 0', () => {
    expect(typeFromName('ZONEMD')).toBe(63);
    expect(typeFromName('svcb')).toBe(64);
    expect(typeFromName('TYPE65534')).toBe(65534);
    expect(typeFromName('TYPE65536')).toBeUndefined();
    expect(typeFromName('NOSUCHTYPE')).toBeUndefined();
    expect(typeToName(65280)).toBe('TYPE65280');
    expect(classFromName('CLASS32')).toBe(32);
  });
});

describe('messages', () => {
  it('parses a query with EDNS', () => {
    const q = buildQuery({ name: textToName('Example.COM.'), type: RRType.AAAA, class: 1 }, { id: 77, udpSize: 1232, do: true });
    const p = parseQuery(q);
    expect(p.header.id).toBe(77);
    expect(p.question && nameToText(p.question.name)).toBe('Example.COM.');
    expect(p.edns?.udpSize).toBe(1232);
    expect(p.edns?.flags).toBe(0x8000);
  });
  it('strips and appends OPT, and truncates', () => {
    const q = buildQuery({ name: textToName('a.'), type: 1, class: 1 }, { udpSize: 4096 });
    const bare = stripOpt(q);
    expect(u16(bare, 10)).toBe(0);
    expect(bare.length).toBe(q.length - 11);
    const again = appendOpt(bare, encodeOpt(4096, 0));
    expect(again).toEqual(q);
  });
  it('rejects garbage without throwing anything but WireError', () => {
    let rnd = 1;
    for (let i = 0; i < 5000; i++) {
      const len = i % 80;
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = (rnd = (rnd * 1103515245 + 12345) >>> 0) >>> 24;
      try {
        parseQuery(b);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    }
  });
});

describe('isSubdomain and parentName', () => {
  it('tests bailiwick label by label, ignoring case', () => {
    const n = (t: string) => textToName(t);
    expect(isSubdomain(n('www.Example.COM.'), n('example.com.'))).toBe(true);
    expect(isSubdomain(n('example.com.'), n('example.com.'))).toBe(true);
    expect(isSubdomain(n('anything.'), n('.'))).toBe(true);
    // A label boundary matters: "badexample.com." ends with the bytes of "example.com." minus its length octet.
    expect(isSubdomain(n('badexample.com.'), n('example.com.'))).toBe(false);
    expect(isSubdomain(n('x.bexample.com.'), n('example.com.'))).toBe(false);
    expect(isSubdomain(n('com.'), n('example.com.'))).toBe(false);
    expect(nameToText(parentName(n('www.example.com.')))).toBe('example.com.');
    expect(nameToText(parentName(n('com.')))).toBe('.');
    expect(nameToText(parentName(n('.')))).toBe('.');
  });
});

describe('truncateResponse (RFC 2181 §9): only what does not fit is dropped, TC only when the answer is cut', () => {
  const rr = (name: string, type: number, rdata: Uint8Array) => {
    const n = textToName(name);
    const out = new Uint8Array(n.length + 10 + rdata.length);
    out.set(n, 0);
    const v = new DataView(out.buffer);
    v.setUint16(n.length, type);
    v.setUint16(n.length + 2, 1);
    v.setUint32(n.length + 4, 300);
    v.setUint16(n.length + 8, rdata.length);
    out.set(rdata, n.length + 10);
    return out;
  };
  const a = (name: string) => rr(name, RRType.A, new Uint8Array([192, 0, 2, 1]));
  const ns = (name: string, target: string) => rr(name, RRType.NS, textToName(target));
  const txt = (name: string, len: number) => rr(name, RRType.TXT, new Uint8Array([len - 1, ...new Uint8Array(len - 1).fill(0x61)]));
  function response(qname: string, sections: Uint8Array[][], rcode = 0): Uint8Array {
    const q = buildQuery({ name: textToName(qname), type: 1, class: 1 }, { id: 9 });
    const parts = [q, ...sections.flat()];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    const v = new DataView(out.buffer);
    v.setUint16(2, 0x8180 | rcode);
    sections.forEach((sec, i) => v.setUint16(6 + 2 * i, sec.length));
    return out;
  }
  const opt = encodeOpt(1232, 0);
  const glue = Array.from({ length: 13 }, (_, i) => a(`ns${i}.example.test.`));
  const nsSet = Array.from({ length: 13 }, (_, i) => ns('example.test.', `ns${i}.example.test.`));

  it('drops the additional section first, without TC, and keeps the OPT', () => {
    const msg = appendOpt(response('www.example.test.', [[a('www.example.test.')], nsSet.slice(0, 2), glue]), opt);
    const out = truncateResponse(msg, 200, opt);
    expect(out.length).toBeLessThanOrEqual(200);
    expect(u16(out, 2) & FLAG_TC).toBe(0);
    expect([u16(out, 6), u16(out, 8), u16(out, 10)]).toEqual([1, 2, 1]);
    const { records } = walkRecords(out);
    expect(records.map((r) => r.type)).toEqual([RRType.A, RRType.NS, RRType.NS, RRType.OPT]);
  });

  it('then the authority section, when the answer holds records, still without TC', () => {
    const msg = response('www.example.test.', [[a('www.example.test.')], nsSet, glue]);
    const out = truncateResponse(msg, 100);
    expect(u16(out, 2) & FLAG_TC).toBe(0);
    expect([u16(out, 6), u16(out, 8), u16(out, 10)]).toEqual([1, 0, 0]);
    expect(walkRecords(out).records.map((r) => r.type)).toEqual([RRType.A]);
  });

  it('sets TC and drops every record when the answer does not fit', () => {
    const msg = appendOpt(response('big.example.test.', [[txt('big.example.test.', 250), txt('big.example.test.', 250), txt('big.example.test.', 250)], [], []]), opt);
    const out = truncateResponse(msg, 512, opt);
    expect(u16(out, 2) & FLAG_TC).toBe(FLAG_TC);
    expect([u16(out, 4), u16(out, 6), u16(out, 8), u16(out, 10)]).toEqual([1, 0, 0, 1]);
    expect(parseQuery(out).question!.name).toEqual(textToName('big.example.test.'));
  });

  it('sets TC when a negative answer\'s authority does not fit, or an answer\'s NSEC proof', () => {
    const soa = rr('example.test.', RRType.SOA, new Uint8Array(400));
    const nx = response('nx.example.test.', [[], [soa, soa]], 3);
    expect(u16(truncateResponse(nx, 512), 2) & FLAG_TC).toBe(FLAG_TC);
    const nsec = rr('a.example.test.', RRType.NSEC, new Uint8Array(600));
    const wildcard = response('x.example.test.', [[a('x.example.test.')], [nsec]]);
    expect(u16(truncateResponse(wildcard, 512), 2) & FLAG_TC).toBe(FLAG_TC);
  });

  it('reads the question end from the message, not from the query it answers', () => {
    // the answer's question (uncompressed) is one byte longer than a query that ended its name
    // in a pointer; the cut must not be off by one
    const msg = response('big.example.test.', [[txt('big.example.test.', 250), txt('big.example.test.', 250), txt('big.example.test.', 250)], [], []]);
    const out = truncateResponse(msg, 512);
    expect(out.length).toBe(12 + textToName('big.example.test.').length + 4);
    expect(parseQuery(out).question!.name).toEqual(textToName('big.example.test.'));
  });

  it('leaves a message that fits alone, and cuts one that cannot be walked to its header', () => {
    const msg = response('www.example.test.', [[a('www.example.test.')], [], []]);
    expect(truncateResponse(msg, 512)).toBe(msg);
    const junk = new Uint8Array(600);
    junk.set(msg);
    new DataView(junk.buffer).setUint16(6, 200); // 200 answers said, room for far fewer
    const out = truncateResponse(junk, 512);
    expect(u16(out, 2) & FLAG_TC).toBe(FLAG_TC);
    expect(u16(out, 6)).toBe(0);
  });
});
