// Hostile test module: its collector never returns. The host collects right after
// instantiation, on the collector's budget, so the module is refused with that reason.
import { Verdict, request } from "../../../assembly/sdk";
export { abi_version, input } from "../../../assembly/sdk";

let spins: i64 = 0;

export function gc(): void {
  while (true) spins++;
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  request(phase, ctxLen, msgLen);
  return Verdict.CONTINUE;
}
