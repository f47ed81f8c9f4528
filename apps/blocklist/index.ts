// blocklist: answers NXDOMAIN (or a configured address) for the names in a list and every name
// below them. The list arrives as the app's DATA load, one name per line; it is matched with a
// hash set of lower-cased wire names probed once per suffix of the query name, so a query
// costs the same with ten names or a million.

import {
  Config,
  LoadKind,
  LogLevel,
  Request,
  ResponseWriter,
  Verdict,
  count,
  ipv4,
  ipv6,
  loadError,
  log,
  request,
  takeInput,
  CLASS_IN,
  RCODE_NXDOMAIN,
  SECTION_AUTHORITY,
  TYPE_A,
  TYPE_AAAA,
  TYPE_ANY,
  TYPE_SOA,
} from "../../assembly/sdk";
import { lower } from "../../assembly/name";

export { abi_version, input, gc } from "../../assembly/sdk";

// ---- The name set ---------------------------------------------------------------------------

@inline
function fnv1a(p: usize, len: i32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < len; i++) h = (h ^ <u32>load<u8>(p + <usize>i)) * 0x01000193;
  return h;
}

/**
 * Open addressing over names stored back to back in one buffer: three flat arrays instead of a
 * hundred thousand objects, so a big list costs little memory and loads fast.
 */
class NameSet {
  /** Lower-cased wire names, back to back. */
  pool: Uint8Array;
  poolLen: i32 = 0;
  /** Per slot: offset into `pool` plus one (0: empty), the name's hash, its length. */
  offs: StaticArray<i32>;
  hashes: StaticArray<u32>;
  lens: StaticArray<u8>;
  mask: i32;
  size: i32 = 0;

  constructor(expected: i32, poolBytes: i32) {
    let cap = 16;
    while (cap < expected * 2) cap <<= 1;
    this.offs = new StaticArray<i32>(cap);
    this.hashes = new StaticArray<u32>(cap);
    this.lens = new StaticArray<u8>(cap);
    this.mask = cap - 1;
    this.pool = new Uint8Array(max(poolBytes, 1));
  }

  /** Slot holding the name at `p` (`len` bytes, lower case), or -1. */
  @inline
  find(p: usize, len: i32, h: u32): i32 {
    const base = this.pool.dataStart;
    let i = <i32>h & this.mask;
    let off = unchecked(this.offs[i]);
    while (off != 0) {
      if (unchecked(this.hashes[i]) == h && <i32>unchecked(this.lens[i]) == len && memory.compare(base + <usize>(off - 1), p, <usize>len) == 0) {
        return i;
      }
      i = (i + 1) & this.mask;
      off = unchecked(this.offs[i]);
    }
    return -1;
  }

  /** Adds the lower-cased wire name at `p`; false when it was there already. */
  add(p: usize, len: i32): bool {
    const h = fnv1a(p, len);
    if (this.find(p, len, h) >= 0) return false;
    memory.copy(this.pool.dataStart + <usize>this.poolLen, p, <usize>len);
    let i = <i32>h & this.mask;
    while (unchecked(this.offs[i]) != 0) i = (i + 1) & this.mask;
    unchecked((this.offs[i] = this.poolLen + 1));
    unchecked((this.hashes[i] = h));
    unchecked((this.lens[i] = <u8>len));
    this.poolLen += len;
    this.size++;
    return true;
  }

  /**
   * Where in the wire name at `p` (lower case) the listed name it is, or is below, starts;
   * -1 when it is not covered.
   */
  coveredAt(p: usize, len: i32): i32 {
    let o = 0;
    // Every suffix that starts on a label boundary, the name itself first; never the root.
    while (o < len - 1) {
      const l = <i32>load<u8>(p + <usize>o);
      if (l == 0) break;
      const n = len - o;
      if (this.find(p + <usize>o, n, fnv1a(p + <usize>o, n)) >= 0) return o;
      o += l + 1;
    }
    return -1;
  }
}

let names = new NameSet(0, 1);

// ---- Loading the list -------------------------------------------------------------------------

@inline
function isSpace(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0d;
}

@inline
function isNameChar(c: i32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f;
}

/** The text of bytes [s, e) for an error message, cut short so the message stays readable. */
function excerpt(data: Uint8Array, s: i32, e: i32): string {
  const cut = min(e, s + 80);
  const text = String.UTF8.decodeUnsafe(data.dataStart + <usize>s, <usize>(cut - s));
  return cut < e ? text + "..." : text;
}

const wireBuf = new Uint8Array(256);
let parseError = "";

/**
 * Writes the lower-cased wire form of the text name data[s, e) into wireBuf; returns its length,
 * or 0 with `parseError` set.
 */
function toWire(data: Uint8Array, s: i32, e: i32): i32 {
  let e2 = e;
  if (e2 - s > 1 && data[e2 - 1] == 0x2e) e2--; // "example.com." and "example.com" are one name
  if (e2 - s == 1 && data[s] == 0x2e) {
    parseError = "\".\" (the root) would block every name";
    return 0;
  }
  let o = 1;
  let labelStart = 0;
  for (let i = s; i < e2; i++) {
    const c = <i32>lower(data[i]);
    if (c == 0x2e) {
      const labelLen = o - labelStart - 1;
      if (labelLen == 0) {
        parseError = "\"" + excerpt(data, s, e) + "\" has an empty label";
        return 0;
      }
      wireBuf[labelStart] = <u8>labelLen;
      labelStart = o++;
      continue;
    }
    if (!isNameChar(c)) {
      if (c == 0x2a) {
        parseError = "\"" + excerpt(data, s, e) + "\": no wildcards needed, a name blocks itself and every name below it";
      } else {
        parseError = "\"" + excerpt(data, s, e) + "\" is not a domain name (letters, digits, '-' and '_' in dot-separated labels)";
      }
      return 0;
    }
    if (o - labelStart - 1 == 63) {
      parseError = "\"" + excerpt(data, s, e) + "\" has a label longer than 63 characters";
      return 0;
    }
    if (o >= 254) {
      parseError = "\"" + excerpt(data, s, e) + "\" is longer than 255 bytes in wire form";
      return 0;
    }
    wireBuf[o++] = <u8>c;
  }
  const labelLen = o - labelStart - 1;
  if (labelLen == 0) {
    parseError = "\"" + excerpt(data, s, e) + "\" has an empty label";
    return 0;
  }
  wireBuf[labelStart] = <u8>labelLen;
  wireBuf[o++] = 0;
  return o;
}

/** Builds a new set from the list; the running one is replaced only when every line is good. */
function loadList(data: Uint8Array): i32 {
  const n = data.length;
  let lines = 1;
  for (let i = 0; i < n; i++) if (unchecked(data[i]) == 0x0a) lines++;
  // A wire name is at most two bytes longer than its line: a length byte and the root label.
  const next = new NameSet(lines, n + 2 * lines);
  let line = 0;
  let p = 0;
  let duplicates = 0;
  while (p < n) {
    line++;
    let end = p;
    while (end < n && unchecked(data[end]) != 0x0a) end++;
    let s = p;
    let e = end;
    for (let i = s; i < e; i++) {
      if (unchecked(data[i]) == 0x23) {
        e = i;
        break;
      }
    }
    while (s < e && isSpace(data[s])) s++;
    while (e > s && isSpace(data[e - 1])) e--;
    p = end + 1;
    if (s == e) continue;
    for (let i = s; i < e; i++) {
      if (isSpace(data[i])) {
        return loadError("line " + line.toString() + ": \"" + excerpt(data, s, e) + "\": one name per line (hosts-file lines are not supported)");
      }
    }
    const len = toWire(data, s, e);
    if (len == 0) return loadError("line " + line.toString() + ": " + parseError);
    if (!next.add(wireBuf.dataStart, len)) duplicates++;
  }
  names = next;
  log(LogLevel.INFO, "loaded " + next.size.toString() + " names (" + duplicates.toString() + " duplicates skipped)");
  return 0;
}

// ---- Config ---------------------------------------------------------------------------------------

class Settings {
  address: bool = false;
  v4: Uint8Array | null = null;
  v6: Uint8Array | null = null;
  ttl: u32 = 60;
  /** TTL and MINIMUM of the SOA put in negative answers; 0 sends none. */
  negativeTtl: u32 = 60;
}

let settings = new Settings();

/** A decimal number of at most 9 digits, or -1. */
function seconds(text: string): i32 {
  if (text.length == 0 || text.length > 9) return -1;
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}

function loadConfig(data: Uint8Array): i32 {
  const cfg = Config.parse(data);
  const next = new Settings();
  for (let i = 0; i < cfg.keys.length; i++) {
    const key = cfg.keys[i];
    const value = cfg.values[i];
    if (key.startsWith("host.")) continue;
    if (key == "mode") {
      if (value != "nxdomain" && value != "address") return loadError("mode: \"" + value + "\" is not nxdomain or address");
      next.address = value == "address";
    } else if (key == "address_v4") {
      next.v4 = ipv4(value);
      if (next.v4 == null) return loadError("address_v4: \"" + value + "\" is not an IPv4 address");
    } else if (key == "address_v6") {
      next.v6 = ipv6(value);
      if (next.v6 == null) return loadError("address_v6: \"" + value + "\" is not an IPv6 address");
    } else if (key == "ttl") {
      const t = seconds(value);
      if (t < 0 || t > 86400) return loadError("ttl: \"" + value + "\" is not a number of seconds from 0 to 86400");
      next.ttl = <u32>t;
    } else if (key == "negative_ttl") {
      const t = seconds(value);
      if (t < 0 || t > 86400) return loadError("negative_ttl: \"" + value + "\" is not a number of seconds from 0 to 86400");
      next.negativeTtl = <u32>t;
    } else {
      return loadError("unknown config key \"" + key + "\"");
    }
  }
  if (next.address && next.v4 == null && next.v6 == null) {
    return loadError("mode = \"address\" needs address_v4, address_v6 or both");
  }
  settings = next;
  return 0;
}

export function on_load(kind: i32, len: i32): i32 {
  const data = takeInput(len);
  if (kind == LoadKind.CONFIG) return loadConfig(data);
  if (kind == LoadKind.DATA) return loadList(data);
  return loadError("unknown load kind " + kind.toString());
}

// ---- Queries ----------------------------------------------------------------------------------

const qnameBuf = new Uint8Array(256);
/** RNAME of the synthetic SOA: nobody.invalid. (RFC 6761: .invalid names nothing real). */
const NOBODY: u8[] = [6, 0x6e, 0x6f, 0x62, 0x6f, 0x64, 0x79, 7, 0x69, 0x6e, 0x76, 0x61, 0x6c, 0x69, 0x64, 0];

/**
 * Adds the SOA of a negative answer, owned by the listed name that matched (the apex of what
 * does not exist), so downstream caches keep the answer for `ttl` (RFC 2308 §5: min(SOA TTL,
 * MINIMUM)). Without it they may not cache it at all and ask again every time.
 */
function addSoa(w: ResponseWriter, owner: Uint8Array, ttl: u32): void {
  const rdata = new Uint8Array(owner.length + NOBODY.length + 20);
  rdata.set(owner);
  for (let i = 0; i < NOBODY.length; i++) unchecked((rdata[owner.length + i] = NOBODY[i]));
  // Serial, refresh, retry, expire: no zone is transferred from here; MINIMUM is the negative TTL.
  const at = rdata.dataStart + <usize>(owner.length + NOBODY.length);
  store<u32>(at, bswap<u32>(1));
  store<u32>(at + 4, bswap<u32>(3600));
  store<u32>(at + 8, bswap<u32>(1200));
  store<u32>(at + 12, bswap<u32>(604800));
  store<u32>(at + 16, bswap<u32>(ttl));
  w.add(SECTION_AUTHORITY, owner, TYPE_SOA, CLASS_IN, ttl, rdata);
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req: Request = request(phase, ctxLen, msgLen);
  if (names.size == 0) return Verdict.CONTINUE;
  const q = req.ctx.qname();
  const len = min(q.length, 256);
  for (let i = 0; i < len; i++) unchecked((qnameBuf[i] = lower(unchecked(q[i]))));
  const at = names.coveredAt(qnameBuf.dataStart, len);
  if (at < 0) return Verdict.CONTINUE;
  count("blocked");
  const s = settings;
  const w = new ResponseWriter(req.message, 512);
  let answered = false;
  if (!s.address) {
    w.setRcode(RCODE_NXDOMAIN);
  } else if (req.qclass == CLASS_IN) {
    // Address mode: the configured address for A/AAAA, and NODATA (NOERROR, no records) for
    // other types, so clients see the name exist only where it points.
    const t = req.qtype;
    const v4 = s.v4;
    const v6 = s.v6;
    if (v4 != null && (t == TYPE_A || t == TYPE_ANY)) {
      w.answer(TYPE_A, s.ttl, v4);
      answered = true;
    }
    if (v6 != null && (t == TYPE_AAAA || t == TYPE_ANY)) {
      w.answer(TYPE_AAAA, s.ttl, v6);
      answered = true;
    }
  }
  // an IN SOA says nothing to a query of another class (CH, HS)
  if (!answered && s.negativeTtl > 0 && req.qclass == CLASS_IN) addSoa(w, qnameBuf.slice(at, len), s.negativeTtl);
  return req.respond(w.finish());
}
