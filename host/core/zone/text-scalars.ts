/**
 * Numbers, TTLs, RRSIG times and addresses read from token bytes. Each returns -1 (or false)
 * on bad input and leaves the wording of the error to the caller, which knows the field.
 */

/** Unsigned decimal up to `max`; -1 when empty, not all digits, or above `max`. */
export function parseUint(buf: Uint8Array, s: number, e: number, max: number): number {
  if (s >= e || e - s > 10) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v <= max ? v : -1;
}

const UNIT: Record<number, number> = { 0x73: 1, 0x6d: 60, 0x68: 3600, 0x64: 86400, 0x77: 604800 };

/**
 * A TTL or SOA timer: plain seconds, or BIND's unit form (`1h30m`, `2W`), case-insensitive.
 * RFC 2181 §8 caps TTLs at 2^31 - 1; -1 when malformed or larger.
 */
export function parseTtl(buf: Uint8Array, s: number, e: number): number {
  if (s >= e) return -1;
  let total = 0;
  let cur = -1;
  let units = false;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    const d = c - 0x30;
    if (d >= 0 && d <= 9) {
      cur = (cur < 0 ? 0 : cur) * 10 + d;
      if (cur > 0xffffffff) return -1;
      continue;
    }
    const mult = UNIT[c | 0x20];
    if (mult === undefined || cur < 0) return -1;
    total += cur * mult;
    cur = -1;
    units = true;
  }
  if (cur >= 0) {
    if (units) return -1; // "1h30" is ambiguous; BIND rejects it too
    total += cur;
  } else if (!units) return -1;
  return total <= 0x7fffffff ? total : -1;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm); no Date object. */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * An RRSIG time: `YYYYMMDDHHmmSS` (RFC 4034 §3.2) or plain seconds. Returns the 32-bit value
 * (serial arithmetic makes later years wrap) or -1.
 */
export function parseSigTime(buf: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n === 14) {
    for (let i = s; i < e; i++) {
      const d = buf[i]! - 0x30;
      if (d < 0 || d > 9) return -1;
    }
    const num = (a: number, len: number): number => {
      let v = 0;
      for (let i = s + a; i < s + a + len; i++) v = v * 10 + (buf[i]! - 0x30);
      return v;
    };
    const y = num(0, 4);
    const mo = num(4, 2);
    const d = num(6, 2);
    const h = num(8, 2);
    const mi = num(10, 2);
    const se = num(12, 2);
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return -1;
    const dim = mo === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : DAYS_IN_MONTH[mo - 1]!;
    if (d > dim) return -1;
    return (daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) >>> 0;
  }
  if (n >= 1 && n <= 10) return parseUint(buf, s, e, 0xffffffff);
  return -1;
}

export function formatSigTime(t: number): string {
  const d = new Date(t * 1000);
  const p = (v: number, w = 2): string => v.toString().padStart(w, '0');
  return (
    p(d.getUTCFullYear(), 4) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes()) +
    p(d.getUTCSeconds())
  );
}

/** Dotted-quad IPv4 into `out[o..o+4)`; false when malformed. */
export function parseIpv4(buf: Uint8Array, s: number, e: number, out: Uint8Array, o: number): boolean {
  let part = 0;
  let digits = 0;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c === 0x2e) {
      if (digits === 0 || part === 3) return false;
      out[o + part++] = v;
      v = 0;
      digits = 0;
      continue;
    }
    const d = c - 0x30;
    if (d < 0 || d > 9 || digits === 3) return false;
    if (digits === 1 && v === 0) return false; // a leading zero reads as octal elsewhere
    v = v * 10 + d;
    if (v > 255) return false;
    digits++;
  }
  if (digits === 0 || part !== 3) return false;
  out[o + 3] = v;
  return true;
}

const hexVal = (c: number): number => {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
};

/** RFC 4291 §2.2 text (with `::` and a trailing dotted quad) into 16 bytes; false when malformed. */
export function parseIpv6(buf: Uint8Array, s: number, e: number, out: Uint8Array, o: number): boolean {
  const groups: number[] = [];
  let gap = -1;
  let i = s;
  if (e - s < 2) return false;
  if (buf[i] === 0x3a) {
    if (buf[i + 1] !== 0x3a) return false;
    gap = 0;
    i += 2;
    if (i === e) {
      out.fill(0, o, o + 16);
      return true;
    }
  }
  let tail4 = false;
  while (i < e) {
    // a dotted quad may end the address
    let j = i;
    let v = 0;
    let n = 0;
    while (j < e && n < 5) {
      const h = hexVal(buf[j]!);
      if (h < 0) break;
      v = (v << 4) | h;
      n++;
      j++;
    }
    if (j < e && buf[j] === 0x2e) {
      if (groups.length > 6) return false;
      const tmp = new Uint8Array(4);
      if (!parseIpv4(buf, i, e, tmp, 0)) return false;
      groups.push((tmp[0]! << 8) | tmp[1]!, (tmp[2]! << 8) | tmp[3]!);
      tail4 = true;
      i = e;
      break;
    }
    if (n === 0 || n > 4) return false;
    groups.push(v);
    i = j;
    if (i === e) break;
    if (buf[i] !== 0x3a) return false;
    i++;
    if (i < e && buf[i] === 0x3a) {
      if (gap >= 0) return false;
      gap = groups.length;
      i++;
      if (i === e) break;
    } else if (i === e) return false;
  }
  void tail4;
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return false;
  const fill = 8 - groups.length;
  let g = 0;
  for (let k = 0; k < 8; k++) {
    let v: number;
    if (gap >= 0 && k >= gap && k < gap + fill) v = 0;
    else v = groups[g++]!;
    out[o + 2 * k] = v >>> 8;
    out[o + 2 * k + 1] = v & 0xff;
  }
  return true;
}

export function formatIpv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** RFC 5952 text (one spelling for every host component: `host/core/dns/ipv6-text.ts`). */
export { ipv6Text as formatIpv6 } from '../dns/ipv6-text.js';
