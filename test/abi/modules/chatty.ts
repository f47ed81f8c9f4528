// Test module that logs a long line 200 times on every query: the host's per-app log rate limit
// keeps what reaches the log bounded.
import { LogLevel, Verdict, log, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  request(phase, ctxLen, msgLen);
  const line = "x".repeat(1000);
  for (let i = 0; i < 200; i++) log(LogLevel.INFO, line);
  return Verdict.CONTINUE;
}
