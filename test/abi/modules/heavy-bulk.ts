// Hostile test module: when the first label is "fill" or "copy", grows its memory to 10 MiB
// (once: the host reuses a trapped instance's memory, zeroed) and then fills or copies megabytes
// without end. The meter charges bulk operations by their length,
// before they run.
import { Verdict, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

const MIB: usize = 1 << 20;

function label(q: Uint8Array, s: string): bool {
  if (q.length < s.length + 1 || <i32>q[0] != s.length) return false;
  for (let i = 0; i < s.length; i++) if (<i32>q[1 + i] != s.charCodeAt(i)) return false;
  return true;
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req = request(phase, ctxLen, msgLen);
  const q = req.ctx.qname();
  const fill = label(q, "fill");
  if (fill || label(q, "copy")) {
    const want = 160;
    if (memory.size() < want && memory.grow(want - memory.size()) < 0) unreachable();
    const base: usize = 2 * MIB;
    let k: u8 = 1;
    while (true) {
      if (fill) memory.fill(base, k, 8 * MIB);
      else memory.copy(base, base + 4 * MIB, 4 * MIB);
      k++;
    }
  }
  return Verdict.CONTINUE;
}
