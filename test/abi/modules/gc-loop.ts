// Hostile test module: its collector loops without end once a query named "arm.*" has armed it
// (and grown the memory, so the host collects after that call). The host runs gc() on its own
// bounded budget, so the loop ends in a fuel trap and the app is restarted, never blocking the
// node.
import { Verdict, request } from "../../../assembly/sdk";
export { abi_version, input } from "../../../assembly/sdk";

let armed = false;
let spins: i64 = 0;

export function gc(): void {
  if (armed) while (true) spins++;
  __collect();
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req = request(phase, ctxLen, msgLen);
  const q = req.ctx.qname();
  if (q.length > 3 && q[0] == 3 && q[1] == 0x61 && q[2] == 0x72 && q[3] == 0x6d) {
    armed = true;
    memory.grow(1);
  }
  return Verdict.CONTINUE;
}
