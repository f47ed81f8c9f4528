/** Scratch buffer RDATA is encoded into before it is copied out; sized for the 65,535-octet cap. */
export const MAX_RDATA = 0xffff;

export class RdataWriter {
  /** Headroom past MAX_RDATA so field encoders can write a whole name or block, then check. */
  readonly buf = new Uint8Array(MAX_RDATA + 1024);
  pos = 0;

  reset(): void {
    this.pos = 0;
  }

  /** Throws a plain Error when the next `n` bytes would not fit; callers attach the position. */
  room(n: number): void {
    if (this.pos + n > MAX_RDATA) throw new RangeError('RDATA longer than 65535 octets');
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.room(2);
    const b = this.buf;
    b[this.pos] = v >>> 8;
    b[this.pos + 1] = v;
    this.pos += 2;
  }

  u32(v: number): void {
    this.room(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  bytes(src: Uint8Array): void {
    this.room(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }
}
