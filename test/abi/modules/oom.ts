// Hostile test module: allocates without bound when asked about "oom"; the host's memory cap
// must stop it.
import { Verdict, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

const hoard = new Array<Uint8Array>();

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req = request(phase, ctxLen, msgLen);
  const q = req.ctx.qname();
  if (q.length > 3 && q[1] == 0x6f && q[2] == 0x6f && q[3] == 0x6d) {
    while (true) hoard.push(new Uint8Array(16 << 10));
  }
  return Verdict.CONTINUE;
}
