/**
 * The ABI version a module says it was built for, read without running it: a custom section
 * named `edge_abi_version` whose payload is the version as one unsigned LEB128
 * (docs/abi/v1.md, *Versioning*). `abi_version()` answers the same question only after
 * instantiation, when the module's start code has already run; the section lets a host refuse
 * a module built for another version before any of its code runs. WebAssembly.Module's
 * customSections works on a compiled module, so this holds on Workers too, where the host never
 * sees the bytes.
 */

import { Reader, WasmFormatError } from './wasm-binary.js';

export const ABI_SECTION = 'edge_abi_version';

/** The version in the module's marker section; null when it has none. Throws WasmFormatError. */
export function abiMarker(module: WebAssembly.Module): number | null {
  const found = WebAssembly.Module.customSections(module, ABI_SECTION);
  if (found.length === 0) return null;
  if (found.length > 1) throw new WasmFormatError(`${found.length} ${ABI_SECTION} sections, not one`);
  const r = new Reader(new Uint8Array(found[0]!));
  const version = r.u32();
  if (!r.done) throw new WasmFormatError(`${ABI_SECTION} section has bytes after the version`);
  return version;
}
