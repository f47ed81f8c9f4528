// forward: chooses where a query that needs outside data goes. First the cache slot: in a site
// of several nodes, the node that owns the query (rendezvous hashing over qname, qtype and the
// DO bit) resolves it, so each answer is fetched and cached once per site; a non-owner returns
// FORWARD to that peer and the host carries the request context there. Then the upstream group,
// by longest-suffix zone routing (a DS query by its parent's name); the host does the I/O (UDP, TCP on TC, retries, health) once
// the resolve chain ends without an answer.

import { Config, LoadKind, Request, Verdict, loadError, request, takeInput, count } from "../../assembly/sdk";
import { lower, lowerName, nameFromString, suffixOffset } from "../../assembly/name";
import { CTX_FLAG_LOCAL } from "../../assembly/context";
import { TYPE_DS } from "../../assembly/rrtypes.generated";

export { abi_version, input, gc } from "../../assembly/sdk";

const ITERATE = "iterate";

class Route {
  constructor(public zone: Uint8Array, public group: string) {}
}

// Sorted longest zone first, so the first match is the longest suffix.
let routes: Array<Route> = new Array<Route>();

// Site members (sorted, this node included) and each one's hash, for rendezvous hashing.
let selfId = "";
let members: Array<string> = new Array<string>();
let memberHashes: Array<u64> = new Array<u64>();
let maxHops: u8 = 1;
// True when some member other than this node can own a query: several members, or one that is
// not this node (a Workers ingress whose only member is its one cache shard).
let pooling = false;

const FNV_OFFSET: u64 = 0xcbf29ce484222325;
const FNV_PRIME: u64 = 0x100000001b3;

@inline
function fnvByte(h: u64, b: u8): u64 {
  return (h ^ <u64>b) * FNV_PRIME;
}

/** MurmurHash3's 64-bit finaliser: spreads the bits so every member's score is independent. */
@inline
function mix(k: u64): u64 {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccd;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53;
  k ^= k >> 33;
  return k;
}

function hashString(s: string): u64 {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = fnvByte(h, <u8>s.charCodeAt(i));
  return h;
}

/**
 * The member that owns (qname, qtype, DO): highest mix(key ^ member) wins. Adding or removing
 * one member moves only the keys that member wins or held, about 1/N of them.
 */
function owner(qname: Uint8Array, qtype: u16, dnssec: bool): i32 {
  let h = FNV_OFFSET;
  for (let i = 0; i < qname.length; i++) h = fnvByte(h, lower(unchecked(qname[i])));
  h = fnvByte(fnvByte(fnvByte(h, <u8>(qtype >> 8)), <u8>qtype), dnssec ? 1 : 0);
  let best = 0;
  let bestScore: u64 = 0;
  for (let i = 0; i < memberHashes.length; i++) {
    const score = mix(h ^ unchecked(memberHashes[i]));
    if (i == 0 || score > bestScore) {
      best = i;
      bestScore = score;
    }
  }
  return best;
}

export function on_load(kind: i32, len: i32): i32 {
  const data = takeInput(len);
  if (kind != LoadKind.CONFIG) return loadError("forward takes no data loads, only its config");
  const cfg = Config.parse(data);
  const groups = cfg.get("host.upstream_groups").split(",");
  // In recursive mode "." means iterate: names under no other route are resolved from the root.
  const recursive = cfg.get("host.mode") == "recursive";
  const peerList = cfg.get("host.peers");
  const nextMembers = peerList.length > 0 ? peerList.split(",") : new Array<string>();
  const nextHashes = new Array<u64>();
  for (let i = 0; i < nextMembers.length; i++) nextHashes.push(hashString(nextMembers[i]));
  const next = new Array<Route>();
  for (let i = 0; i < cfg.keys.length; i++) {
    const key = cfg.keys[i];
    if (key.startsWith("host.")) continue;
    if (!key.startsWith("routes.")) return loadError("unknown config key \"" + key + "\"");
    const zoneText = key.substring(7);
    const zone = nameFromString(zoneText);
    if (zone == null) return loadError("routes: \"" + zoneText + "\" is not a valid zone name");
    const group = recursive && zone.length == 1 ? ITERATE : cfg.values[i];
    if (!groups.includes(group)) {
      return loadError("routes: zone \"" + zoneText + "\" names upstream group \"" + group + "\", which is not in [upstreams]");
    }
    next.push(new Route(lowerName(zone), group));
  }
  next.sort((a: Route, b: Route): i32 => b.zone.length - a.zone.length);
  // Everything checked: swap it all in at once.
  routes = next;
  selfId = cfg.get("host.node_id");
  members = nextMembers;
  memberHashes = nextHashes;
  pooling = nextMembers.length > 1 || (nextMembers.length == 1 && nextMembers[0] != selfId);
  maxHops = <u8>I32.parseInt(cfg.get("host.max_hops", "1"));
  return 0;
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const req: Request = request(phase, ctxLen, msgLen);
  const qname = req.ctx.qname();
  const ctx = req.ctx;
  if (pooling && (ctx.flags & CTX_FLAG_LOCAL) == 0 && ctx.hops < maxHops) {
    const o = owner(qname, ctx.qtype, ctx.dnssecOk);
    if (unchecked(members[o]) != selfId) {
      count("to_peer");
      return req.forward("peer:" + unchecked(members[o]));
    }
  }
  // A rule (forward-to) has chosen already: respect it.
  if (ctx.route.len > 0) return Verdict.CONTINUE;
  // A DS record lives on the parent's side of a zone cut (RFC 4035 §2.4): a DS query goes where
  // the parent's names go, so with a route per zone to its authoritative servers, the DS query
  // for child.example. reaches example.'s servers, not child.example.'s.
  const routed = ctx.qtype == TYPE_DS && qname.length > 1 ? qname.subarray(<i32>unchecked(qname[0]) + 1) : qname;
  for (let i = 0; i < routes.length; i++) {
    const r = unchecked(routes[i]);
    if (suffixOffset(routed, r.zone) >= 0) {
      req.setRoute(r.group);
      count("routed");
      return Verdict.CONTINUE;
    }
  }
  return Verdict.CONTINUE;
}
