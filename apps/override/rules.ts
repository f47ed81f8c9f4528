// Rule sets: the compiled form and the parser. The grammar is in docs/rules.md; every error
// carries its line and column, and a rule set with any error is refused as a whole.

import { isSubdomain, lower, lowerName, nameFromString, nameToString } from "../../assembly/name";
import { ipv4, ipv6, txt } from "../../assembly/rdata";
import { typeFromName, rcodeFromName } from "../../assembly/rrtypes";
import { CLIENT_TRANSPORTS, TRANSPORT_NAMES } from "../../assembly/context";
import { DataScope, Phase, PHASE_COUNT, PHASE_NAMES, RESPONSE_PHASES } from "../../assembly/sdk";
import { TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_PTR, TYPE_TXT } from "../../assembly/message";

const MAX_ERRORS = 50;
const DEFAULT_RESPOND_TTL: u32 = 60;

/** The names whose bit in `bits` is `set`, as "a, b" + `last` + "c". */
function listed(names: string[], bits: u32, set: bool, last: string): string {
  const out = new Array<string>();
  for (let i = 0; i < names.length; i++) if ((((bits >> <u32>i) & 1) != 0) == set) out.push(names[i]);
  if (out.length < 2) return out.join("");
  return out.slice(0, out.length - 1).join(", ") + last + out[out.length - 1];
}

// Messages that name the phases and transports, from the generated tables.
const PHASE_CHOICES = PHASE_NAMES.join("|");
const PHASE_LIST = PHASE_NAMES.join(", ");
const RESPONSE_PHASE_LIST = listed(PHASE_NAMES, <u32>RESPONSE_PHASES, true, " and ");
const QUERY_PHASE_LIST = listed(PHASE_NAMES, <u32>RESPONSE_PHASES, false, " and ");
const CLIENT_TRANSPORT_LIST = listed(TRANSPORT_NAMES, CLIENT_TRANSPORTS, true, ", ");

export class Cidr {
  constructor(public family: u8, public bytes: Uint8Array, public prefix: i32) {}
}

export class RecordSpec {
  constructor(public type: u16, public rdata: Uint8Array) {}
}

export class Rule {
  line: i32 = 0;
  phase: i32 = 0;
  // Matchers: each present one must match (AND); within one, any value (OR).
  qnames: Array<Uint8Array> = new Array<Uint8Array>();
  suffixes: Array<Uint8Array> = new Array<Uint8Array>();
  qtypes: Array<u16> = new Array<u16>();
  clients: Array<Cidr> = new Array<Cidr>();
  tags: Array<string> = new Array<string>();
  transports: u32 = 0;
  rcodes: u32 = 0;
  // Actions.
  setTags: Array<string> = new Array<string>();
  clearTags: Array<string> = new Array<string>();
  respondRcode: i32 = -1;
  records: Array<RecordSpec> = new Array<RecordSpec>();
  forwardTo: string = "";
  disableApps: Array<string> = new Array<string>();
  ttlCap: u32 = 0;
  // Steering (resolve phase, zones by qname-suffix): nameserver addresses, 4 or 16 bytes.
  avoidNs: Array<Uint8Array> = new Array<Uint8Array>();
  preferNs: Array<Uint8Array> = new Array<Uint8Array>();

  get steers(): bool {
    return this.avoidNs.length + this.preferNs.length > 0;
  }

  get responds(): bool {
    return this.respondRcode >= 0 || this.records.length > 0;
  }

  get respondTtl(): u32 {
    return this.ttlCap > 0 && this.ttlCap < DEFAULT_RESPOND_TTL ? this.ttlCap : DEFAULT_RESPOND_TTL;
  }
}

/** Names hashed as lower-cased wire bytes, so lookups never build strings. */
export function hashName(name: Uint8Array, from: i32): u32 {
  let h: u32 = 2166136261;
  for (let i = from; i < name.length; i++) {
    h ^= <u32>lower(unchecked(name[i]));
    h *= 16777619;
  }
  return h;
}

function push(map: Map<u32, Array<i32>>, key: u32, rule: i32): void {
  if (!map.has(key)) map.set(key, new Array<i32>());
  const list = map.get(key);
  if (list.length == 0 || list[list.length - 1] != rule) list.push(rule);
}

/** Per-phase indexes, so a query looks at the rules that can concern it, not all of them. */
export class PhaseIndex {
  byName: Map<u32, Array<i32>> = new Map<u32, Array<i32>>();
  bySuffix: Map<u32, Array<i32>> = new Map<u32, Array<i32>>();
  byTag: Map<string, Array<i32>> = new Map<string, Array<i32>>();
  /** Rules with neither a name nor a tag matcher: candidates for every query. */
  always: Array<i32> = new Array<i32>();
  count: i32 = 0;
}

export class RuleSet {
  rules: Array<Rule> = new Array<Rule>();
  phases: Array<PhaseIndex> = new Array<PhaseIndex>();

  constructor() {
    for (let i = 0; i < PHASE_COUNT; i++) this.phases.push(new PhaseIndex());
  }

  index(): void {
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      const p = this.phases[r.phase];
      p.count++;
      if (r.qnames.length > 0 || r.suffixes.length > 0) {
        for (let k = 0; k < r.qnames.length; k++) push(p.byName, hashName(r.qnames[k], 0), i);
        for (let k = 0; k < r.suffixes.length; k++) push(p.bySuffix, hashName(r.suffixes[k], 0), i);
      } else if (r.tags.length > 0) {
        for (let k = 0; k < r.tags.length; k++) {
          const t = r.tags[k];
          if (!p.byTag.has(t)) p.byTag.set(t, new Array<i32>());
          p.byTag.get(t).push(i);
        }
      } else {
        p.always.push(i);
      }
    }
  }
}

// ---- Parser ---------------------------------------------------------------------------------

class Token {
  constructor(public text: string, public col: i32, public quoted: bool) {}
}

export class ParseResult {
  set: RuleSet | null = null;
  errors: Array<string> = new Array<string>();
  /**
   * Which cached answers each rule can act on, for the host (docs/rules.md, "Rules and the
   * cache"): its names, or the names at and under its suffixes, or every name for a rule with
   * no name matcher. Sent when the set is accepted.
   */
  scope: DataScope = new DataScope();
}

const NO_NAMES = new Array<Uint8Array>();

function tokenize(line: string, lineNo: i32, errors: Array<string>): Array<Token> | null {
  const out = new Array<Token>();
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c == 0x20 || c == 0x09 || c == 0x0d) {
      i++;
      continue;
    }
    if (c == 0x23) break; // comment
    if (c == 0x3d) {
      out.push(new Token("=", i + 1, false));
      i++;
      continue;
    }
    if (c == 0x22) {
      let s = "";
      let j = i + 1;
      let closed = false;
      while (j < n) {
        const d = line.charCodeAt(j);
        if (d == 0x5c && j + 1 < n) {
          s += String.fromCharCode(line.charCodeAt(j + 1));
          j += 2;
          continue;
        }
        if (d == 0x22) {
          closed = true;
          break;
        }
        s += String.fromCharCode(d);
        j++;
      }
      if (!closed) {
        errors.push(lineNo.toString() + ":" + (i + 1).toString() + ": unterminated quoted string");
        return null;
      }
      out.push(new Token(s, i + 1, true));
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < n) {
      const d = line.charCodeAt(j);
      if (d == 0x20 || d == 0x09 || d == 0x0d || d == 0x3d || d == 0x23) break;
      j++;
    }
    out.push(new Token(line.substring(i, j), i + 1, false));
    i = j;
  }
  return out;
}

function isTag(s: string): bool {
  if (s.length == 0 || s.length > 63) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
    if (!alnum && (i == 0 || (c != 0x5f && c != 0x2e && c != 0x2d))) return false;
  }
  return true;
}

export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf("/");
  const addr = slash >= 0 ? s.substring(0, slash) : s;
  const v6 = addr.includes(":");
  const bytes = v6 ? ipv6(addr) : ipv4(addr);
  if (bytes == null) return null;
  let prefix = v6 ? 128 : 32;
  if (slash >= 0) {
    const p = s.substring(slash + 1);
    if (p.length == 0 || p.length > 3) return null;
    prefix = 0;
    for (let k = 0; k < p.length; k++) {
      const c = p.charCodeAt(k);
      if (c < 0x30 || c > 0x39) return null;
      prefix = prefix * 10 + (c - 0x30);
    }
    if (prefix > (v6 ? 128 : 32)) return null;
  }
  return new Cidr(v6 ? 6 : 4, bytes, prefix);
}

function sameBytes(a: Uint8Array, b: Uint8Array): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}

function hasBytes(list: Array<Uint8Array>, b: Uint8Array): bool {
  for (let i = 0; i < list.length; i++) if (sameBytes(list[i], b)) return true;
  return false;
}

/** A map key for a lower-cased wire name. */
function bytesKey(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

function contains(list: Array<string>, s: string): bool {
  for (let i = 0; i < list.length; i++) if (list[i] == s) return true;
  return false;
}

/** Encodes RDATA for a `respond <TYPE> <value>` record; null when the value does not fit the type. */
function recordRdata(type: u16, value: string): Uint8Array | null {
  if (type == TYPE_A) return ipv4(value);
  if (type == TYPE_AAAA) return ipv6(value);
  // One character-string: a longer text is refused rather than split.
  if (type == TYPE_TXT) return String.UTF8.byteLength(value) <= 255 ? txt(value) : null;
  if (type == TYPE_CNAME || type == TYPE_PTR) return nameFromString(value);
  return null;
}

class Ctx {
  constructor(public line: i32, public errors: Array<string>) {}
  fail(col: i32, msg: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push(this.line.toString() + ":" + col.toString() + ": " + msg);
  }
}

/**
 * A steering rule (avoid-ns, prefer-ns) is not a request's rule: it changes which nameservers
 * the iterator asks for its zones, for every query the node sends there (a client's, or one the
 * iterator makes for an NS address or a key), so it takes zones and addresses only.
 */
function checkSteering(rule: Rule, c: Ctx, col: i32, steered: Map<string, i32>): void {
  if (rule.phase != Phase.RESOLVE) c.fail(col, "avoid-ns and prefer-ns steer the nameservers the iterator asks: they act in phase = resolve");
  if (rule.qnames.length + rule.qtypes.length + rule.clients.length + rule.tags.length > 0 || rule.transports != 0 || rule.rcodes != 0) {
    c.fail(col, "a steering rule (avoid-ns, prefer-ns) applies to every query to its zones: it takes qname-suffix and no other matcher");
  }
  const others = rule.setTags.length + rule.clearTags.length + rule.disableApps.length + rule.records.length > 0 ||
    rule.respondRcode >= 0 || rule.forwardTo.length > 0 || rule.ttlCap > 0;
  if (others) c.fail(col, "a steering rule (avoid-ns, prefer-ns) takes no other action; write that action in a rule of its own");
  if (rule.suffixes.length == 0) c.fail(col, "a steering rule names its zones with qname-suffix (qname-suffix . for every zone)");
  for (let k = 0; k < rule.avoidNs.length; k++) {
    if (hasBytes(rule.preferNs, rule.avoidNs[k])) c.fail(col, "a steering rule both avoids and prefers the same address");
  }
  for (let k = 0; k < rule.suffixes.length; k++) {
    const key = bytesKey(rule.suffixes[k]);
    if (steered.has(key)) c.fail(col, "zone " + nameToString(rule.suffixes[k]) + " is steered by the rule on line " + steered.get(key).toString() + " already (one steering rule per zone)");
    else steered.set(key, c.line);
  }
}

/**
 * Parses and validates a whole rule set. `groups` and `apps` are what forward-to and
 * disable-app may name; an entry "*" accepts any (offline checks without a config).
 */
export function parseRules(text: string, groups: Array<string>, apps: Array<string>): ParseResult {
  const result = new ParseResult();
  const set = new RuleSet();
  const seen = new Map<string, i32>();
  // zone (lower-cased wire name) -> line of the steering rule that names it
  const steered = new Map<string, i32>();
  const lines = text.split("\n");
  for (let li = 0; li < lines.length; li++) {
    const lineNo = li + 1;
    const toks = tokenize(lines[li], lineNo, result.errors);
    if (toks == null || toks.length == 0) continue;
    const c = new Ctx(lineNo, result.errors);
    const before = result.errors.length;
    if (toks[0].text != "phase") {
      c.fail(toks[0].col, "a rule starts with \"phase = <" + PHASE_CHOICES + ">\", not \"" + toks[0].text + "\"");
      continue;
    }
    if (toks.length < 3 || toks[1].text != "=") {
      c.fail(toks[0].col, "expected \"phase = <phase>\"");
      continue;
    }
    const phase = PHASE_NAMES.indexOf(toks[2].text);
    if (phase < 0) {
      c.fail(toks[2].col, "unknown phase \"" + toks[2].text + "\" (phases: " + PHASE_LIST + ")");
      continue;
    }
    const rule = new Rule();
    rule.line = lineNo;
    rule.phase = phase;
    let canonical = PHASE_NAMES[phase];
    let i = 3;
    while (i < toks.length) {
      const kw = toks[i];
      const col = kw.col;
      const word = kw.text;
      // Every keyword takes at least one value.
      if (i + 1 >= toks.length) {
        c.fail(col, "\"" + word + "\" needs a value");
        break;
      }
      const val = toks[i + 1];
      let used = 2;
      canonical += " " + word + " " + (val.quoted ? "\"" + val.text + "\"" : val.text.toLowerCase());
      if (word == "qname" || word == "qname-suffix") {
        const items = val.text.split(",");
        for (let k = 0; k < items.length; k++) {
          const n = nameFromString(items[k]);
          if (n == null || items[k].length == 0) c.fail(val.col, "\"" + items[k] + "\" is not a domain name");
          else if (word == "qname") rule.qnames.push(lowerName(n));
          else rule.suffixes.push(lowerName(n));
        }
      } else if (word == "qtype") {
        const items = val.text.split(",");
        for (let k = 0; k < items.length; k++) {
          const t = typeFromName(items[k]);
          if (t < 0) c.fail(val.col, "unknown type \"" + items[k] + "\" (use a mnemonic such as AAAA, or TYPEnnn)");
          else rule.qtypes.push(<u16>t);
        }
      } else if (word == "client") {
        const items = val.text.split(",");
        for (let k = 0; k < items.length; k++) {
          const cidr = parseCidr(items[k]);
          if (cidr == null) c.fail(val.col, "\"" + items[k] + "\" is not an address or CIDR prefix");
          else rule.clients.push(cidr);
        }
      } else if (word == "tag") {
        const items = val.text.split(",");
        for (let k = 0; k < items.length; k++) {
          if (!isTag(items[k])) c.fail(val.col, "\"" + items[k] + "\" is not a tag (lowercase [a-z0-9_.-], at most 63)");
          else rule.tags.push(items[k]);
        }
      } else if (word == "transport") {
        const items = val.text.split(",");
        for (let k = 0; k < items.length; k++) {
          const t = TRANSPORT_NAMES.indexOf(items[k].toLowerCase());
          if (t < 0 || (CLIENT_TRANSPORTS & (1 << t)) == 0) c.fail(val.col, "unknown transport \"" + items[k] + "\" (" + CLIENT_TRANSPORT_LIST + ")");
          else rule.transports |= 1 << t;
        }
      } else if (word == "rcode") {
        const items = val.text.split(",");
        for (let k = 0; k < items.length; k++) {
          const r = rcodeFromName(items[k]);
          if (r < 0) c.fail(val.col, "unknown rcode \"" + items[k] + "\"");
          else rule.rcodes |= 1 << r;
        }
        if ((RESPONSE_PHASES & (1 << phase)) == 0) c.fail(col, "rcode only matches in " + RESPONSE_PHASE_LIST + ": this rule can never match");
      } else if (word == "set-tag" || word == "clear-tag") {
        if (!isTag(val.text)) c.fail(val.col, "\"" + val.text + "\" is not a tag (lowercase [a-z0-9_.-], at most 63)");
        else if (word == "set-tag") rule.setTags.push(val.text);
        else rule.clearTags.push(val.text);
      } else if (word == "respond") {
        const r = rcodeFromName(val.text);
        if (r >= 0) {
          if (rule.respondRcode >= 0) c.fail(col, "a rule responds once");
          rule.respondRcode = r;
        } else {
          const t = typeFromName(val.text);
          if (t < 0) {
            c.fail(val.col, "respond takes an rcode (NXDOMAIN, REFUSED, ...) or a record (A, AAAA, TXT, CNAME, PTR), not \"" + val.text + "\"");
          } else if (i + 2 >= toks.length) {
            c.fail(val.col, "respond " + val.text + " needs a value");
          } else {
            const v = toks[i + 2];
            used = 3;
            canonical += " " + (v.quoted ? "\"" + v.text + "\"" : v.text.toLowerCase());
            const rdata = recordRdata(<u16>t, v.text);
            if (rdata == null) c.fail(v.col, "\"" + v.text + "\" is not valid " + val.text + " data (respond supports A, AAAA, TXT, CNAME, PTR)");
            else rule.records.push(new RecordSpec(<u16>t, rdata));
          }
        }
      } else if (word == "forward-to") {
        if (rule.forwardTo.length > 0) c.fail(col, "a rule forwards to one group");
        if (!contains(groups, "*") && !contains(groups, val.text)) {
          c.fail(val.col, "forward-to names upstream group \"" + val.text + "\", which is not configured (groups: " + groups.join(", ") + ")");
        }
        rule.forwardTo = val.text;
      } else if (word == "disable-app") {
        if (!contains(apps, "*") && !contains(apps, val.text)) {
          c.fail(val.col, "disable-app names app \"" + val.text + "\", which is not installed (apps: " + apps.join(", ") + ")");
        }
        rule.disableApps.push(val.text);
      } else if (word == "avoid-ns" || word == "prefer-ns") {
        const items = val.text.split(",");
        for (let k = 0; k < items.length; k++) {
          const a = items[k].includes(":") ? ipv6(items[k]) : ipv4(items[k]);
          if (a == null) c.fail(val.col, "\"" + items[k] + "\" is not an IPv4 or IPv6 address (" + word + " takes nameserver addresses)");
          else {
            const list = word == "avoid-ns" ? rule.avoidNs : rule.preferNs;
            if (!hasBytes(list, a)) list.push(a);
          }
        }
      } else if (word == "ttl-cap") {
        let v: u64 = 0;
        let ok = val.text.length > 0 && val.text.length <= 10;
        for (let k = 0; ok && k < val.text.length; k++) {
          const d = val.text.charCodeAt(k);
          if (d < 0x30 || d > 0x39) ok = false;
          else v = v * 10 + <u64>(d - 0x30);
        }
        // 0 would cap nothing (a cap of 0 means none everywhere): refused rather than ignored.
        if (!ok || v < 1 || v > 604800) c.fail(val.col, "ttl-cap takes seconds, 1 to 604800");
        else rule.ttlCap = <u32>v;
      } else {
        c.fail(col, "unknown matcher or action \"" + word + "\"");
        break;
      }
      i += used;
    }
    if (result.errors.length > before) continue;
    if (rule.steers) {
      // A duplicate names the zones of an earlier one: checkSteering refuses it as such.
      checkSteering(rule, c, toks[0].col, steered);
      if (result.errors.length > before) continue;
      // Not a request's rule: the host applies it to the iterator, from the scope report.
      result.scope.unit(canonical, <Phase>phase, false, NO_NAMES, rule.suffixes, rule.avoidNs, rule.preferNs);
      continue;
    }
    // Rules that cannot do anything, or cannot ever match, are mistakes worth refusing.
    const hasAction = rule.setTags.length + rule.clearTags.length + rule.disableApps.length + rule.records.length > 0 ||
      rule.respondRcode >= 0 || rule.forwardTo.length > 0 || rule.ttlCap > 0;
    if (!hasAction) c.fail(toks[0].col, "rule has no action (set-tag, clear-tag, respond, forward-to, disable-app, ttl-cap, avoid-ns, prefer-ns)");
    if (rule.responds && rule.forwardTo.length > 0) c.fail(toks[0].col, "a rule cannot both respond and forward-to");
    if (rule.respondRcode >= 0 && rule.records.length > 0 && rule.respondRcode != 0) c.fail(toks[0].col, "respond with records means NOERROR; drop the rcode");
    if (rule.forwardTo.length > 0 && (RESPONSE_PHASES & (1 << phase)) != 0) c.fail(toks[0].col, "forward-to only acts in " + QUERY_PHASE_LIST);
    for (let k = 0; k < rule.setTags.length; k++) {
      if (contains(rule.clearTags, rule.setTags[k])) c.fail(toks[0].col, "rule both sets and clears tag \"" + rule.setTags[k] + "\"");
    }
    if (rule.qnames.length > 0 && rule.suffixes.length > 0) {
      let any = false;
      for (let a = 0; a < rule.qnames.length; a++) for (let b = 0; b < rule.suffixes.length; b++) if (isSubdomain(rule.qnames[a], rule.suffixes[b])) any = true;
      if (!any) c.fail(toks[0].col, "no qname of this rule is under its qname-suffix: it can never match");
    }
    if (result.errors.length > before) continue;
    if (seen.has(canonical)) {
      c.fail(toks[0].col, "duplicate of the rule on line " + seen.get(canonical).toString());
      continue;
    }
    seen.set(canonical, lineNo);
    set.rules.push(rule);
    // The canonical spelling is the rule's identity: a reformatted line is the same rule. A rule
    // with both name matchers matches only names of its qname list.
    result.scope.unit(canonical, <Phase>phase, rule.responds, rule.qnames, rule.qnames.length > 0 ? NO_NAMES : rule.suffixes);
  }
  // A set of only comments is a deliberate "no rules"; one with nothing at all is more likely a
  // truncated write or an empty request body, so it is refused.
  if (result.errors.length == 0 && set.rules.length == 0 && text.trim().length == 0) {
    result.errors.push("1:1: the rule set is empty (a set with no rules is a file of comments, e.g. \"# no rules\"; or clear the rules with DELETE /rules)");
  }
  if (result.errors.length == 0) {
    set.index();
    result.set = set;
  }
  return result;
}

