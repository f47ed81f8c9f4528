// Hostile test module: when the first label is "spin", loops without end on calls: a recursion
// the compiler cannot inline and calls through a function table. The meter charges every call.
import { Verdict, request } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

function fib(n: i32): i32 {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

let sink: i32 = 0;
const table: Array<(x: i32) => i32> = [(x: i32): i32 => x + 1, (x: i32): i32 => x ^ 7, (x: i32): i32 => x * 3];

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req = request(phase, ctxLen, msgLen);
  const q = req.ctx.qname();
  if (q.length > 4 && q[0] == 4 && q[1] == 0x73 && q[2] == 0x70 && q[3] == 0x69 && q[4] == 0x6e) {
    let i = 0;
    while (true) {
      sink += fib(20);
      for (let j = 0; j < 100; j++) sink = table[(i + j) % 3](sink);
      i++;
    }
  }
  return Verdict.CONTINUE;
}
