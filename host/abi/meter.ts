/**
 * Fuel metering: rewrites a module so that it pays for the work it does out of an exported i64
 * global `__edge_fuel`, and traps when that runs out. Every basic block (the straight code
 * between two branches, calls or block boundaries) is charged on entry for all its
 * instructions, weighted by kind (COST: memory accesses, calls and divisions cost more than
 * plain instructions); bulk memory operations are charged by their length and memory.grow by
 * its pages, before they run. So a call's time is bounded by its fuel whatever its loop bodies
 * hold (bench/fuel.mjs measures the bound). The host fills the global before each call; a
 * module starts with none, and its start function becomes the export `__edge_start`, which
 * the host calls on its own budget. Works on every runtime (a Worker cannot interrupt a running
 * Wasm call, a meter can).
 *
 * The rewrite parses every instruction (immediates must be skipped exactly), so it accepts the
 * feature set AssemblyScript emits (MVP, sign extension, saturating conversions, bulk memory,
 * reference types, multi-value) and refuses SIMD, threads and anything unknown.
 */

import { Reader, WasmFormatError, readImports, sections } from './wasm-binary.js';

export const FUEL_EXPORT = '__edge_fuel';
/** The module's start function, exported by the meter so the host runs it on its own budget. */
export const START_EXPORT = '__edge_start';

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

/** Bulk operations whose work grows with their length operand (the top of the stack), in bytes. */
const BULK_BYTES = new Set([8 /* memory.init */, 10 /* memory.copy */, 11 /* memory.fill */]);
/** ... and in table elements. */
const BULK_ELEMENTS = new Set([12 /* table.init */, 14 /* table.copy */, 15 /* table.grow */, 17 /* table.fill */]);

/**
 * What one instruction costs, in fuel units, before the price of its operands (bulk lengths,
 * grown pages). Measured with bench/fuel.mjs: a unit is about the time of one simple instruction
 * in a tight loop; a memory access, a call and a division cost several (a load or store that
 * misses the cache costs far more, which is what bench/fuel.mjs's worst case measures).
 */
export const COST = {
  /** Every basic block, for the charge itself (about ten instructions on the global). */
  block: 2,
  plain: 1,
  memory: 4,
  call: 8,
  callIndirect: 12,
  divide: 4,
  grow: 64,
} as const;

/** One fuel unit per this many bytes a bulk memory operation touches. */
export const BULK_SHIFT = 3;
/**
 * Fuel per 64 KiB page a memory.grow gets. Not what the pages cost: the kernel zeroes a fresh
 * page when it is first written, in whatever call that is (about 55 µs per 64 KiB page on this
 * kind of machine, bench/fuel.mjs), and pricing that here would make the allocator's doubling
 * of a large memory cost more than a query's budget. The time of first writes is bounded by the
 * memory cap, once per instance (docs/abi/v1.md, *Fuel*).
 */
export const GROW_PAGE_COST = 1024;

function weight(op: number): number {
  if (op >= 0x28 && op <= 0x3e) return COST.memory;
  if (op === 0x10 || op === 0x12) return COST.call;
  if (op === 0x11 || op === 0x13) return COST.callIndirect;
  if (op === 0x3f || op === 0x40) return COST.grow;
  // i32/i64 div and rem, f32/f64 div and sqrt
  if ((op >= 0x6d && op <= 0x70) || (op >= 0x7f && op <= 0x82) || op === 0x91 || op === 0x95 || op === 0x9f || op === 0xa3) return COST.divide;
  return COST.plain;
}

/** Where the meter adds code in one function body. */
interface Plan {
  /** Offset where a basic block starts, and what the whole block costs: charged there. */
  blocks: { at: number; cost: number }[];
  /** Offsets of operations whose operand is priced, and by which helper. */
  priced: { at: number; helper: 'bytes' | 'elements' | 'grow'; replaces?: number }[];
}

/**
 * Walks one function's expression and cuts it into basic blocks: a block ends at every
 * instruction that can change where execution goes next (block, loop, if, else, end, br,
 * br_if, br_table, return, calls), so every instruction that runs belongs to a block whose
 * charge ran before it. A loop's body is a block starting right after the loop header, so
 * every turn pays for everything it does, whatever the body holds.
 */
function scan(r: Reader, end: number): Plan {
  const blocks: Plan['blocks'] = [];
  const priced: Plan['priced'] = [];
  let blockStart = r.p;
  let cost = 0;
  while (r.p < end) {
    const at = r.p;
    const op = r.byte();
    cost += weight(op);
    let split = false;
    if (op === 0x02 || op === 0x03 || op === 0x04) {
      skipBlockType(r);
      split = true;
    } else if (op === 0x05 || op === 0x0b || op === 0x0f) split = true;
    else if (op === 0x0c || op === 0x0d || op === 0x10 || op === 0x12) {
      r.u32();
      split = true;
    } else if (op === 0xd2 || (op >= 0x20 && op <= 0x26)) r.u32();
    else if (op === 0x0e) {
      const n = r.u32();
      for (let i = 0; i <= n; i++) r.u32();
      split = true;
    } else if (op === 0x11 || op === 0x13) {
      r.u32();
      r.u32();
      split = true;
    } else if (op === 0x1c) {
      const n = r.u32();
      for (let i = 0; i < n; i++) r.byte();
    } else if (op >= 0x28 && op <= 0x3e) skipMemarg(r);
    else if (op === 0x3f) r.u32();
    else if (op === 0x40) {
      if (r.u32() !== 0) throw new WasmFormatError('cannot meter: memory.grow of a memory other than the first');
      // replaced by a helper that grows and charges the pages it got
      priced.push({ at, helper: 'grow', replaces: r.p - at });
    } else if (op === 0x41) r.skipLeb(5);
    else if (op === 0x42) r.skipLeb(10);
    else if (op === 0x43) r.p += 4;
    else if (op === 0x44) r.p += 8;
    else if (op === 0xd0) r.byte();
    else if (op === 0xfc) {
      const sub = r.u32();
      if (BULK_BYTES.has(sub)) priced.push({ at, helper: 'bytes' });
      if (BULK_ELEMENTS.has(sub)) priced.push({ at, helper: 'elements' });
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
      if (sub >= 8) cost += COST.call - COST.plain; // a bulk operation is a call into the engine, plus its length
    } else if (op === 0xfd || op === 0xfe) {
      throw new WasmFormatError(`cannot meter: ${op === 0xfd ? 'SIMD' : 'threads'} instructions are not supported by ABI v1`);
    } else if (
      op === 0x00 || op === 0x01 || op === 0x1a || op === 0x1b || op === 0xd1 ||
      (op >= 0x45 && op <= 0xc4)
    ) {
      // no immediates
    } else {
      throw new WasmFormatError(`cannot meter: unknown opcode 0x${op.toString(16)} at ${r.p - 1}`);
    }
    if (split) {
      if (cost > 0) blocks.push({ at: blockStart, cost: cost + COST.block });
      blockStart = r.p;
      cost = 0;
    }
  }
  // The function's final `end` closed the last block: nothing is left uncharged.
  if (cost > 0) blocks.push({ at: blockStart, cost: cost + COST.block });
  return { blocks, priced };
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

/** The i64 constant instruction for `n`. */
function i64const(n: number): number[] {
  const out: number[] = [0x42];
  let v = BigInt(n);
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
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
  const startSec = secs.find((s) => s.id === 8);
  const codeSec = secs.find((s) => s.id === 10);
  if (!exportSec) throw new WasmFormatError('cannot meter: module has no exports');
  if (!typeSec || !funcSec || !codeSec) throw new WasmFormatError('cannot meter: module has no functions');
  let definedGlobals = 0;
  let globalEntries: Uint8Array = new Uint8Array(0);
  if (globalSec) {
    const r = new Reader(wasm.subarray(0, globalSec.end), globalSec.contentStart);
    definedGlobals = r.u32();
    globalEntries = wasm.subarray(r.p, globalSec.end);
  }
  const fuelIndex = countImportedGlobals(wasm, importSec) + definedGlobals;
  const idx = leb(fuelIndex);
  // fuel -= cost; if fuel < 0: unreachable
  const check = (cost: number) => [0x23, ...idx, ...i64const(cost), 0x7d, 0x24, ...idx, 0x23, ...idx, 0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0b];

  // New global: mutable i64 at 0, so nothing runs before the host fills it for a call.
  const newGlobals = [...leb(definedGlobals + 1), ...globalEntries, 0x7e, 0x01, 0x42, 0x00, 0x0b];

  // The start function (static initialisers) becomes an export the host calls with its own
  // budget: run at instantiation, it would spend fuel the host had no chance to set.
  let startFunc: number | null = null;
  if (startSec) startFunc = new Reader(wasm.subarray(0, startSec.end), startSec.contentStart).u32();

  const exportsOut: number[] = [];
  {
    const r = new Reader(wasm.subarray(0, exportSec.end), exportSec.contentStart);
    const n = r.u32();
    const entries = wasm.subarray(r.p, exportSec.end);
    for (let i = 0; i < n; i++) {
      const name = r.name();
      r.byte();
      r.u32();
      if (name.startsWith('__edge_')) throw new WasmFormatError(`cannot meter: the module exports "${name}"; names starting __edge_ are the meter's`);
    }
    const enc = (s: string) => [...new TextEncoder().encode(s)];
    const fuelName = enc(FUEL_EXPORT);
    exportsOut.push(...leb(n + 1 + (startFunc !== null ? 1 : 0)), ...entries, ...leb(fuelName.length), ...fuelName, 0x03, ...idx);
    if (startFunc !== null) {
      const startName = enc(START_EXPORT);
      exportsOut.push(...leb(startName.length), ...startName, 0x00, ...leb(startFunc));
    }
  }

  // Helpers `(n: i32) -> i32` that charge an operand just before the operation that takes it
  // and leave it on the stack: bulk lengths in bytes and elements, grown pages. Appended, so no
  // existing index moves.
  const types = vecCount(wasm, typeSec);
  const funcs = vecCount(wasm, funcSec);
  const helperType = types.n;
  const firstHelper = countImportedFunctions(wasm, importSec) + funcs.n;
  const helperOf = { bytes: firstHelper, elements: firstHelper + 1, grow: firstHelper + 2 } as const;
  const helperBody = (price: number[]) => [
    0x00, // no locals
    0x23, ...idx, 0x20, 0x00, 0xad, ...price, 0x7d, 0x24, ...idx, // fuel -= price(u64(n))
    0x23, ...idx, 0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0b, // if fuel < 0: unreachable
    0x20, 0x00, 0x0b, // n
  ];
  // memory.grow itself: pages that were granted cost GROW_PAGE_COST each (a refused grow,
  // which the allocator tries at the cap, costs nothing more).
  const growBody = [
    0x01, 0x01, 0x7f, // one i32 local: the result
    0x20, 0x00, 0x40, 0x00, 0x21, 0x01, // r = memory.grow(n)
    0x20, 0x01, 0x41, 0x7f, 0x47, 0x04, 0x40, // if r != -1
    0x23, ...idx, 0x20, 0x00, 0xad, ...i64const(GROW_PAGE_COST), 0x7e, 0x7d, 0x24, ...idx, // fuel -= u64(n) * GROW_PAGE_COST
    0x23, ...idx, 0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0b, // if fuel < 0: unreachable
    0x0b,
    0x20, 0x01, 0x0b, // r
  ];
  // (a module without a memory has no grow to replace, and could not hold this helper)
  const hasMemory = secs.some((s) => s.id === 5) || readImports(wasm).some((i) => i.kind === 2);
  const helpers = [
    helperBody([...i64const(BULK_SHIFT), 0x88]), // >> BULK_SHIFT
    helperBody([]), // one unit per element
    ...(hasMemory ? [growBody] : []),
  ];
  const typesOut = [...leb(types.n + 1), ...types.rest, 0x60, 0x01, 0x7f, 0x01, 0x7f];
  const funcsOut = [...leb(funcs.n + helpers.length), ...funcs.rest, ...helpers.flatMap(() => leb(helperType))];

  const codeOut: number[] = [];
  {
    const r = new Reader(wasm.subarray(0, codeSec.end), codeSec.contentStart);
    const n = r.u32();
    codeOut.push(...leb(n + helpers.length));
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
      const { blocks, priced } = scan(br, bodyEnd);
      // At one offset a block's charge goes before a priced operation's helper call.
      const inserts: { at: number; order: number; code: number[]; replaces: number }[] = [
        ...blocks.map((b) => ({ at: b.at, order: 0, code: check(b.cost), replaces: 0 })),
        ...priced.map((p) => ({ at: p.at, order: 1, code: [0x10, ...leb(helperOf[p.helper])], replaces: p.replaces ?? 0 })),
      ].sort((a, b) => a.at - b.at || a.order - b.order);
      const body: number[] = [];
      let from = bodyStart;
      for (const ins of inserts) {
        for (let k = from; k < ins.at; k++) body.push(wasm[k]!);
        body.push(...ins.code);
        from = ins.at + ins.replaces;
      }
      for (let k = from; k < bodyEnd; k++) body.push(wasm[k]!);
      codeOut.push(...leb(body.length), ...body);
      r.p = bodyEnd;
    }
    for (const h of helpers) codeOut.push(...leb(h.length), ...h);
  }

  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  for (const s of secs) {
    if (s.id === 1) parts.push(section(1, typesOut));
    else if (s.id === 3) parts.push(section(3, funcsOut));
    else if (s.id === 6) parts.push(section(6, newGlobals));
    else if (s.id === 7) {
      // Section order puts globals right before exports; add the section if there was none.
      if (!globalSec) parts.push(section(6, newGlobals));
      parts.push(section(7, exportsOut));
    } else if (s.id === 8) continue;
    else if (s.id === 10) parts.push(section(10, codeOut));
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
