/**
 * Property-based fuzzing (fast-check) of every decoder that takes bytes or text from outside
 * (issue 13, item 10): DNS wire messages, the request context encoding, zone text, zone wire
 * (RR streams and AXFR), zone images, the override rule parser (the Wasm app), the config loader
 * and DoH requests. Invariants: only the decoder's own error escapes (never a TypeError, a
 * RangeError or a hang), and what decodes re-encodes to the same thing where the format allows.
 *
 * `npm test` runs each property a few hundred times from a fixed seed; `scripts/fuzz.sh` runs
 * them long with a fresh seed (FUZZ_RUNS, FUZZ_SEED), and prints the seed to replay a finding.
 */

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { checkAnswer } from '../../host/core/answer-check.js';
import { ContextError, decodeContext, encodeContext, newContext, type RequestContext } from '../../host/core/context.js';
import { ConfigError, parseConfig } from '../../host/core/config.js';
import { handleDoh, toJson } from '../../host/core/doh.js';
import {
  WireError, buildErrorResponse, buildQuery, nameToText, parseQuery, readName, stripOpt, textToName, walkRecords, HEADER_LEN,
} from '../../host/core/dns/wire.js';
import { ZoneError } from '../../host/core/zone/errors.js';
import { H } from '../../host/core/zone/image-format.js';
import { readImage, imageRecords } from '../../host/core/zone/image-reader.js';
import { compileImage } from '../../host/core/zone/image-writer.js';
import { parsePresentationAll } from '../../host/core/zone/presentation-parser.js';
import { formatRecords } from '../../host/core/zone/presentation-writer.js';
import { RecordTable } from '../../host/core/zone/record-table.js';
import { encodeWireRecords, parseAxfr, parseWireRecords } from '../../host/core/zone/wire-reader.js';
import { verifyZone } from '../../host/core/zone/check.js';
import { zoneFromRecords } from '../../host/core/zone/zone.js';
import { harnessFor } from '../helpers/apps.js';
import { opt, reply, rr } from '../helpers/scripted-upstream.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20261204;
const params = { numRuns: RUNS, seed: SEED };
// A long run takes as long as it takes; the short one stays within the default test timeout.
const TIMEOUT = Math.max(30_000, RUNS * 50);

/** Runs `f`; an error other than one of `allowed` fails the property with its stack. */
function onlyThrows<T>(allowed: Array<new (...a: never[]) => Error>, f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (allowed.some((c) => e instanceof c)) return undefined;
    throw e;
  }
}

async function onlyRejects<T>(allowed: Array<new (...a: never[]) => Error>, f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    if (allowed.some((c) => e instanceof c)) return undefined;
    throw e;
  }
}

/** Byte flips, cuts and insertions applied to a valid input. */
function mutated(base: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      base,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.uint8Array({ maxLength: 8 }),
    )
    .map(([b, flips, cut, tail]) => {
      const out = b.slice();
      for (const [at, v] of flips) if (out.length) out[at % out.length] = v;
      const cutAt = cut === undefined ? out.length : cut % (out.length + 1);
      const joined = new Uint8Array(cutAt + tail.length);
      joined.set(out.subarray(0, cutAt));
      joined.set(tail, cutAt);
      return joined;
    });
}

const label = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
const dnsName = fc.array(label, { minLength: 0, maxLength: 4 }).map((ls) => (ls.length ? `${ls.join('.')}.` : '.'));

/** A well-formed answer of a few records, some names compressed, sometimes with an OPT. */
const answerMsg: fc.Arbitrary<Uint8Array> = fc
  .tuple(dnsName, fc.integer({ min: 0, max: 65535 }), fc.array(fc.tuple(fc.constantFrom(1, 2, 5, 16, 28, 15, 6, 65000), fc.nat()), { maxLength: 4 }), fc.boolean(), fc.integer({ min: 0, max: 15 }))
  .map(([name, id, records, withOpt, rcode]) => {
    const q = buildQuery({ name: textToName(name), type: 1, class: 1 }, { id });
    const ptr = new Uint8Array([0xc0, HEADER_LEN]);
    const rdata = (type: number, n: number): Uint8Array => {
      switch (type) {
        case 1:
          return new Uint8Array([192, 0, 2, n & 0xff]);
        case 28:
          return new Uint8Array(16).fill(n & 0xff);
        case 2:
        case 5:
          return ptr;
        case 15:
          return new Uint8Array([0, 10, 0xc0, HEADER_LEN]);
        case 6:
          return new Uint8Array([0xc0, HEADER_LEN, 0xc0, HEADER_LEN, ...new Array(20).fill(1)]);
        case 16:
          return new Uint8Array([3, 0x61, 0x62, 0x63]);
        default:
          return new Uint8Array(n % 7);
      }
    };
    return reply(q, { rcode, answer: records.map(([t, n]) => rr(ptr, t, n, rdata(t, n))), ...(withOpt ? { additional: [opt()] } : {}) });
  });

const wireBytes = fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated(answerMsg), answerMsg);

describe('fuzz: DNS wire messages', () => {
  it('parseQuery, walkRecords and checkAnswer throw only WireError', () => {
    fc.assert(
      fc.property(wireBytes, (b) => {
        onlyThrows([WireError], () => parseQuery(b));
        onlyThrows([WireError], () => walkRecords(b));
        onlyThrows([WireError], () => checkAnswer(b));
      }),
      params,
    );
  }, TIMEOUT);

  it('an answer checkAnswer passes can be stripped, walked and rendered as DoH JSON', () => {
    fc.assert(
      fc.property(wireBytes, (b) => {
        if (onlyThrows([WireError], () => checkAnswer(b)) === undefined) return;
        const body = stripOpt(b);
        walkRecords(body);
        JSON.stringify(toJson(body));
      }),
      params,
    );
  }, TIMEOUT);

  it('every well-formed answer passes checkAnswer, and its rcode is its own', () => {
    fc.assert(
      fc.property(answerMsg, (b) => {
        expect(checkAnswer(b)).toBe(b[3]! & 0xf);
      }),
      params,
    );
  }, TIMEOUT);

  it('names: text to wire to text is the identity, and readName reads what textToName wrote', () => {
    fc.assert(
      fc.property(dnsName, (n) => {
        const wire = textToName(n);
        expect(nameToText(wire)).toBe(n);
        expect(readName(wire, 0).name).toEqual(wire);
      }),
      params,
    );
  }, TIMEOUT);

  it('an error response for any query parses', () => {
    fc.assert(
      fc.property(wireBytes, (b) => {
        const p = onlyThrows([WireError], () => parseQuery(b)) ?? null;
        parseQuery(buildErrorResponse(b, 2, p));
      }),
      params,
    );
  }, TIMEOUT);
});

const tag = fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,20}$/);
const nodeName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}$/);
const context: fc.Arbitrary<RequestContext> = fc
  .record({
    name: dnsName,
    qtype: fc.integer({ min: 0, max: 65535 }),
    transport: fc.constantFrom('udp', 'tcp', 'doh' as const),
    flags: fc.integer({ min: 0, max: 7 }),
    hops: fc.integer({ min: 0, max: 3 }),
    ingress: nodeName,
    deadline: fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }),
    tags: fc.uniqueArray(tag, { maxLength: 5 }),
    v4: fc.boolean(),
    addr: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
    ttlCap: fc.integer({ min: 0, max: 86400 }),
    udpSize: fc.integer({ min: 0, max: 65535 }),
  })
  .map((r) => {
    const ctx = newContext({
      qname: textToName(r.name),
      qtype: r.qtype,
      qclass: 1,
      client: r.v4 ? { address: r.addr.join('.'), port: 5353 } : null,
      transport: r.transport,
      flags: r.flags,
      ingress: r.ingress,
      deadline: r.deadline,
      udpSize: r.udpSize,
    });
    ctx.hops = r.hops;
    for (const t of r.tags) ctx.tags.add(t);
    ctx.ttlCap = r.ttlCap;
    return ctx;
  });

describe('fuzz: the request context encoding', () => {
  it('decodes what it encodes, and encodes what it decodes to the same bytes', () => {
    fc.assert(
      fc.property(context, (ctx) => {
        const bytes = encodeContext(ctx);
        const back = decodeContext(bytes).ctx;
        expect({ ...back, tags: [...back.tags], disabledApps: [...back.disabledApps] }).toEqual({ ...ctx, tags: [...ctx.tags], disabledApps: [...ctx.disabledApps] });
        expect(encodeContext(back)).toEqual(bytes);
      }),
      params,
    );
  }, TIMEOUT);

  it('throws only ContextError on anything else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated(context.map(encodeContext))), (b) => {
        const r = onlyThrows([ContextError], () => decodeContext(b, { allowMac: true }));
        // What decodes is a context the encoder can write again.
        if (r) decodeContext(encodeContext(r.ctx));
      }),
      params,
    );
  }, TIMEOUT);
});

const ZONE_TYPES = ['A 192.0.2.1', 'AAAA 2001:db8::1', 'NS ns', 'CNAME x', 'MX 10 mx', 'TXT "a b" c', 'SOA ns h 1 2 3 4 5', 'SRV 1 2 3 t', 'CAA 0 issue "ca"', 'TYPE65000 \\# 2 0102', 'SSHFP 1 1 ABCD', 'DS 1 8 2 ABCD', 'HINFO a b', 'LOC 1 2 3 N 4 5 6 E 7m', 'SVCB 1 . alpn=h2', 'NSEC a A NSEC', 'APL 1:192.0.2.0/24'];
const zoneLine = fc.oneof(
  fc.tuple(fc.constantFrom('@', 'a', 'b.c', '*.w', 'x.example.'), fc.option(fc.integer({ min: 0, max: 99999 }), { nil: undefined }), fc.constantFrom('', 'IN '), fc.constantFrom(...ZONE_TYPES)).map(
    ([o, ttl, cls, rest]) => `${o} ${ttl ?? ''} ${cls}${rest}`,
  ),
  fc.constantFrom('$TTL 300', '$ORIGIN example.', '( ', ' )', '; comment', '"', '\\', '$INCLUDE /nonexistent', '@ IN TYPE1 \\# 4 c0000201', 'a A 999.1.1.1', 'a 1 IN IN A 1.2.3.4'),
  fc.string({ maxLength: 40 }),
);
const zoneText = fc.array(zoneLine, { maxLength: 12 }).map((ls) => `$ORIGIN example.\n$TTL 300\n${ls.join('\n')}\n`);

describe('fuzz: zone readers', () => {
  it('zone text: only ZoneError; what parses writes out and parses back to the same records', async () => {
    await fc.assert(
      fc.asyncProperty(zoneText, async (text) => {
        const records = await onlyRejects([ZoneError], () => parsePresentationAll(text));
        if (!records) return;
        const again = await parsePresentationAll(formatRecords(records));
        expect(again).toEqual(records);
      }),
      params,
    );
  }, TIMEOUT);

  it('zone wire (RR stream and AXFR): only ZoneError; an RR stream re-encodes to its bytes', async () => {
    const good = fc.array(fc.tuple(dnsName, fc.constantFrom(1, 16, 28, 65000), fc.integer({ min: 0, max: 0x7fffffff }), fc.uint8Array({ maxLength: 20 })), { maxLength: 5 }).map((rs) =>
      encodeWireRecords(rs.map(([n, type, ttl, rd]) => ({ owner: textToName(n), type, class: 1, ttl, rdata: type === 1 ? rd.slice(0, 4).length === 4 ? rd.slice(0, 4) : new Uint8Array(4) : type === 28 ? new Uint8Array(16) : rd }))),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(good, mutated(good), fc.uint8Array({ maxLength: 200 })), async (b) => {
        const table = new RecordTable();
        const n = await onlyRejects([ZoneError], () => parseWireRecords(b, table));
        if (n !== undefined) expect(encodeWireRecords(table.toRecords())).toEqual(b);
        await onlyRejects([ZoneError], () => parseAxfr(b, new RecordTable()));
      }),
      params,
    );
  }, TIMEOUT);

  it('zone image: only ZoneError, also for a changed image whose digest is made right again', async () => {
    const text = `$ORIGIN example.\n$TTL 300\n@ SOA ns h 1 7200 3600 1209600 300\n@ NS ns\nns A 192.0.2.2\nns AAAA 2001:db8::2\nsub NS ns.sub\nns.sub A 192.0.2.53\nx TYPE65000 \\# 2 0102\nw.x TXT "t"\n`;
    const zone = zoneFromRecords(await parsePresentationAll(text));
    const image = await compileImage(zone, await verifyZone(zone, { now: Date.UTC(2026, 0, 2), dnssec: 'ignore' }));
    const back = await readImage(image);
    expect([...imageRecords(back)].length).toBeGreaterThan(0);
    const resealed = (b: Uint8Array) => {
      if (b.length < H.BODY_DIGEST + 32) return b;
      const out = b.slice();
      new DataView(out.buffer).setUint32(H.IMAGE_LENGTH, out.length, true);
      out.fill(0, H.BODY_DIGEST, H.BODY_DIGEST + 32);
      out.set(createHash('sha256').update(out).digest(), H.BODY_DIGEST);
      return out;
    };
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated(fc.constant(image)), mutated(fc.constant(image)).map(resealed), fc.uint8Array({ maxLength: 300 })), async (b) => {
        const img = await onlyRejects([ZoneError], () => readImage(b));
        if (img) for (const _ of imageRecords(img)) void _;
      }),
      params,
    );
  }, TIMEOUT);
});

describe('fuzz: the override rule parser (the Wasm app)', () => {
  it('any rule text is taken or refused with a reason; a refused one leaves the last good rules answering', () => {
    const h = harnessFor('override');
    expect(h.loadText('phase = pre-cache qname fuzz.test respond NXDOMAIN\n').ok).toBe(true);
    const words = fc.constantFrom('phase', '=', 'pre-cache', 'post-resolve', 'resolve', 'qname', 'qname-suffix', 'qtype', 'A', 'client', '127.0.0.1', '::1/64', 'respond', 'NXDOMAIN', 'set-tag', 'x_y', 'forward-to', 'default', 'ttl-cap', '60', 'disable-app', 'static_zone', 'rcode', '#', '\\', '"', 'a'.repeat(300));
    const ruleText = fc.array(fc.array(fc.oneof(words, fc.string({ maxLength: 10 })), { maxLength: 10 }).map((ws) => ws.join(' ')), { maxLength: 6 }).map((ls) => ls.join('\n'));
    fc.assert(
      fc.property(ruleText, (text) => {
        const r = h.loadText(text);
        if (!r.ok) expect(typeof r.error).toBe('string');
        // Put the known rules back (a good load replaces), and they answer.
        expect(h.loadText('phase = pre-cache qname fuzz.test respond NXDOMAIN\n').ok).toBe(true);
        expect(h.query('fuzz.test.', { phase: 'pre-cache' }).verdict).toBe('respond');
      }),
      { ...params, numRuns: Math.min(RUNS, 100) },
    );
  }, TIMEOUT);
});

describe('fuzz: the config loader', () => {
  const keys = fc.constantFrom('[server]', '[upstreams]', '[cache]', '[zone]', '[site]', '[apps.forward.config.routes]', 'listen = ["127.0.0.1:53"]', 'default = ["127.0.0.1:53"]', 'max_ttl = 5', 'max_ttl = -1', 'request_timeout_ms = "x"', '"." = "default"', 'peers = { a = "127.0.0.1:1" }', 'keys = { k = "short" }', 'node_id = "n"', '[[x]]', 'a = [', '= 1', 'tcp_max_output_bytes = 1');
  it('throws only ConfigError, for TOML and for values', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(keys, fc.string({ maxLength: 30 })), { maxLength: 10 }), (lines) => {
        onlyThrows([ConfigError], () => parseConfig(lines.join('\n'), 'fuzz'));
      }),
      params,
    );
  }, TIMEOUT);
});

describe('fuzz: DoH requests', () => {
  /** A handler that answers every query with `answer` (which may be any bytes at all). */
  const handler = (answer: (q: Uint8Array) => Uint8Array) => ({
    handle: async (q: Uint8Array) => {
      const p = onlyThrows([WireError], () => parseQuery(q));
      if (!p) return null;
      const message = answer(q);
      return { message, rcode: message[3] ?? 0 & 0xf, source: 'upstream' as const, minTtl: 0, questionEnd: p.questionEnd, opt: null, udpLimit: 512 };
    },
  });
  const statuses = new Set([200, 400, 404, 405, 413, 415]);
  const request = fc.oneof(
    fc.tuple(fc.constantFrom('GET', 'POST', 'PUT', 'HEAD'), fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 100 }), fc.constantFrom('application/dns-message', 'application/dns-json', 'text/plain', '')),
    fc.tuple(fc.constant('GET'), wireBytes.map((b) => `?dns=${Buffer.from(b).toString('base64url')}`), fc.constant(new Uint8Array(0)), fc.constantFrom('application/dns-message', 'application/dns-json')),
    fc.tuple(fc.constant('GET'), fc.tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 8 })).map(([n, t]) => `?name=${encodeURIComponent(n)}&type=${encodeURIComponent(t)}`), fc.constant(new Uint8Array(0)), fc.constant('application/dns-json')),
  );
  it('answers every request with a status it documents, never an exception or 500, whatever the answer bytes', async () => {
    await fc.assert(
      fc.asyncProperty(request, wireBytes, async ([method, query, body, type], answer) => {
        let url: string;
        try {
          url = new URL(`/dns-query${query.startsWith('?') ? query : `?${query}`}`, 'http://doh.test').toString();
        } catch {
          return;
        }
        const init: RequestInit = { method, headers: { accept: type, 'content-type': type } };
        if (method === 'POST' || method === 'PUT') init.body = body;
        const res = await handleDoh(new Request(url, init), handler(() => answer), null);
        expect(statuses.has(res.status), `status ${res.status}`).toBe(true);
        await res.arrayBuffer();
      }),
      params,
    );
  }, TIMEOUT);
});
