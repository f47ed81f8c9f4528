// Test module that uses the log capability; its test manifest does not grant it.
import { Verdict, request, log, LogLevel } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  request(phase, ctxLen, msgLen);
  log(LogLevel.INFO, "hello");
  return Verdict.CONTINUE;
}
