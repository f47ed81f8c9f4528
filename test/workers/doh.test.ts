/**
 * The Worker in workerd (Miniflare API, the bundle wrangler deploys, wrangler.toml's bindings):
 * DoH GET, POST and JSON answers through the shard Durable Objects; the errors RFC 8484 asks
 * for; a rule set written to KV taking effect after the refresh (and a bad one refused); a zone
 * image in KV making static_zone answer junk TLDs; a forged context header stripped; a UDP
 * upstream refused as a config error; the admin token; an unmetered app module refused.
 *
 * Why the Miniflare API and not @cloudflare/vitest-pool-workers: the pool's peer range stops at
 * vitest 3 and this suite runs vitest 4; the API also runs several workers with separate KV in
 * one workerd (test/workers/incident.test.ts needs that) and runs the exact bundle.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Miniflare } from 'miniflare';
import { needTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/net.js';
import { body as asBody, kvOf, metricOf, outbound, startMiniflare, unmeteredBundle, workerFromToml, workerOf, type Outbound } from '../helpers/workers.js';
import { sha256Hex } from '../../host/apps/app-data.js';
import { K1, JUNK, NEGATIVE_HOST, answerOf, getUrl, negativeUpstream, query, startUpstream, zoneImage, type Upstream } from './support.js';

const BASE = 'http://edge.test';
const TOKEN = 'a-long-admin-token-for-tests';
const CONFIG = `node_id = "ingress"
# The test zones are unsigned under a root the built-in anchor cannot reach: validation is for test/dnssec/.
[dnssec]
validate = false
[upstreams]
default = ["http://upstream.test/dns-query"]
negative = ["http://negative.test/dns-query"]
[apps.forward.config.routes]
"." = "default"
"negative.example.com." = "negative"
[site]
peer_timeout_ms = 5000
[zone]
source = "zone"
# As in wrangler.toml: only the account writes KV (docs/workers.md).
verify_images = false
[log]
level = "warn"
`;

// NSD is the upstream's authoritative; nothing here runs dig.
describe.skipIf(!needTools('nsd'))('the Worker serves DoH from the core (workerd)', () => {
  let up: Upstream;
  let mf: Miniflare;
  let out: Outbound;
  let unmetered = '';

  const fetchW = (path: string, init?: RequestInit, worker = 'edge') =>
    workerOf(mf, worker).then((w) => w.fetch(`${BASE}${path}`, init));
  const status = async (shard?: string) => (await (await fetchW(`/status${shard ? `?shard=${shard}` : ''}`)).json()) as Record<string, any>;
  const metrics = async (shard?: string) => (await (await fetchW(`/metrics${shard ? `?shard=${shard}` : ''}`)).json()) as Record<string, Record<string, number>>;
  const allShards = async (name: string, ...match: string[]) => {
    let sum = 0;
    for (const s of ['shard-0', 'shard-1']) sum += metricOf(await metrics(s), name, ...match);
    return sum;
  };
  const get = async (name: string, type = 1) => {
    const r = await fetchW(getUrl('', name, type));
    expect(r.status).toBe(200);
    return answerOf(new Uint8Array(await r.arrayBuffer()));
  };

  const maxAge = (r: Response) => {
    const m = /^max-age=(\d+)$/.exec(r.headers.get('cache-control') ?? '');
    expect(m, `cache-control: ${r.headers.get('cache-control')}`).not.toBeNull();
    return Number(m![1]);
  };

  beforeAll(async () => {
    up = await startUpstream();
    out = outbound(() => up.dohPort, { [NEGATIVE_HOST]: negativeUpstream });
    const vars = { EDGE_CONFIG: CONFIG, EDGE_SHARDS: '2', EDGE_SITE_KEYS: `k1=${K1}`, EDGE_REFRESH_SECONDS: '1' };
    mf = startMiniflare([
      workerFromToml('edge', { vars, out }),
      workerFromToml('udp', { vars: { ...vars, EDGE_CONFIG: CONFIG.replace('http://upstream.test/dns-query', '127.0.0.1:53') }, out }),
      workerFromToml('locked', { vars: { ...vars, EDGE_CONFIG: `${CONFIG}[admin]\ntoken = "${TOKEN}"\n` }, out }),
      workerFromToml('unmetered', { vars, out, scriptPath: (unmetered = unmeteredBundle('forward')) }),
    ]);
    await mf.ready;
    // The zone image is in KV before any shard starts, as after `wrangler kv key put zone`.
    const kv = await kvOf(mf, 'edge');
    await kv.put('zone', (await zoneImage()).slice().buffer as ArrayBuffer);
  }, 120_000);

  afterAll(async () => {
    // The upstream is stopped even when workerd never started (dispose then throws).
    await mf?.dispose().catch(() => undefined);
    await up?.stop();
    if (unmetered) rmSync(dirname(unmetered), { recursive: true, force: true });
    expect(out?.refused ?? []).toEqual([]);
  });

  it('answers a GET (?dns=) with the upstream answer, application/dns-message and a max-age of the smallest TTL', async () => {
    const r = await fetchW(getUrl('', 'n1.example.com'));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/dns-message');
    // The A record's TTL is 120 (support.ts); the answer is fresh from the upstream.
    expect(maxAge(r)).toBeGreaterThanOrEqual(119);
    expect(maxAge(r)).toBeLessThanOrEqual(120);
    const a = answerOf(new Uint8Array(await r.arrayBuffer()));
    expect(a.Status).toBe(0);
    expect(a.Answer?.[0]?.data).toBe('198.51.100.2');
    // The ingress asked the shard that owns the name, which asked the upstream.
    expect(metricOf(await metrics(), 'edge_peer_forwarded_total', 'result=ok')).toBeGreaterThanOrEqual(1);
    expect(await allShards('edge_upstream_queries_total', 'result=ok')).toBeGreaterThanOrEqual(1);
  });

  it('answers a POST (application/dns-message) and the JSON form', async () => {
    const r = await fetchW('/dns-query', { method: 'POST', headers: { 'content-type': 'application/dns-message' }, body: asBody(query('n2.example.com')) });
    expect(r.status).toBe(200);
    expect(answerOf(new Uint8Array(await r.arrayBuffer())).Answer?.[0]?.data).toBe('198.51.100.3');
    const j = await fetchW('/dns-query?name=n3.example.com&type=A');
    expect(j.headers.get('content-type')).toMatch(/^application\/dns-json/);
    expect(maxAge(j)).toBeGreaterThanOrEqual(119);
    expect(maxAge(j)).toBeLessThanOrEqual(120);
    const body = (await j.json()) as { Status: number; Answer: Array<{ data: string; type: number }> };
    expect(body.Status).toBe(0);
    expect(body.Answer[0]).toMatchObject({ type: 1, data: '198.51.100.4' });
  });

  it('counts the TTL down in max-age on a cache hit, and gives NXDOMAIN the SOA-based value (RFC 8484 §5.1, RFC 2308 §5)', async () => {
    const first = await fetchW(getUrl('', 'n9.example.com'));
    await first.arrayBuffer();
    expect(maxAge(first)).toBeGreaterThanOrEqual(119);
    // Cached TTLs count down in whole seconds.
    await new Promise((r) => setTimeout(r, 2100));
    const hit = await fetchW(getUrl('', 'n9.example.com'));
    const hitTtl = answerOf(new Uint8Array(await hit.arrayBuffer())).Answer![0]!.TTL;
    expect(maxAge(hit)).toBeLessThanOrEqual(118);
    expect(maxAge(hit)).toBeGreaterThanOrEqual(100);
    expect(maxAge(hit)).toBe(hitTtl);
    const json = await fetchW('/dns-query?name=n9.example.com&type=A');
    expect(((await json.json()) as { Answer: Array<{ TTL: number }> }).Answer[0]!.TTL).toBe(maxAge(json));
    expect(maxAge(json)).toBeLessThanOrEqual(118);

    // An NXDOMAIN whose SOA says TTL 300, MINIMUM 60 lives min(300, 60), and its SOA goes out
    // with that TTL (RFC 2308 §5).
    const nx = await fetchW(getUrl('', 'absent.negative.example.com'));
    const a = answerOf(new Uint8Array(await nx.arrayBuffer()));
    expect(a.Status).toBe(3);
    expect(a.Authority?.[0]).toMatchObject({ type: 6, TTL: 60 });
    expect(maxAge(nx)).toBe(60);
    // No type asks for A (the JSON API convention); the SOA in Authority is in presentation form.
    const nxJson = await fetchW('/dns-query?name=absent.negative.example.com');
    const nxBody = (await nxJson.json()) as { Status: number; Question: Array<{ type: number }>; Authority: Array<{ type: number; data: string }> };
    expect(nxBody.Status).toBe(3);
    expect(nxBody.Question[0]!.type).toBe(1);
    expect(nxBody.Authority[0]!.type).toBe(6);
    expect(nxBody.Authority[0]!.data).toMatch(/^\S*\. \S*\. \d+ \d+ \d+ \d+ 60$/);
    expect(maxAge(nxJson)).toBeGreaterThanOrEqual(55);
    expect(maxAge(nxJson)).toBeLessThanOrEqual(60);
    // NSD lowers the SOA's TTL to its MINIMUM itself (RFC 2308 §3): example.com's is 60.
    const nsd = await fetchW(getUrl('', 'absent.example.com'));
    expect(answerOf(new Uint8Array(await nsd.arrayBuffer())).Authority?.[0]).toMatchObject({ type: 6, TTL: 60 });
    expect(maxAge(nsd)).toBe(60);
  });

  it('instantiates the Wasm apps once per isolate, not per request', async () => {
    const snapshot = async () => {
      const out: Record<string, { instances: number; queries: number }> = {};
      for (const where of ['', 'shard-0', 'shard-1']) {
        const m = await metrics(where || undefined);
        out[where || 'ingress'] = { instances: metricOf(m, 'edge_app_instantiations_total'), queries: metricOf(m, 'edge_queries_total') };
      }
      return out;
    };
    const before = await snapshot();
    // Every app of the chain has an instance in each node that has served a query.
    expect(before.ingress!.instances).toBe(3);
    const N = 30;
    // Misses that reach a shard and its upstream, hits in the ingress cache, a junk TLD answered by static_zone.
    for (let i = 0; i < N; i++) await get(i % 3 === 2 ? JUNK[20 + (i % 5)]! : `n${20 + (i % 10)}.example.com`);
    const after = await snapshot();
    // The same nodes answered (their counters went on rather than starting again) ...
    expect(after.ingress!.queries - before.ingress!.queries).toBe(N);
    expect(after['shard-0']!.queries + after['shard-1']!.queries).toBeGreaterThan(before['shard-0']!.queries + before['shard-1']!.queries);
    // ... without instantiating any app again.
    for (const node of Object.keys(before)) expect(after[node]!.instances, node).toBe(before[node]!.instances);
  });

  it('refuses bad requests: 400 (no or bad dns parameter, empty body), 405, 415, 413 (oversize), 404', async () => {
    const s = async (path: string, init?: RequestInit) => {
      const r = await fetchW(path, init);
      await r.arrayBuffer();
      return r;
    };
    expect((await s('/dns-query')).status).toBe(400);
    expect((await s('/dns-query?dns=***')).status).toBe(400);
    expect((await s('/dns-query', { method: 'POST', headers: { 'content-type': 'application/dns-message' }, body: new Uint8Array(0) })).status).toBe(400);
    const put = await s('/dns-query', { method: 'PUT', body: asBody(query('n4.example.com')) });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST');
    expect((await s('/dns-query', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: asBody(query('n4.example.com')) })).status).toBe(415);
    expect((await s('/dns-query', { method: 'POST', headers: { 'content-type': 'application/dns-message' }, body: new Uint8Array(70_000) })).status).toBe(413);
    expect((await s('/elsewhere')).status).toBe(404);
    // A message that is not a query (a response) is refused as a bad request.
    const response = query('n4.example.com');
    response[2]! |= 0x80;
    expect((await s('/dns-query', { method: 'POST', headers: { 'content-type': 'application/dns-message' }, body: asBody(response) })).status).toBe(400);
  });

  it('serves a junk TLD from the zone image in KV (static_zone in the shard), and reports the serial', async () => {
    const r = await fetchW(getUrl('', JUNK[0]!));
    const a = answerOf(new Uint8Array(await r.arrayBuffer()));
    // The upstream's fake root has an A record for it; NXDOMAIN can only come from the local root.
    expect(a.Status).toBe(3);
    expect(a.Authority?.map((r) => r.type)).toContain(6);
    // The SOA in generic form: its last 4 bytes are MINIMUM. max-age is min(SOA TTL, MINIMUM).
    const soa = a.Authority!.find((r) => r.type === 6)!;
    const minimum = parseInt(soa.data.replace(/\s/g, '').slice(-8), 16);
    expect(maxAge(r)).toBe(Math.min(soa.TTL, minimum));
    expect(maxAge(r)).toBeGreaterThan(0);
    expect(await allShards('edge_app_events_total', 'app=static_zone', 'event=answered')).toBeGreaterThanOrEqual(1);
    const zones = await Promise.all(['shard-0', 'shard-1'].map(async (s) => (await status(s)).zone));
    expect(zones.some((z) => z?.serial === 2026082201 && z?.serving === true)).toBe(true);
    // The ingress pools: it holds no copy itself.
    expect((await status()).zone).toBeNull();
  });

  it('applies a rule set written to KV after the refresh interval, reports its hash, and refuses a bad one', async () => {
    const kv = await kvOf(mf, 'edge');
    const rules = 'phase = pre-cache qname n5.example.com respond A 192.0.2.55\n';
    expect((await get('n5.example.com')).Answer?.[0]?.data).toBe('198.51.100.6');
    await kv.put('rules', rules);
    await waitFor(async () => (await get('n5.example.com')).Answer?.[0]?.data === '192.0.2.55', 15_000, 200);
    const hash = await sha256Hex(new TextEncoder().encode(rules));
    expect((await status()).rules).toMatchObject({ hash, source: 'kv:rules', errors: [] });

    // A rule set with an error is refused with its line; the running one stays.
    await kv.put('rules', 'phase = pre-cache sett-tag x\n');
    await waitFor(async () => ((await status()).rules.errors as string[]).length > 0, 15_000, 200);
    const st = await status();
    expect(st.rules.hash).toBe(hash);
    expect(st.rules.errors.join('\n')).toMatch(/kv:rules:1:/);
    expect((await get('n5.example.com')).Answer?.[0]?.data).toBe('192.0.2.55');

    // Deleting the key runs without rules.
    await kv.delete('rules');
    await waitFor(async () => (await status()).rules.hash === null, 15_000, 200);
  });

  it('flushes the cached answers a rule set written to KV reroutes, at the ingress and in the shard', async () => {
    const kv = await kvOf(mf, 'edge');
    // cached for its TTL (120 s) at the ingress and in the shard that owns it
    expect((await get('n30.example.com')).Answer?.[0]?.data).toBe('198.51.100.31');
    expect((await get('n30.example.com')).Answer?.[0]?.data).toBe('198.51.100.31');
    // the expired-signatures fix: this zone's queries go to another upstream group, which
    // here answers NXDOMAIN, so an answer still served from the cache would show
    await kv.put('rules', 'phase = resolve qname-suffix n30.example.com forward-to negative\n');
    await waitFor(async () => (await get('n30.example.com')).Status === 3, 15_000, 200);
    expect(metricOf(await metrics(), 'edge_cache_flushes_total', 'reason=rules')).toBeGreaterThan(0);
    await kv.delete('rules');
    await waitFor(async () => (await status()).rules.hash === null, 15_000, 200);
  });

  it('strips a context header sent by a client, even one signed with the site key, and counts it', async () => {
    const { ContextAuth } = await import('../../host/core/context-auth.js');
    const { encodeContext, newContext } = await import('../../host/core/context.js');
    const { base64UrlEncode, textToName } = await import('../../host/core/dns/wire.js');
    const name = JUNK[1]!;
    const ctx = newContext({ qname: textToName(name), qtype: 1, qclass: 1, client: null, transport: 'doh', flags: 0, ingress: 'x', deadline: Date.now() + 3000, udpSize: 0 });
    ctx.tags.add('rec_disable_static');
    const signed = await new ContextAuth({ keys: { k1: K1 }, signing: 'k1' }, 3000).sign(encodeContext(ctx));
    const before = metricOf(await metrics(), 'edge_context_rejected_total', 'reason=not-peer');
    const r = await fetchW(getUrl('', name), { headers: { 'edge-context': base64UrlEncode(signed), 'cf-connecting-ip': '203.0.113.9' } });
    // Had the tag been taken, static_zone would have stood aside and the upstream said 192.0.2.2.
    expect(answerOf(new Uint8Array(await r.arrayBuffer())).Status).toBe(3);
    expect(metricOf(await metrics(), 'edge_context_rejected_total', 'reason=not-peer')).toBe(before + 1);
  });

  it('takes the config from the KV key over the EDGE_CONFIG var, refuses a bad one by key, and falls back when it is deleted', async () => {
    const kv = await kvOf(mf, 'edge');
    await kv.put('config', CONFIG.replace('[zone]', '[cache]\nmax_entries = -1\n[zone]'));
    await waitFor(async () => ((await status()).config.errors as string[]).length > 0, 15_000, 200);
    let st = await status();
    expect(st.config.source).toBe('EDGE_CONFIG');
    expect(st.config.errors.join('\n')).toMatch(/^kv:config: cache\.max_entries: /m);

    await kv.put('config', CONFIG.replace('node_id = "ingress"', 'node_id = "ingress-kv"'));
    await waitFor(async () => (await status()).config.source === 'kv:config', 15_000, 200);
    st = await status();
    expect(st).toMatchObject({ node_id: 'ingress-kv', config: { errors: [] } });
    expect((await get('n8.example.com')).Answer?.[0]?.data).toBe('198.51.100.9');

    await kv.delete('config');
    await waitFor(async () => (await status()).config.source === 'EDGE_CONFIG', 15_000, 200);
    expect((await status()).node_id).toBe('ingress');
  });

  it('keeps the zone copy in service through a config change to [zone] (it is not loaded again)', async () => {
    const kv = await kvOf(mf, 'edge');
    const shard = await status('shard-0');
    expect(shard.zone).toMatchObject({ serving: true, serial: 2026082201 });
    await kv.put('config', CONFIG.replace('[zone]', '[zone]\nstale_age = 3600'));
    await waitFor(async () => (await status('shard-0')).config.source === 'kv:config', 15_000, 200);
    // the same copy, still serving: no gap, no second load
    expect((await status('shard-0')).zone).toMatchObject({ serving: true, serial: 2026082201, loaded_at: shard.zone.loaded_at });
    expect((await get(`${JUNK[0]}`)).Status).toBe(3);
    await kv.delete('config');
    await waitFor(async () => (await status('shard-0')).config.source === 'EDGE_CONFIG', 15_000, 200);
    expect((await status('shard-0')).zone).toMatchObject({ serving: true, loaded_at: shard.zone.loaded_at });
  });

  it('keeps /status and /metrics behind the admin token when one is set', async () => {
    expect((await fetchW('/status', undefined, 'locked')).status).toBe(401);
    expect((await fetchW('/metrics', undefined, 'locked')).status).toBe(401);
    const ok = await fetchW('/status', { headers: { authorization: `Bearer ${TOKEN}` } }, 'locked');
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { node_id: string }).node_id).toBe('ingress');
    expect((await fetchW('/health', undefined, 'locked')).status).toBe(200);
  });

  it('refuses to run an app whose module was not metered at build time', async () => {
    const r = await fetchW('/dns-query?name=n7.example.com', undefined, 'unmetered');
    expect(r.status).toBe(503);
    expect(await r.text()).toMatch(/app forward: its module is not metered/);
  });

  it('refuses a UDP upstream in a Workers config, naming the key', async () => {
    const r = await fetchW('/dns-query?name=n6.example.com', undefined, 'udp');
    expect(r.status).toBe(503);
    expect(await r.text()).toMatch(/upstreams\.default\[0\]: "127\.0\.0\.1:53" is a UDP\/TCP server; Workers reach upstreams over DoH only/);
  });
});
