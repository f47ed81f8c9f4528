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

describe('Workers config and TLS upstreams', () => {
  it('refuses a group with tls = true: Workers reach upstreams over DoH only', () => {
    const text = '[upstreams.default]\nservers = ["192.0.2.53"]\ntls = true\ntls_name = "dns.example.net"\n';
    let problems: string[] = [];
    try {
      workersConfig(text, 'EDGE_CONFIG', { EDGE_SHARDS: '0' } as Env, { kind: 'ingress' });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      problems = (e as ConfigError).problems;
    }
    expect(problems).toEqual([
      'EDGE_CONFIG: upstreams.default.tls: DNS over TLS to upstreams is Node only; Workers reach upstreams over DoH, which is TLS too (an https:// URL such as https://cloudflare-dns.com/dns-query, in a group without tls = true)',
    ]);
  });

  it('takes a DoH group written as a table', () => {
    const text = '[upstreams.default]\nservers = ["https://cloudflare-dns.com/dns-query"]\n';
    expect(workersConfig(text, 'EDGE_CONFIG', { EDGE_SHARDS: '0' } as Env, { kind: 'ingress' }).config.upstreams.default).toEqual({ servers: ['https://cloudflare-dns.com/dns-query'], tls: false });
  });
});
