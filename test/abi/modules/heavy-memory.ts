// Hostile test module: when the first label is "spin", loops without end with about 600 memory
// operations per turn (the attack that kept a node from answering for seconds while the meter
// counted loop turns). The meter charges every one of them, so the call ends in a bounded time.
import { Verdict, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

const area = new StaticArray<u32>(16384);
let sink: u32 = 0;

@inline function touch8(p: usize, k: u32): void {
  store<u32>(p, load<u32>(p + 4) + k);
  store<u32>(p + 8, load<u32>(p + 12) ^ k);
  store<u32>(p + 16, load<u32>(p + 20) + k);
  store<u32>(p + 24, load<u32>(p + 28) ^ k);
}

@inline function touch64(p: usize, k: u32): void {
  touch8(p, k); touch8(p + 32, k); touch8(p + 64, k); touch8(p + 96, k);
  touch8(p + 128, k); touch8(p + 160, k); touch8(p + 192, k); touch8(p + 224, k);
}

@inline function touch512(p: usize, k: u32): void {
  touch64(p, k); touch64(p + 256, k); touch64(p + 512, k); touch64(p + 768, k);
  touch64(p + 1024, k); touch64(p + 1280, k); touch64(p + 1536, k); touch64(p + 1792, k);
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req = request(phase, ctxLen, msgLen);
  const q = req.ctx.qname();
  if (q.length > 4 && q[0] == 4 && q[1] == 0x73 && q[2] == 0x70 && q[3] == 0x69 && q[4] == 0x6e) {
    const base = changetype<usize>(area);
    let k: u32 = 1;
    while (true) {
      // 8 x 64 x 2 loads and stores, about 600 with the extras, at addresses that move each turn
      const p = base + ((k * 2048) & 0xefff);
      touch512(p, k);
      touch64(p + 2048, k);
      touch8(p + 2304, k);
      sink += load<u32>(p);
      k++;
    }
  }
  return Verdict.CONTINUE;
}
