// Hostile test module: returns a value that is not a verdict.
import { request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  request(phase, ctxLen, msgLen);
  return 42;
}
