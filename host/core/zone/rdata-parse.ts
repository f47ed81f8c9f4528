/**
 * Presentation-format RDATA to wire form, driven by the layouts in rdata-schema.ts, plus the
 * RFC 3597 `\# <length> <hex>` form that works for every type, known or not.
 */

import { parseNameInto } from '../dns/name.js';
import { RRType, typeToName } from '../dns/rr-types.js';
import { parseApl } from './apl-codec.js';
import { decodeBase32Hex, decodeBase64Ranges, decodeHexRanges } from './base-encodings.js';
import { FieldError } from './errors.js';
import { parseAmtrelay, parseIpseckey } from './gateway-codec.js';
import { parseHip } from './hip-codec.js';
import { parseLoc } from './loc-codec.js';
import { checkRdata, nsec3HashProblem } from './rdata-wire.js';
import { MAX_RDATA, type RdataWriter } from './rdata-writer.js';
import * as S from './rdata-schema.js';
import { parseSvcParams } from './svcb-params.js';
import { parseIpv4, parseIpv6, parseSigTime, parseTtl, parseUint } from './text-scalars.js';
import { TOKEN_QUOTED, tokenForMessage, tokenText, type Tokens } from './tokens.js';
import { typeFromBytes } from './type-lookup.js';
import { parseWks } from './wks-codec.js';

const FIELD_NAMES: Record<number, string> = {
  [S.F_NAME]: 'domain name', [S.F_NAME_LC]: 'domain name', [S.F_NAME_LC_CMP]: 'domain name',
  [S.F_U8]: 'number (0..255)', [S.F_U16]: 'number (0..65535)', [S.F_U32]: 'number (0..4294967295)',
  [S.F_TTL]: 'time value', [S.F_TYPE]: 'RR type', [S.F_ALG]: 'algorithm', [S.F_TIME]: 'signature time',
  [S.F_A]: 'IPv4 address', [S.F_AAAA]: 'IPv6 address', [S.F_STR]: 'character string',
  [S.F_STRS]: 'character string', [S.F_REST_STR]: 'string', [S.F_B64]: 'base64 data', [S.F_HEX]: 'hex data',
  [S.F_SALT]: 'salt (hex or -)', [S.F_B32]: 'base32hex hash', [S.F_BITMAP]: 'type list', [S.F_EUI48]: 'EUI-48',
  [S.F_EUI64]: 'EUI-64', [S.F_NODE64]: '64-bit identifier', [S.F_CAA_TAG]: 'CAA tag', [S.F_SVCPARAMS]: 'SvcParams',
  [S.F_LOC]: 'location', [S.F_CERT_TYPE]: 'certificate type', [S.F_WKS]: 'protocol',
  [S.F_APL]: 'address prefix', [S.F_IPSECKEY]: 'gateway type', [S.F_AMTRELAY]: 'discovery-optional bit',
  [S.F_HIP]: 'HIT',
};

/** True for the unquoted word `\#` that opens RFC 3597 generic RDATA. */
export function isGenericMarker(t: Tokens, i: number): boolean {
  const s = t.start[i]!;
  return t.end[i]! - s === 2 && t.buf[s] === 0x5c && t.buf[s + 1] === 0x23 && (t.flags[i]! & TOKEN_QUOTED) === 0;
}

function parseGeneric(type: number, t: Tokens, first: number, w: RdataWriter): void {
  const lenTok = first + 1;
  if (lenTok >= t.count) throw new FieldError(first, '\\# must be followed by the RDATA length');
  const len = parseUint(t.buf, t.start[lenTok]!, t.end[lenTok]!, MAX_RDATA);
  if (len < 0) throw new FieldError(lenTok, `bad generic RDATA length "${tokenForMessage(t, lenTok)}"`);
  const end = decodeHexRanges(t.buf, t.start, t.end, lenTok + 1, t.count, w.buf, 0, MAX_RDATA);
  if (end === -1) throw new FieldError(lenTok + 1 < t.count ? lenTok + 1 : lenTok, 'bad hex in generic RDATA');
  if (end === -2 || end !== len) {
    throw new FieldError(lenTok, `generic RDATA length is ${len} but the hex holds ${end === -2 ? 'more' : end} octets`);
  }
  w.pos = end;
  const problem = checkRdata(type, w.buf.subarray(0, end));
  if (problem) throw new FieldError(lenTok, `generic RDATA is not valid ${typeToName(type)} RDATA: ${problem}`);
}

/** Appends one <character-string> from token i (escapes decoded). */
function charString(t: Tokens, i: number, w: RdataWriter, lengthPrefix: boolean): void {
  const b = t.buf;
  const s = t.start[i]!;
  const e = t.end[i]!;
  const lenAt = w.pos;
  if (lengthPrefix) w.u8(0);
  const out = w.buf;
  let o = w.pos;
  const limit = lengthPrefix ? lenAt + 256 : MAX_RDATA;
  for (let k = s; k < e; k++) {
    let c = b[k]!;
    if (c === 0x5c) {
      if (k + 1 >= e) throw new FieldError(i, 'dangling backslash in string');
      const d = b[k + 1]!;
      if (d >= 0x30 && d <= 0x39) {
        const d2 = k + 2 < e ? b[k + 2]! - 0x30 : -1;
        const d3 = k + 3 < e ? b[k + 3]! - 0x30 : -1;
        if (d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) throw new FieldError(i, 'bad \\DDD escape in string');
        c = (d - 0x30) * 100 + d2 * 10 + d3;
        if (c > 255) throw new FieldError(i, '\\DDD escape above 255 in string');
        k += 3;
      } else {
        c = d;
        k += 1;
      }
    }
    if (o >= limit) {
      throw new FieldError(i, lengthPrefix ? 'character string longer than 255 octets' : 'RDATA longer than 65535 octets');
    }
    out[o++] = c;
  }
  if (lengthPrefix) out[lenAt] = o - lenAt - 1;
  w.pos = o;
}

function typeNumber(t: Tokens, i: number): number {
  const v = typeFromBytes(t.buf, t.start[i]!, t.end[i]!);
  if (v === undefined) throw new FieldError(i, `unknown RR type "${tokenForMessage(t, i)}"`, 'unknown-type');
  return v;
}

const bitmapScratch = new Uint8Array(8192);

function typeBitmap(t: Tokens, first: number, w: RdataWriter): void {
  const types: number[] = [];
  for (let i = first; i < t.count; i++) types.push(typeNumber(t, i));
  if (types.length === 0) return;
  types.sort((a, b) => a - b);
  const bits = bitmapScratch;
  let lastWindow = -1;
  let maxByte = 0;
  const flush = (): void => {
    w.u8(lastWindow);
    w.u8(maxByte + 1);
    w.room(maxByte + 1);
    w.buf.set(bits.subarray(0, maxByte + 1), w.pos);
    w.pos += maxByte + 1;
    bits.fill(0, 0, 32);
  };
  for (const type of types) {
    const window = type >>> 8;
    if (window !== lastWindow) {
      if (lastWindow >= 0) flush();
      lastWindow = window;
      maxByte = 0;
    }
    const low = type & 0xff;
    bits[low >>> 3]! |= 0x80 >>> (low & 7);
    if (low >>> 3 > maxByte) maxByte = low >>> 3;
  }
  flush();
}

function hexGroups(t: Tokens, i: number, groups: number, digits: number, sep: number, w: RdataWriter): void {
  const b = t.buf;
  const s = t.start[i]!;
  const e = t.end[i]!;
  let g = 0;
  let k = s;
  const bytes = (digits / 2) | 0;
  while (g < groups) {
    let v = 0;
    let n = 0;
    while (k < e && b[k] !== sep && n <= digits) {
      const c = b[k]! | 0x20;
      const h = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
      if (h < 0) n = 99;
      v = v * 16 + h;
      n++;
      k++;
    }
    const exact = sep === 0x2d; // EUI groups are exactly two digits; ILNP groups one to four
    if (n === 0 || n > digits || (exact && n !== digits)) return fail();
    for (let x = bytes - 1; x >= 0; x--) w.u8(Math.floor(v / 256 ** x) & 0xff);
    g++;
    if (g < groups) {
      if (k >= e || b[k] !== sep) return fail();
      k++;
    }
  }
  if (k !== e) fail();
  function fail(): never {
    throw new FieldError(i, `bad ${groups === 4 ? '64-bit identifier' : `EUI-${groups * 8}`} "${tokenForMessage(t, i)}"`);
  }
}

/** Parses field `f` starting at token `i`; returns the next token index. */
function parseField(
  f: number,
  type: number,
  t: Tokens,
  i: number,
  w: RdataWriter,
  origin: Uint8Array | null,
): number {
  if (i >= t.count) {
    if (f === S.F_BITMAP || f === S.F_SVCPARAMS || f === S.F_APL) return i;
    throw new FieldError(t.count - 1, `${typeToName(type)} RDATA is missing a ${FIELD_NAMES[f] ?? 'field'}`, 'truncated');
  }
  const b = t.buf;
  const s = t.start[i]!;
  const e = t.end[i]!;
  switch (f) {
    case S.F_NAME:
    case S.F_NAME_LC:
    case S.F_NAME_LC_CMP: {
      try {
        w.pos = parseNameInto(b, s, e, origin, w.buf, w.pos);
      } catch (err) {
        throw new FieldError(i, `${(err as Error).message}: "${tokenForMessage(t, i)}"`);
      }
      if (w.pos > MAX_RDATA) throw new FieldError(i, 'RDATA longer than 65535 octets');
      return i + 1;
    }
    case S.F_U8:
    case S.F_U16:
    case S.F_U32: {
      const max = f === S.F_U8 ? 0xff : f === S.F_U16 ? 0xffff : 0xffffffff;
      let v = parseUint(b, s, e, max);
      // DSYNC's scheme has mnemonics (RFC 9859 §2.1), which BIND writes: 1 is NOTIFY.
      if (v < 0 && type === RRType.DSYNC && f === S.F_U8) v = S.DSYNC_SCHEMES[tokenText(t, i).toUpperCase()] ?? -1;
      if (v < 0) throw new FieldError(i, `expected a ${FIELD_NAMES[f]}, got "${tokenForMessage(t, i)}"`);
      if (f === S.F_U8) w.u8(v);
      else if (f === S.F_U16) w.u16(v);
      else w.u32(v);
      return i + 1;
    }
    case S.F_TTL: {
      const v = parseTtl(b, s, e);
      if (v < 0) throw new FieldError(i, `expected a time value, got "${tokenForMessage(t, i)}"`);
      w.u32(v);
      return i + 1;
    }
    case S.F_TYPE:
      w.u16(typeNumber(t, i));
      return i + 1;
    case S.F_ALG:
    case S.F_CERT_TYPE: {
      let v = parseUint(b, s, e, f === S.F_ALG ? 0xff : 0xffff);
      if (v < 0) {
        const table = f === S.F_ALG ? S.DNSSEC_ALGORITHMS : S.CERT_TYPES;
        v = table[tokenText(t, i).toUpperCase()] ?? -1;
      }
      if (v < 0) throw new FieldError(i, `unknown ${FIELD_NAMES[f]} "${tokenForMessage(t, i)}"`);
      if (f === S.F_ALG) w.u8(v);
      else w.u16(v);
      return i + 1;
    }
    case S.F_TIME: {
      const v = parseSigTime(b, s, e);
      if (v < 0) throw new FieldError(i, `bad signature time "${tokenForMessage(t, i)}" (YYYYMMDDHHmmSS)`);
      w.u32(v);
      return i + 1;
    }
    case S.F_A:
      w.room(4);
      if (!parseIpv4(b, s, e, w.buf, w.pos)) throw new FieldError(i, `bad IPv4 address "${tokenForMessage(t, i)}"`);
      w.pos += 4;
      return i + 1;
    case S.F_AAAA:
      w.room(16);
      if (!parseIpv6(b, s, e, w.buf, w.pos)) throw new FieldError(i, `bad IPv6 address "${tokenForMessage(t, i)}"`);
      w.pos += 16;
      return i + 1;
    case S.F_STR:
      charString(t, i, w, true);
      return i + 1;
    case S.F_STRS:
      for (let k = i; k < t.count; k++) charString(t, k, w, true);
      return t.count;
    case S.F_REST_STR:
      charString(t, i, w, false);
      return i + 1;
    case S.F_B64: {
      const end = decodeBase64Ranges(b, t.start, t.end, i, t.count, w.buf, w.pos, MAX_RDATA);
      if (end === -1) throw new FieldError(i, 'bad base64');
      if (end === -2) throw new FieldError(i, 'RDATA longer than 65535 octets');
      w.pos = end;
      return t.count;
    }
    case S.F_HEX: {
      const end = decodeHexRanges(b, t.start, t.end, i, t.count, w.buf, w.pos, MAX_RDATA);
      if (end === -1) throw new FieldError(i, 'bad hex (odd length or non-hex digit)');
      if (end === -2) throw new FieldError(i, 'RDATA longer than 65535 octets');
      w.pos = end;
      return t.count;
    }
    case S.F_SALT: {
      const lenAt = w.pos;
      w.u8(0);
      if (e - s === 1 && b[s] === 0x2d) return i + 1;
      const end = decodeHexRanges(b, [s], [e], 0, 1, w.buf, w.pos, lenAt + 256);
      if (end < 0) throw new FieldError(i, end === -2 ? 'salt longer than 255 octets' : 'bad hex in salt');
      w.buf[lenAt] = end - lenAt - 1;
      w.pos = end;
      return i + 1;
    }
    case S.F_B32: {
      if (e - s > 409) throw new FieldError(i, 'hash longer than 255 octets');
      const lenAt = w.pos;
      w.u8(0);
      w.room(256);
      const end = decodeBase32Hex(b, s, e, w.buf, w.pos);
      if (end < 0) throw new FieldError(i, `bad base32hex "${tokenForMessage(t, i)}"`);
      w.buf[lenAt] = end - lenAt - 1;
      w.pos = end;
      return i + 1;
    }
    case S.F_BITMAP:
      typeBitmap(t, i, w);
      return t.count;
    case S.F_EUI48:
      hexGroups(t, i, 6, 2, 0x2d, w);
      return i + 1;
    case S.F_EUI64:
      hexGroups(t, i, 8, 2, 0x2d, w);
      return i + 1;
    case S.F_NODE64:
      hexGroups(t, i, 4, 4, 0x3a, w);
      return i + 1;
    case S.F_CAA_TAG: {
      if (e - s < 1 || e - s > 255) throw new FieldError(i, 'CAA tag must be 1 to 255 characters');
      for (let k = s; k < e; k++) {
        const c = b[k]! | 0x20;
        if (!((c >= 0x61 && c <= 0x7a) || (b[k]! >= 0x30 && b[k]! <= 0x39))) {
          throw new FieldError(i, `CAA tag "${tokenForMessage(t, i)}" must be letters and digits`);
        }
      }
      w.u8(e - s);
      w.bytes(b.subarray(s, e));
      return i + 1;
    }
    case S.F_SVCPARAMS:
      return parseSvcParams(t, i, w);
    case S.F_LOC:
      return parseLoc(t, i, w);
    case S.F_WKS:
      return parseWks(t, i, w);
    case S.F_APL:
      return parseApl(t, i, w);
    case S.F_IPSECKEY:
      return parseIpseckey(t, i, w, origin);
    case S.F_AMTRELAY:
      return parseAmtrelay(t, i, w, origin);
    case S.F_HIP:
      return parseHip(t, i, w, origin);
    default:
      throw new FieldError(i, `internal: unknown field kind ${f}`);
  }
}

/**
 * Encodes the RDATA tokens `[first, t.count)` of a `type` record into `w` (reset first).
 * Throws FieldError naming the token at fault.
 */
export function parseRdata(type: number, t: Tokens, first: number, w: RdataWriter, origin: Uint8Array | null): void {
  w.reset();
  if (first < t.count && isGenericMarker(t, first)) {
    parseGeneric(type, t, first, w);
    return;
  }
  const layout = S.LAYOUTS.get(type);
  if (!layout) {
    throw new FieldError(
      first < t.count ? first : first - 1,
      `${typeToName(type)} has no presentation format here: write its RDATA as \\# <length> <hex> (RFC 3597)`,
    );
  }
  let i = first;
  try {
    for (let k = 0; k < layout.length; k++) i = parseField(layout[k]!, type, t, i, w, origin);
  } catch (err) {
    if (err instanceof RangeError) throw new FieldError(Math.min(i, t.count - 1), 'RDATA longer than 65535 octets');
    throw err;
  }
  if (i < t.count) {
    throw new FieldError(i, `unexpected "${tokenForMessage(t, i)}" after the ${typeToName(type)} RDATA`);
  }
  if (type === RRType.NSEC3) {
    const problem = nsec3HashProblem(w.buf.subarray(0, w.pos));
    if (problem) throw new FieldError(first + 4, `NSEC3: ${problem}`);
  }
}
