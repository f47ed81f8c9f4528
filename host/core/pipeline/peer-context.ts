/**
 * A query that came from another node of the site: its request context is checked (from a
 * peer, authentic, fresh, for this question) and restored before any app runs, and its answer
 * goes back marked with whether the sender may cache it and which rule set made it.
 */

import type { RequestContext } from '../context.js';
import type { RejectReason } from '../context-auth.js';
import { appendOpt, concat, encodeOpt, nameEquals, put16, stripOpt, u16, type ParsedQuery } from '../dns/wire.js';
import type { Logger } from '../log.js';
import { ANSWER_CACHEABLE, RULES_VERSION_BYTES, type Peers } from '../peers.js';
import type { PipelineMetrics } from './metrics.js';
import type { ClientInfo, Reply } from './types.js';

export class PeerContext {
  constructor(
    private readonly peers: Peers | null,
    private readonly opts: { maxHops: number; requestTimeoutMs: number },
    /** The rule set this node runs, as the mark carries it. */
    private readonly rulesVersion: () => Uint8Array,
    private readonly m: PipelineMetrics,
    private readonly logger: Logger,
  ) {}

  fromPeer(info: ClientInfo): boolean {
    return !!this.peers && (!!info.fromPeer || (!!info.client && this.peers.isPeerAddress(info.client.address)));
  }

  /**
   * Checks a context that came with a query. Returns it ready to use (the hop already counted by
   * the sender), or null after counting why it was refused; the query then runs as a plain
   * client query.
   */
  async restore(bytes: Uint8Array, p: ParsedQuery, info: ClientInfo, now: number): Promise<RequestContext | null> {
    const reject = (reason: RejectReason): null => {
      this.m.rejected.inc({ reason });
      this.logger.log('debug', 'context stripped', { reason, client: info.client?.address });
      return null;
    };
    if (!this.peers || !this.fromPeer(info)) return reject('not-peer');
    const v = await this.peers.auth.verify(bytes, now, info.transport);
    if (!v.ok) return reject(v.reason);
    const ctx = v.ctx;
    const q = p.question!;
    if (ctx.qtype !== q.type || ctx.qclass !== q.class || !nameEquals(ctx.qname, q.name)) return reject('question-mismatch');
    if (ctx.hops > this.opts.maxHops) return reject('hops');
    // The question as this message spells it; the deadline no later than our own budget.
    ctx.qname = q.name;
    ctx.deadline = Math.min(ctx.deadline, now + this.opts.requestTimeoutMs);
    this.m.received.inc({ ingress: ctx.ingress || 'unknown' });
    return ctx;
  }

  /**
   * Tells the node that forwarded a query whether it may cache the answer: yes for what came
   * from this node's cache or its upstream, no for what a rule or an app made for this request;
   * and which rule set this node ran, so a node that runs another one (a push half way through
   * the site) does not keep it.
   */
  mark(reply: Reply, optionCode: number): Reply {
    const cacheable = reply.source === 'cache' || reply.source === 'upstream';
    const opt = reply.opt!;
    const len = 1 + RULES_VERSION_BYTES;
    const mark = new Uint8Array(opt.length + 4 + len);
    mark.set(opt, 0);
    put16(mark, 9, u16(opt, 9) + 4 + len);
    put16(mark, opt.length, optionCode);
    put16(mark, opt.length + 2, len);
    mark[opt.length + 4] = cacheable ? ANSWER_CACHEABLE : 0;
    mark.set(this.rulesVersion(), opt.length + 5);
    const body = reply.message.subarray(0, reply.message.length - opt.length);
    return { ...reply, message: concat([body, mark]), opt: mark };
  }
}

/** The query with one EDNS option removed (the rest of the message byte for byte). */
export function withoutOption(query: Uint8Array, p: ParsedQuery, code: number): Uint8Array {
  const edns = p.edns!;
  const rest = edns.options.filter((o) => o.code !== code);
  return appendOpt(stripOpt(query), encodeOpt(edns.udpSize, edns.flags, rest, edns.extendedRcode));
}
