/**
 * Which cached answers a new rule set can make wrong. Resolve and post-resolve rules, and
 * pre-cache rules that do not answer, run on a cache miss and shape what is stored: the
 * upstream group it came from, its lifetime. So when such a rule is added or removed, the
 * answers it could have shaped are flushed: those for the names of its `qname` matcher, or at
 * and under its `qname-suffix` names, or all of them for a rule with no name matcher. Post-cache
 * rules run on every hit, and a pre-cache rule that answers is never reached by a cached answer,
 * so changing those flushes nothing (docs/rules.md).
 *
 * The override app is the one parser and validator. This reads text the app has accepted, only
 * for each rule's phase, name matchers and whether it answers; whatever it cannot read flushes
 * everything, which is always safe.
 */

import type { FlushScope } from '../core/cache.js';
import { rcodeFromName } from '../core/dns/rr-types.js';
import { textToName } from '../core/dns/wire.js';

export type RuleFlush = FlushScope | 'all';

interface Token {
  text: string;
  quoted: boolean;
}

/** Splits a line as the app does: blanks separate, `=` stands alone, `#` starts a comment, `"..."` with `\` escapes. */
function tokenize(line: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      break;
    } else if (c === '=') {
      out.push({ text: '=', quoted: false });
      i++;
    } else if (c === '"') {
      let s = '';
      let j = i + 1;
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        s += line[j];
        j++;
      }
      out.push({ text: s, quoted: true });
      i = j + 1;
    } else {
      let j = i;
      while (j < line.length && !' \t\r=#'.includes(line[j]!)) j++;
      out.push({ text: line.slice(i, j), quoted: false });
      i = j;
    }
  }
  return out;
}

interface RuleShape {
  phase: string;
  qnames: string[];
  suffixes: string[];
  responds: boolean;
}

/** Each rule by a canonical spelling (so a reformatted line is the same rule), with its shape. */
function readRules(text: string | null): Map<string, RuleShape> {
  const out = new Map<string, RuleShape>();
  for (const line of (text ?? '').split('\n')) {
    const toks = tokenize(line);
    if (toks.length < 3) continue;
    const rule: RuleShape = { phase: toks[2]!.text, qnames: [], suffixes: [], responds: false };
    for (let i = 3; i + 1 < toks.length; ) {
      const word = toks[i]!.text;
      const value = toks[i + 1]!.text;
      if (word === 'qname') rule.qnames.push(...value.split(','));
      else if (word === 'qname-suffix') rule.suffixes.push(...value.split(','));
      else if (word === 'respond') rule.responds = true;
      // `respond <rcode>` is two tokens, `respond <TYPE> <value>` three.
      i += word === 'respond' && rcodeFromName(value) === undefined ? 3 : 2;
    }
    const canonical = toks.map((t) => (t.quoted ? JSON.stringify(t.text) : t.text.toLowerCase())).join(' ');
    out.set(canonical, rule);
  }
  return out;
}

function wire(name: string): Uint8Array {
  return textToName(name.endsWith('.') ? name : `${name}.`);
}

/** What to flush when the rule set `before` (null: none) is replaced by `after`. */
export function ruleChangeFlush(before: string | null, after: string | null): RuleFlush {
  const old = readRules(before);
  const now = readRules(after);
  const changed = [...old].filter(([k]) => !now.has(k)).concat([...now].filter(([k]) => !old.has(k)));
  const scope: FlushScope = { names: [], suffixes: [] };
  try {
    for (const [, r] of changed) {
      if (r.phase === 'post-cache' || (r.phase === 'pre-cache' && r.responds)) continue;
      // A rule with both matchers matches only names of its qname list.
      if (r.qnames.length) scope.names.push(...r.qnames.map(wire));
      else if (r.suffixes.length) scope.suffixes.push(...r.suffixes.map(wire));
      else return 'all';
    }
  } catch {
    return 'all';
  }
  return scope;
}

/** Anything that can drop cached answers (the Resolver). */
export interface Flushable {
  flush(scope: FlushScope | null, reason: 'rules'): number;
}

/**
 * Flushes what a rule-set change can have made wrong (and, by starting a new cache generation,
 * keeps answers still in flight under the old rules out of the cache); both adapters call it
 * when the override app's data changes.
 */
export function flushForRuleChange(target: Flushable, before: Uint8Array | null, after: Uint8Array | null): void {
  const text = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : null);
  const scope = ruleChangeFlush(text(before), text(after));
  if (scope === 'all') target.flush(null, 'rules');
  else if (scope.names.length || scope.suffixes.length) target.flush(scope, 'rules');
}
