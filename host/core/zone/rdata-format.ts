/**
 * Wire-form RDATA to presentation text, the inverse of rdata-parse.ts, so that text → wire →
 * text → wire is the identity. Types without a layout, and RDATA that does not fit its layout,
 * are written in RFC 3597 `\#` form, which every reader accepts.
 */

import { encodeBase64, hexUpper } from '../dns/bytes.js';
import { wireNameLength } from '../dns/name.js';
import { typeToName } from '../dns/rr-types.js';
import { nameToText } from '../dns/wire.js';
import { formatApl } from './apl-codec.js';
import { encodeBase32Hex } from './base-encodings.js';
import { formatAmtrelay, formatIpseckey } from './gateway-codec.js';
import { formatHip } from './hip-codec.js';
import { formatLoc } from './loc-codec.js';
import * as S from './rdata-schema.js';
import { checkRdata } from './rdata-wire.js';
import { checkSvcParams, formatSvcParams } from './svcb-params.js';
import { formatIpv4, formatIpv6, formatSigTime } from './text-scalars.js';
import { formatWks } from './wks-codec.js';

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

export function formatGeneric(rdata: Uint8Array): string {
  return rdata.length === 0 ? '\\# 0' : `\\# ${rdata.length} ${hexUpper(rdata)}`;
}

/** A quoted <character-string> with `"` and `\` escaped and non-printables as \DDD. */
export function quoteString(b: Uint8Array, s: number, e: number): string {
  let out = '"';
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c === 0x22 || c === 0x5c) out += '\\' + String.fromCharCode(c);
    else if (c < 0x20 || c >= 0x7f) out += '\\' + c.toString().padStart(3, '0');
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

function bitmapText(b: Uint8Array, p: number, end: number): string[] {
  const out: string[] = [];
  while (p < end) {
    const win = b[p]!;
    const len = b[p + 1]!;
    for (let i = 0; i < len; i++) {
      const byte = b[p + 2 + i]!;
      for (let bit = 0; bit < 8; bit++) if (byte & (0x80 >>> bit)) out.push(typeToName(win * 256 + i * 8 + bit));
    }
    p += 2 + len;
  }
  return out;
}

function hexGroups(b: Uint8Array, p: number, n: number, width: number, sep: string): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let k = 0; k < width; k++) v = v * 256 + b[p + i * width + k]!;
    parts.push(v.toString(16).padStart(width * 2, '0'));
  }
  return parts.join(sep);
}

/** Presentation form of `rdata` for `type`. */
export function formatRdata(type: number, rdata: Uint8Array): string {
  const layout = S.LAYOUTS.get(type);
  if (!layout || checkRdata(type, rdata) !== null) return formatGeneric(rdata);
  try {
    return formatLayout(layout, rdata);
  } catch {
    return formatGeneric(rdata);
  }
}

function formatLayout(layout: readonly number[], b: Uint8Array): string {
  const words: string[] = [];
  let p = 0;
  const end = b.length;
  for (const f of layout) {
    switch (f) {
      case S.F_NAME:
      case S.F_NAME_LC:
      case S.F_NAME_LC_CMP: {
        const n = wireNameLength(b, p, end);
        words.push(nameToText(b.subarray(p, p + n)));
        p += n;
        break;
      }
      case S.F_U8:
      case S.F_ALG:
        words.push(String(b[p]));
        p += 1;
        break;
      case S.F_U16:
      case S.F_CERT_TYPE:
        words.push(String(u16(b, p)));
        p += 2;
        break;
      case S.F_TYPE:
        words.push(typeToName(u16(b, p)));
        p += 2;
        break;
      case S.F_U32:
      case S.F_TTL:
        words.push(String(u32(b, p)));
        p += 4;
        break;
      case S.F_TIME:
        words.push(formatSigTime(u32(b, p)));
        p += 4;
        break;
      case S.F_A:
        words.push(formatIpv4(b, p));
        p += 4;
        break;
      case S.F_AAAA:
        words.push(formatIpv6(b, p));
        p += 16;
        break;
      case S.F_STR:
        words.push(quoteString(b, p + 1, p + 1 + b[p]!));
        p += 1 + b[p]!;
        break;
      case S.F_STRS:
        while (p < end) {
          words.push(quoteString(b, p + 1, p + 1 + b[p]!));
          p += 1 + b[p]!;
        }
        break;
      case S.F_REST_STR:
        words.push(quoteString(b, p, end));
        p = end;
        break;
      case S.F_B64:
        words.push(encodeBase64(b, p, end));
        p = end;
        break;
      case S.F_HEX:
        words.push(hexUpper(b, p, end));
        p = end;
        break;
      case S.F_SALT:
        words.push(b[p] === 0 ? '-' : hexUpper(b, p + 1, p + 1 + b[p]!));
        p += 1 + b[p]!;
        break;
      case S.F_B32:
        words.push(encodeBase32Hex(b, p + 1, p + 1 + b[p]!));
        p += 1 + b[p]!;
        break;
      case S.F_BITMAP:
        words.push(...bitmapText(b, p, end));
        p = end;
        break;
      case S.F_EUI48:
        words.push(hexGroups(b, p, 6, 1, '-'));
        p += 6;
        break;
      case S.F_EUI64:
        words.push(hexGroups(b, p, 8, 1, '-'));
        p += 8;
        break;
      case S.F_NODE64:
        words.push(hexGroups(b, p, 4, 2, ':'));
        p += 8;
        break;
      case S.F_CAA_TAG: {
        const len = b[p]!;
        for (let i = p + 1; i <= p + len; i++) {
          const c = b[i]! | 0x20;
          if (!((c >= 0x61 && c <= 0x7a) || (b[i]! >= 0x30 && b[i]! <= 0x39))) throw new Error('CAA tag not alphanumeric');
        }
        words.push(String.fromCharCode(...b.subarray(p + 1, p + 1 + len)));
        p += 1 + len;
        break;
      }
      case S.F_SVCPARAMS: {
        if (checkSvcParams(b, p, end) !== null) throw new Error('bad SvcParams');
        const text = formatSvcParams(b, p, end);
        if (text) words.push(text);
        p = end;
        break;
      }
      case S.F_LOC:
        words.push(formatLoc(b, p, end));
        p = end;
        break;
      case S.F_WKS:
        words.push(formatWks(b, p, end));
        p = end;
        break;
      case S.F_APL: {
        const text = formatApl(b, p, end);
        if (text) words.push(text);
        p = end;
        break;
      }
      case S.F_IPSECKEY:
        words.push(formatIpseckey(b, p, end));
        p = end;
        break;
      case S.F_AMTRELAY:
        words.push(formatAmtrelay(b, p, end));
        p = end;
        break;
      case S.F_HIP:
        words.push(formatHip(b, p, end));
        p = end;
        break;
      default:
        throw new Error(`unknown field kind ${f}`);
    }
  }
  return words.join(' ');
}
