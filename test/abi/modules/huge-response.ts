// Test module: answers "huge.*" with a message of about 70,000 bytes, more than a DNS message can
// hold. The SDK turns it into a truncated answer (TC, no records) instead of offering the host
// a message it must refuse as a trap.
import { ResponseWriter, Verdict, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req = request(phase, ctxLen, msgLen);
  const q = req.ctx.qname();
  if (q.length > 4 && q[0] == 4 && q[1] == 0x68 && q[2] == 0x75 && q[3] == 0x67 && q[4] == 0x65) {
    const w = new ResponseWriter(req.message, 4096);
    const rdata = new Uint8Array(256);
    rdata[0] = 255;
    for (let i = 0; i < 280; i++) w.answer(16, 300, rdata);
    return req.respond(w.finish());
  }
  return Verdict.CONTINUE;
}
