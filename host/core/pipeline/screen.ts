/**
 * Screening: what a recursive service refuses before any app or cache sees the query, with the
 * rcode the RFCs ask for, and the error replies every step falls back on.
 */

import { Opcode, Rcode, RRType, rcodeToName } from '../dns/rr-types.js';
import { EDNS_FLAG_DO, FLAG_QR, HEADER_LEN, buildErrorResponse, encodeOpt, findOption, type ParsedQuery } from '../dns/wire.js';
import type { PipelineMetrics } from './metrics.js';
import { edeOption, type Ede } from './answer-shape.js';
import { chaosReply, type ChaosAnswers } from './chaos.js';
import type { Reply } from './types.js';

/** The most a client takes over UDP: its EDNS size (at least 512, at most ours), else 512. */
export function udpLimit(p: ParsedQuery | null, udpSize: number): number {
  return p?.edns ? Math.max(512, Math.min(p.edns.udpSize, udpSize)) : 512;
}

/**
 * A reply made here with only an rcode (and the question when it could be read), and the
 * Extended DNS Errors (RFC 8914) that say why when the client speaks EDNS.
 */
export function errorReply(query: Uint8Array, rcode: number, p: ParsedQuery | null, udpSize: number, m: PipelineMetrics, edes: Ede[] = []): Reply {
  const opt = p?.edns ? encodeOpt(udpSize, p.edns.flags & EDNS_FLAG_DO, edes.map((e) => edeOption(e.code, e.text))) : null;
  const message = buildErrorResponse(query, rcode, p, opt ?? undefined);
  m.responses.inc({ rcode: rcodeToName(rcode), source: 'local' });
  return { message, rcode, source: 'local', minTtl: 0, questionEnd: p?.questionEnd ?? HEADER_LEN, opt, udpLimit: udpLimit(p, udpSize) };
}

/**
 * Refuses what a recursive service does not do: the reply to send, null to drop the message, or
 * undefined when the query goes on.
 */
export function screen(query: Uint8Array, p: ParsedQuery, udpSize: number, m: PipelineMetrics, chaos: ChaosAnswers = HIDDEN): Reply | null | undefined {
  if (p.header.flags & FLAG_QR) {
    m.malformed.inc({ reason: 'response' });
    return null;
  }
  if (p.header.opcode !== Opcode.QUERY) {
    m.malformed.inc({ reason: 'opcode' });
    return errorReply(query, Rcode.NOTIMP, p, udpSize, m);
  }
  if (p.header.qdcount !== 1 || !p.question) {
    m.malformed.inc({ reason: 'qdcount' });
    return errorReply(query, Rcode.FORMERR, p, udpSize, m);
  }
  if (p.edns && p.edns.version > 0) {
    // RFC 6891 §6.1.3: BADVERS is extended rcode 16 (upper bits 1 in the OPT, lower 0).
    m.malformed.inc({ reason: 'edns-version' });
    const opt = encodeOpt(udpSize, 0, [], 1);
    const msg = buildErrorResponse(query, 0, p, opt);
    return { message: msg, rcode: Rcode.BADVERS, source: 'local', minTtl: 0, questionEnd: p.questionEnd, opt, udpLimit: 512 };
  }
  const subnet = findOption(p.edns, EDNS_CLIENT_SUBNET);
  if (subnet && !wellFormedEcs(subnet.data)) {
    // A resolver that does not do ECS ignores the option, but not a broken one (RFC 7871 §7.1.1).
    m.malformed.inc({ reason: 'ecs' });
    return errorReply(query, Rcode.FORMERR, p, udpSize, m);
  }
  const t = p.question.type;
  if (t === RRType.OPT || t === 0) {
    m.malformed.inc({ reason: 'qtype' });
    return errorReply(query, Rcode.FORMERR, p, udpSize, m);
  }
  if (t === RRType.AXFR || t === RRType.IXFR || t === RRType.MAILA || t === RRType.MAILB) {
    m.malformed.inc({ reason: 'qtype' });
    return errorReply(query, Rcode.NOTIMP, p, udpSize, m);
  }
  if (p.question.class !== 1) {
    const answered = chaosReply(query, p, chaos, udpSize, m);
    if (answered) return answered;
    m.malformed.inc({ reason: 'qclass' });
    return errorReply(query, Rcode.REFUSED, p, udpSize, m, [{ code: EDE_NOT_SUPPORTED, text: `class ${p.question.class} is not served (IN only; CHAOS for version.bind, hostname.bind, id.server)` }]);
  }
  return undefined;
}

const HIDDEN: ChaosAnswers = { identity: null, version: null };

/** RFC 8914 §4.22. */
export const EDE_NOT_SUPPORTED = 21;

/** EDNS Client Subnet (RFC 7871). */
export const EDNS_CLIENT_SUBNET = 8;

/**
 * RFC 7871 §6 as a query must have it: FAMILY 1 (IPv4) or 2 (IPv6), SOURCE PREFIX-LENGTH within
 * the family, SCOPE PREFIX-LENGTH 0, exactly ceil(SOURCE/8) ADDRESS octets and no bit set past the
 * prefix. This resolver does not do ECS; a well-formed option is ignored (not sent on, not echoed).
 */
export function wellFormedEcs(d: Uint8Array): boolean {
  if (d.length < 4) return false;
  const family = (d[0]! << 8) | d[1]!;
  const source = d[2]!;
  const scope = d[3]!;
  const max = family === 1 ? 32 : family === 2 ? 128 : -1;
  if (max < 0 || source > max || scope !== 0) return false;
  const bytes = Math.ceil(source / 8);
  if (d.length !== 4 + bytes) return false;
  const spare = bytes * 8 - source;
  return bytes === 0 || (d[3 + bytes]! & ((1 << spare) - 1)) === 0;
}
