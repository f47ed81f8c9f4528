// Hostile test module: valid for ABI v1, but its start code traps. Under its own marker it
// shows that instantiation runs code; with the marker rewritten to another version
// (test/abi/abi.test.ts), that the host refuses it before any of that code runs.
import { Verdict, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

let started = false;
// Top-level code runs in the module's start function, at instantiation.
if (!started) unreachable();
started = true;

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  request(phase, ctxLen, msgLen);
  return Verdict.CONTINUE;
}
