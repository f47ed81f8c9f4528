import { describe, expect, it } from 'vitest';
import { hex, nameToText } from '../dns/wire.js';
import { ZoneError } from './errors.js';
import { parsePresentation, parsePresentationAll, type IncludeResolver } from './presentation-parser.js';
import { RecordTable } from './record-table.js';
import type { ZoneRecord } from './record.js';

const enc = new TextEncoder();

function summary(recs: ZoneRecord[]): string[] {
  return recs.map((r) => `${nameToText(r.owner)} ${r.ttl} ${r.class} ${r.type} ${hex(r.rdata)}`);
}

/** Feeds `text` in chunks of `size` bytes, so every token and line boundary is crossed somewhere. */
function* chunked(text: string, size: number): Generator<Uint8Array> {
  const b = enc.encode(text);
  for (let i = 0; i < b.length; i += size) yield b.slice(i, i + size);
}

const ZONE = `; a comment line
$ORIGIN example.
$TTL 1h
@   IN  SOA ns1 hostmaster (
            2026010101 ; serial
            7200       ; refresh
            3600 1209600
            300 )
    IN  NS  ns1
        NS  ns2.example.
ns1     A   192.0.2.1
        AAAA 2001:db8::1
ns2 300 IN A 192.0.2.2
IN 600 A 192.0.2.3
"quoted" TXT "a;b" ( "c"
  "d" )
\\@sign\\.dot TXT x\\032y
$ORIGIN sub.example.
www A 192.0.2.4
@ 60 CH TXT "class only on this line"
`;

describe('presentation-format parser', () => {
  it('follows RFC 1035 §5: origin, TTL, parentheses, comments, inheritance, escapes', async () => {
    const recs = await parsePresentationAll(ZONE.replace('@ 60 CH TXT "class only on this line"\n', ''), { file: 'x' });
    const s = summary(recs);
    expect(s[0]).toMatch(/^example\. 3600 1 6 /);
    expect(s[1]).toBe('example. 3600 1 2 036e7331076578616d706c6500');
    expect(s[2]).toBe('example. 3600 1 2 036e7332076578616d706c6500');
    expect(s[3]).toBe('ns1.example. 3600 1 1 c0000201');
    expect(s[4]).toBe('ns1.example. 3600 1 28 20010db8000000000000000000000001');
    expect(s[5]).toBe('ns2.example. 300 1 1 c0000202');
    // "IN" at the start of a line is an owner name, not a class
    expect(s[6]).toBe('IN.example. 600 1 1 c0000203');
    expect(s[7]).toBe('quoted.example. 3600 1 16 03613b62016301' + '64');
    expect(s[8]).toBe('\\@sign\\.dot.example. 3600 1 16 0378207' + '9');
    expect(s[9]).toBe('www.sub.example. 3600 1 1 c0000204');
  });

  it('reads the SOA serial and timers across parentheses and comments', async () => {
    const recs = await parsePresentationAll(ZONE, { file: 'x' }).catch((e) => e);
    // the CH record differs from the zone's class: refused with its position
    expect(recs).toBeInstanceOf(ZoneError);
    expect(recs.message).toMatch(/^x:20:9: class 3 differs/);
  });

  it('gives the same records whatever the chunk boundaries', async () => {
    const text = ZONE.replace('@ 60 CH TXT "class only on this line"\n', '');
    const whole = summary(await parsePresentationAll(text));
    for (const size of [1, 2, 3, 7, 13, 64]) {
      expect(summary(await parsePresentationAll(chunked(text, size)))).toEqual(whole);
    }
  });

  it('accepts tabs or spaces, CRLF line ends and base64 split into words', async () => {
    const a = await parsePresentationAll('x.\t300\tIN\tDNSKEY\t257 3 8 AwEAAa\r\n', {});
    const b = await parsePresentationAll('x. 300 IN DNSKEY 257 3 8 Aw EAAa\n', {});
    const c = await parsePresentationAll('x. 300 IN DNSKEY 257 3 8 ( AwE\n AAa )\n', {});
    expect(hex(a[0]!.rdata)).toBe(hex(b[0]!.rdata));
    expect(hex(c[0]!.rdata)).toBe(hex(b[0]!.rdata));
  });

  it('skips a UTF-8 byte order mark at the start of the file', async () => {
    const bom = Uint8Array.of(0xef, 0xbb, 0xbf, ...enc.encode('a. 300 IN A 192.0.2.1\n'));
    expect(nameToText((await parsePresentationAll(bom))[0]!.owner)).toBe('a.');
  });

  it('takes TTL and class in either order, with units', async () => {
    const recs = await parsePresentationAll('a. IN 1d A 192.0.2.1\nb. 1W2d IN A 192.0.2.1\nc. 90s A 192.0.2.1\n');
    expect(recs.map((r) => r.ttl)).toEqual([86400, 777600, 90]);
  });

  it('uses $TTL over the last explicit TTL, and SOA MINIMUM when neither exists', async () => {
    const recs = await parsePresentationAll('a. SOA ns. h. 1 2 3 4 555\nb. A 192.0.2.1\n$TTL 10\nc. A 192.0.2.1\n');
    expect(recs.map((r) => r.ttl)).toEqual([555, 555, 10]);
    await expect(parsePresentationAll('a. A 192.0.2.1\n')).rejects.toThrow(/no TTL/);
    expect((await parsePresentationAll('a. A 192.0.2.1\n', { defaultTtl: 0 }))[0]!.ttl).toBe(0);
  });

  it('needs an origin for relative names and @', async () => {
    await expect(parsePresentationAll('www 300 A 192.0.2.1\n', { file: 'f' })).rejects.toThrow(/^f:1:1: bad owner name "www": relative name but no \$ORIGIN/);
    await expect(parsePresentationAll('@ 300 A 192.0.2.1\n')).rejects.toThrow(/no \$ORIGIN/);
    const recs = await parsePresentationAll('www 300 A 192.0.2.1\n', { origin: 'example.' });
    expect(nameToText(recs[0]!.owner)).toBe('www.example.');
  });

  it('refuses directives it does not support and malformed ones', async () => {
    await expect(parsePresentationAll('$GENERATE 1-10 a$ A 192.0.2.$\n', { file: 'f' })).rejects.toThrow(/^f:1:1: \$GENERATE is not supported/);
    await expect(parsePresentationAll('$FOO bar\n', { file: 'f' })).rejects.toThrow(/^f:1:1: unknown directive \$FOO/);
    await expect(parsePresentationAll('$TTL abc\n', { file: 'f' })).rejects.toThrow(/^f:1:6: bad \$TTL/);
    await expect(parsePresentationAll('$ORIGIN\n', { file: 'f' })).rejects.toThrow(/\$ORIGIN takes exactly one name/);
  });

  it('reports a record with no owner to inherit', async () => {
    await expect(parsePresentationAll('  300 IN A 192.0.2.1\n', { file: 'f' })).rejects.toThrow(/^f:1:3: record without an owner name/);
  });
});

describe('bad input is a clear error, never a crash or a hang', () => {
  it('truncated inside parentheses', async () => {
    const err = await parsePresentationAll('a. 300 IN SOA ns. h. ( 1 2\n 3 4\n', { file: 'cut.zone' }).catch((e) => e);
    expect(err).toBeInstanceOf(ZoneError);
    expect(err.code).toBe('truncated');
    expect(err.message).toMatch(/^cut\.zone:2:1: input ended inside parentheses opened at line 1/);
  });

  it('truncated in the middle of a record', async () => {
    const err = await parsePresentationAll('a. 300 IN DS 12345 8\n', { file: 'cut.zone' }).catch((e) => e);
    expect(err.code).toBe('truncated');
    expect(err.message).toMatch(/^cut\.zone:1:20: DS RDATA is missing a number/);
    const noType = await parsePresentationAll('a. 300 IN\n', { file: 'cut.zone' }).catch((e) => e);
    expect(noType.message).toMatch(/^cut\.zone:1:8: record has no type/);
  });

  it('binary garbage', async () => {
    const garbage = new Uint8Array(4096);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + 7) & 0xff;
    const err = await parsePresentationAll(garbage, { file: 'bin' }).catch((e) => e);
    expect(err).toBeInstanceOf(ZoneError);
    expect(err.code).toBe('binary');
    expect(err.message).toMatch(/^bin:1:\d+: binary data \(byte 0x[0-9a-f]{2}\)/);
    const nul = await parsePresentationAll('a. 300 IN A 192.0.2.1\nb.\u0000 300 IN A 192.0.2.1\n', { file: 'nul' }).catch((e) => e);
    expect(nul.message).toBe('nul:2:3: binary data (byte 0x00) where zone text was expected');
  });

  it('a line longer than 64 KiB, whether or not it ends', async () => {
    const long = 'a. 300 IN TXT "' + 'x'.repeat(70_000) + '"\n';
    const err = await parsePresentationAll(chunked(long, 4096), { file: 'long' }).catch((e) => e);
    expect(err.code).toBe('line-too-long');
    expect(err.message).toBe('long:1:1: line longer than 65536 bytes');
    const unterminated = await parsePresentationAll(chunked('a. 300 IN A 192.0.2.1\n' + 'y'.repeat(100_000), 8192), { file: 'long' }).catch((e) => e);
    expect(unterminated.message).toBe('long:2:1: line longer than 65536 bytes');
  });

  it('stops at the byte and record limits', async () => {
    const text = 'a. 300 IN A 192.0.2.1\n'.repeat(100);
    await expect(parsePresentationAll(text, { maxRecords: 10, file: 'f' })).rejects.toThrow(/^f:11:1: more than 10 records \(maxRecords\)/);
    await expect(parsePresentationAll(chunked(text, 100), { maxBytes: 1000, file: 'f' })).rejects.toThrow(/larger than the 1000-byte limit/);
  });

  it('an unbalanced parenthesis', async () => {
    await expect(parsePresentationAll('a. 300 IN A 192.0.2.1 )\n', { file: 'f' })).rejects.toThrow(/^f:1:23: "\)" without a matching "\("/);
  });
});

describe('$INCLUDE', () => {
  const files: Record<string, string> = {
    '/z/main.zone': '$ORIGIN example.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n$INCLUDE hosts.inc\nafter A 192.0.2.9\n$INCLUDE sub.inc sub.example.\n',
    '/z/hosts.inc': 'ns A 192.0.2.1\n',
    '/z/sub.inc': 'www A 192.0.2.2\n',
    '/z/loop-a.zone': '$INCLUDE loop-b.zone\n',
    '/z/loop-b.zone': '$INCLUDE loop-a.zone\n',
  };
  const resolver: IncludeResolver = async (path, fromId) => {
    const id = path.startsWith('/') ? path : fromId.slice(0, fromId.lastIndexOf('/') + 1) + path;
    if (!id.startsWith('/z/') || id.includes('..')) throw new Error(`${path} resolves outside the zone directory /z`);
    const text = files[id];
    if (text === undefined) throw new Error(`cannot open ${path}: ENOENT`);
    return { id, name: id.slice(3), chunks: text };
  };

  it('includes files with their own origin and restores the includer’s origin', async () => {
    const recs = await parsePresentationAll(files['/z/main.zone']!, { file: 'main.zone', fileId: '/z/main.zone', include: resolver });
    expect(recs.map((r) => nameToText(r.owner))).toEqual(['example.', 'ns.example.', 'after.example.', 'www.sub.example.']);
  });

  it('refuses a loop, an escape from the directory, and includes when no resolver is given', async () => {
    const loop = await parsePresentationAll(files['/z/loop-a.zone']!, { file: 'loop-a.zone', fileId: '/z/loop-a.zone', include: resolver }).catch((e) => e);
    expect(loop.code).toBe('include');
    expect(loop.message).toMatch(/^loop-b\.zone:1:10: \$INCLUDE loop: \/z\/loop-a\.zone -> \/z\/loop-b\.zone -> \/z\/loop-a\.zone/);
    const escape = await parsePresentationAll('$INCLUDE ../etc/passwd\n', { file: 'm', fileId: '/z/m', include: resolver }).catch((e) => e);
    expect(escape.code).toBe('include');
    expect(escape.message).toMatch(/^m:1:10: \$INCLUDE \.\.\/etc\/passwd refused: .*outside the zone directory/);
    const none = await parsePresentationAll('$INCLUDE x\n', { file: 'm' }).catch((e) => e);
    expect(none.message).toBe('m:1:10: $INCLUDE is not allowed for this input');
  });
});

describe('streaming', () => {
  it('parses a 200 MB input with memory bounded by a chunk, not the input', async () => {
    const line = 'host.example. 300 IN AAAA 2001:db8::1\n';
    const chunk = enc.encode(line.repeat(Math.floor((1 << 20) / line.length)));
    const total = 200 * 1024 * 1024;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
    }
    const table = new RecordTable();
    let records = 0;
    let peak = 0;
    const before = process.memoryUsage();
    const stats = await parsePresentation(source(), table, {
      maxBytes: Infinity,
      maxRecords: Infinity,
      onChunk: (t) => {
        records += t.count;
        t.clear();
        const m = process.memoryUsage();
        peak = Math.max(peak, m.heapUsed + m.arrayBuffers - before.heapUsed - before.arrayBuffers);
      },
    });
    expect(stats.bytes).toBeGreaterThanOrEqual(total);
    expect(records).toBe(stats.records);
    expect(records).toBeGreaterThan(5_000_000);
    // a chunk of records plus the parser's buffers, nowhere near the 200 MB of input
    expect(peak).toBeLessThan(64 * 1024 * 1024);
  }, 120_000);

  it('refuses a 200 MB input with the default limits quickly and without holding it', async () => {
    const line = 'host.example. 300 IN AAAA 2001:db8::1\n';
    const chunk = enc.encode(line.repeat(Math.floor((1 << 20) / line.length)));
    let sent = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (; sent < 200 * 1024 * 1024; sent += chunk.length) yield chunk;
    }
    const err = await parsePresentationAll(source(), { file: 'big.zone' }).catch((e) => e);
    expect(err).toBeInstanceOf(ZoneError);
    expect(err.code).toBe('limit');
    expect(sent).toBeLessThan(100 * 1024 * 1024);
  }, 120_000);
});
