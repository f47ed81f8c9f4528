import { describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../../../core/config.js';
import { applyServeFlags } from './serve.js';

describe('serve flags', () => {
  const base = parseConfig('[upstreams]\ndefault = ["127.0.0.1:53"]\n[zone]\nsource = "root.zone"\ntrust_anchor = "old.ds"\n');

  it('--trust-anchor is the one anchor: validation starts from it and the root copy is verified by it', () => {
    const c = validateConfig(applyServeFlags(base, { 'trust-anchor': 'anchors.ds' }));
    expect(c.dnssec.trust_anchor).toBe('anchors.ds');
    expect(c.zone.trust_anchor).toBeUndefined();
    expect(c.dnssec.validate).toBe(true);
  });

  it('--no-validate turns validation off', () => {
    expect(validateConfig(applyServeFlags(base, { 'no-validate': true })).dnssec.validate).toBe(false);
    expect(validateConfig(applyServeFlags(base, {})).dnssec.validate).toBe(true);
  });
});
