import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { meter, FUEL_EXPORT, isMetered } from './meter.js';
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
    fuel.value = 1000;
    expect(() => (inst.exports.spin as () => void)()).toThrow(WebAssembly.RuntimeError);
    expect(fuel.value).toBeLessThan(0);
    fuel.value = 1000;
    expect((inst.exports.add as (a: number, b: number) => number)(2, 3)).toBe(5);
    expect(fuel.value).toBe(999);
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
    // 8 MiB costs 131,072 units: a budget of 500,000 allows three fills, not the endless loop.
    fuel.value = 500_000;
    expect(() => (inst.exports.fill as () => void)()).toThrow(WebAssembly.RuntimeError);
    expect(fuel.value).toBeLessThan(0);
    fuel.value = 1000;
    expect((inst.exports.small as () => number)()).toBe(1);
    expect(fuel.value).toBe(1000 - 1 - 1);
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
