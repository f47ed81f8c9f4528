// Test module built "for another ABI": its marker says version 2.
import { Verdict, request } from "../../../assembly/sdk";
export { input, gc } from "../../../assembly/sdk";

export function abi_version(): i32 {
  return 2;
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  request(phase, ctxLen, msgLen);
  return Verdict.CONTINUE;
}
