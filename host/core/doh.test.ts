import { describe, expect, it } from 'vitest';
import { handleDoh, type DohHandler } from './doh.js';
import { RRType } from './dns/rr-types.js';
import { buildQuery, concat, encodeQuestion, put16, put32, readName, textToName } from './dns/wire.js';
import type { Reply } from './resolver.js';

const query = buildQuery({ name: textToName('example.com.'), type: RRType.AAAA, class: 1 }, { rd: true });

/** A record in wire form, its owner as a pointer to the question's name. */
function record(type: number, ttl: number, rdata: number[]): Uint8Array {
  const r = new Uint8Array(12 + rdata.length);
  put16(r, 0, 0xc00c);
  put16(r, 2, type);
  put16(r, 4, 1);
  put32(r, 6, ttl);
  put16(r, 10, rdata.length);
  r.set(rdata, 12);
  return r;
}

/** An SOA RDATA: root-label MNAME and RNAME, then serial, refresh, retry, expire, minimum. */
const soa = (minimum: number) => {
  const b = new Uint8Array(22);
  for (const [i, v] of [1, 1800, 900, 604800, minimum].entries()) put32(b, 2 + 4 * i, v);
  return [...b];
};

function response(rcode: number, answers: Uint8Array[], authority: Uint8Array[] = []): Uint8Array {
  const h = new Uint8Array(12);
  put16(h, 2, 0x8180 | rcode);
  put16(h, 4, 1);
  put16(h, 6, answers.length);
  put16(h, 8, authority.length);
  return concat([h, encodeQuestion({ name: textToName('example.com.'), type: RRType.AAAA, class: 1 }), ...answers, ...authority]);
}

/** A resolver that answers `message` with the resolver's own smallest-TTL figure. */
function answering(message: Uint8Array, minTtl: number): DohHandler & { asked: number } {
  const h = {
    asked: 0,
    async handle(): Promise<Reply> {
      h.asked++;
      return { message, rcode: message[3]! & 0xf, source: 'upstream', minTtl, questionEnd: 0, opt: null, udpLimit: 512 };
    },
  };
  return h;
}

const post = (body: BodyInit, headers: Record<string, string> = {}) =>
  new Request('http://doh.test/dns-query', { method: 'POST', headers: { 'content-type': 'application/dns-message', ...headers }, body, duplex: 'half' } as RequestInit);

describe('DoH POST bodies', () => {
  const streamOf = (total: number) => {
    const chunk = new Uint8Array(16 * 1024);
    const seen = { pulled: 0, cancelled: false };
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (seen.pulled >= total) return c.close();
        seen.pulled += chunk.length;
        c.enqueue(chunk.slice());
      },
      cancel() {
        seen.cancelled = true;
      },
    });
    return { stream, seen };
  };

  it('gives up on an endless body without Content-Length after 1 MiB, with 413, holding at most 64 KiB', async () => {
    const { stream, seen } = streamOf(Infinity);
    const resolver = answering(response(0, []), 0);
    const r = await handleDoh(post(stream), resolver, null);
    expect(r.status).toBe(413);
    expect(resolver.asked).toBe(0);
    expect(seen.cancelled).toBe(true);
    // A chunk or two may be queued ahead of the reader.
    expect(seen.pulled).toBeLessThanOrEqual(1024 * 1024 + 4 * 16 * 1024);
  });

  it('reads a modestly oversize body to its end (so the client reads the 413) without asking the resolver', async () => {
    const { stream, seen } = streamOf(80 * 1024);
    const resolver = answering(response(0, []), 0);
    const r = await handleDoh(post(stream), resolver, null);
    expect(r.status).toBe(413);
    expect(resolver.asked).toBe(0);
    expect(seen.cancelled).toBe(false);
  });

  it('takes a body of exactly the cap, refuses one byte more, and refuses a declared length above 1 MiB unread', async () => {
    const resolver = answering(response(0, []), 0);
    const at = new Uint8Array(65535);
    at.set(query);
    expect((await handleDoh(post(at), resolver, null)).status).toBe(200);
    expect((await handleDoh(post(new Uint8Array(65536)), resolver, null)).status).toBe(413);
    expect((await handleDoh(post(query.slice(), { 'content-length': String(2 * 1024 * 1024) }), resolver, null)).status).toBe(413);
    expect((await handleDoh(post(new Uint8Array(0)), resolver, null)).status).toBe(400);
  });
});

describe('DoH Cache-Control (RFC 8484 §5.1)', () => {
  const maxAge = async (message: Uint8Array, minTtl: number, accept = 'application/dns-message') => {
    const r = await handleDoh(new Request(`http://doh.test/dns-query?name=example.com&type=AAAA`, { headers: { accept } }), answering(message, minTtl), null);
    return r.headers.get('cache-control');
  };

  it('is the smallest TTL of a positive answer, in both forms', async () => {
    const msg = response(0, [record(RRType.AAAA, 300, new Array(16).fill(1))]);
    expect(await maxAge(msg, 300)).toBe('max-age=300');
    expect(await maxAge(msg, 300, 'application/dns-json')).toBe('max-age=300');
  });

  it('is min(SOA TTL, SOA MINIMUM) for NXDOMAIN and NODATA (RFC 2308 §5)', async () => {
    // The resolver's smallest TTL is the SOA's own (300); its MINIMUM (60) is lower.
    expect(await maxAge(response(3, [], [record(RRType.SOA, 300, soa(60))]), 300)).toBe('max-age=60');
    expect(await maxAge(response(0, [], [record(RRType.SOA, 300, soa(60))]), 300)).toBe('max-age=60');
    expect(await maxAge(response(3, [], [record(RRType.SOA, 30, soa(60))]), 30)).toBe('max-age=30');
    // Without an SOA a negative answer is not to be cached at all.
    expect(await maxAge(response(3, []), 0)).toBe('max-age=0');
  });
});

describe('DoH JSON form', () => {
  it('writes AAAA data in RFC 5952 text form', async () => {
    const r = await handleDoh(
      new Request('http://doh.test/dns-query?name=example.com&type=AAAA'),
      answering(response(0, [record(RRType.AAAA, 60, [...new Array(15).fill(0), 1]), record(RRType.AAAA, 60, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])]), 60),
      null,
    );
    const body = (await r.json()) as { Answer: Array<{ data: string }> };
    expect(body.Answer.map((a) => a.data)).toEqual(['::1', '2001:db8:0:1::']);
  });
});

describe('DoH JSON form: presentation text for every known type, and the type defaulting to A', () => {
  /** A resolver that records the question it was asked and answers `message`. */
  function recording(message: Uint8Array) {
    const asked: Uint8Array[] = [];
    const h: DohHandler = {
      async handle(q): Promise<Reply> {
        asked.push(q);
        return { message, rcode: message[3]! & 0xf, source: 'upstream', minTtl: 60, questionEnd: 0, opt: null, udpLimit: 512 };
      },
    };
    return { h, asked };
  }
  const qtypeOf = (q: Uint8Array) => {
    const end = readName(q, 12).end;
    return (q[end]! << 8) | q[end + 1]!;
  };

  it('writes an SOA in Authority with its compressed names expanded, and MX, DS, TXT, HTTPS as zone files do', async () => {
    // SOA MNAME ns.<ptr to example.com>, RNAME hostmaster.<ptr>, then the five numbers.
    const soaRdata = [2, 0x6e, 0x73, 0xc0, 0x0c, 10, ...new TextEncoder().encode('hostmaster'), 0xc0, 0x0c];
    for (const v of [2026120401, 7200, 3600, 1209600, 300]) soaRdata.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
    const mx = [0, 10, 4, 0x6d, 0x61, 0x69, 0x6c, 0xc0, 0x0c];
    const ds = [0x12, 0x34, 13, 2, ...new Array(32).fill(0xab)];
    const txt = [5, ...new TextEncoder().encode('hi "x'), 0];
    const https = [0, 1, 0, 0, 1, 0, 3, 2, 0x68, 0x32];
    const unknown = [1, 2, 3];
    const msg = response(0, [record(RRType.MX, 60, mx), record(43, 60, ds), record(RRType.TXT, 60, txt), record(65, 60, https), record(65280, 60, unknown)], [record(RRType.SOA, 300, soaRdata)]);
    const r = await handleDoh(new Request('http://doh.test/dns-query?name=example.com&type=SOA'), recording(msg).h, null);
    const body = (await r.json()) as { Answer: Array<{ data: string }>; Authority: Array<{ data: string }> };
    expect(body.Authority[0]!.data).toBe('ns.example.com. hostmaster.example.com. 2026120401 7200 3600 1209600 300');
    expect(body.Answer.map((a) => a.data)).toEqual([
      '10 mail.example.com.',
      `4660 13 2 ${'AB'.repeat(32)}`,
      '"hi \\"x" ""',
      '1 . alpn="h2"',
      '\\# 3 010203',
    ]);
    for (const a of [...body.Answer.slice(0, 4), ...body.Authority]) expect(a.data).not.toMatch(/^\\#/);
  });

  it('asks for type A when the type is missing or empty, and refuses an empty name', async () => {
    for (const q of ['?name=example.com', '?name=example.com&type=', '?name=example.com&type=A']) {
      const { h, asked } = recording(response(0, []));
      const r = await handleDoh(new Request(`http://doh.test/dns-query${q}`), h, null);
      expect(r.status, q).toBe(200);
      expect(qtypeOf(asked[0]!), q).toBe(RRType.A);
    }
    const { h, asked } = recording(response(0, []));
    const r = await handleDoh(new Request('http://doh.test/dns-query?name='), h, null);
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/name parameter is empty/);
    expect(asked).toEqual([]);
  });
});
