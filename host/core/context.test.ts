import { describe, expect, it } from 'vitest';
import { ContextError, MAX_CONTEXT_BYTES, decodeContext, encodeContext, encodeContextInto, newContext, parseIPv6, type RequestContext } from './context.js';
import { textToName } from './dns/wire.js';

function sample(): RequestContext {
  const ctx = newContext({
    qname: textToName('WWW.Example.com.'),
    qtype: 28,
    qclass: 1,
    client: { address: '2001:db8::42', port: 53123 },
    transport: 'tcp',
    flags: 3,
    ingress: 'edge-a',
    deadline: 1_790_000_000_123,
    udpSize: 1232,
  });
  ctx.tags.add('rec_disable_static');
  ctx.tags.add('vip');
  ctx.route = 'alt';
  ctx.disabledApps.add('static_zone');
  ctx.ttlCap = 60;
  ctx.hops = 2;
  return ctx;
}

describe('context encoding', () => {
  it('round-trips every field', () => {
    const ctx = sample();
    const { ctx: back } = decodeContext(encodeContext(ctx));
    expect(back).toEqual(ctx);
  });

  it('round-trips IPv4 clients and minimal contexts', () => {
    const ctx = newContext({
      qname: textToName('.'),
      qtype: 2,
      qclass: 1,
      client: { address: '192.0.2.7', port: 1 },
      transport: 'udp',
      flags: 0,
      ingress: '',
      deadline: 0,
      udpSize: 0,
    });
    expect(decodeContext(encodeContext(ctx)).ctx).toEqual(ctx);
  });

  it('spells a decoded IPv6 client as RFC 5952 does, an IPv4-mapped one with its dotted tail', () => {
    const back = (address: string) =>
      decodeContext(encodeContext(newContext({ qname: textToName('.'), qtype: 1, qclass: 1, client: { address, port: 1 }, transport: 'udp', flags: 0, ingress: '', deadline: 0, udpSize: 0 }))).ctx.client?.address;
    expect(back('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    // as a dual-stack socket reports it, so a peer's mapped address still matches its IPv4 form
    expect(back('::ffff:192.0.2.1')).toBe('::ffff:192.0.2.1');
  });

  it('encodes into a reused buffer exactly as into a fresh one', () => {
    const buf = new Uint8Array(MAX_CONTEXT_BYTES).fill(0xee);
    const a = sample();
    const n = encodeContextInto(a, buf);
    expect(buf.subarray(0, n)).toEqual(encodeContext(a));
    // A shorter context after a longer one: only its own bytes count.
    const b = { ...a, tags: new Set<string>(), disabledApps: new Set<string>() };
    const m = encodeContextInto(b, buf);
    expect(m).toBeLessThan(n);
    expect(decodeContext(buf.subarray(0, m)).ctx).toEqual(b);
    expect(() => encodeContextInto(a, new Uint8Array(n - 1))).toThrow(ContextError);
  });

  it('is compact', () => {
    expect(encodeContext(sample()).length).toBeLessThan(160);
  });

  it('rejects truncations inside a field or before the required fields', () => {
    // A cut on a field boundary after the required fields is a shorter valid context: only the
    // MAC between nodes (context-auth) can tell it was cut, which is why contexts from outside
    // are never trusted without one.
    const original = sample();
    const bytes = encodeContext(original);
    let accepted = 0;
    for (let n = 0; n < bytes.length; n++) {
      try {
        const { ctx } = decodeContext(bytes.subarray(0, n));
        accepted++;
        expect(ctx).not.toEqual(original);
      } catch (e) {
        expect(e).toBeInstanceOf(ContextError);
      }
    }
    expect(accepted).toBeLessThanOrEqual(8);
  });

  it('rejects bad magic, versions, duplicates, unknown critical fields and bad values', () => {
    const good = encodeContext(sample());
    const mutate = (f: (b: Uint8Array) => void) => {
      const b = good.slice();
      f(b);
      return b;
    };
    expect(() => decodeContext(mutate((b) => (b[0] = 0)))).toThrow(/magic/);
    expect(() => decodeContext(mutate((b) => (b[1] = 9)))).toThrow(/version 9/);
    // Append an unknown critical field (0x70) and an unknown optional one (0x90).
    const withField = (type: number) => new Uint8Array([...good, type, 0, 1, 0]);
    expect(() => decodeContext(withField(0x70))).toThrow(/unknown critical field 0x70/);
    expect(decodeContext(withField(0x90)).ctx.tags.size).toBe(2);
    // A second hops field.
    expect(() => decodeContext(new Uint8Array([...good, 0x06, 0, 1, 1]))).toThrow(/appears twice/);
    // A tag with upper case and one too long.
    const tag = (s: string) => new Uint8Array([...good, 0x09, 0, s.length, ...new TextEncoder().encode(s)]);
    expect(() => decodeContext(tag('Bad'))).toThrow(/invalid tag/);
    expect(() => decodeContext(tag('a'.repeat(64)))).toThrow(/invalid tag/);
    // A MAC where none is allowed.
    expect(() => decodeContext(new Uint8Array([...good, 0x7f, 0, 1, 0]))).toThrow(/MAC/);
  });

  it('rejects a context with too many hops', () => {
    const ctx = sample();
    ctx.hops = 9;
    expect(() => decodeContext(encodeContext(ctx))).toThrow(/hop count/);
  });

  it('never throws anything but ContextError on random bytes', () => {
    let x = 12345;
    const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    const good = encodeContext(sample());
    for (let i = 0; i < 20_000; i++) {
      const b = i % 2 ? good.slice() : new Uint8Array(i % 200);
      for (let k = 0; k < 1 + (i % 5); k++) b[rnd() % Math.max(1, b.length)] = rnd();
      try {
        decodeContext(b);
      } catch (e) {
        expect(e).toBeInstanceOf(ContextError);
      }
    }
  });

  it('parses IPv6 forms', () => {
    expect(parseIPv6('::1')).toEqual([...new Array(15).fill(0), 1]);
    expect(parseIPv6('::ffff:192.0.2.1')?.slice(10)).toEqual([255, 255, 192, 0, 2, 1]);
    expect(parseIPv6('1:2:3:4:5:6:7:8:9')).toBeNull();
    expect(parseIPv6('1::2::3')).toBeNull();
  });
});
