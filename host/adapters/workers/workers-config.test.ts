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

  it('refuses a dnstap output, which needs a file or a unix socket', () => {
    const up = '[upstreams]\ndefault = ["https://cloudflare-dns.com/dns-query"]\n';
    const problems = (text: string) => {
      try {
        workersConfig(text, 'EDGE_CONFIG', { EDGE_SHARDS: '0' } as Env, { kind: 'ingress' });
        return [];
      } catch (e) {
        return (e as ConfigError).problems;
      }
    };
    const refusal = 'EDGE_CONFIG: dnstap: Workers cannot write a file or reach a unix socket; dnstap output is for nodes on Node (remove [dnstap] file / socket)';
    expect(problems(`[dnstap]\nsocket = "/run/dnstap.sock"\n${up}`)).toEqual([refusal]);
    expect(problems(`[dnstap]\nfile = "/tmp/x.dnstap"\n${up}`)).toEqual([refusal]);
    // Message types without an output switch nothing on anywhere.
    expect(problems(`[dnstap]\nlog_client_queries = false\n${up}`)).toEqual([]);
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
