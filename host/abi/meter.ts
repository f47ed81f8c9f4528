/**
 * Fuel metering: rewrites a module so every function entry and every loop iteration spends one
 * unit of an exported i32 global `__edge_fuel`, and traps when it runs out. The host refills the
 * global before each call, so an app that never returns is stopped after a bounded amount of
 * work, on every runtime (a Worker cannot interrupt a running Wasm call, a meter can).
 *
 * The rewrite parses every instruction to find `loop`s (immediates must be skipped exactly), so
 * it accepts the feature set AssemblyScript emits (MVP, sign extension, saturating conversions,
 * bulk memory, reference types, multi-value) and refuses SIMD, threads and anything unknown.
 */

import { Reader, WasmFormatError, readImports, sections } from './wasm-binary.js';

export const FUEL_EXPORT = '__edge_fuel';

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function section(id: number, content: number[] | Uint8Array): Uint8Array {
  const size = leb(content.length);
  const out = new Uint8Array(1 + size.length + content.length);
  out[0] = id;
  out.set(size, 1);
  out.set(content, 1 + size.length);
  return out;
}

const VALTYPES = new Set([0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f]);

function skipBlockType(r: Reader): void {
  const b = r.b[r.p]!;
  if (b === 0x40 || VALTYPES.has(b)) r.p++;
  else r.skipLeb(5); // s33 type index
}

function skipMemarg(r: Reader): void {
  const align = r.u32();
  if (align & 0x40) r.u32(); // multi-memory index
  r.u32();
}

/** Bulk operations whose work grows with their length operand (the top of the stack). */
const BULK_WITH_LENGTH = new Set([8 /* memory.init */, 10 /* memory.copy */, 11 /* memory.fill */, 12 /* table.init */, 14 /* table.copy */, 17 /* table.fill */]);

/**
 * Walks one function's expression and returns the offsets just after each `loop` header
 * (opcode + block type), where the fuel check goes, and the offsets of bulk operations that take
 * a length, where the length is charged.
 */
function scan(r: Reader, end: number): { loops: number[]; bulk: number[] } {
  const heads: number[] = [];
  const bulk: number[] = [];
  while (r.p < end) {
    const at = r.p;
    const op = r.byte();
    if (op === 0x03) {
      skipBlockType(r);
      heads.push(r.p);
      continue;
    }
    if (op === 0x02 || op === 0x04) skipBlockType(r);
    else if (op === 0x0c || op === 0x0d || op === 0x10 || op === 0x12 || op === 0xd2 || (op >= 0x20 && op <= 0x26)) r.u32();
    else if (op === 0x0e) {
      const n = r.u32();
      for (let i = 0; i <= n; i++) r.u32();
    } else if (op === 0x11 || op === 0x13) {
      r.u32();
      r.u32();
    } else if (op === 0x1c) {
      const n = r.u32();
      for (let i = 0; i < n; i++) r.byte();
    } else if (op >= 0x28 && op <= 0x3e) skipMemarg(r);
    else if (op === 0x3f || op === 0x40) r.u32();
    else if (op === 0x41) r.skipLeb(5);
    else if (op === 0x42) r.skipLeb(10);
    else if (op === 0x43) r.p += 4;
    else if (op === 0x44) r.p += 8;
    else if (op === 0xd0) r.byte();
    else if (op === 0xfc) {
      const sub = r.u32();
      if (BULK_WITH_LENGTH.has(sub)) bulk.push(at);
      if (sub <= 7) {
        // saturating truncations: no immediates
      } else if (sub === 8) {
        r.u32();
        r.byte();
      } else if (sub === 9 || sub === 13 || (sub >= 15 && sub <= 17)) r.u32();
      else if (sub === 10) {
        r.byte();
        r.byte();
      } else if (sub === 11) r.byte();
      else if (sub === 12 || sub === 14) {
        r.u32();
        r.u32();
      } else throw new WasmFormatError(`cannot meter: unknown 0xFC instruction ${sub}`);
    } else if (op === 0xfd || op === 0xfe) {
      throw new WasmFormatError(`cannot meter: ${op === 0xfd ? 'SIMD' : 'threads'} instructions are not supported by ABI v1`);
    } else if (
      op === 0x00 || op === 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b || op === 0xd1 ||
      (op >= 0x45 && op <= 0xc4)
    ) {
      // no immediates
    } else {
      throw new WasmFormatError(`cannot meter: unknown opcode 0x${op.toString(16)} at ${r.p - 1}`);
    }
  }
  return { loops: heads, bulk };
}

function countImportedGlobals(wasm: Uint8Array, importSec: { contentStart: number; end: number } | undefined): number {
  if (!importSec) return 0;
  const r = new Reader(wasm.subarray(0, importSec.end), importSec.contentStart);
  let globals = 0;
  const n = r.u32();
  for (let i = 0; i < n; i++) {
    r.name();
    r.name();
    const kind = r.byte();
    if (kind === 0) r.u32();
    else if (kind === 1) {
      r.byte();
      const f = r.byte();
      r.u32();
      if (f & 1) r.u32();
    } else if (kind === 2) {
      const f = r.byte();
      r.u32();
      if (f & 1) r.u32();
    } else if (kind === 3) {
      r.byte();
      r.byte();
      globals++;
    } else if (kind === 4) {
      r.byte();
      r.u32();
    }
  }
  return globals;
}

export function isMetered(module: WebAssembly.Module): boolean {
  return WebAssembly.Module.exports(module).some((e) => e.name === FUEL_EXPORT && e.kind === 'global');
}

/**
 * Budget the module starts with, spent by its start function (static initialisers) before the
 * host can refill the meter.
 */
export const START_FUEL = 100_000_000;

/** One fuel unit per this many bytes a bulk operation touches (2^6: about as long as a loop turn). */
const BULK_SHIFT = 6;

function countImportedFunctions(wasm: Uint8Array, importSec: { contentStart: number; end: number } | undefined): number {
  if (!importSec) return 0;
  return readImports(wasm).filter((i) => i.kind === 0).length;
}

function vecCount(wasm: Uint8Array, sec: { contentStart: number; end: number } | undefined): { n: number; rest: Uint8Array } {
  if (!sec) return { n: 0, rest: new Uint8Array(0) };
  const r = new Reader(wasm.subarray(0, sec.end), sec.contentStart);
  const n = r.u32();
  return { n, rest: wasm.subarray(r.p, sec.end) };
}

/** Returns a metered copy of `wasm`. Throws WasmFormatError when it cannot be metered. */
export function meter(wasm: Uint8Array): Uint8Array<ArrayBuffer> {
  // Only a valid module is rewritten: code that names the global the meter is about to add
  // (invalid before, valid after) could otherwise refill its own fuel.
  if (!WebAssembly.validate(wasm.slice())) throw new WasmFormatError('not a valid WebAssembly module');
  const secs = sections(wasm);
  const importSec = secs.find((s) => s.id === 2);
  const typeSec = secs.find((s) => s.id === 1);
  const funcSec = secs.find((s) => s.id === 3);
  const globalSec = secs.find((s) => s.id === 6);
  const exportSec = secs.find((s) => s.id === 7);
  const codeSec = secs.find((s) => s.id === 10);
  let definedGlobals = 0;
  let globalEntries: Uint8Array = new Uint8Array(0);
  if (globalSec) {
    const r = new Reader(wasm.subarray(0, globalSec.end), globalSec.contentStart);
    definedGlobals = r.u32();
    globalEntries = wasm.subarray(r.p, globalSec.end);
  }
  const fuelIndex = countImportedGlobals(wasm, importSec) + definedGlobals;
  const idx = leb(fuelIndex);
  // global.get f; i32.const 1; i32.sub; global.set f; global.get f; i32.const 0; i32.lt_s;
  // if unreachable end
  const check = [0x23, ...idx, 0x41, 0x01, 0x6b, 0x24, ...idx, 0x23, ...idx, 0x41, 0x00, 0x48, 0x04, 0x40, 0x00, 0x0b];

  // New global: mutable i32; the host refills it before each call.
  const newGlobals = [...leb(definedGlobals + 1), ...globalEntries, 0x7f, 0x01, 0x41, ...sleb(START_FUEL), 0x0b];

  const exportsOut: number[] = [];
  {
    let n = 0;
    let entries: Uint8Array = new Uint8Array(0);
    if (exportSec) {
      const r = new Reader(wasm.subarray(0, exportSec.end), exportSec.contentStart);
      n = r.u32();
      entries = wasm.subarray(r.p, exportSec.end);
    }
    const name = new TextEncoder().encode(FUEL_EXPORT);
    exportsOut.push(...leb(n + 1), ...entries, ...leb(name.length), ...name, 0x03, ...idx);
  }

  // A helper `(len) -> len` that charges a bulk operation's length, called just before it:
  // fuel -= len >> BULK_SHIFT; trap below zero. Appended, so no existing index moves.
  const types = vecCount(wasm, typeSec);
  const funcs = vecCount(wasm, funcSec);
  const helperType = types.n;
  const helperIndex = countImportedFunctions(wasm, importSec) + funcs.n;
  const helperBody = [
    0x00, // no locals
    0x23, ...idx, 0x20, 0x00, 0x41, BULK_SHIFT, 0x76, 0x6b, 0x24, ...idx, // fuel -= len >> shift
    0x23, ...idx, 0x41, 0x00, 0x48, 0x04, 0x40, 0x00, 0x0b, // if fuel < 0: unreachable
    0x20, 0x00, 0x0b, // len
  ];
  const charge = [0x10, ...leb(helperIndex)];
  const typesOut = [...leb(types.n + 1), ...types.rest, 0x60, 0x01, 0x7f, 0x01, 0x7f];
  const funcsOut = [...leb(funcs.n + 1), ...funcs.rest, ...leb(helperType)];

  const codeOut: number[] = [];
  if (codeSec) {
    const r = new Reader(wasm.subarray(0, codeSec.end), codeSec.contentStart);
    const n = r.u32();
    codeOut.push(...leb(n + 1));
    for (let i = 0; i < n; i++) {
      const size = r.u32();
      const bodyStart = r.p;
      const bodyEnd = bodyStart + size;
      const br = new Reader(wasm.subarray(0, bodyEnd), bodyStart);
      const groups = br.u32();
      for (let g = 0; g < groups; g++) {
        br.u32();
        br.byte();
      }
      const exprStart = br.p;
      const { loops, bulk } = scan(br, bodyEnd);
      const inserts = [...loops.map((at) => ({ at, code: check })), ...bulk.map((at) => ({ at, code: charge }))].sort((a, b) => a.at - b.at);
      const body: number[] = [...wasm.subarray(bodyStart, exprStart), ...check];
      let from = exprStart;
      for (const ins of inserts) {
        for (let k = from; k < ins.at; k++) body.push(wasm[k]!);
        body.push(...ins.code);
        from = ins.at;
      }
      for (let k = from; k < bodyEnd; k++) body.push(wasm[k]!);
      codeOut.push(...leb(body.length), ...body);
      r.p = bodyEnd;
    }
    codeOut.push(...leb(helperBody.length), ...helperBody);
  }

  if (!exportSec) throw new WasmFormatError('cannot meter: module has no exports');
  if (!typeSec || !funcSec || !codeSec) throw new WasmFormatError('cannot meter: module has no functions');
  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  for (const s of secs) {
    if (s.id === 1) parts.push(section(1, typesOut));
    else if (s.id === 3) parts.push(section(3, funcsOut));
    else if (s.id === 6) parts.push(section(6, newGlobals));
    else if (s.id === 7) {
      // Section order puts globals right before exports; add the section if there was none.
      if (!globalSec) parts.push(section(6, newGlobals));
      parts.push(section(7, exportsOut));
    } else if (s.id === 10) parts.push(section(10, codeOut));
    else parts.push(wasm.subarray(s.start, s.end));
  }
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
