// Hostile test module: its manifest says ABI version 1, but it imports a function ABI v1 does
// not define (as a module built against a later SDK would), and its start code traps, so a
// host that instantiated it before checking would report the trap instead of the mismatch.
import { Verdict, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

@external("edge", "ctx_get")
declare function ctx_get(field: i32, ptr: usize, len: usize): i32;

// Top-level code runs in the module's start function, at instantiation.
if (ctx_get(0, 0, 0) != 12345) unreachable();

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  request(phase, ctxLen, msgLen);
  return ctx_get(1, 0, 0) > 0 ? Verdict.CONTINUE : Verdict.RESPOND;
}
