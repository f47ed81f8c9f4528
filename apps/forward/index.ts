// forward: chooses where a query that needs outside data goes. Upstream groups are picked by
// longest-suffix zone routing from config; the host does the I/O (UDP, TCP on TC, retries,
// health) once the resolve chain ends without an answer.

import { Config, LoadKind, Request, Verdict, loadError, request, takeInput, count } from "../../assembly/sdk";
import { nameFromString, suffixOffset, lower } from "../../assembly/name";

export { abi_version, input, gc } from "../../assembly/sdk";

class Route {
  constructor(public zone: Uint8Array, public group: string) {}
}

// Sorted longest zone first, so the first match is the longest suffix.
let routes: Array<Route> = new Array<Route>();

function lowerName(n: Uint8Array): Uint8Array {
  const out = new Uint8Array(n.length);
  for (let i = 0; i < n.length; i++) out[i] = lower(n[i]);
  return out;
}

export function on_load(kind: i32, len: i32): i32 {
  const data = takeInput(len);
  if (kind != LoadKind.CONFIG) return loadError("forward takes no data loads, only its config");
  const cfg = Config.parse(data);
  const groups = cfg.get("host.upstream_groups").split(",");
  const next = new Array<Route>();
  for (let i = 0; i < cfg.keys.length; i++) {
    const key = cfg.keys[i];
    if (key.startsWith("host.")) continue;
    if (!key.startsWith("routes.")) return loadError("unknown config key \"" + key + "\"");
    const zoneText = key.substring(7);
    const zone = nameFromString(zoneText);
    if (zone == null) return loadError("routes: \"" + zoneText + "\" is not a valid zone name");
    const group = cfg.values[i];
    if (!groups.includes(group)) {
      return loadError("routes: zone \"" + zoneText + "\" names upstream group \"" + group + "\", which is not in [upstreams]");
    }
    next.push(new Route(lowerName(zone), group));
  }
  next.sort((a: Route, b: Route): i32 => b.zone.length - a.zone.length);
  routes = next;
  return 0;
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req: Request = request(phase, ctxLen, msgLen);
  // A rule (forward-to) has chosen already: respect it.
  if (req.ctx.route.len > 0) return Verdict.CONTINUE;
  const qname = req.ctx.qname();
  for (let i = 0; i < routes.length; i++) {
    const r = unchecked(routes[i]);
    if (suffixOffset(qname, r.zone) >= 0) {
      req.setRoute(r.group);
      count("routed");
      return Verdict.CONTINUE;
    }
  }
  return Verdict.CONTINUE;
}
