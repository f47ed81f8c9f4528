/**
 * Records as columns: owner and RDATA bytes in one growing buffer, type/TTL/offsets in typed
 * arrays. A root zone is tens of thousands of records; one object and two views per record cost
 * more in allocation and garbage collection than parsing them, so nothing here is per record.
 */

import type { ZoneRecord } from './record.js';

function grow<T extends Int32Array | Uint32Array | Uint16Array | Uint8Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

export class RecordTable {
  bytes: Uint8Array;
  used = 0;
  count = 0;
  /** The class every record shares (-1 until the first record). */
  cls = -1;
  ownerOff: Int32Array;
  ownerLen: Uint16Array;
  type: Uint16Array;
  ttl: Uint32Array;
  rdOff: Int32Array;
  rdLen: Uint16Array;
  private curOwnerOff = -1;
  private curOwnerLen = 0;

  constructor(records = 1024, bytes = 64 * 1024) {
    this.bytes = new Uint8Array(bytes);
    this.ownerOff = new Int32Array(records);
    this.ownerLen = new Uint16Array(records);
    this.type = new Uint16Array(records);
    this.ttl = new Uint32Array(records);
    this.rdOff = new Int32Array(records);
    this.rdLen = new Uint16Array(records);
  }

  private reserve(n: number): void {
    if (this.used + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.used + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.bytes.subarray(0, this.used));
    this.bytes = b;
  }

  private append(src: Uint8Array, s: number, n: number): number {
    this.reserve(n);
    const at = this.used;
    const b = this.bytes;
    if (n <= 32) for (let k = 0; k < n; k++) b[at + k] = src[s + k]!;
    else b.set(src.subarray(s, s + n), at);
    this.used = at + n;
    return at;
  }

  /**
   * Sets the owner of the records that follow. An owner equal to the current one keeps its
   * offset, so equal offsets mean equal owners (what grouping relies on).
   */
  setOwner(src: Uint8Array, s: number, n: number): void {
    if (n === this.curOwnerLen && this.curOwnerOff >= 0) {
      const b = this.bytes;
      const o = this.curOwnerOff;
      let k = 0;
      while (k < n && b[o + k] === src[s + k]) k++;
      if (k === n) return;
    }
    this.curOwnerOff = this.append(src, s, n);
    this.curOwnerLen = n;
  }

  add(type: number, ttl: number, src: Uint8Array, s: number, n: number): void {
    if (this.count === this.type.length) {
      const m = this.count * 2;
      this.ownerOff = grow(this.ownerOff, m);
      this.ownerLen = grow(this.ownerLen, m);
      this.type = grow(this.type, m);
      this.ttl = grow(this.ttl, m);
      this.rdOff = grow(this.rdOff, m);
      this.rdLen = grow(this.rdLen, m);
    }
    const i = this.count++;
    this.ownerOff[i] = this.curOwnerOff;
    this.ownerLen[i] = this.curOwnerLen;
    this.type[i] = type;
    this.ttl[i] = ttl >>> 0;
    this.rdOff[i] = n === 0 ? this.used : this.append(src, s, n);
    this.rdLen[i] = n;
  }

  addRecord(r: ZoneRecord): void {
    if (this.cls < 0) this.cls = r.class;
    this.setOwner(r.owner, 0, r.owner.length);
    this.add(r.type, r.ttl, r.rdata, 0, r.rdata.length);
  }

  /** Forgets all records (a streaming consumer drains the table between chunks). */
  clear(): void {
    this.count = 0;
    // keep the current owner: the next record may inherit it
    if (this.curOwnerOff >= 0) {
      this.bytes.copyWithin(0, this.curOwnerOff, this.curOwnerOff + this.curOwnerLen);
      this.curOwnerOff = 0;
      this.used = this.curOwnerLen;
    } else this.used = 0;
  }

  /** A copy of the current owner, or null before the first. */
  currentOwner(): Uint8Array | null {
    return this.curOwnerOff < 0 ? null : this.bytes.slice(this.curOwnerOff, this.curOwnerOff + this.curOwnerLen);
  }

  owner(i: number): Uint8Array {
    const o = this.ownerOff[i]!;
    return this.bytes.subarray(o, o + this.ownerLen[i]!);
  }

  rdata(i: number): Uint8Array {
    const o = this.rdOff[i]!;
    return this.bytes.subarray(o, o + this.rdLen[i]!);
  }

  record(i: number): ZoneRecord {
    return { owner: this.owner(i).slice(), type: this.type[i]!, class: this.cls, ttl: this.ttl[i]!, rdata: this.rdata(i).slice() };
  }

  toRecords(): ZoneRecord[] {
    const out: ZoneRecord[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.record(i));
    return out;
  }
}
