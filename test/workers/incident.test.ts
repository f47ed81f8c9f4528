/**
 * The October 2023 incident on Workers, as test/node/pooling.test.ts plays it on Node: an
 * operator's rule on the ingress tags a junk-TLD query `rec_disable_static`; the query's owner
 * is a shard Durable Object whose static_zone holds the local root. The tag must reach it in
 * the signed `edge-context` header, so the shard stands aside and the upstream answers.
 *
 * The shards run in their own worker with their own KV namespace, which holds the zone image
 * and no rules: the shard can learn of the tag only from the context it receives. Negative
 * control: an ingress with the same rule but a wrong site key. Its contexts fail the shard's
 * MAC check and are stripped, the tag is lost on the way as in 2023, and the shard answers from
 * its local root.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Miniflare } from 'miniflare';
import { needTools } from '../helpers/tools.js';
import { kvOf, metricOf, outbound, startMiniflare, workerFromToml, workerOf, type Outbound } from '../helpers/workers.js';
import { K1, JUNK, answerOf, getUrl, startUpstream, zoneImage, type Upstream } from './support.js';

const CONFIG = `node_id = "ingress"
# The test zones are unsigned under a root the built-in anchor cannot reach: validation is for test/dnssec/.
[dnssec]
validate = false
[upstreams]
default = ["http://upstream.test/dns-query"]
[apps.forward.config.routes]
"." = "default"
[site]
peer_timeout_ms = 5000
[zone]
source = "zone"
# As in wrangler.toml: only the account writes KV (docs/workers.md).
verify_images = false
[log]
level = "warn"
`;
const SHARDS = ['shard-0', 'shard-1', 'shard-2'];

// NSD is the upstream's authoritative; nothing here runs dig.
describe.skipIf(!needTools('nsd'))('the incident on Workers: a tag set at the ingress reaches the shard Durable Object', () => {
  let up: Upstream;
  let mf: Miniflare;
  let out: Outbound;
  const vars = (key: string) => ({ EDGE_CONFIG: CONFIG, EDGE_SHARDS: String(SHARDS.length), EDGE_SITE_KEYS: `k1=${key}`, EDGE_REFRESH_SECONDS: '1' });

  const fetchW = async (worker: string, path: string) => (await workerOf(mf, worker)).fetch(`http://edge.test${path}`);
  const shardMetric = async (name: string, ...match: string[]) => {
    let sum = 0;
    for (const s of SHARDS) sum += metricOf((await (await fetchW('ingress', `/metrics?shard=${s}`)).json()) as Record<string, Record<string, number>>, name, ...match);
    return sum;
  };
  const ingressMetric = async (worker: string, name: string, ...match: string[]) =>
    metricOf((await (await fetchW(worker, '/metrics')).json()) as Record<string, Record<string, number>>, name, ...match);
  const ask = async (worker: string, name: string) => answerOf(new Uint8Array(await (await fetchW(worker, getUrl('', name))).arrayBuffer()));

  beforeAll(async () => {
    up = await startUpstream();
    out = outbound(() => up.dohPort);
    mf = startMiniflare([
      // The shards: the Durable Object class lives here, with the zone image and no rules.
      workerFromToml('shards', { vars: vars(K1), kvId: 'shards-kv', out }),
      // Two ingresses sharing one KV (the rule), both pooling into the shards above.
      workerFromToml('ingress', { vars: vars(K1), kvId: 'ingress-kv', shardsScript: 'shards', out }),
      workerFromToml('ingress-wrong-key', { vars: vars('not-the-site-key-0123456789'), kvId: 'ingress-kv', shardsScript: 'shards', out }),
    ]);
    await mf.ready;
    await (await kvOf(mf, 'shards')).put('zone', (await zoneImage()).slice().buffer as ArrayBuffer);
  }, 120_000);

  afterAll(async () => {
    // The upstream is stopped even when workerd never started (dispose then throws).
    await mf?.dispose().catch(() => undefined);
    await up?.stop();
    expect(out?.refused ?? []).toEqual([]);
  });

  it('before any rule, the shard answers a junk TLD from its local root', async () => {
    expect((await ask('ingress', JUNK[10]!)).Status).toBe(3);
    expect(await shardMetric('edge_app_events_total', 'app=static_zone', 'event=answered')).toBeGreaterThanOrEqual(1);
    expect(await shardMetric('edge_peer_received_total', 'ingress=ingress')).toBe(1);
  });

  it('with the rule on the ingress only, the tag travels in the context and the shard stands aside; with a wrong site key it is stripped and the shard answers', async () => {
    const kv = await kvOf(mf, 'ingress');
    await kv.put('rules', 'phase = pre-cache set-tag rec_disable_static\n');
    // Both ingresses pick the rule up on their next KV check.
    for (const w of ['ingress', 'ingress-wrong-key']) {
      await fetchW(w, '/health');
      const deadline = Date.now() + 15_000;
      while (((await (await fetchW(w, '/status')).json()) as { rules: { hash: string | null } }).rules.hash === null) {
        if (Date.now() > deadline) throw new Error(`${w} did not load the rule`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // The shards never see the rule themselves.
    for (const s of SHARDS) {
      const st = (await (await fetchW('ingress', `/status?shard=${s}`)).json()) as { rules: { hash: string | null } };
      expect(st.rules.hash).toBeNull();
    }

    const passedBefore = await shardMetric('edge_app_events_total', 'app=static_zone', 'event=passed_tag');
    const name = JUNK[11]!;
    const a = await ask('ingress', name);
    expect(a.Status).toBe(0); // from the upstream, not the shard's local root
    expect(a.Answer?.[0]?.data).toBe(`192.0.2.${JUNK.indexOf(name) + 1}`);
    expect(await shardMetric('edge_app_events_total', 'app=static_zone', 'event=passed_tag')).toBe(passedBefore + 1);
    expect(await ingressMetric('ingress', 'edge_peer_forwarded_total', 'result=ok')).toBeGreaterThanOrEqual(2);

    // Negative control: same rule, same shards, a context the shards cannot authenticate.
    const badBefore = await shardMetric('edge_context_rejected_total', 'reason=bad-mac');
    const lost = await ask('ingress-wrong-key', JUNK[12]!);
    expect(await ingressMetric('ingress-wrong-key', 'edge_peer_forwarded_total', 'result=ok')).toBe(1);
    expect(await shardMetric('edge_context_rejected_total', 'reason=bad-mac')).toBe(badBefore + 1);
    expect(lost.Status).toBe(3); // the tag was lost: the shard's local root answered
  });
});
