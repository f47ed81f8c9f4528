// override: the operator's run-time rules (docs/rules.md). The rule set arrives as text through
// on_load(DATA), is parsed and validated here (errors carry line and column), indexed by phase,
// name and tag, and swapped in with one assignment; a rule set with any error changes nothing.

import { Config, LoadKind, Phase, Request, Verdict, loadError, request, takeInput, count } from "../../assembly/sdk";
import { RuleSet, parseRules } from "./rules";
import { evaluate } from "./eval";

export { abi_version, input, gc } from "../../assembly/sdk";

let rules: RuleSet | null = null;
let groups: Array<string> = ["*"];
let apps: Array<string> = ["*"];

export function on_load(kind: i32, len: i32): i32 {
  const data = takeInput(len);
  if (kind == LoadKind.CONFIG) {
    const cfg = Config.parse(data);
    for (let i = 0; i < cfg.keys.length; i++) {
      if (!cfg.keys[i].startsWith("host.")) return loadError("override takes no config; rules come as data (unknown key \"" + cfg.keys[i] + "\")");
    }
    if (cfg.has("host.upstream_groups")) groups = cfg.get("host.upstream_groups").split(",");
    if (cfg.has("host.installed_apps")) apps = cfg.get("host.installed_apps").split(",");
    return 0;
  }
  const text = String.UTF8.decodeUnsafe(data.dataStart, <usize>data.length);
  const parsed = parseRules(text, groups, apps);
  if (parsed.set == null) return loadError(parsed.errors.join("\n"));
  parsed.scope.send();
  rules = parsed.set;
  count("rule_sets_loaded");
  return 0;
}

/**
 * Only the phases that have rules: the host skips calls into the others. Post-resolve rules
 * also act on cache hits (eval.ts), so they need the post-cache call too.
 */
export function phases_wanted(): i32 {
  const set = rules;
  if (set == null) return 0;
  let bits = 0;
  for (let p = 0; p < set.phases.length; p++) if (set.phases[p].count > 0) bits |= 1 << p;
  if (bits & (1 << Phase.POST_RESOLVE)) bits |= 1 << Phase.POST_CACHE;
  return bits;
}

export function on_query(phase: i32, ctxLen: i32, msgLen: i32): i32 {
  const set = rules;
  if (set == null) return Verdict.CONTINUE;
  const req: Request = request(phase, ctxLen, msgLen);
  const v = evaluate(set, req);
  if (v == Verdict.RESPOND) count("responded");
  return v;
}
