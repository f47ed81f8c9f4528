/** The Worker's entry (wrangler.toml `main`): the fetch handler and the shard Durable Object. */

export { default } from './worker.js';
export { EdgeShard } from './shard.js';
