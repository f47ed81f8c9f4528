/**
 * A cache shard: a Durable Object that owns one slice of the site's cache (the queries the
 * forward app's consistent hash gives it) and runs the whole pipeline on them, static_zone
 * included. Its only callers are the site's own Workers (a Durable Object is reachable only
 * through its namespace binding), so every request is a peer's; the context it carries must
 * still pass the MAC check, and a context that does not is stripped and counted.
 */

import { handleDoh, type DohHandler } from '../../core/doh.js';
import type { Env } from './env.js';
import { json, text } from './http.js';
import { WorkerNode } from './worker-node.js';
import { SHARD_PATH, shardNames, shardOfUrl } from './workers-config.js';

export class EdgeShard {
  private node: Promise<WorkerNode> | null = null;

  constructor(
    private readonly state: DurableObjectState,
    private readonly env: Env,
  ) {}

  private nodeFor(name: string): Promise<WorkerNode> {
    if (!this.node) {
      this.node = WorkerNode.create(this.env, { kind: 'shard', name });
      // A failed start is retried by the next request rather than remembered.
      this.node.catch(() => (this.node = null));
    }
    return this.node;
  }

  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const name = shardOfUrl(req.url);
    if (!shardNames(this.env).includes(name)) return text(`not a shard of this site: "${name}"`, 404);
    let w: WorkerNode;
    try {
      w = await this.nodeFor(name);
    } catch (e) {
      return text(`shard ${name} cannot start: ${(e as Error).message}`, 503);
    }
    if (w.role.kind !== 'shard' || w.role.name !== name) return text(`this object is shard ${w.node.currentConfig.node_id}, not ${name}`, 409);
    w.beforeRequest((p) => this.state.waitUntil(p));
    if (url.pathname === '/status') return json(w.node.status());
    if (url.pathname === '/metrics') return json(w.node.metrics.snapshot());
    const resolver = w.node.currentResolver;
    const fromPeer: DohHandler = { handle: (q, info) => resolver.handle(q, { ...info, fromPeer: true }) };
    return handleDoh(req, fromPeer, null, SHARD_PATH);
  }
}
