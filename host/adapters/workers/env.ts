/** The bindings the Worker and its shard Durable Objects run with (wrangler.toml declares them). */

export interface Env {
  /** The config (TOML, the same schema as on Node); a `config` key in EDGE_KV replaces it. */
  EDGE_CONFIG?: string;
  /** Config, rule sets, zone images and app data, by key (docs/workers.md). */
  EDGE_KV?: KVNamespace;
  /** The cache shards; without this binding every isolate resolves on its own. */
  SHARDS?: DurableObjectNamespace;
  /** How many shards the cache is split into (shard-0 .. shard-N-1); default 4, 0 turns pooling off. */
  EDGE_SHARDS?: string;
  /** Secret: the site key(s) contexts are signed with, `id=secret[,id=secret]` or one bare secret. */
  EDGE_SITE_KEYS?: string;
  /** Seconds between KV checks for config, rules and app data (and the zone when `[zone] refresh` is 0); default 30. */
  EDGE_REFRESH_SECONDS?: string;
}
