/**
 * The conformance cases (test/cases/) on Workers: the ingress Worker in workerd pooling into
 * its cache shards (Durable Objects in a worker of their own, with the local root's zone image
 * in their KV and no rules), upstream over DoH to NSD behind a Node resolver; queries as DoH
 * POSTs to the ingress. test/node/cases.test.ts runs the same cases on Node.
 */

import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { Miniflare } from 'miniflare';
import { CASES } from '../cases/cases.js';
import { runCases, type Site } from '../cases/run-cases.js';
import { needTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/net.js';
import { UPSTREAM_HOST, body, kvOf, metricOf, outbound, startMiniflare, workerFromToml, workerOf, type Outbound } from '../helpers/workers.js';
import { sha256Hex } from '../../host/apps/app-data.js';
import { K1, startUpstream, zoneImage, type Upstream } from './support.js';

const CONFIG = `node_id = "ingress"
# The test zones are unsigned under a root the built-in anchor cannot reach: validation is for test/dnssec/.
[dnssec]
validate = false
[upstreams]
default = ["http://${UPSTREAM_HOST}/dns-query"]
[upstream]
try_timeout_ms = 1000
[apps.forward.config.routes]
"." = "default"
[site]
peer_timeout_ms = 5000
[zone]
source = "zone"
# As in wrangler.toml: only the account writes KV (docs/workers.md).
verify_images = false
[log]
level = "error"
`;

// NSD is the upstream's authoritative; nothing here runs dig.
describe.skipIf(!needTools('nsd'))('the conformance cases on Workers (ingress and shard Durable Objects, DoH)', () => {
  let up: Upstream;
  let mf: Miniflare;
  let out: Outbound;
  let upstreamDown = false;
  let site: Site;

  beforeAll(async () => {
    up = await startUpstream();
    const relay = outbound(() => up.dohPort);
    // The upstream "goes away": every query to it fails at once, as an unreachable server's would.
    out = { refused: relay.refused, handler: (req) => (upstreamDown && new URL(req.url).hostname === UPSTREAM_HOST ? Promise.resolve(new Response('down', { status: 503 })) : relay.handler(req)) };
    const vars = { EDGE_CONFIG: CONFIG, EDGE_SHARDS: '3', EDGE_SITE_KEYS: `k1=${K1}`, EDGE_REFRESH_SECONDS: '1' };
    mf = startMiniflare([
      workerFromToml('shards', { vars, kvId: 'cases-shards-kv', out }),
      workerFromToml('ingress', { vars, kvId: 'cases-ingress-kv', shardsScript: 'shards', out }),
    ]);
    await mf.ready;
    await (await kvOf(mf, 'shards')).put('zone', (await zoneImage()).slice().buffer as ArrayBuffer);
    const ingress = await workerOf(mf, 'ingress');
    const kv = await kvOf(mf, 'ingress');
    const get = async (path: string) => (await ingress.fetch(`http://edge.test${path}`)).json() as Promise<any>;
    site = {
      async ask(q) {
        const r = await ingress.fetch('http://edge.test/dns-query', { method: 'POST', headers: { 'content-type': 'application/dns-message', accept: 'application/dns-message' }, body: body(q) });
        expect(r.status).toBe(200);
        return new Uint8Array(await r.arrayBuffer());
      },
      async setRules(text) {
        if (text === null) await kv.delete('rules');
        else await kv.put('rules', text);
        const hash = text === null ? null : await sha256Hex(new TextEncoder().encode(text));
        // Each request may start the ingress's next KV check; the rule set is in once /status says so.
        await waitFor(async () => (await get('/status')).rules.hash === hash, 15_000, 200);
      },
      setUpstream: async (isUp) => void (upstreamDown = !isUp),
      metric: async (name, labels = {}) => metricOf(await get('/metrics'), name, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)),
      // The ingress owns no cache slot: every miss goes to the shard that owns it.
      forwards: () => true,
    };
  }, 120_000);

  afterAll(async () => {
    // The upstream is stopped even when workerd never started (dispose then throws).
    await mf?.dispose().catch(() => undefined);
    await up?.stop();
    expect(out?.refused ?? []).toEqual([]);
  });

  runCases(CASES, () => site);
});
