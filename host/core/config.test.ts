import { describe, expect, it } from 'vitest';
import { ConfigError, encodeAppConfig, parseConfig } from './config.js';
import { groupServers } from './from-config.js';

function problems(text: string): string[] {
  try {
    parseConfig(text, 'test.toml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('config was accepted');
}

describe('config', () => {
  it('fills defaults', () => {
    const c = parseConfig('[upstreams]\ndefault = ["127.0.0.1:53"]\n');
    expect(c.server.listen).toEqual(['127.0.0.1:5353']);
    expect(c.cache.stale_answer_ttl).toBe(30);
    expect(c.cache.max_stale).toBe(86_400);
    expect(c.cache.client_response_timer_ms).toBe(1800);
  });

  it('names unknown keys', () => {
    expect(problems('[server]\nlistn = ["127.0.0.1:53"]\n[upstreams]\ndefault = ["127.0.0.1:53"]\n')).toEqual([
      'test.toml: server: unknown key "listn"',
    ]);
    expect(problems('colour = "blue"\n[upstreams]\ndefault = ["127.0.0.1:53"]\n')[0]).toMatch(/\(top level\): unknown key "colour"/);
  });

  it('names bad values with their key path', () => {
    const p = problems('[cache]\nmax_entries = "lots"\n[upstreams]\ndefault = ["127.0.0.1:99999"]\n');
    expect(p.some((l) => l.startsWith('test.toml: cache.max_entries:'))).toBe(true);
    expect(p.some((l) => l.startsWith('test.toml: upstreams.default.0:') && l.includes('out of range'))).toBe(true);
  });

  it('takes a group as a table: tls = true is DNS over TLS, port 853, the name to check per group or per server', () => {
    const c = parseConfig('[upstreams.secure]\nservers = ["192.0.2.1", "192.0.2.2:8853", "[2001:db8::1]", "192.0.2.3#other.example"]\ntls = true\ntls_name = "dns.example.net"\ntls_ca = "ca.pem"\n[upstream]\ndefault_group = "secure"\n');
    expect(groupServers(c.upstreams.secure!)).toEqual([
      { kind: 'tls', host: '192.0.2.1', port: 853, label: '192.0.2.1:853', name: 'dns.example.net', caFile: 'ca.pem' },
      { kind: 'tls', host: '192.0.2.2', port: 8853, label: '192.0.2.2:8853', name: 'dns.example.net', caFile: 'ca.pem' },
      { kind: 'tls', host: '2001:db8::1', port: 853, label: '[2001:db8::1]:853', name: 'dns.example.net', caFile: 'ca.pem' },
      { kind: 'tls', host: '192.0.2.3', port: 853, label: '192.0.2.3:853#other.example', name: 'other.example', caFile: 'ca.pem' },
    ]);
    // The list form is the table without tls; a table without tls is plain DNS (port 53).
    const plain = parseConfig('[upstreams]\ndefault = ["192.0.2.53"]\nalt = { servers = ["192.0.2.54"] }\n');
    expect(plain.upstreams).toEqual({ default: { servers: ['192.0.2.53'], tls: false }, alt: { servers: ['192.0.2.54'], tls: false } });
    expect(groupServers(plain.upstreams.alt!)).toEqual([{ kind: 'dns', host: '192.0.2.54', port: 53, label: '192.0.2.54:53' }]);
    // Without a name, the certificate must carry the IP address.
    expect(groupServers(parseConfig('[upstreams.default]\nservers = ["192.0.2.1"]\ntls = true\n').upstreams.default!)).toEqual([
      { kind: 'tls', host: '192.0.2.1', port: 853, label: '192.0.2.1:853' },
    ]);
  });

  it('refuses TLS settings that cannot work, naming the key', () => {
    expect(problems('[upstreams.default]\nservers = ["192.0.2.1"]\ntls_name = "dns.example.net"\n')).toEqual(['test.toml: upstreams.default.tls_name: only for a TLS group: set tls = true']);
    expect(problems('[upstreams.default]\nservers = ["192.0.2.1"]\ntls = true\ntls_name = "192.0.2.1"\n')[0]).toMatch(/^test\.toml: upstreams\.default\.tls_name: a host name/);
    expect(problems('[upstreams.default]\nservers = ["https://dns.example.net/dns-query"]\ntls = true\n')[0]).toMatch(/^test\.toml: upstreams\.default\.servers\.0: .*a DoH server is already over TLS/);
    expect(problems('[upstreams.default]\nservers = ["192.0.2.1#not a name"]\ntls = true\n')[0]).toMatch(/^test\.toml: upstreams\.default\.servers\.0: .*is not a host name/);
    expect(problems('[upstreams.default]\nservers = ["192.0.2.1#dns.example.net"]\n')[0]).toMatch(/^test\.toml: upstreams\.default\.servers\.0: /);
    expect(problems('[upstreams.default]\nservers = []\ntls = true\n')).toEqual(['test.toml: upstreams.default.servers: a group needs at least one server']);
    expect(problems('[upstreams.default]\nserver = ["192.0.2.1"]\n')).toContain('test.toml: upstreams.default: unknown key "server"');
    expect(problems('[upstreams]\ndefault = "192.0.2.1"\n')).toEqual(['test.toml: upstreams.default: a list of servers, or a table with servers = [...] (and tls, tls_name, tls_ca)']);
  });

  it('wants upstreams and peers as IP addresses (DoH URLs may name a host)', () => {
    expect(problems('[upstreams]\ndefault = ["dns.example.net:53"]\n')[0]).toMatch(/upstreams\.default\.0: .*give the server as an IP address/);
    expect(() => parseConfig('[upstreams]\ndefault = ["https://dns.example.net/dns-query", "[2001:db8::53]:53", "192.0.2.53"]\n')).not.toThrow();
  });

  it('wants a DoH peer by its IP address, since a context is believed only from a peer address', () => {
    const site = (url: string) => `[upstreams]\ndefault = ["127.0.0.1:53"]\n[site]\npeers = { b = "${url}" }\nkeys = { k1 = "site-key-one-0123456789abcdef" }\n`;
    expect(problems(site('https://edge-b.example.net/dns-query'))).toEqual([
      'test.toml: site.peers.b: "https://edge-b.example.net/dns-query" names the host "edge-b.example.net"; give the peer\'s IP address (http://192.0.2.10:8053/dns-query, https://[2001:db8::10]/dns-query): contexts are accepted only from a peer\'s address',
    ]);
    for (const ok of ['http://127.0.0.1:8053/dns-query', 'https://[2001:db8::10]/dns-query', 'https://shard-0.shard.invalid/shard']) {
      expect(() => parseConfig(site(ok)), ok).not.toThrow();
    }
  });

  it('reports TOML syntax errors with line and column', () => {
    expect(problems('[server]\nlisten = [\n')[0]).toMatch(/^test\.toml:\d+:\d+: /);
  });

  it('requires an upstream group and a valid default group', () => {
    expect(problems('')).toEqual(['test.toml: upstreams: at least one upstream group is required (or resolver.mode = "recursive")']);
    expect(problems('[upstreams]\nalt = ["127.0.0.1:53"]\n')[0]).toMatch(/default_group: "default" is not a group/);
  });

  it('takes resolver.mode, root_hints and qname_minimisation; recursive mode needs no upstream group', () => {
    const f = parseConfig('[upstreams]\ndefault = ["127.0.0.1:53"]\n');
    expect(f.resolver).toEqual({ mode: 'forward', qname_minimisation: true });
    const r = parseConfig('[resolver]\nmode = "recursive"\nroot_hints = "/etc/edge/named.root"\nqname_minimisation = false\n');
    expect(r.resolver).toEqual({ mode: 'recursive', root_hints: '/etc/edge/named.root', qname_minimisation: false });
    // a forwarded zone beside iteration, its group not the default
    expect(() => parseConfig('[resolver]\nmode = "recursive"\n[upstreams]\ncorp = ["127.0.0.1:53"]\n')).not.toThrow();
    expect(problems('[resolver]\nmode = "iterative"\n')[0]).toMatch(/^test\.toml: resolver\.mode: /);
    expect(problems('[resolver]\nmode = "recursive"\n[upstreams]\niterate = ["127.0.0.1:53"]\n')).toEqual([
      'test.toml: upstreams.iterate: in recursive mode "iterate" is the route that iterates; give the group another name',
    ]);
  });

  it('encodes app config as key=value lines with host facts first', () => {
    const bytes = encodeAppConfig({ routes: { 'com.': 'alt', '.': 'default' }, list: ['a', 'b'] }, { upstream_groups: 'default,alt' });
    expect(new TextDecoder().decode(bytes)).toBe('host.upstream_groups=default,alt\nroutes.com.=alt\nroutes..=default\nlist=a,b\n');
  });

  it('reads [dnssec]: validation on by default, the built-in anchor, bogus answers remembered 60 s', () => {
    const c = parseConfig('[upstreams]\ndefault = ["127.0.0.1:53"]\n');
    expect(c.dnssec).toEqual({ validate: true, bogus_ttl: 60, unvalidated_groups: [], negative_trust_anchors: [], nta_lifetime: 86_400, set_aside_after: 3, set_aside_ttl: 60 });
    const d = parseConfig('[upstreams]\ndefault = ["127.0.0.1:53"]\n[dnssec]\nvalidate = false\ntrust_anchor = "anchors.ds"\nbogus_ttl = 5\n');
    expect(d.dnssec).toMatchObject({ validate: false, trust_anchor: 'anchors.ds', bogus_ttl: 5 });
    expect(problems('[upstreams]\ndefault = ["127.0.0.1:53"]\n[dnssec]\nvalidation = true\n')).toEqual(['test.toml: dnssec: unknown key "validation"']);
    expect(problems('[upstreams]\ndefault = ["127.0.0.1:53"]\n[dnssec]\nbogus_ttl = -1\n')[0]).toMatch(/^test\.toml: dnssec\.bogus_ttl: /);
  });

  it('takes dnssec.trust_anchor as the anchor of a root copy under zone.dnssec = "require"', () => {
    const base = '[upstreams]\ndefault = ["127.0.0.1:53"]\n[zone]\nsource = "root.zone"\n';
    expect(problems(base)[0]).toMatch(/zone\.trust_anchor: required to verify the zone under zone\.dnssec = "require"/);
    expect(() => parseConfig(`${base}[dnssec]\ntrust_anchor = "root.ds"\n`)).not.toThrow();
  });
});
