/**
 * RFC 1035 §5 master files, streamed: $ORIGIN, $TTL, $INCLUDE, inherited owner, TTL and class,
 * relative names, every type in rdata-schema.ts and the RFC 3597 generic forms for any other.
 * Memory stays bounded by the longest line, not the file: records go to a sink as they are
 * read. Every refusal names `file:line:column`.
 */

import { nameFromText, parseNameInto } from '../dns/name.js';
import { RRClass, RRType, classFromName, isDataClass, isMetaType } from '../dns/rr-types.js';
import { FieldError, ZoneError, type SourcePosition } from './errors.js';
import { Lexer, type Entry } from './presentation-lexer.js';
import { parseRdata } from './rdata-parse.js';
import { RdataWriter } from './rdata-writer.js';
import { RecordTable } from './record-table.js';
import type { ZoneRecord } from './record.js';
import { parseTtl } from './text-scalars.js';
import { TOKEN_QUOTED, tokenForMessage, tokenText } from './tokens.js';
import { typeFromBytes } from './type-lookup.js';
import { byteChunks, type ZoneInput } from './zone-input.js';

export const MAX_LINE_BYTES = 64 * 1024;
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_RECORDS = 1_000_000;
const MAX_INCLUDE_DEPTH = 8;

/** A file named by `$INCLUDE`, opened by the host (which confines it to the zone's directory). */
export interface IncludedFile {
  /** Stable identity (a resolved path) used to detect include loops. */
  id: string;
  /** Name used in messages. */
  name: string;
  chunks: ZoneInput;
}

/**
 * Opens the file an `$INCLUDE` names, relative to `fromId` (the including file's id). Must throw
 * when the path leaves the directory the host allows.
 */
export type IncludeResolver = (path: string, fromId: string) => Promise<IncludedFile>;

export interface TextParseOptions {
  /** Name of the input in messages (`file:line:column`). */
  file?: string;
  /** Identity of the top file for include resolution and loop detection. */
  fileId?: string;
  /** Initial $ORIGIN, absolute, e.g. "example.com." */
  origin?: string;
  /** TTL for records that give none when there is no $TTL or earlier TTL (trust anchor files). */
  defaultTtl?: number;
  include?: IncludeResolver;
  /** Decompressed input bytes across all files; beyond it the load stops with a 'limit' error. */
  maxBytes?: number;
  maxRecords?: number;
}

export interface TextParseStats {
  records: number;
  bytes: number;
  files: number;
}

/**
 * Called after each input chunk with the records read so far; a streaming consumer may process
 * them and `clear()` the table to keep memory flat however long the input is.
 */
export type ChunkHook = (table: RecordTable) => void;

interface IncludeRequest {
  path: string;
  origin: Uint8Array | null;
  pos: SourcePosition;
}

/** State shared by a file and the files it includes. */
class Shared {
  readonly writer = new RdataWriter();
  readonly nameScratch = new Uint8Array(512);
  records = 0;
  bytes = 0;
  files = 0;
  zoneClass = -1;
  constructor(
    readonly table: RecordTable,
    readonly onChunk: ChunkHook | undefined,
    readonly maxBytes: number,
    readonly maxRecords: number,
    readonly include: IncludeResolver | undefined,
  ) {}
}

/** lookupClass: a class, but not one zone data can have. */
const NOT_ZONE_CLASS = -2;

/**
 * Class from a master-file word: its number, -1 when the word is no class, NOT_ZONE_CLASS for
 * the reserved 0 and the query/update classes NONE and ANY, however they are written.
 */
function lookupClass(e: Entry, i: number): number {
  const b = e.buf;
  const s = e.start[i]!;
  const n = e.end[i]! - s;
  const c0 = b[s]! | 0x20;
  if (n === 2 && c0 === 0x69 && (b[s + 1]! | 0x20) === 0x6e) return RRClass.IN;
  // most words here are types, so bail early
  if (n < 2 || n > 10 || (c0 !== 0x63 && c0 !== 0x68 && c0 !== 0x61 && c0 !== 0x6e)) return -1;
  const text = tokenText(e, i).toUpperCase();
  if (text !== 'CH' && text !== 'HS' && text !== 'ANY' && text !== 'NONE' && !text.startsWith('CLASS')) return -1;
  const cls = classFromName(text);
  if (cls === undefined) return -1;
  return isDataClass(cls) ? cls : NOT_ZONE_CLASS;
}

/** True when token i is a known type mnemonic or TYPEnnn. */
function isTypeWord(e: Entry, i: number): boolean {
  return i < e.count && typeFromBytes(e.buf, e.start[i]!, e.end[i]!) !== undefined;
}

const isGenericClass = (e: Entry, i: number): boolean => /^CLASS\d/i.test(tokenText(e, i));

class FileParser {
  private readonly lexer: Lexer;
  private line = 0;
  private origin: Uint8Array | null;
  private hasOwner = false;
  private lastTtl: number;
  private dollarTtl: number;

  constructor(
    private readonly shared: Shared,
    private readonly file: string,
    private readonly fileId: string,
    private readonly stack: string[],
    origin: Uint8Array | null,
    lastTtl: number,
    dollarTtl: number,
    private readonly defaultTtl: number,
  ) {
    this.lexer = new Lexer(file);
    this.origin = origin;
    this.lastTtl = lastTtl;
    this.dollarTtl = dollarTtl;
  }

  private pos(e: Entry, i: number): SourcePosition {
    const k = Math.max(0, Math.min(i, e.count - 1));
    return { file: this.file, line: e.line[k]!, column: e.col[k]! };
  }

  private fail(code: ZoneError['code'], msg: string, e: Entry, i: number): never {
    throw new ZoneError(code, msg, this.pos(e, i));
  }

  async run(input: ZoneInput): Promise<void> {
    const sh = this.shared;
    let carry: Uint8Array | null = null;
    let first = true;
    for await (let chunk of byteChunks(input, this.file)) {
      // One kind of byte array for every line: Node's streams give Buffers, but a line that
      // spans two chunks is joined into a plain Uint8Array, and each time the lexer and the
      // RDATA parsers met the other kind V8 threw their optimised code away (about 15 of them,
      // the parse ran some 20 % longer). A view costs no copy.
      if (chunk.constructor !== Uint8Array) chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      // a UTF-8 byte order mark some editors write is not part of the first owner name
      if (first) {
        first = false;
        if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
      }
      sh.bytes += chunk.length;
      if (sh.bytes > sh.maxBytes) {
        throw new ZoneError('limit', `input is larger than the ${sh.maxBytes}-byte limit (maxBytes)`, {
          file: this.file,
          line: this.line + 1,
          column: 1,
        });
      }
      if (sh.onChunk && sh.table.count > 0) sh.onChunk(sh.table);
      let pos = 0;
      if (carry) {
        const nl = chunk.indexOf(10);
        if (nl < 0) {
          const joined: Uint8Array = new Uint8Array(carry.length + chunk.length);
          joined.set(carry);
          joined.set(chunk, carry.length);
          carry = joined;
          if (carry.length > MAX_LINE_BYTES) this.tooLong();
          continue;
        }
        const line = new Uint8Array(carry.length + nl);
        line.set(carry);
        line.set(chunk.subarray(0, nl), carry.length);
        carry = null;
        if (line.length > MAX_LINE_BYTES) this.tooLong();
        const inc = this.lexLine(line, 0, line.length);
        if (inc) await this.include(inc);
        pos = nl + 1;
      }
      const n = chunk.length;
      while (pos < n) {
        let nl = chunk.indexOf(10, pos);
        if (nl < 0) {
          if (n - pos > MAX_LINE_BYTES) this.tooLong();
          carry = chunk.slice(pos);
          break;
        }
        if (nl - pos > MAX_LINE_BYTES) this.tooLong();
        const inc = this.lexLine(chunk, pos, nl);
        if (inc) await this.include(inc);
        pos = nl + 1;
        nl = 0;
      }
    }
    if (carry) {
      const inc = this.lexLine(carry, 0, carry.length);
      if (inc) await this.include(inc);
    }
    this.lexer.finish(this.line);
  }

  private tooLong(): never {
    throw new ZoneError('line-too-long', `line longer than ${MAX_LINE_BYTES} bytes`, {
      file: this.file,
      line: this.line + 1,
      column: 1,
    });
  }

  private lexLine(buf: Uint8Array, s: number, e: number): IncludeRequest | null {
    this.line++;
    if (!this.lexer.lexLine(buf, s, e, this.line)) return null;
    const entry = this.lexer.entry;
    try {
      return this.entry(entry);
    } catch (err) {
      if (err instanceof FieldError) throw new ZoneError(err.code, err.message, this.pos(entry, err.token));
      throw err;
    } finally {
      entry.reset();
    }
  }

  private parseName(e: Entry, i: number, what: string): Uint8Array {
    const scratch = this.shared.nameScratch;
    let end: number;
    try {
      end = parseNameInto(e.buf, e.start[i]!, e.end[i]!, this.origin, scratch, 0);
    } catch (err) {
      this.fail('syntax', `bad ${what} "${tokenForMessage(e, i)}": ${(err as Error).message}`, e, i);
    }
    return scratch.slice(0, end);
  }

  private parseOwner(e: Entry): void {
    const scratch = this.shared.nameScratch;
    let end: number;
    try {
      end = parseNameInto(e.buf, e.start[0]!, e.end[0]!, this.origin, scratch, 0);
    } catch (err) {
      this.fail('syntax', `bad owner name "${tokenForMessage(e, 0)}": ${(err as Error).message}`, e, 0);
    }
    this.shared.table.setOwner(scratch, 0, end);
    this.hasOwner = true;
  }

  private entry(e: Entry): IncludeRequest | null {
    const b = e.buf;
    let i = 0;
    if (!e.blankStart) {
      if (b[e.start[0]!] === 0x24 && !(e.flags[0]! & TOKEN_QUOTED)) return this.directive(e);
      this.parseOwner(e);
      i = 1;
    } else if (!this.hasOwner) {
      this.fail('syntax', 'record without an owner name and no earlier owner to inherit', e, 0);
    }
    let ttl = -1;
    let cls = -1;
    while (i < e.count) {
      const c0 = b[e.start[i]!]!;
      if (c0 >= 0x30 && c0 <= 0x39) {
        if (ttl >= 0) break;
        ttl = parseTtl(b, e.start[i]!, e.end[i]!);
        if (ttl < 0) this.fail('syntax', `bad TTL "${tokenForMessage(e, i)}"`, e, i);
        i++;
        continue;
      }
      if (cls >= 0) break;
      const c = lookupClass(e, i);
      // ANY is a type mnemonic too: a class only where a type follows
      if (c === NOT_ZONE_CLASS && (isGenericClass(e, i) || isTypeWord(e, i + 1))) {
        this.fail('syntax', `class ${tokenForMessage(e, i)} cannot appear in zone data (0 is reserved, NONE and ANY are query classes)`, e, i);
      }
      if (c < 0) break;
      cls = c;
      i++;
    }
    if (i >= e.count) this.fail('truncated', 'record has no type (truncated line?)', e, e.count - 1);
    const type = typeFromBytes(b, e.start[i]!, e.end[i]!);
    if (type === undefined) {
      // a word in the class's place: CLASSnnn out of range, or a word a type follows (a new
      // type whose RDATA starts with a type name reads the same, so the message says both)
      if (cls < 0 && isGenericClass(e, i)) {
        this.fail('unknown-class', `unknown class "${tokenForMessage(e, i)}" (CLASSnnn goes up to 65535)`, e, i);
      }
      if (cls < 0 && isTypeWord(e, i + 1)) {
        const word = tokenForMessage(e, i);
        this.fail('unknown-class', `unknown class "${word}" (IN, CH, HS or CLASSnnn; if "${word}" is a type, write it TYPEnnn)`, e, i);
      }
      const asClass = tokenText(e, i).toUpperCase();
      const hint = asClass === 'ANY' || asClass === 'NONE' ? ` (${asClass} is not a class for zone data)` : '';
      this.fail('unknown-type', `unknown RR type "${tokenForMessage(e, i)}"${hint}`, e, i);
    }
    if (type === 0 || isMetaType(type)) this.fail('syntax', `type ${tokenText(e, i)} cannot appear in zone data`, e, i);
    const typeTok = i;
    const sh = this.shared;
    if (cls < 0) cls = sh.zoneClass >= 0 ? sh.zoneClass : RRClass.IN;
    if (sh.zoneClass < 0) {
      sh.zoneClass = cls;
      if (sh.table.cls < 0) sh.table.cls = cls;
    }
    else if (cls !== sh.zoneClass) this.fail('zone', `class ${cls} differs from the zone's class ${sh.zoneClass}`, e, typeTok);
    const w = sh.writer;
    parseRdata(type, e, typeTok + 1, w, this.origin);
    if (ttl >= 0) this.lastTtl = ttl;
    else if (this.dollarTtl >= 0) ttl = this.dollarTtl;
    else if (this.lastTtl >= 0) ttl = this.lastTtl;
    else if (this.defaultTtl >= 0) ttl = this.defaultTtl;
    else if (type === RRType.SOA && w.pos >= 4) {
      // RFC 1035 zones without $TTL took the SOA MINIMUM as the default; BIND still does
      const p = w.pos - 4;
      ttl = ((w.buf[p]! << 24) | (w.buf[p + 1]! << 16) | (w.buf[p + 2]! << 8) | w.buf[p + 3]!) >>> 0;
      this.lastTtl = ttl;
    } else this.fail('syntax', 'record has no TTL and no $TTL or earlier TTL applies', e, 0);
    if (++sh.records > sh.maxRecords) {
      this.fail('limit', `more than ${sh.maxRecords} records (maxRecords)`, e, 0);
    }
    sh.table.add(type, ttl, w.buf, 0, w.pos);
    return null;
  }

  private directive(e: Entry): IncludeRequest | null {
    const name = tokenText(e, 0).toUpperCase();
    switch (name) {
      case '$ORIGIN': {
        if (e.count !== 2) this.fail('syntax', '$ORIGIN takes exactly one name', e, e.count > 2 ? 2 : 0);
        this.origin = this.parseName(e, 1, '$ORIGIN');
        return null;
      }
      case '$TTL': {
        if (e.count !== 2) this.fail('syntax', '$TTL takes exactly one value', e, e.count > 2 ? 2 : 0);
        const v = parseTtl(e.buf, e.start[1]!, e.end[1]!);
        if (v < 0) this.fail('syntax', `bad $TTL "${tokenForMessage(e, 1)}"`, e, 1);
        this.dollarTtl = v;
        return null;
      }
      case '$INCLUDE': {
        if (e.count < 2 || e.count > 3) this.fail('syntax', '$INCLUDE takes a file name and an optional origin', e, 0);
        const origin = e.count === 3 ? this.parseName(e, 2, '$INCLUDE origin') : this.origin;
        return { path: new TextDecoder().decode(e.buf.subarray(e.start[1]!, e.end[1]!)), origin, pos: this.pos(e, 1) };
      }
      case '$GENERATE':
        this.fail('syntax', '$GENERATE is not supported; expand it before loading', e, 0);
      // falls through (fail never returns)
      default:
        this.fail('syntax', `unknown directive ${tokenForMessage(e, 0)}`, e, 0);
    }
  }

  private async include(req: IncludeRequest): Promise<void> {
    const sh = this.shared;
    if (!sh.include) throw new ZoneError('include', '$INCLUDE is not allowed for this input', req.pos);
    if (this.stack.length >= MAX_INCLUDE_DEPTH) {
      throw new ZoneError('include', `$INCLUDE nested deeper than ${MAX_INCLUDE_DEPTH} files`, req.pos);
    }
    let inc: IncludedFile;
    try {
      inc = await sh.include(req.path, this.fileId);
    } catch (err) {
      throw new ZoneError('include', `$INCLUDE ${req.path} refused: ${(err as Error).message}`, req.pos);
    }
    if (inc.id === this.fileId || this.stack.includes(inc.id)) {
      const chain = [...this.stack, this.fileId, inc.id].join(' -> ');
      throw new ZoneError('include', `$INCLUDE loop: ${chain}`, req.pos);
    }
    sh.files++;
    const child = new FileParser(
      sh,
      inc.name,
      inc.id,
      [...this.stack, this.fileId],
      req.origin,
      this.lastTtl,
      this.dollarTtl,
      this.defaultTtl,
    );
    const owner = sh.table.currentOwner();
    try {
      await child.run(inc.chunks);
    } catch (err) {
      if (err instanceof ZoneError) throw err;
      // A read error of the included file (a directory, a file that went away): named at the line
      // that included it, as every other $INCLUDE problem is.
      throw new ZoneError('include', `$INCLUDE ${req.path} refused: ${(err as Error).message}`, req.pos);
    }
    // the included file moved the table's current owner; the parent's next line inherits its own
    if (owner) sh.table.setOwner(owner, 0, owner.length);
  }
}

function originFromText(text: string): Uint8Array {
  try {
    return nameFromText(text);
  } catch (err) {
    throw new ZoneError('syntax', `bad origin: ${(err as Error).message}`);
  }
}

/**
 * Parses presentation-format text into `table`, streaming: with `onChunk` draining the table,
 * memory is bounded by the longest line whatever the input size. Throws ZoneError on the first
 * problem.
 */
export async function parsePresentation(
  input: ZoneInput,
  table: RecordTable,
  options: TextParseOptions & { onChunk?: ChunkHook } = {},
): Promise<TextParseStats> {
  const shared = new Shared(
    table,
    options.onChunk,
    options.maxBytes ?? DEFAULT_MAX_BYTES,
    options.maxRecords ?? DEFAULT_MAX_RECORDS,
    options.include,
  );
  const file = options.file ?? 'input';
  shared.files = 1;
  const origin = options.origin !== undefined ? originFromText(options.origin) : null;
  const parser = new FileParser(shared, file, options.fileId ?? file, [], origin, -1, -1, options.defaultTtl ?? -1);
  await parser.run(input);
  if (options.onChunk && table.count > 0) options.onChunk(table);
  return { records: shared.records, bytes: shared.bytes, files: shared.files };
}

/** Convenience for small inputs: all records of a presentation-format text. */
export async function parsePresentationAll(input: ZoneInput, options: TextParseOptions = {}): Promise<ZoneRecord[]> {
  const table = new RecordTable();
  await parsePresentation(input, table, options);
  return table.toRecords();
}
