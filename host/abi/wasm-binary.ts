/**
 * Just enough of the WebAssembly binary format to check a module before instantiating it: its
 * sections and the limits of an imported memory (which `WebAssembly.Module.imports` does not
 * report).
 */

export class WasmFormatError extends Error {
  override readonly name = 'WasmFormatError';
}

export class Reader {
  constructor(
    readonly b: Uint8Array,
    public p = 0,
  ) {}
  get done(): boolean {
    return this.p >= this.b.length;
  }
  byte(): number {
    if (this.p >= this.b.length) throw new WasmFormatError(`unexpected end at ${this.p}`);
    return this.b[this.p++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw new WasmFormatError(`LEB128 too long at ${this.p}`);
    }
    return result >>> 0;
  }
  /** Skips a signed LEB128 of up to `maxBytes` bytes (i32: 5, i64: 10). */
  skipLeb(maxBytes: number): void {
    for (let i = 0; i < maxBytes; i++) if ((this.byte() & 0x80) === 0) return;
    throw new WasmFormatError(`LEB128 too long at ${this.p}`);
  }
  bytes(n: number): Uint8Array {
    if (this.p + n > this.b.length) throw new WasmFormatError(`unexpected end at ${this.p}`);
    const out = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return out;
  }
  name(): string {
    return new TextDecoder().decode(this.bytes(this.u32()));
  }
}

export interface Section {
  id: number;
  /** Offset of the section id byte. */
  start: number;
  contentStart: number;
  end: number;
}

export function sections(wasm: Uint8Array): Section[] {
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) {
    throw new WasmFormatError('not a WebAssembly module (bad magic)');
  }
  if (wasm[4] !== 1 || wasm[5] !== 0 || wasm[6] !== 0 || wasm[7] !== 0) throw new WasmFormatError('unsupported WebAssembly version');
  const r = new Reader(wasm, 8);
  const out: Section[] = [];
  while (!r.done) {
    const start = r.p;
    const id = r.byte();
    const size = r.u32();
    const contentStart = r.p;
    const end = contentStart + size;
    if (end > wasm.length) throw new WasmFormatError(`section ${id} runs past the end`);
    out.push({ id, start, contentStart, end });
    r.p = end;
  }
  return out;
}

export interface MemoryLimits {
  min: number;
  max: number | undefined;
}

export interface ImportEntry {
  module: string;
  name: string;
  kind: number; // 0 func, 1 table, 2 memory, 3 global, 4 tag
  typeIndex?: number;
  memory?: MemoryLimits;
}

function limits(r: Reader): MemoryLimits {
  const flags = r.byte();
  const min = r.u32();
  const max = flags & 1 ? r.u32() : undefined;
  return { min, max };
}

export function readImports(wasm: Uint8Array): ImportEntry[] {
  const sec = sections(wasm).find((s) => s.id === 2);
  if (!sec) return [];
  const r = new Reader(wasm.subarray(0, sec.end), sec.contentStart);
  const n = r.u32();
  const out: ImportEntry[] = [];
  for (let i = 0; i < n; i++) {
    const module = r.name();
    const name = r.name();
    const kind = r.byte();
    const e: ImportEntry = { module, name, kind };
    if (kind === 0) e.typeIndex = r.u32();
    else if (kind === 1) {
      r.byte();
      limits(r);
    } else if (kind === 2) e.memory = limits(r);
    else if (kind === 3) {
      r.byte();
      r.byte();
    } else if (kind === 4) {
      r.byte();
      r.u32();
    } else throw new WasmFormatError(`unknown import kind ${kind}`);
    out.push(e);
  }
  return out;
}

/** Limits of memories the module defines itself (section 5). */
export function readDefinedMemories(wasm: Uint8Array): MemoryLimits[] {
  const sec = sections(wasm).find((s) => s.id === 5);
  if (!sec) return [];
  const r = new Reader(wasm.subarray(0, sec.end), sec.contentStart);
  const n = r.u32();
  const out: MemoryLimits[] = [];
  for (let i = 0; i < n; i++) out.push(limits(r));
  return out;
}
