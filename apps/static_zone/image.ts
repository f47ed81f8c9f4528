// Reading a zone image (docs/zone-image.md) in place: the bytes the host loaded are kept as they
// are and read with little-endian loads; nothing is parsed into objects, so a 3 MB root zone
// costs 3 MB and one validation pass. The TypeScript reference is host/core/zone/image-lookup.ts.

const MAGIC: u32 = 0x4d495a45; // "EZIM"
const HEADER_SIZE: u32 = 256;
const NAME_ENTRY: u32 = 24;
const RRSET_ENTRY: u32 = 20;
export const NO_NAME: u32 = 0xffffffff;

// Node flags (host/core/zone/zone.ts).
export const NODE_APEX: u16 = 1;
export const NODE_CUT: u16 = 2;
export const NODE_BELOW_CUT: u16 = 4;
export const NODE_BELOW_DNAME: u16 = 8;
export const NODE_ENT: u16 = 16;
export const NODE_WILDCARD: u16 = 32;
export const NODE_HAS_NSEC: u16 = 64;

export const DNSSEC_VERIFIED: u8 = 1;

/** Where a name search ended. */
export class Found {
  index: i32 = -1;
  exact: bool = false;
}

export class Image {
  bytes: Uint8Array;
  base: usize;
  serial: u32 = 0;
  klass: u32 = 0;
  dnssecStatus: u8 = 0;
  /** The zone's denial of existence is NSEC3 (this app builds NSEC proofs only). */
  nsec3: bool = false;
  soaMinimum: u32 = 0;
  /** Seconds since the epoch; 0 when the zone has no signatures. */
  earliestRrsigExpiration: f64 = 0;
  nameCount: u32 = 0;
  rrsetCount: u32 = 0;
  apex: u32 = 0;
  originOff: u32 = 0;
  originLen: u32 = 0;
  namesOff: u32 = 0;
  rrsetsOff: u32 = 0;
  keysOff: u32 = 0;
  keysLen: u32 = 0;
  nameDataOff: u32 = 0;
  nameDataLen: u32 = 0;
  rdataOff: u32 = 0;
  rdataLen: u32 = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.base = bytes.dataStart;
  }

  @inline u8at(off: u32): u8 {
    return load<u8>(this.base + <usize>off);
  }
  @inline u16at(off: u32): u16 {
    return load<u16>(this.base + <usize>off);
  }
  @inline u32at(off: u32): u32 {
    return load<u32>(this.base + <usize>off);
  }
  @inline u16be(off: u32): u32 {
    return (<u32>this.u8at(off) << 8) | <u32>this.u8at(off + 1);
  }
  u64secs(off: u32): f64 {
    return <f64>this.u32at(off) + <f64>this.u32at(off + 4) * 4294967296.0;
  }

  // ---- Name table ------------------------------------------------------------------------------

  @inline nameEntry(k: u32): u32 {
    return this.namesOff + k * NAME_ENTRY;
  }
  nameFlags(k: u32): u16 {
    return this.u16at(this.nameEntry(k) + 12);
  }
  nameRrsetCount(k: u32): u32 {
    return <u32>this.u16at(this.nameEntry(k) + 14);
  }
  nameRrsetFirst(k: u32): u32 {
    return this.u32at(this.nameEntry(k) + 16);
  }
  nameNsec(k: u32): u32 {
    return this.u32at(this.nameEntry(k) + 20);
  }
  /** The owner name in wire form (a copy, for writing into a response). */
  name(k: u32): Uint8Array {
    const e = this.nameEntry(k);
    const off = this.nameDataOff + this.u32at(e);
    const len = <i32>this.u8at(e + 10);
    return this.bytes.slice(<i32>off, <i32>off + len);
  }

  /** Binary search of the canonical key; on a miss `index` is the predecessor (-1 if none). */
  find(key: Uint8Array, out: Found): void {
    let lo: i32 = 0;
    let hi: i32 = <i32>this.nameCount - 1;
    const kp = key.dataStart;
    const kn = key.length;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.nameEntry(<u32>mid);
      const ko = this.base + <usize>(this.keysOff + this.u32at(e + 4));
      const kl = <i32>this.u16at(e + 8);
      const n = kl < kn ? kl : kn;
      let d: i32 = 0;
      for (let i = 0; i < n; i++) {
        d = <i32>load<u8>(ko + <usize>i) - <i32>load<u8>(kp + <usize>i);
        if (d != 0) break;
      }
      if (d == 0) d = kl - kn;
      if (d == 0) {
        out.index = mid;
        out.exact = true;
        return;
      }
      if (d < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    out.index = hi;
    out.exact = false;
  }

  // ---- RRsets ------------------------------------------------------------------------------------

  @inline rrsetEntry(s: u32): u32 {
    return this.rrsetsOff + s * RRSET_ENTRY;
  }
  rrsetType(s: u32): u16 {
    return this.u16at(this.rrsetEntry(s));
  }
  rrsetFlags(s: u32): u16 {
    return this.u16at(this.rrsetEntry(s) + 2);
  }
  rrsetTtl(s: u32): u32 {
    return this.u32at(this.rrsetEntry(s) + 4);
  }
  /** Offset (inside the RDATA section) of the first record: [u16 big-endian length][RDATA]. */
  rrsetRdata(s: u32): u32 {
    return this.u32at(this.rrsetEntry(s) + 8);
  }
  rrsetRrCount(s: u32): u32 {
    return <u32>this.u16at(this.rrsetEntry(s) + 12);
  }
  rrsetSigCount(s: u32): u32 {
    return <u32>this.u16at(this.rrsetEntry(s) + 14);
  }
  rrsetSigTtl(s: u32): u32 {
    return this.u32at(this.rrsetEntry(s) + 16);
  }

  /** The RRset of `type` at name `k`, or -1. */
  findRrset(k: u32, type: u16): i32 {
    const first = this.nameRrsetFirst(k);
    const n = this.nameRrsetCount(k);
    for (let s = first; s < first + n; s++) {
      if (this.rrsetType(s) == type && (this.rrsetFlags(s) & 32) == 0) return <i32>s;
    }
    return -1;
  }

  /** The zone's origin in wire form. */
  origin(): Uint8Array {
    return this.bytes.slice(<i32>this.originOff, <i32>(this.originOff + this.originLen));
  }

  private sec(i: u32): u32 {
    return this.u32at(136 + 8 * i);
  }
  private secLen(i: u32): u32 {
    return this.u32at(140 + 8 * i);
  }

  /**
   * Checks every offset and length the reader will ever follow, so a corrupt image is refused
   * at load instead of read out of bounds later. Returns an error message, or "" when sound.
   */
  validate(): string {
    const len = <u32>this.bytes.length;
    if (len < HEADER_SIZE) return "image shorter than its header";
    if (this.u32at(0) != MAGIC) return "not a zone image (bad magic)";
    if (this.u16at(4) != 1) return "zone image version " + this.u16at(4).toString() + " is not supported (want 1)";
    if (this.u32at(8) != HEADER_SIZE) return "unexpected header length";
    if (this.u32at(12) != len) return "image length field says " + this.u32at(12).toString() + " bytes, got " + len.toString();
    this.nsec3 = (this.u32at(16) & 4) != 0;
    this.serial = this.u32at(20);
    this.klass = this.u32at(24);
    this.dnssecStatus = this.u8at(29);
    this.soaMinimum = this.u32at(48);
    this.earliestRrsigExpiration = this.u64secs(64);
    this.nameCount = this.u32at(84);
    this.rrsetCount = this.u32at(88);
    this.apex = this.u32at(92);
    for (let i: u32 = 0; i < 6; i++) {
      const o = <u64>this.sec(i);
      const l = <u64>this.secLen(i);
      if (o < <u64>HEADER_SIZE || o + l > <u64>len) return "section " + i.toString() + " lies outside the image";
    }
    this.originOff = this.sec(0);
    this.originLen = this.secLen(0);
    this.namesOff = this.sec(1);
    this.rrsetsOff = this.sec(2);
    this.keysOff = this.sec(3);
    this.keysLen = this.secLen(3);
    this.nameDataOff = this.sec(4);
    this.nameDataLen = this.secLen(4);
    this.rdataOff = this.sec(5);
    this.rdataLen = this.secLen(5);
    if (<u64>this.nameCount * <u64>NAME_ENTRY != <u64>this.secLen(1)) return "name table size does not match the name count";
    if (<u64>this.rrsetCount * <u64>RRSET_ENTRY != <u64>this.secLen(2)) return "RRset table size does not match the RRset count";
    if (this.nameCount == 0 || this.apex >= this.nameCount) return "image has no apex";
    if (this.originLen == 0 || this.originLen > 255) return "bad origin";
    for (let k: u32 = 0; k < this.nameCount; k++) {
      const e = this.nameEntry(k);
      if (<u64>this.u32at(e) + <u64>this.u8at(e + 10) > <u64>this.nameDataLen) return "name " + k.toString() + " points outside the name data";
      if (<u64>this.u32at(e + 4) + <u64>this.u16at(e + 8) > <u64>this.keysLen) return "key " + k.toString() + " points outside the keys";
      const first = <u64>this.nameRrsetFirst(k);
      if (first + <u64>this.nameRrsetCount(k) > <u64>this.rrsetCount) return "name " + k.toString() + " points outside the RRset table";
      const nsec = this.nameNsec(k);
      if (nsec != NO_NAME && nsec >= this.nameCount) return "name " + k.toString() + " has a bad NSEC index";
    }
    for (let s: u32 = 0; s < this.rrsetCount; s++) {
      let p = <u64>this.rrsetRdata(s);
      const n = this.rrsetRrCount(s) + this.rrsetSigCount(s);
      for (let r: u32 = 0; r < n; r++) {
        if (p + 2 > <u64>this.rdataLen) return "RRset " + s.toString() + " runs past the RDATA";
        p += 2 + <u64>this.u16be(this.rdataOff + <u32>p);
      }
      if (p > <u64>this.rdataLen) return "RRset " + s.toString() + " runs past the RDATA";
    }
    return "";
  }
}

/**
 * The canonical key of a wire name (host/core/zone/name-codec.ts canonicalKey): labels from the
 * rightmost, lower-cased, each followed by 0, with bytes 0 and 1 escaped as 1,c+1.
 */
const starts = new StaticArray<i32>(128);

export function canonicalKey(name: Uint8Array, out: Uint8Array): i32 {
  let count = 0;
  let i = 0;
  while (i < name.length && count < 128) {
    const l = <i32>unchecked(name[i]);
    if (l == 0) break;
    unchecked((starts[count++] = i));
    i += l + 1;
  }
  let o = 0;
  for (let k = count - 1; k >= 0; k--) {
    const s = unchecked(starts[k]);
    const l = <i32>unchecked(name[s]);
    for (let j = s + 1; j <= s + l; j++) {
      const c = unchecked(name[j]);
      if (c <= 1) {
        unchecked((out[o++] = 1));
        unchecked((out[o++] = c + 1));
      } else unchecked((out[o++] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c));
    }
    unchecked((out[o++] = 0));
  }
  return o;
}
