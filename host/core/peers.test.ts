/**
 * The host's side of peer forwarding, with a stub chain and a transport that records where each
 * query went: the hop budget is kept by the host whatever an app asks, a peer's query whose
 * context was refused is resolved where it landed, and a down peer is probed back.
 */

import { describe, expect, it } from 'vitest';
import { AnswerCache } from './cache.js';
import type { AppChain, PhaseOutcome } from './chain.js';
import { ContextAuth } from './context-auth.js';
import { CtxFlag, encodeContext, newContext } from './context.js';
import { Rcode } from './dns/rr-types.js';
import { appendOpt, buildErrorResponse, buildQuery, concat, encodeOpt, parseQuery, put16, put32, textToName } from './dns/wire.js';
import { silentLogger } from './log.js';
import { MemoryMetrics } from './metrics.js';
import { ANSWER_CACHEABLE, Peers, defaultPeerOptions, rulesVersion } from './peers.js';
import { PHASE, Resolver, defaultResolverOptions } from './resolver.js';
import { Upstreams, defaultUpstreamOptions, parseServer, type UpstreamTransport } from './upstream.js';

const K1 = 'site-key-one-0123456789abcdef';
const A = '127.0.0.1';
const B = '127.0.0.2';
const UPSTREAM = '127.0.0.9';

const forwardTo = (target: string): PhaseOutcome => ({ kind: 'forward', target, app: 'stub' });
/** An app that asks for peer b every time, as a faulty app (or a node with another view of the site) might. */
const alwaysPeer: AppChain = { runsIn: (phase) => phase === PHASE.resolve, run: () => forwardTo('peer:b') };
/** The forward app's rule: peer b owns everything, unless the query is local or out of hops. */
const likeForward: AppChain = {
  runsIn: (phase) => phase === PHASE.resolve,
  run: (_phase, ctx) => (ctx.flags & CtxFlag.local || ctx.hops >= 1 ? { kind: 'continue' } : forwardTo('peer:b')),
};

/** An answer from owner b as its resolver marks it for a peer: one A record, cacheable, with b's rule-set version (none: an old-style one-byte mark). */
function ownerAnswer(query: Uint8Array, version: Uint8Array | null): Uint8Array {
  const p = parseQuery(query);
  const head = buildErrorResponse(query, Rcode.NOERROR, p);
  put16(head, 6, 1);
  const rr = new Uint8Array(16);
  put16(rr, 0, 0xc00c);
  put16(rr, 2, 1);
  put16(rr, 4, 1);
  put32(rr, 6, 300);
  put16(rr, 10, 4);
  rr.set([192, 0, 2, 80], 12);
  const mark = version ? concat([new Uint8Array([ANSWER_CACHEABLE]), version]) : new Uint8Array([ANSWER_CACHEABLE]);
  return appendOpt(concat([head, rr]), encodeOpt(1232, 0, [{ code: 65001, data: mark }]));
}

function site(chain: AppChain, o: { ownerVersion?: () => Uint8Array | null; ownerReply?: (q: Uint8Array) => Uint8Array } = {}) {
  let clock = 1_790_000_000_000;
  const now = () => clock;
  const metrics = new MemoryMetrics();
  const sent: string[] = [];
  let bAnswers = true;
  const transport: UpstreamTransport = {
    udp: (host, _port, msg) => {
      sent.push(host === B ? 'b' : host === UPSTREAM ? 'upstream' : host);
      if (host === B && !bAnswers) return new Promise<Uint8Array>(() => undefined);
      if (host === B && o.ownerReply) return Promise.resolve(o.ownerReply(msg));
      if (host === B && o.ownerVersion) return Promise.resolve(ownerAnswer(msg, o.ownerVersion()));
      return Promise.resolve(buildErrorResponse(msg, Rcode.NXDOMAIN, parseQuery(msg)));
    },
    tcp: () => Promise.reject(new Error('no TCP here')),
  };
  const auth = new ContextAuth({ keys: { k1: K1 }, signing: 'k1' }, 4000);
  const opts = { ...defaultPeerOptions, timeoutMs: 20, downAfter: 3, probeIntervalMs: 1000 };
  const peers = new Peers('a', { a: `${A}:5301`, b: `${B}:5302` }, auth, transport, opts, metrics, silentLogger, now);
  const upstreams = new Upstreams({ default: [parseServer(`${UPSTREAM}:53`)] }, transport, defaultUpstreamOptions, metrics, silentLogger, now);
  const resolver = new Resolver(chain, new AnswerCache(undefined, now), upstreams, peers, metrics, silentLogger, { ...defaultResolverOptions, nodeId: 'a', maxHops: 1 }, now);
  let n = 0;
  /** Asks a name not asked before, with an optional context option, from `from`. */
  const ask = async (from: string, context?: Uint8Array) => {
    const name = `host${n++}.junk.`;
    const options = context ? [{ code: 65001, data: context }] : [];
    const q = buildQuery({ name: textToName(name), type: 1, class: 1 }, { id: 7, udpSize: 1232, options });
    const before = sent.length;
    const reply = await resolver.handle(q, { client: { address: from, port: 40000 }, transport: 'udp' });
    return { rcode: reply!.rcode, source: reply!.source, went: sent.slice(before) };
  };
  /** A context for the next name `ask` asks, signed with `secret`. */
  const context = (hops: number, secret = K1) => {
    const ctx = newContext({ qname: textToName(`host${n}.junk.`), qtype: 1, qclass: 1, client: null, transport: 'udp', flags: 0, ingress: 'b', deadline: now() + 2000, udpSize: 0 });
    ctx.hops = hops;
    return new ContextAuth({ keys: { k1: secret }, signing: 'k1' }, 4000).sign(encodeContext(ctx));
  };
  /** Asks `name` from a client; where it went (nowhere: answered from the cache). */
  const askName = async (name: string) => {
    const q = buildQuery({ name: textToName(name), type: 1, class: 1 }, { id: 7, udpSize: 1232 });
    const before = sent.length;
    await resolver.handle(q, { client: { address: '192.0.2.1', port: 40000 }, transport: 'udp' });
    return sent.slice(before);
  };
  return {
    ask,
    askName,
    resolver,
    context,
    metrics,
    advance: (ms: number) => (clock += ms),
    setPeerAnswers: (v: boolean) => (bAnswers = v),
  };
}

describe('peer forwarding in the host', () => {
  it('takes a malformed answer from a peer as that peer failing and resolves the query here', async () => {
    // The owner's answer with a second OPT record: no client could parse it.
    const s = site(alwaysPeer, { ownerReply: (q) => appendOpt(ownerAnswer(q, null), encodeOpt(1232, 0)) });
    const r = await s.ask('192.0.2.1');
    expect(r.went).toEqual(['b', 'upstream']);
    expect(r.rcode).toBe(Rcode.NXDOMAIN);
    expect(s.metrics.value('edge_peer_forwarded_total', { peer: 'b', result: 'error' })).toBe(1);
  });

  it('never forwards a query whose hops are used up, whatever the app asks', async () => {
    const s = site(alwaysPeer);
    // A client query: hop 0 of 1, so it goes to b.
    expect((await s.ask('192.0.2.1')).went).toEqual(['b']);
    // From b with a valid context at hop 1: resolved here, not sent back to b.
    const r = await s.ask(B, await s.context(1));
    expect(r.went).toEqual(['upstream']);
    expect(r.rcode).toBe(Rcode.NXDOMAIN);
    expect(s.metrics.value('edge_peer_received_total', { ingress: 'b' })).toBe(1);
    expect(s.metrics.value('edge_peer_forward_refused_total', { reason: 'hops' })).toBe(1);
  });

  it('resolves a peer query whose context was refused where it landed, with its hops not started again', async () => {
    const s = site(likeForward);
    for (const [make, reason] of [
      [() => s.context(1, 'not-the-site-secret-at-all'), 'bad-mac'],
      [() => s.context(2), 'hops'],
      [async () => new Uint8Array([0xec, 1, 0xff]), 'malformed'],
    ] as const) {
      expect((await s.ask(B, await make())).went, reason).toEqual(['upstream']);
      expect(s.metrics.value('edge_context_rejected_total', { reason }), reason).toBe(1);
    }
    // The same forgery from a client is a plain client query: b owns it, so it goes to b.
    expect((await s.ask('192.0.2.1', await s.context(1, 'not-the-site-secret-at-all'))).went).toEqual(['b']);
    expect(s.metrics.value('edge_context_rejected_total', { reason: 'not-peer' })).toBe(1);
  });

  it('marks a peer down after peer_down_after timeouts, asks nobody there until the probe interval, then probes it back', async () => {
    const s = site(likeForward);
    s.setPeerAnswers(false);
    for (let i = 0; i < 3; i++) {
      const r = await s.ask('192.0.2.1');
      // Each one tried b, timed out, and was resolved here.
      expect(r.went).toEqual(['b', 'upstream']);
    }
    expect(s.metrics.value('edge_peer_up', { peer: 'b' })).toBe(0);
    expect((await s.ask('192.0.2.1')).went).toEqual(['upstream']);
    s.setPeerAnswers(true);
    s.advance(999);
    expect((await s.ask('192.0.2.1')).went).toEqual(['upstream']);
    s.advance(1);
    const probe = await s.ask('192.0.2.1');
    expect(probe.went).toEqual(['b']);
    expect(probe.source).toBe('peer');
    expect(s.metrics.value('edge_peer_up', { peer: 'b' })).toBe(1);
    expect((await s.ask('192.0.2.1')).went).toEqual(['b']);
    expect(s.metrics.value('edge_peer_forwarded_total', { peer: 'b', result: 'timeout' })).toBe(3);
    expect(s.metrics.value('edge_peer_local_fallback_total', { peer: 'b' })).toBe(5);
  });

  it("keeps an owner's answer only when the owner ran this node's rule set (a push half way through the site)", async () => {
    const mine = rulesVersion('cffc7817dd20d13dcc90848818fabd4e602b81e90ae89cae6958ed8a5b6e2ca6');
    let theirs: Uint8Array | null = rulesVersion(null);
    const s = site(likeForward, { ownerVersion: () => theirs });
    s.resolver.rulesVersion = () => mine;
    // b still runs no rules: its answer is passed on, not kept, so the next query asks again
    expect(await s.askName('one.example.')).toEqual(['b']);
    expect(await s.askName('one.example.')).toEqual(['b']);
    expect(s.metrics.value('edge_peer_answers_not_cached_total', { reason: 'rules' })).toBe(2);
    // an owner whose mark carries no version (an older node) is not kept either
    theirs = null;
    expect(await s.askName('two.example.')).toEqual(['b']);
    expect(await s.askName('two.example.')).toEqual(['b']);
    // b has taken the push: its answers fill this node's cache again
    theirs = mine;
    expect(await s.askName('three.example.')).toEqual(['b']);
    expect(await s.askName('three.example.')).toEqual([]);
  });

  it("does not store owners' answers for settle_ms after a flush, so a peer not yet flushed cannot refill it", async () => {
    const s = site(likeForward, { ownerVersion: () => rulesVersion(null) });
    s.resolver.flush(null, 'admin');
    expect(await s.askName('four.example.')).toEqual(['b']);
    expect(await s.askName('four.example.')).toEqual(['b']);
    s.advance(defaultResolverOptions.settleMs);
    expect(await s.askName('five.example.')).toEqual(['b']);
    expect(await s.askName('five.example.')).toEqual([]);
  });
});
