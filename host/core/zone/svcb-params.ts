/**
 * SvcParams of SVCB and HTTPS (RFC 9460 §2.1, appendix A): `key=value` words in text, sorted
 * key/length/value triples on the wire. Keys this table does not name travel as `keyNNNNN`.
 */

import { encodeBase64 } from '../dns/bytes.js';
import { FieldError } from './errors.js';
import type { RdataWriter } from './rdata-writer.js';
import { decodeBase64Ranges } from './base-encodings.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6, parseUint } from './text-scalars.js';
import { TOKEN_QUOTED, type Tokens } from './tokens.js';

const KEY_NAMES = ['mandatory', 'alpn', 'no-default-alpn', 'port', 'ipv4hint', 'ech', 'ipv6hint', 'dohpath', 'ohttp'];
const KEY_BY_NAME = new Map(KEY_NAMES.map((n, i) => [n, i]));
const KEY_MANDATORY = 0;
const KEY_ALPN = 1;
const KEY_NO_DEFAULT_ALPN = 2;
const KEY_PORT = 3;
const KEY_IPV4HINT = 4;
const KEY_ECH = 5;
const KEY_IPV6HINT = 6;
const KEY_DOHPATH = 7;
const KEY_OHTTP = 8;
const KEY_INVALID = 65535;

function keyFromName(name: string): number | undefined {
  const known = KEY_BY_NAME.get(name.toLowerCase());
  if (known !== undefined) return known;
  const m = /^key(\d{1,5})$/i.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n < KEY_INVALID ? n : undefined;
}

function keyToName(key: number): string {
  return KEY_NAMES[key] ?? `key${key}`;
}

/** Removes char-string escapes from `b[s, e)`. */
function unescape(b: Uint8Array, s: number, e: number): number[] {
  const out: number[] = [];
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    if (i + 1 >= e) throw new Error('dangling backslash');
    const d = b[i + 1]!;
    if (d >= 0x30 && d <= 0x39) {
      if (i + 3 >= e) throw new Error('bad \\DDD escape');
      const d2 = b[i + 2]! - 0x30;
      const d3 = b[i + 3]! - 0x30;
      if (d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) throw new Error('bad \\DDD escape');
      const v = (d - 0x30) * 100 + d2 * 10 + d3;
      if (v > 255) throw new Error('\\DDD escape above 255');
      out.push(v);
      i += 3;
    } else {
      out.push(d);
      i += 1;
    }
  }
  return out;
}

/**
 * Splits an already unescaped value on commas (RFC 9460 appendix A.1 value-list): inside an
 * item `\,` is a comma and `\\` a backslash.
 */
function splitList(v: number[]): number[][] {
  const items: number[][] = [];
  let cur: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === 0x5c && i + 1 < v.length) {
      cur.push(v[++i]!);
      continue;
    }
    if (c === 0x2c) {
      items.push(cur);
      cur = [];
      continue;
    }
    cur.push(c);
  }
  items.push(cur);
  return items;
}

function ascii(bytes: number[]): string {
  return String.fromCharCode(...bytes);
}

function encodeValue(key: number, b: Uint8Array, s: number, e: number, present: boolean): Uint8Array {
  // char-string escapes first; list keys then split the result
  const value = present ? unescape(b, s, e) : [];
  const list = (): number[][] => {
    if (value.length === 0) throw new Error(`${keyToName(key)} needs a value`);
    return splitList(value);
  };
  const text = (item: number[]): Uint8Array => Uint8Array.from(item);
  switch (key) {
    case KEY_MANDATORY: {
      const keys = list().map((item) => {
        const k = keyFromName(ascii(item));
        if (k === undefined) throw new Error(`unknown key "${ascii(item)}" in mandatory list`);
        // RFC 9460 §8
        if (k === KEY_MANDATORY) throw new Error('mandatory must not list itself');
        return k;
      });
      keys.sort((x, y) => x - y);
      for (let i = 1; i < keys.length; i++) if (keys[i] === keys[i - 1]) throw new Error('duplicate key in mandatory');
      const out = new Uint8Array(keys.length * 2);
      keys.forEach((k, i) => {
        out[2 * i] = k >>> 8;
        out[2 * i + 1] = k & 0xff;
      });
      return out;
    }
    case KEY_ALPN: {
      const parts: number[] = [];
      for (const id of list()) {
        if (id.length === 0 || id.length > 255) throw new Error('alpn id must be 1 to 255 octets');
        parts.push(id.length, ...id);
      }
      return Uint8Array.from(parts);
    }
    case KEY_NO_DEFAULT_ALPN:
    case KEY_OHTTP:
      if (present && value.length !== 0) throw new Error(`${keyToName(key)} takes no value`);
      return new Uint8Array(0);
    case KEY_PORT: {
      const digits = text(value);
      const v = parseUint(digits, 0, digits.length, 0xffff);
      if (v < 0) throw new Error('port must be a number up to 65535');
      return Uint8Array.of(v >>> 8, v & 0xff);
    }
    case KEY_IPV4HINT: {
      const items = list();
      const out = new Uint8Array(items.length * 4);
      items.forEach((item, i) => {
        const t = text(item);
        if (!parseIpv4(t, 0, t.length, out, i * 4)) throw new Error('bad address in ipv4hint');
      });
      return out;
    }
    case KEY_IPV6HINT: {
      const items = list();
      const out = new Uint8Array(items.length * 16);
      items.forEach((item, i) => {
        const t = text(item);
        if (!parseIpv6(t, 0, t.length, out, i * 16)) throw new Error('bad address in ipv6hint');
      });
      return out;
    }
    case KEY_ECH: {
      if (value.length === 0) throw new Error('ech needs a value');
      const t = text(value);
      const out = new Uint8Array(t.length);
      const end = decodeBase64Ranges(t, [0], [t.length], 0, 1, out, 0, out.length);
      if (end < 0) throw new Error('ech is not valid base64');
      return out.slice(0, end);
    }
    default:
      if (key === KEY_DOHPATH && value.length === 0) throw new Error('dohpath needs a value');
      return text(value);
  }
}

/** Parses tokens `[first, t.count)` as SvcParams into `w`; returns t.count. */
export function parseSvcParams(t: Tokens, first: number, w: RdataWriter): number {
  const params: Array<{ key: number; value: Uint8Array; token: number }> = [];
  const b = t.buf;
  for (let i = first; i < t.count; i++) {
    const s = t.start[i]!;
    const e = t.end[i]!;
    if (t.flags[i]! & TOKEN_QUOTED) throw new FieldError(i, 'SvcParam must be key=value, not a quoted string');
    let eq = -1;
    for (let k = s; k < e; k++) {
      if (b[k] === 0x3d) {
        eq = k;
        break;
      }
    }
    const keyName = String.fromCharCode(...b.subarray(s, eq < 0 ? e : eq));
    const key = keyFromName(keyName);
    if (key === undefined) throw new FieldError(i, `unknown SvcParam key "${keyName}"`);
    let vs = eq < 0 ? e : eq + 1;
    let ve = e;
    const present = eq >= 0;
    // `key="quoted value"` arrives as one word; `key= "value"` as two tokens
    if (present && vs === ve && i + 1 < t.count && t.flags[i + 1]! & TOKEN_QUOTED) {
      i++;
      vs = t.start[i]!;
      ve = t.end[i]!;
    } else if (present && ve - vs >= 2 && b[vs] === 0x22 && b[ve - 1] === 0x22) {
      vs++;
      ve--;
    }
    try {
      params.push({ key, value: encodeValue(key, b, vs, ve, present), token: i });
    } catch (err) {
      throw new FieldError(i, `SvcParam ${keyToName(key)}: ${(err as Error).message}`);
    }
  }
  params.sort((x, y) => x.key - y.key);
  for (let k = 1; k < params.length; k++) {
    if (params[k]!.key === params[k - 1]!.key) {
      throw new FieldError(params[k]!.token, `SvcParam ${keyToName(params[k]!.key)} appears twice`);
    }
  }
  const mandatory = params.find((p) => p.key === KEY_MANDATORY);
  for (let q = 0; mandatory && q < mandatory.value.length; q += 2) {
    const key = (mandatory.value[q]! << 8) | mandatory.value[q + 1]!;
    if (!params.some((p) => p.key === key)) {
      throw new FieldError(mandatory.token, `SvcParam mandatory: ${keyToName(key)} is mandatory but absent`);
    }
  }
  for (const p of params) {
    try {
      w.u16(p.key);
      w.u16(p.value.length);
      w.bytes(p.value);
    } catch {
      throw new FieldError(p.token, 'RDATA longer than 65535 octets');
    }
  }
  return t.count;
}

/** Null when `b[s, e)` is a well-formed SvcParams block, else the problem. */
export function checkSvcParams(b: Uint8Array, s: number, e: number): string | null {
  let p = s;
  let last = -1;
  let mandatory = -1;
  while (p < e) {
    if (p + 4 > e) return 'truncated SvcParam';
    const key = (b[p]! << 8) | b[p + 1]!;
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    if (key <= last) return 'SvcParam keys not in increasing order';
    if (key === KEY_INVALID) return 'SvcParam key 65535 is reserved';
    last = key;
    p += 4;
    if (p + len > e) return 'SvcParam value runs past the RDATA';
    if (key === KEY_PORT && len !== 2) return 'port value is not 2 octets';
    if (key === KEY_IPV4HINT && (len === 0 || len % 4 !== 0)) return 'bad ipv4hint length';
    if (key === KEY_IPV6HINT && (len === 0 || len % 16 !== 0)) return 'bad ipv6hint length';
    if (key === KEY_MANDATORY && (len === 0 || len % 2 !== 0)) return 'bad mandatory length';
    if (key === KEY_MANDATORY) mandatory = p;
    if ((key === KEY_NO_DEFAULT_ALPN || key === KEY_OHTTP) && len !== 0) return `${keyToName(key)} carries a value`;
    if (key === KEY_ALPN) {
      let q = p;
      if (len === 0) return 'empty alpn';
      while (q < p + len) {
        const l = b[q]!;
        if (l === 0 || q + 1 + l > p + len) return 'bad alpn id';
        q += 1 + l;
      }
    }
    p += len;
  }
  return mandatory < 0 ? null : checkMandatory(b, s, e, mandatory);
}

/** RFC 9460 §8: the mandatory list at `m` is strictly increasing, omits itself and names only keys present. */
function checkMandatory(b: Uint8Array, s: number, e: number, m: number): string | null {
  const end = m + ((b[m - 2]! << 8) | b[m - 1]!);
  let prev = -1;
  for (let q = m; q < end; q += 2) {
    const key = (b[q]! << 8) | b[q + 1]!;
    if (key === KEY_MANDATORY) return 'mandatory lists itself';
    if (key <= prev) return 'mandatory keys not in strictly increasing order';
    prev = key;
    let found = false;
    for (let p = s; p < e && !found; p += 4 + ((b[p + 2]! << 8) | b[p + 3]!)) found = ((b[p]! << 8) | b[p + 1]!) === key;
    if (!found) return `${keyToName(key)} is mandatory but absent`;
  }
  return null;
}

/** Char-string escaping for a value written inside double quotes. */
function escapeValue(bytes: ArrayLike<number>): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 0x22 || c === 0x5c) out += '\\' + String.fromCharCode(c);
    else if (c < 0x20 || c >= 0x7f) out += '\\' + c.toString().padStart(3, '0');
    else out += String.fromCharCode(c);
  }
  return out;
}

/** One value-list item with its commas and backslashes escaped (before char-string escaping). */
function listItem(b: Uint8Array, s: number, e: number): number[] {
  const out: number[] = [];
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c === 0x2c || c === 0x5c) out.push(0x5c);
    out.push(c);
  }
  return out;
}

/** Presentation form of a checked SvcParams block (empty string when there are none). */
export function formatSvcParams(b: Uint8Array, s: number, e: number): string {
  const words: string[] = [];
  let p = s;
  while (p < e) {
    const key = (b[p]! << 8) | b[p + 1]!;
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    const v = p + 4;
    const z = v + len;
    const name = keyToName(key);
    switch (key) {
      case KEY_MANDATORY: {
        const keys: string[] = [];
        for (let q = v; q < z; q += 2) keys.push(keyToName((b[q]! << 8) | b[q + 1]!));
        words.push(`${name}=${keys.join(',')}`);
        break;
      }
      case KEY_ALPN: {
        const joined: number[] = [];
        for (let q = v; q < z; q += 1 + b[q]!) {
          if (joined.length) joined.push(0x2c);
          joined.push(...listItem(b, q + 1, q + 1 + b[q]!));
        }
        words.push(`${name}="${escapeValue(joined)}"`);
        break;
      }
      case KEY_NO_DEFAULT_ALPN:
      case KEY_OHTTP:
        words.push(name);
        break;
      case KEY_PORT:
        words.push(`${name}=${(b[v]! << 8) | b[v + 1]!}`);
        break;
      case KEY_IPV4HINT: {
        const a: string[] = [];
        for (let q = v; q < z; q += 4) a.push(formatIpv4(b, q));
        words.push(`${name}=${a.join(',')}`);
        break;
      }
      case KEY_IPV6HINT: {
        const a: string[] = [];
        for (let q = v; q < z; q += 16) a.push(formatIpv6(b, q));
        words.push(`${name}=${a.join(',')}`);
        break;
      }
      case KEY_ECH:
        words.push(`${name}=${encodeBase64(b, v, z)}`);
        break;
      default:
        words.push(len === 0 ? name : `${name}="${escapeValue(b.subarray(v, z))}"`);
    }
    p = z;
  }
  return words.join(' ');
}
