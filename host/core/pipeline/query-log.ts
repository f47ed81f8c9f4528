/**
 * The query log: one `info` line per answered (or dropped) query, for the share of queries the
 * sample rate picks (1 every one, 0.01 one in a hundred, 0 off). Fields: client, transport,
 * question, rcode, the answer's header flags, latency, where the answer came from (cache, app,
 * upstream, peer, stale), the request's tags and the EDE codes sent (RFC 8914).
 */

import type { RequestContext } from '../context.js';
import { rcodeToName, typeToName } from '../dns/rr-types.js';
import { nameToText, u16 } from '../dns/wire.js';
import type { Logger } from '../log.js';
import type { ClientInfo, Reply } from './types.js';

const FLAGS: Array<[number, string]> = [
  [0x8000, 'qr'],
  [0x0400, 'aa'],
  [0x0200, 'tc'],
  [0x0100, 'rd'],
  [0x0080, 'ra'],
  [0x0020, 'ad'],
  [0x0010, 'cd'],
];

/** The EDE info codes (option 15) in an OPT record (owner, type, class, TTL, RDLENGTH, options). */
export function edeCodes(opt: Uint8Array | null): number[] {
  if (!opt || opt.length < 11) return [];
  const out: number[] = [];
  const end = Math.min(opt.length, 11 + u16(opt, 9));
  for (let p = 11; p + 4 <= end; ) {
    const code = u16(opt, p);
    const len = u16(opt, p + 2);
    if (code === 15 && len >= 2 && p + 6 <= end) out.push(u16(opt, p + 4));
    p += 4 + len;
  }
  return out;
}

/** True for the share `sample` of calls (0 never, 1 always). */
export function sampled(sample: number, random: () => number = Math.random): boolean {
  return sample >= 1 || (sample > 0 && random() < sample);
}

export function logQuery(logger: Logger, info: ClientInfo, ctx: RequestContext, reply: Reply | null, latencyMs: number): void {
  const flags = reply ? u16(reply.message, 2) : 0;
  logger.log('info', 'query', {
    client: info.client ? (info.client.address.includes(':') ? `[${info.client.address}]:${info.client.port}` : `${info.client.address}:${info.client.port}`) : '-',
    transport: info.transport,
    qname: nameToText(ctx.qname),
    qtype: typeToName(ctx.qtype),
    rcode: reply ? rcodeToName(reply.rcode) : 'dropped',
    flags: FLAGS.filter(([bit]) => flags & bit)
      .map(([, n]) => n)
      .join(','),
    latency_ms: Math.round(latencyMs * 1000) / 1000,
    source: reply?.source ?? '-',
    tags: [...ctx.tags].join(','),
    ede: reply ? edeCodes(reply.opt).join(',') : '',
  });
}
