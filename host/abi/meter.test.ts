import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { meter, BULK_SHIFT, COST, FUEL_EXPORT, GROW_PAGE_COST, START_EXPORT, isMetered } from './meter.js';
import { WasmFormatError } from './wasm-binary.js';

const root = join(__dirname, '..', '..');
const wasmFiles = [
  ...readdirSync(join(root, 'build', 'apps')).map((f) => join(root, 'build', 'apps', f)),
  ...readdirSync(join(root, 'build', 'test-apps')).map((f) => join(root, 'build', 'test-apps', f)),
].filter((f) => f.endsWith('.wasm'));

describe('fuel metering', () => {
  it.each(wasmFiles)('meters %s into a valid module that exports the fuel global', (file) => {
    const original = new Uint8Array(readFileSync(file));
    const metered = meter(original);
    expect(WebAssembly.validate(metered)).toBe(true);
    const mod = new WebAssembly.Module(metered);
    expect(isMetered(mod)).toBe(true);
    expect(WebAssembly.Module.exports(mod).map((e) => e.name)).toContain(FUEL_EXPORT);
    // Imports are untouched.
    expect(WebAssembly.Module.imports(mod)).toEqual(WebAssembly.Module.imports(new WebAssembly.Module(original)));
  });

  it('stops a loop that never ends and leaves other code running', () => {
    // (func (export "spin") (loop (br 0)))  (func (export "add") (param i32 i32) (result i32) ...)
    const wasm = new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      0x01, 0x0a, 0x02, 0x60, 0x00, 0x00, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, // types
      0x03, 0x03, 0x02, 0x00, 0x01, // functions
      0x07, 0x0e, 0x02, 0x04, 0x73, 0x70, 0x69, 0x6e, 0x00, 0x00, 0x03, 0x61, 0x64, 0x64, 0x00, 0x01, // exports
      0x0a, 0x11, 0x02, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b, // code
    ]);
    expect(WebAssembly.validate(wasm)).toBe(true);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(meter(wasm)));
    const fuel = inst.exports[FUEL_EXPORT] as WebAssembly.Global;
    fuel.value = 1000n;
    expect(() => (inst.exports.spin as () => void)()).toThrow(WebAssembly.RuntimeError);
    expect(fuel.value).toBeLessThan(0n);
    fuel.value = 1000n;
    expect((inst.exports.add as (a: number, b: number) => number)(2, 3)).toBe(5);
    // one block: local.get, local.get, i32.add, end
    expect(fuel.value).toBe(BigInt(1000 - 4 * COST.plain - COST.block));
  });

  it('charges bulk memory operations by their length, so one call cannot fill memory without end', async () => {
    const { default: binaryen } = await import('binaryen');
    const m = binaryen.parseText(`(module
      (memory 200)
      (func (export "fill") (loop (memory.fill (i32.const 0) (i32.const 0) (i32.const 8388608)) (br 0)))
      (func (export "small") (result i32) (memory.fill (i32.const 0) (i32.const 1) (i32.const 64)) (i32.load8_u (i32.const 63))))`);
    m.setFeatures(binaryen.Features.All);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(meter(m.emitBinary())));
    const fuel = inst.exports[FUEL_EXPORT] as WebAssembly.Global;
    // 8 MiB costs 2^23 >> BULK_SHIFT units, charged before the fill: a budget of three fills
    // allows three, not the endless loop, and the fourth never runs.
    const perFill = 8388608 >> BULK_SHIFT;
    fuel.value = BigInt(3 * perFill + 100);
    expect(() => (inst.exports.fill as () => void)()).toThrow(WebAssembly.RuntimeError);
    expect(fuel.value).toBeLessThan(0n);
    expect(fuel.value).toBeGreaterThan(BigInt(-perFill));
    fuel.value = 1000n;
    expect((inst.exports.small as () => number)()).toBe(1);
    // one block: three consts, memory.fill (priced as a call), const, load, end; and 64 bytes
    expect(fuel.value).toBe(BigInt(1000 - (5 * COST.plain + COST.call + COST.memory + COST.block) - (64 >> BULK_SHIFT)));
  });

  it('charges a loop turn for everything its body does, not one unit per turn (issue 18)', async () => {
    const { default: binaryen } = await import('binaryen');
    const loads = Array.from({ length: 100 }, (_, i) => `(drop (i32.load offset=${i * 4} (i32.const 0)))`).join(' ');
    const m = binaryen.parseText(`(module (memory 1)
      (func (export "turns") (param $n i32)
        (loop $l ${loads} (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if $l (local.get $n)))))`);
    m.setFeatures(binaryen.Features.All);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(meter(m.emitBinary())));
    const fuel = inst.exports[FUEL_EXPORT] as WebAssembly.Global;
    const spend = (n: number) => {
      fuel.value = 1_000_000n;
      (inst.exports.turns as (n: number) => void)(n);
      return 1_000_000 - Number(fuel.value);
    };
    const perTurn = spend(11) - spend(1);
    expect(perTurn / 10).toBeGreaterThanOrEqual(100 * (COST.memory + 2 * COST.plain));
  });

  it('prices memory.grow by the pages granted, and nothing for a refused grow', async () => {
    const { default: binaryen } = await import('binaryen');
    const m = binaryen.parseText(`(module (memory 1 4) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`);
    m.setFeatures(binaryen.Features.All);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(meter(m.emitBinary())));
    const fuel = inst.exports[FUEL_EXPORT] as WebAssembly.Global;
    const grow = inst.exports.grow as (n: number) => number;
    fuel.value = 100_000n;
    expect(grow(2)).toBe(1);
    const afterTwo = 100_000n - (fuel.value as bigint);
    expect(afterTwo).toBeGreaterThanOrEqual(BigInt(2 * GROW_PAGE_COST));
    fuel.value = 100_000n;
    expect(grow(100)).toBe(-1);
    expect(100_000n - (fuel.value as bigint)).toBeLessThan(BigInt(GROW_PAGE_COST));
  });

  it('turns the start function into an export run on the host\'s budget, and starts with no fuel', async () => {
    const { default: binaryen } = await import('binaryen');
    const m = binaryen.parseText(`(module (global $g (mut i32) (i32.const 0))
      (func $init (global.set $g (i32.const 7))) (start $init)
      (func (export "get") (result i32) (global.get $g)))`);
    m.setFeatures(binaryen.Features.All);
    const mod = new WebAssembly.Module(meter(m.emitBinary()));
    expect(WebAssembly.Module.exports(mod).map((e) => e.name)).toContain(START_EXPORT);
    const inst = new WebAssembly.Instance(mod);
    const fuel = inst.exports[FUEL_EXPORT] as WebAssembly.Global;
    expect(fuel.value).toBe(0n);
    expect(() => (inst.exports.get as () => number)()).toThrow(WebAssembly.RuntimeError);
    fuel.value = 1000n;
    (inst.exports[START_EXPORT] as () => void)();
    expect((inst.exports.get as () => number)()).toBe(7);
  });

  it('refuses a module that already exports a name of the meter\'s', async () => {
    const { default: binaryen } = await import('binaryen');
    const m = binaryen.parseText(`(module (func (export "__edge_start")))`);
    expect(() => meter(m.emitBinary())).toThrow(/names starting __edge_ are the meter's/);
  });

  it('refuses a module that is not valid before metering (it could reach the fuel global after)', () => {
    // global.set 0 with no globals defined: invalid now, valid once the meter adds global 0.
    const sneaky = new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
      0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x41, 0x7f, 0x24, 0x00, 0x0b, 0x0b,
    ]);
    expect(WebAssembly.validate(sneaky)).toBe(false);
    expect(() => meter(sneaky)).toThrow(/not a valid WebAssembly module/);
  });

  it('refuses what it cannot parse', () => {
    expect(() => meter(new Uint8Array([1, 2, 3]))).toThrow(WasmFormatError);
  });
});
