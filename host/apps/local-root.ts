/**
 * The local root copy as the iterator's start for the root zone (a RootStart): each question
 * the iterator would send to a root server is put to the static_zone app instead, as an
 * iterative query (RD clear, DO set), which its referral mode answers as the root would: a
 * referral to the TLD with glue and DS, root data, NXDOMAIN for junk TLDs.
 *
 * The app decides as it does for clients: no copy loaded, a copy whose signatures have
 * expired, the request's `rec_disable_static` tag (it travels from the node the query came
 * from), the app disabled by config or by a rule: it passes, the answer here is null, and the
 * iterator primes from the root hints and asks the root servers.
 */

import { CtxFlag, encodeContext, newContext, type RequestContext } from '../core/context.js';
import { RRClass } from '../core/dns/rr-types.js';
import { buildQuery, type Question } from '../core/dns/wire.js';
import type { RootStart } from '../core/recursion/index.js';
import { PHASE } from '../core/phases.js';
import { Verdict } from '../abi/verdict.js';
import type { WasmAppChain } from './app-chain.js';

export const LOCAL_ROOT_APP = 'static_zone';

export class LocalRoot {
  constructor(
    private readonly chain: () => WasmAppChain | null | undefined,
    private readonly app = LOCAL_ROOT_APP,
  ) {}

  /** Whether a copy is in service: the app is in the chain and has one to answer from. */
  inService(): boolean {
    return this.chain()?.app(this.app)?.runsIn(PHASE.resolve) ?? false;
  }

  /** The start for one request: null when a rule switched the app off for it. */
  forRequest(ctx: RequestContext | undefined): RootStart | null {
    if (ctx?.disabledApps.has(this.app)) return null;
    return { query: (q) => this.ask(q, ctx) };
  }

  /** The app's answer to `q` as a root server's, or null when it passes (or fails). */
  ask(q: Question, from: RequestContext | undefined): Uint8Array | null {
    const app = this.chain()?.app(this.app);
    if (!app || !app.runsIn(PHASE.resolve) || q.class !== RRClass.IN) return null;
    const ctx = newContext({
      qname: q.name,
      qtype: q.type,
      qclass: q.class,
      client: from?.client ?? null,
      transport: from?.transport ?? 'udp',
      flags: CtxFlag.do, // RD clear: an iterative query, answered with a referral
      ingress: from?.ingress ?? '',
      deadline: from?.deadline ?? 0,
      udpSize: 4096,
    });
    if (from) for (const t of from.tags) ctx.tags.add(t);
    const r = app.call(PHASE.resolve, encodeContext(ctx), buildQuery(q, { rd: false, udpSize: 4096, do: true }), ctx);
    if (r.kind !== 'ok' || r.verdict !== Verdict.RESPOND || !r.response) return null;
    return r.response;
  }
}
