// Test module that reports whatever scope its data spells out, so tests can check that the host
// flushes what an app reports (edge.data_scope), not what it would read in the data itself.
// Data: one unit per line, "KEY PHASE ANSWERS NAMES SUFFIXES" (names comma-separated, "-" for
// none); a line "no-report" sends no report, "malformed" a report the host must refuse,
// "trap" traps after reporting.
import * as abi from "../../../assembly/abi";
import { DataScope, LoadKind, Phase, Verdict, takeInput } from "../../../assembly/sdk";
import { nameFromString } from "../../../assembly/name";
export { abi_version, input, gc } from "../../../assembly/sdk";

function names(field: string): Array<Uint8Array> {
  const out = new Array<Uint8Array>();
  if (field == "-") return out;
  const items = field.split(",");
  for (let i = 0; i < items.length; i++) out.push(nameFromString(items[i])!);
  return out;
}

export function on_load(kind: i32, len: i32): i32 {
  const data = takeInput(len);
  if (kind != LoadKind.DATA) return 0;
  const lines = String.UTF8.decodeUnsafe(data.dataStart, <usize>data.length).split("\n");
  const scope = new DataScope();
  let send = true;
  let trap = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.length == 0) continue;
    if (line == "no-report") {
      send = false;
      continue;
    }
    if (line == "trap") {
      trap = true;
      continue;
    }
    if (line == "malformed") {
      const bad = new Uint8Array(3);
      bad[0] = 9; // format 9
      if (abi.data_scope(bad.dataStart, 3) != -1) unreachable();
      send = false;
      continue;
    }
    const f = line.split(" ");
    scope.unit(f[0], <Phase>I32.parseInt(f[1]), f[2] == "1", names(f[3]), names(f[4]));
  }
  if (send && !scope.send()) unreachable();
  if (trap) unreachable();
  return 0;
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  return Verdict.CONTINUE;
}
