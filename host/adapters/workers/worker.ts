/**
 * The Worker's fetch handler: DNS-over-HTTPS (RFC 8484 GET and POST, and the JSON form) through
 * the same core as on Node, plus /status, /metrics and /health. The node is built once per
 * isolate, on its first request; later requests check KV for changes in the background.
 */

import { handleDoh } from '../../core/doh.js';
import type { Env } from './env.js';
import { clientOf, json, text } from './http.js';
import { WorkerNode } from './worker-node.js';
import { shardNames } from './workers-config.js';

let ingress: Promise<WorkerNode> | null = null;

function node(env: Env): Promise<WorkerNode> {
  if (!ingress) {
    ingress = WorkerNode.create(env, { kind: 'ingress' });
    // A failed start is retried by the next request rather than remembered.
    ingress.catch(() => (ingress = null));
  }
  return ingress;
}

/** Admin routes need the bearer token when `[admin] token` is set. */
function allowed(req: Request, n: WorkerNode): boolean {
  const token = n.node.currentConfig.admin.token;
  return !token || req.headers.get('authorization') === `Bearer ${token}`;
}

/** /status and /metrics of one shard, asked through its binding (`?shard=shard-0`). */
async function fromShard(env: Env, shard: string, path: string): Promise<Response> {
  if (!env.SHARDS || !shardNames(env).includes(shard)) return text(`no shard "${shard}"`, 404);
  const stub = env.SHARDS.get(env.SHARDS.idFromName(shard));
  return stub.fetch(`https://${shard}.shard.invalid${path}`);
}

export async function fetchHandler(req: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  let n: WorkerNode;
  try {
    n = await node(env);
  } catch (e) {
    return text(`edge-resolver cannot start: ${(e as Error).message}`, 503);
  }
  n.beforeRequest((p) => ctx.waitUntil(p));
  const url = new URL(req.url);
  const path = n.node.currentConfig.server.doh_path;
  if (url.pathname === path) {
    const answer = handleDoh(req, n.node.currentResolver, clientOf(req), path);
    // Other requests may be waiting on this one's upstream or shard query (the resolver joins
    // concurrent misses for one name): keep it running even if its own client goes away. An
    // upstream probe it started runs beside it and may end later: keep that running too.
    ctx.waitUntil(answer.catch(() => undefined).then(() => n.node.currentResolver.currentUpstreams.probesDone()));
    return answer;
  }
  if (url.pathname === '/health') return text('ok', 200);
  if (url.pathname === '/status' || url.pathname === '/metrics') {
    if (!allowed(req, n)) return text('unauthorized', 401);
    const shard = url.searchParams.get('shard');
    if (shard) return fromShard(env, shard, url.pathname);
    return json(url.pathname === '/status' ? n.node.status() : n.node.metrics.snapshot());
  }
  return text('not found', 404);
}


export default {
  fetch: fetchHandler,
};
