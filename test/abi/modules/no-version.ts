// Hostile test module: has the entry points but no abi_version marker.
import { Verdict, request } from "../../../assembly/sdk";
export { input, gc } from "../../../assembly/sdk";

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  request(phase, ctxLen, msgLen);
  return Verdict.CONTINUE;
}
