import { describe, expect, it } from 'vitest';
import { nameToText } from '../core/dns/wire.js';
import { ruleChangeFlush, type RuleFlush } from './rule-scope.js';

const show = (f: RuleFlush) => (f === 'all' ? 'all' : { names: f.names.map((n) => nameToText(n).toLowerCase()), suffixes: f.suffixes.map((n) => nameToText(n).toLowerCase()) });

describe('rule change flush scope', () => {
  it('flushes the names of added and removed rules that shape what is cached', () => {
    const before = 'phase = resolve qname-suffix org forward-to alt\nphase = post-resolve qname a.example ttl-cap 10\n';
    const after = '# reroute\nphase = resolve qname-suffix com,NET. forward-to alt\nphase=post-resolve   qname A.example  ttl-cap 10 # same rule\n';
    expect(show(ruleChangeFlush(before, after))).toEqual({ names: [], suffixes: ['org.', 'com.', 'net.'] });
    expect(show(ruleChangeFlush(null, 'phase = pre-cache qname x.test qname-suffix test forward-to alt\n'))).toEqual({ names: ['x.test.'], suffixes: [] });
  });

  it('flushes nothing for post-cache rules and pre-cache rules that answer; everything for a rule without a name', () => {
    const answers = 'phase = pre-cache qname-suffix corp respond NXDOMAIN\nphase = pre-cache qname p.test respond TXT "qname x" set-tag t\nphase = post-cache ttl-cap 5\n';
    expect(show(ruleChangeFlush(null, answers))).toEqual({ names: [], suffixes: [] });
    expect(show(ruleChangeFlush(answers, null))).toEqual({ names: [], suffixes: [] });
    expect(ruleChangeFlush(null, 'phase = pre-cache set-tag rec_disable_static\n')).toBe('all');
    expect(ruleChangeFlush('phase = resolve tag vip forward-to alt\n', '# none\n')).toBe('all');
    // A tag value spelled like a keyword is a value.
    expect(show(ruleChangeFlush(null, 'phase = resolve qname-suffix test set-tag respond forward-to alt\n'))).toEqual({ names: [], suffixes: ['test.'] });
  });

  it('flushes everything when it cannot read a name', () => {
    expect(ruleChangeFlush(null, `phase = resolve qname-suffix ${'a'.repeat(70)}.com forward-to alt\n`)).toBe('all');
  });
});
