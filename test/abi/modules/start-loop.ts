// Hostile test module: its start code (top-level statements) never ends. The host runs it on
// its own start budget, so the module is refused with that reason instead of hanging the node.
import { Verdict, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

let spins: i64 = 0;
let running = true;
while (running) spins++;

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  request(phase, ctxLen, msgLen);
  return Verdict.CONTINUE;
}
