import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config.js';
import type { Env } from './env.js';
import { workersConfig } from './workers-config.js';

describe('Workers config', () => {
  it('refuses recursive mode, which needs UDP and TCP to authoritative servers', () => {
    const text = '[resolver]\nmode = "recursive"\n[upstreams]\ndefault = ["https://cloudflare-dns.com/dns-query"]\n';
    let problems: string[] = [];
    try {
      workersConfig(text, 'EDGE_CONFIG', { EDGE_SHARDS: '0' } as Env, { kind: 'ingress' });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      problems = (e as ConfigError).problems;
    }
    expect(problems).toEqual(['EDGE_CONFIG: resolver.mode: "recursive" asks authoritative servers over UDP and TCP, which Workers cannot open; use "forward" with DoH upstreams']);
  });
});
