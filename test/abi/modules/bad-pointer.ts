// Hostile test module: hands the host a pointer far outside its memory.
import { request } from "../../../assembly/sdk";
import { respond } from "../../../assembly/abi";
export { abi_version, input, gc } from "../../../assembly/sdk";

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  request(phase, ctxLen, msgLen);
  respond(0x7ffffff0, 4096);
  return 1;
}
