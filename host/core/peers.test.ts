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
import { buildErrorResponse, buildQuery, parseQuery, textToName } from './dns/wire.js';
import { silentLogger } from './log.js';
import { MemoryMetrics } from './metrics.js';
import { Peers, defaultPeerOptions } from './peers.js';
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

function site(chain: AppChain) {
  let clock = 1_790_000_000_000;
  const now = () => clock;
  const metrics = new MemoryMetrics();
  const sent: string[] = [];
  let bAnswers = true;
  const transport: UpstreamTransport = {
    udp: (host, _port, msg) => {
      sent.push(host === B ? 'b' : host === UPSTREAM ? 'upstream' : host);
      if (host === B && !bAnswers) return new Promise<Uint8Array>(() => undefined);
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
  return {
    ask,
    context,
    metrics,
    advance: (ms: number) => (clock += ms),
    setPeerAnswers: (v: boolean) => (bAnswers = v),
  };
}

describe('peer forwarding in the host', () => {
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
});
