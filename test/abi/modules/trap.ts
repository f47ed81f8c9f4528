// Hostile test module: traps (unreachable) when the first label of the qname is "trap",
// answers NXDOMAIN for "ok", and passes everything else. Built by scripts/build.mjs --test-apps.
import { Request, Verdict, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

function firstLabelIs(req: Request, s: string): bool {
  const q = req.ctx.qname();
  if (q.length < 1 || <i32>q[0] != s.length) return false;
  for (let i = 0; i < s.length; i++) if (<i32>q[1 + i] != s.charCodeAt(i)) return false;
  return true;
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req = request(phase, ctxLen, msgLen);
  if (firstLabelIs(req, "trap")) unreachable();
  if (firstLabelIs(req, "ok")) return req.respondRcode(3);
  return Verdict.CONTINUE;
}
