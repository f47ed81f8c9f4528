/** The Worker's entry (wrangler.toml `main`): the fetch handler and the shard Durable Object. */

import type { Env } from './env.js';
import { fetchHandler } from './worker.js';

export { EdgeShard } from './shard.js';

export default {
  fetch: (req: Request, env: Env, ctx: ExecutionContext) => fetchHandler(req, env, ctx),
};
