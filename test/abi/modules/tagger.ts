// Test module that exercises the context imports: sets a tag, a route and a TTL cap.
import { Verdict, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req = request(phase, ctxLen, msgLen);
  if (req.ctx.hasTag("seen")) {
    req.clearTag("seen");
    req.setTag("seen_twice");
  } else {
    req.setTag("seen");
  }
  if (!req.setTag("Bad Tag")) req.setTag("invalid_refused");
  req.setTtlCap(60);
  return Verdict.CONTINUE;
}
