// Test module that calls every SDK helper an app answers with, chosen by the first label of the
// query name, so test/apps/sdk.test.ts can check each one's wire output through the host.
import { Request, Span, ipv4, ipv6, request, spanToString, TYPE_A } from "../../../assembly/sdk";
export { abi_version, input, gc } from "../../../assembly/sdk";

const V4_CASES: string[] = ["192.0.2.1", "0.0.0.0", "255.255.255.255", "256.0.0.1", "1.2.3", "1.2.3.4.5", "1..2.3", "01.2.3.4", "1.2.3.4 ", "", "1234.1.1.1"];
const V6_CASES: string[] = [
  "::", "::1", "2001:db8::1", "2001:db8:0:0:1:0:0:1", "1:2:3:4:5:6:7:8", "::ffff:192.0.2.1", "fe80::",
  "1::8", "2001:DB8::A", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "1:2:3:4:5:6:7", ":1::", "1::2:",
  "::ffff:1.2.3", "g::1", "1:2:3:4:5:6:7::", "::1.2.3.4", "",
];

function hex(b: Uint8Array | null): string {
  if (b == null) return "null";
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

function spans(list: Array<Span>): string {
  let s = "";
  for (let i = 0; i < list.length; i++) s += (i ? "," : "") + spanToString(list[i]);
  return s;
}

/** Every context field as the guest decoder reads it (test/abi/golden.test.ts). */
function contextText(req: Request): string {
  const c = req.ctx;
  let client = "";
  if (c.clientFamily == 4) {
    for (let i = 0; i < 4; i++) client += (i ? "." : "") + load<u8>(c.clientPtr + <usize>i).toString();
    client += ":" + ((<u32>load<u8>(c.clientPtr + 4) << 8) | <u32>load<u8>(c.clientPtr + 5)).toString();
  }
  return "qname=" + req.qname + " qtype=" + c.qtype.toString() + " qclass=" + c.qclass.toString() +
    " client=" + client + " transport=" + c.transport.toString() + " flags=" + c.flags.toString() +
    " do=" + (c.dnssecOk ? "1" : "0") + " cd=" + (c.checkingDisabled ? "1" : "0") + " hops=" + c.hops.toString() +
    " ingress=" + spanToString(c.ingress) + " deadline=" + (<u64>c.deadline).toString() + " tags=" + spans(c.tags) +
    " route=" + spanToString(c.route) + " disabled=" + spans(c.disabledApps) + " ttlcap=" + c.ttlCap.toString() +
    " udp=" + c.udpSize.toString();
}

function firstLabel(req: Request): string {
  const q = req.qname;
  const dot = q.indexOf(".");
  return dot < 0 ? q : q.substring(0, dot);
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req = request(phase, ctxLen, msgLen);
  const what = firstLabel(req);
  if (what == "ctx") return req.respondTxt(contextText(req));
  if (what == "a") return req.respondA("192.0.2.1", 30);
  if (what == "aaaa") return req.respondAAAA("2001:db8::1", 30);
  if (what == "txt") return req.respondTxt(req.qname + " " + req.qtype.toString() + " " + req.qclass.toString(), 5);
  if (what == "long") return req.respondTxt("x".repeat(300));
  if (what == "empty") return req.respondTxt("");
  if (what == "nx") return req.respondNxdomain();
  if (what == "nodata") return req.respondNoData();
  if (what == "refuse") return req.refuse();
  if (what == "servfail") return req.servfail();
  if (what == "record") return req.respondRecord(TYPE_A, 7, ipv4("198.51.100.7")!);
  if (what == "under") return req.respondTxt(req.isUnder("Example.ORG") ? "yes" : "no");
  if (what == "tagged") return req.respondTxt(req.hasTag("vip") ? "yes" : "no");
  if (what == "bada") return req.respondA("not-an-address");
  if (what == "v4") {
    let s = "";
    for (let i = 0; i < V4_CASES.length; i++) s += (i ? "," : "") + hex(ipv4(V4_CASES[i]));
    return req.respondTxt(s);
  }
  if (what == "v6") {
    let s = "";
    for (let i = 0; i < V6_CASES.length; i++) s += (i ? "," : "") + hex(ipv6(V6_CASES[i]));
    return req.respondTxt(s);
  }
  return req.pass();
}
