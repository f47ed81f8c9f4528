/**
 * The Worker under test: the bundle `wrangler deploy --dry-run` made (build/worker/, built by
 * `npm test`'s build step), run in workerd through the Miniflare API with the bindings
 * wrangler.toml declares. Outbound fetches go to a handler in this process: the upstream host
 * `upstream.test` is a real Node resolver's DoH listener on loopback (NSD behind it); any other
 * host is refused and recorded, so a test never reaches past this machine.
 *
 * workerd must run here: a failure to start is an error, never a skip (CI=true or not).
 */

import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Miniflare, type WorkerOptions } from 'miniflare';
import { parse as parseToml } from 'smol-toml';
import { root } from './edge.js';

export const bundle = join(root, 'build', 'worker', 'index.js');
export const UPSTREAM_HOST = 'upstream.test';

interface WranglerToml {
  compatibility_date: string;
  compatibility_flags?: string[];
  kv_namespaces?: Array<{ binding: string }>;
  durable_objects?: { bindings?: Array<{ name: string; class_name: string }> };
  vars?: Record<string, string>;
}

export function wranglerToml(): WranglerToml {
  return parseToml(readFileSync(join(root, 'wrangler.toml'), 'utf8')) as unknown as WranglerToml;
}

export interface Outbound {
  /** URLs the Worker tried to fetch other than the upstream (must stay empty). */
  refused: string[];
  handler(req: Request): Promise<Response>;
}

/**
 * Routes the Worker's outbound fetches: `upstream.test` to a DoH listener on loopback, the hosts
 * in `more` to handlers in this process.
 */
export function outbound(dohPort: () => number, more: Record<string, (req: Request) => Promise<Response>> = {}): Outbound {
  const refused: string[] = [];
  return {
    refused,
    async handler(req: Request) {
      const url = new URL(req.url);
      const own = more[url.hostname];
      if (own) return own(req);
      if (url.hostname !== UPSTREAM_HOST) {
        refused.push(req.url);
        return new Response('outbound fetch refused by the test', { status: 502 });
      }
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : new Uint8Array(await req.arrayBuffer());
      return fetch(`http://127.0.0.1:${dohPort()}${url.pathname}${url.search}`, { method: req.method, headers: req.headers, body });
    },
  };
}

/**
 * Worker options as wrangler.toml declares them (compatibility date and flags, the KV
 * namespace, the shard Durable Objects), with `vars` and `kv` renamed per worker so several
 * workers in one Miniflare keep their data apart.
 */
export function workerFromToml(name: string, o: { vars?: Record<string, string>; kvId?: string; shardsScript?: string; scriptPath?: string; out: Outbound }): WorkerOptions {
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run "node scripts/build.mjs --test-apps" (npm test does)`);
  const t = wranglerToml();
  const kv = Object.fromEntries((t.kv_namespaces ?? []).map((k) => [k.binding, o.kvId ?? `${name}-${k.binding}`]));
  const durableObjects = Object.fromEntries(
    (t.durable_objects?.bindings ?? []).map((d) => [d.name, { className: d.class_name, useSQLite: true, ...(o.shardsScript ? { scriptName: o.shardsScript } : {}) }]),
  );
  return {
    name,
    modules: true,
    scriptPath: o.scriptPath ?? bundle,
    modulesRoot: dirname(o.scriptPath ?? bundle),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: t.compatibility_date,
    compatibilityFlags: t.compatibility_flags ?? [],
    kvNamespaces: kv,
    durableObjects,
    bindings: { ...(t.vars ?? {}), ...o.vars },
    outboundService: (req: Request) => o.out.handler(req),
  } as WorkerOptions;
}

/**
 * A copy of the bundle in which one app is the plain asc output, without the fuel meter (what a
 * Worker built without `npm run build`'s metering step would carry).
 */
export function unmeteredBundle(app: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'edge-worker-'));
  cpSync(dirname(bundle), dir, { recursive: true });
  // The module the bundle imports: a build folder used before may hold older ones beside it.
  const imported = new RegExp(`[0-9a-f]+-${app}\\.wasm`).exec(readFileSync(join(dir, 'index.js'), 'utf8'))?.[0];
  const file = readdirSync(dir).find((f) => f === imported);
  if (!file) throw new Error(`no ${app}.wasm imported by ${bundle}`);
  copyFileSync(join(root, 'build', 'apps', `${app}.wasm`), join(dir, file));
  return join(dir, 'index.js');
}

export function startMiniflare(workers: WorkerOptions[]): Miniflare {
  return new Miniflare({ workers, log: undefined });
}

/** What the tests use of a KV namespace and a worker (miniflare's own types need workers-types). */
export interface KvLike {
  put(key: string, value: string | ArrayBuffer): Promise<void>;
  delete(key: string): Promise<void>;
}
export interface WorkerLike {
  fetch(url: string, init?: RequestInit): Promise<Response>;
}
export const kvOf = async (mf: Miniflare, worker: string) => (await mf.getKVNamespace('EDGE_KV', worker)) as unknown as KvLike;
export const workerOf = async (mf: Miniflare, worker: string) => (await mf.getWorker(worker)) as unknown as WorkerLike;
/** A message as a fetch body. */
export const body = (msg: Uint8Array) => msg.slice() as Uint8Array<ArrayBuffer>;

/** Sum of a metric's values whose labels contain every `match` fragment (MemoryMetrics snapshot). */
export function metricOf(snapshot: Record<string, Record<string, number>>, name: string, ...match: string[]): number {
  return Object.entries(snapshot[name] ?? {})
    .filter(([labels]) => match.every((m) => labels.includes(m)))
    .reduce((s, [, v]) => s + v, 0);
}
