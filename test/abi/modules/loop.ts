// Hostile test module: never returns when asked about "loop". The host's fuel meter must stop it.
import { Verdict, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

let spins: i64 = 0;

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req = request(phase, ctxLen, msgLen);
  const q = req.ctx.qname();
  if (q.length > 4 && q[1] == 0x6c && q[2] == 0x6f && q[3] == 0x6f && q[4] == 0x70) {
    while (true) spins++;
  }
  return Verdict.CONTINUE;
}
