/**
 * The config on Workers: the same schema as on Node (host/core/config.ts), with what a Worker
 * cannot do refused by name (UDP/TCP upstreams, `[site] peers`, app folders) and what it does
 * differently filled in from its bindings: the site's peers are the cache shards (Durable
 * Objects), the site key comes from a secret, and file names (`[zone] source`, `[rules] file`,
 * `[apps.<name>] data`, `[zone] trust_anchor`) are keys in the EDGE_KV namespace.
 */

import { ConfigError, parseConfig, type Config } from '../../core/config.js';
import { parseServer } from '../../core/upstream.js';
import type { Env } from './env.js';

export type Role = { kind: 'ingress' } | { kind: 'shard'; name: string };

/** Where a shard is reached: only the host matters (it names the Durable Object). */
export const SHARD_PATH = '/dns-query';
export const shardUrl = (name: string) => `https://${name}.shard.invalid${SHARD_PATH}`;
export const shardOfUrl = (url: string) => new URL(url).hostname.split('.')[0] ?? '';

export interface WorkersConfig {
  config: Config;
  /** The shards the forward app hashes over; empty when pooling is off. */
  shards: string[];
  /** Why pooling is off, for /status. */
  poolingNote: string;
}

const DEFAULT_SHARDS = 4;
const MAX_SHARDS = 64;

export function shardNames(env: Env): string[] {
  const raw = env.EDGE_SHARDS?.trim() ?? '';
  const n = raw === '' ? DEFAULT_SHARDS : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_SHARDS) throw new ConfigError([`EDGE_SHARDS: "${raw}" is not a whole number from 0 to ${MAX_SHARDS}`]);
  return Array.from({ length: n }, (_, i) => `shard-${i}`);
}

/** `id=secret[,id=secret...]`, or one bare secret (key id "site"). */
export function siteKeysFromSecret(secret: string | undefined): Record<string, string> {
  const text = secret?.trim() ?? '';
  if (!text) return {};
  if (!text.includes('=')) return { site: text };
  const keys: Record<string, string> = {};
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const at = part.indexOf('=');
    if (at <= 0) throw new ConfigError([`EDGE_SITE_KEYS: "${part.slice(0, 8)}..." is not id=secret`]);
    keys[part.slice(0, at)] = part.slice(at + 1);
  }
  return keys;
}

/** Parses and checks a config for this role. Throws ConfigError with every problem. */
export function workersConfig(text: string, source: string, env: Env, role: Role): WorkersConfig {
  const problems: string[] = [];
  const secretKeys = siteKeysFromSecret(env.EDGE_SITE_KEYS);
  let shards = env.SHARDS ? shardNames(env) : [];
  let poolingNote = env.SHARDS ? (shards.length ? '' : 'EDGE_SHARDS is 0') : 'no SHARDS Durable Object binding';
  const config = parseConfig(text, source, (raw) => {
    const site = (raw.site ??= {}) as Record<string, unknown>;
    if (site.peers !== undefined) {
      problems.push(`${source}: site.peers: on Workers the site's nodes are the cache shards (Durable Objects, EDGE_SHARDS); remove [site] peers`);
      delete site.peers;
    }
    const keys = { ...((site.keys as Record<string, string> | undefined) ?? {}), ...secretKeys };
    site.keys = keys;
    if (shards.length && Object.keys(keys).length === 0) {
      shards = [];
      poolingNote = 'no site key: set the EDGE_SITE_KEYS secret';
    }
    if (shards.length) site.peers = Object.fromEntries(shards.map((s) => [s, shardUrl(s)]));
    if (role.kind === 'shard') raw.node_id = role.name;
  });
  for (const [group, g] of Object.entries(config.upstreams)) {
    if (g.tls) {
      problems.push(`${source}: upstreams.${group}.tls: DNS over TLS to upstreams is Node only; Workers reach upstreams over DoH, which is TLS too (an https:// URL such as https://cloudflare-dns.com/dns-query, in a group without tls = true)`);
      continue;
    }
    g.servers.forEach((s, i) => {
      if (parseServer(s).kind === 'dns') {
        problems.push(`${source}: upstreams.${group}[${i}]: "${s}" is a UDP/TCP server; Workers reach upstreams over DoH only (an https:// URL such as https://cloudflare-dns.com/dns-query)`);
      }
    });
  }
  if (config.resolver.mode === 'recursive') {
    problems.push(`${source}: resolver.mode: "recursive" asks authoritative servers over UDP and TCP, which Workers cannot open; use "forward" with DoH upstreams`);
  }
  if (config.apps.dirs?.length) problems.push(`${source}: apps.dirs: Workers run only the apps bundled at build time`);
  if (config.dnstap.file !== undefined || config.dnstap.socket !== undefined) {
    problems.push(`${source}: dnstap: Workers cannot write a file or reach a unix socket; dnstap output is for nodes on Node (remove [dnstap] file / socket)`);
  }
  if (role.kind === 'ingress' && shards.includes(config.node_id)) {
    problems.push(`${source}: node_id: "${config.node_id}" is the name of a cache shard; give the ingress another name`);
  }
  if (problems.length) throw new ConfigError(problems);
  return { config, shards, poolingNote };
}

/** The KV key each app's data comes from: `[rules] file` (default "rules") and `[apps.<name>] data`. */
export function dataKeys(c: Config): Map<string, string> {
  const keys = new Map<string, string>();
  for (const [name, value] of Object.entries(c.apps)) {
    if (name === 'chain' || name === 'dirs') continue;
    const data = (value as { data?: string } | undefined)?.data;
    if (data) keys.set(name, data);
  }
  if (!keys.has('override')) keys.set('override', c.rules.file ?? 'rules');
  return keys;
}
