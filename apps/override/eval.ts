// Evaluating a rule set for one request. Precedence (docs/rules.md): the rules of a phase are
// considered in file order; tag actions take effect at once, so a later rule can match a tag an
// earlier one set; the first matching forward-to wins; ttl-caps combine to the smallest; the
// first matching rule that responds ends the evaluation. On a cache hit the post-resolve rules
// run before the post-cache ones: the cache holds the upstream's answer, not what a rule made of
// it for one request, so a rewrite applies to every answer for the name, fresh or cached.

import { Phase, Request, Verdict } from "../../assembly/sdk";
import { Span } from "../../assembly/context";
import { ResponseWriter, SECTION_ANSWER, CLASS_IN, TYPE_ANY, TYPE_CNAME, messageRcode } from "../../assembly/message";
import { isSubdomain, namesEqual } from "../../assembly/name";
import { TRANSPORT_COUNT } from "../../assembly/context";
import { Cidr, PhaseIndex, Rule, RuleSet, hashName } from "./rules";

function addAll(into: Array<i32>, from: Array<i32>): void {
  for (let i = 0; i < from.length; i++) into.push(unchecked(from[i]));
}

function cidrMatches(c: Cidr, family: u8, addr: usize): bool {
  if (c.family != family) return false;
  let bits = c.prefix;
  for (let i = 0; bits > 0; i++) {
    const a = load<u8>(addr + <usize>i);
    const b = unchecked(c.bytes[i]);
    if (bits >= 8) {
      if (a != b) return false;
      bits -= 8;
    } else {
      const mask = (0xff << (8 - bits)) & 0xff;
      if ((<i32>a & mask) != (<i32>b & mask)) return false;
      bits = 0;
    }
  }
  return true;
}

class Evaluation {
  tags: Array<string> = new Array<string>();
  routed: bool = false;

  hasTag(t: string): bool {
    return this.tags.includes(t);
  }
}

function matches(rule: Rule, req: Request, qname: Uint8Array, ev: Evaluation): bool {
  const ctx = req.ctx;
  if (rule.qnames.length > 0) {
    let ok = false;
    for (let i = 0; i < rule.qnames.length && !ok; i++) ok = namesEqual(qname, unchecked(rule.qnames[i]));
    if (!ok) return false;
  }
  if (rule.suffixes.length > 0) {
    let ok = false;
    for (let i = 0; i < rule.suffixes.length && !ok; i++) ok = isSubdomain(qname, unchecked(rule.suffixes[i]));
    if (!ok) return false;
  }
  if (rule.qtypes.length > 0 && !rule.qtypes.includes(ctx.qtype)) return false;
  if (rule.transports != 0 && (<i32>ctx.transport >= TRANSPORT_COUNT || (rule.transports & (1 << ctx.transport)) == 0)) return false;
  if (rule.clients.length > 0) {
    if (ctx.clientFamily == 0) return false;
    let ok = false;
    for (let i = 0; i < rule.clients.length && !ok; i++) ok = cidrMatches(unchecked(rule.clients[i]), ctx.clientFamily, ctx.clientPtr);
    if (!ok) return false;
  }
  if (rule.tags.length > 0) {
    let ok = false;
    for (let i = 0; i < rule.tags.length && !ok; i++) ok = ev.hasTag(unchecked(rule.tags[i]));
    if (!ok) return false;
  }
  if (rule.rcodes != 0) {
    if (!req.isResponse) return false;
    if ((rule.rcodes & (1 << messageRcode(req.message))) == 0) return false;
  }
  return true;
}

function respond(rule: Rule, req: Request, qname: Uint8Array): Verdict {
  const w = new ResponseWriter(req.message, 512);
  if (rule.records.length == 0) {
    w.setRcode(<u8>rule.respondRcode);
    return req.respond(w.finish());
  }
  const qtype = req.ctx.qtype;
  for (let i = 0; i < rule.records.length; i++) {
    const r = rule.records[i];
    if (r.type == qtype || r.type == TYPE_CNAME || qtype == TYPE_ANY) w.add(SECTION_ANSWER, qname, r.type, CLASS_IN, rule.respondTtl, r.rdata);
  }
  return req.respond(w.finish());
}

/** Inserts rule ids greater than `after` into the sorted pending list, without duplicates. */
function insertAfter(pending: Array<i32>, from: Array<i32>, after: i32): void {
  for (let i = 0; i < from.length; i++) {
    const id = unchecked(from[i]);
    if (id <= after) continue;
    let pos = pending.length;
    while (pos > 0 && unchecked(pending[pos - 1]) > id) pos--;
    if (pos > 0 && unchecked(pending[pos - 1]) == id) continue;
    pending.push(id);
    for (let k = pending.length - 1; k > pos; k--) unchecked((pending[k] = pending[k - 1]));
    unchecked((pending[pos] = id));
  }
}

// Reused across calls so a query allocates as little as possible.
const candidates = new Array<i32>();
const ev = new Evaluation();

export function evaluate(set: RuleSet, req: Request): Verdict {
  ev.tags.length = 0;
  ev.routed = false;
  const tagSpans = req.ctx.tags;
  for (let i = 0; i < tagSpans.length; i++) {
    const s: Span = unchecked(tagSpans[i]);
    ev.tags.push(String.UTF8.decodeUnsafe(s.ptr, <usize>s.len));
  }
  const qname = req.ctx.qname();
  if (req.phase == Phase.POST_CACHE) {
    const v = evaluatePhase(set, set.phases[Phase.POST_RESOLVE], req, qname);
    if (v != Verdict.CONTINUE) return v;
  }
  return evaluatePhase(set, set.phases[req.phase], req, qname);
}

function evaluatePhase(set: RuleSet, p: PhaseIndex, req: Request, qname: Uint8Array): Verdict {
  if (p.count == 0) return Verdict.CONTINUE;
  candidates.length = 0;
  if (p.byName.size > 0) {
    const h = hashName(qname, 0);
    if (p.byName.has(h)) addAll(candidates, p.byName.get(h));
  }
  if (p.bySuffix.size > 0) {
    // Every suffix of the name, from the whole name down to the root.
    let o = 0;
    while (o < qname.length) {
      const h = hashName(qname, o);
      if (p.bySuffix.has(h)) addAll(candidates, p.bySuffix.get(h));
      const l = <i32>unchecked(qname[o]);
      if (l == 0) break;
      o += l + 1;
    }
  }
  if (p.byTag.size > 0) {
    for (let i = 0; i < ev.tags.length; i++) {
      const t = unchecked(ev.tags[i]);
      if (p.byTag.has(t)) addAll(candidates, p.byTag.get(t));
    }
  }
  addAll(candidates, p.always);
  candidates.sort((a: i32, b: i32): i32 => a - b);

  let last = -1;
  for (let ci = 0; ci < candidates.length; ci++) {
    const id = unchecked(candidates[ci]);
    if (id == last) continue;
    last = id;
    const rule = unchecked(set.rules[id]);
    if (!matches(rule, req, qname, ev)) continue;
    for (let k = 0; k < rule.clearTags.length; k++) {
      const t = unchecked(rule.clearTags[k]);
      req.clearTag(t);
      const at = ev.tags.indexOf(t);
      if (at >= 0) ev.tags.splice(at, 1);
    }
    for (let k = 0; k < rule.setTags.length; k++) {
      const t = unchecked(rule.setTags[k]);
      if (ev.hasTag(t)) continue;
      req.setTag(t);
      ev.tags.push(t);
      // Rules waiting on this tag further down the file become candidates now.
      if (p.byTag.has(t)) insertAfter(candidates, p.byTag.get(t), id);
    }
    for (let k = 0; k < rule.disableApps.length; k++) req.disableApp(unchecked(rule.disableApps[k]));
    if (rule.ttlCap > 0) req.setTtlCap(rule.ttlCap);
    if (rule.forwardTo.length > 0 && !ev.routed) {
      req.setRoute(rule.forwardTo);
      ev.routed = true;
    }
    if (rule.responds) return respond(rule, req, qname);
  }
  return Verdict.CONTINUE;
}
