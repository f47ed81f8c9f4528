/**
 * The server-identification names of class CHAOS (RFC 4892): `version.bind`, `version.server`,
 * `hostname.bind` and `id.server`, TXT (or ANY), answered from `[server] version` and
 * `identity`, or REFUSED with EDE 18 when the operator hides them (`hide_version`,
 * `hide_identity`), as Unbound does. Any other CHAOS question is not served.
 */

import { Rcode, RRClass, RRType } from '../dns/rr-types.js';
import { EDE_PROHIBITED, EDNS_FLAG_DO, FLAG_AA, appendOpt, buildErrorResponse, concat, encodeOpt, nameToText, put16, type ParsedQuery } from '../dns/wire.js';
import { edeOption } from './answer-shape.js';
import type { PipelineMetrics } from './metrics.js';
import { udpLimit } from './screen.js';
import type { Reply } from './types.js';

/** What the CHAOS names answer: the text, or null when hidden (REFUSED). */
export interface ChaosAnswers {
  identity: string | null;
  version: string | null;
}

const NAMES: Record<string, { key: keyof ChaosAnswers; setting: string }> = {
  'version.bind.': { key: 'version', setting: 'server.hide_version' },
  'version.server.': { key: 'version', setting: 'server.hide_version' },
  'hostname.bind.': { key: 'identity', setting: 'server.hide_identity' },
  'id.server.': { key: 'identity', setting: 'server.hide_identity' },
};

/** The reply for a CHAOS identification query, or undefined for anything else. */
export function chaosReply(query: Uint8Array, p: ParsedQuery, answers: ChaosAnswers, udpSize: number, m: PipelineMetrics): Reply | undefined {
  const q = p.question!;
  if (q.class !== RRClass.CH || (q.type !== RRType.TXT && q.type !== RRType.ANY)) return undefined;
  const name = nameToText(q.name).toLowerCase();
  const which = NAMES[name];
  if (!which) return undefined;
  const text = answers[which.key];
  const dnssecOk = p.edns ? p.edns.flags & EDNS_FLAG_DO : 0;
  if (text === null) {
    const opt = p.edns ? encodeOpt(udpSize, dnssecOk, [edeOption(EDE_PROHIBITED, `${name} is not answered here (${which.setting})`)]) : null;
    m.responses.inc({ rcode: 'REFUSED', source: 'local' });
    return { message: buildErrorResponse(query, Rcode.REFUSED, p, opt ?? undefined), rcode: Rcode.REFUSED, source: 'local', minTtl: 0, questionEnd: p.questionEnd, opt, udpLimit: udpLimit(p, udpSize) };
  }
  const head = buildErrorResponse(query, Rcode.NOERROR, p);
  put16(head, 2, ((head[2]! << 8) | head[3]!) | FLAG_AA);
  put16(head, 6, 1);
  const bytes = new TextEncoder().encode(text).subarray(0, 255);
  // The question's name by pointer (offset 12), TXT CH, TTL 0, one character-string.
  const rr = new Uint8Array(12 + 1 + bytes.length);
  put16(rr, 0, 0xc00c);
  put16(rr, 2, RRType.TXT);
  put16(rr, 4, RRClass.CH);
  put16(rr, 10, 1 + bytes.length);
  rr[12] = bytes.length;
  rr.set(bytes, 13);
  let message = concat([head, rr]);
  const opt = p.edns ? encodeOpt(udpSize, dnssecOk) : null;
  if (opt) message = appendOpt(message, opt);
  m.responses.inc({ rcode: 'NOERROR', source: 'local' });
  return { message, rcode: Rcode.NOERROR, source: 'local', minTtl: 0, questionEnd: p.questionEnd, opt, udpLimit: udpLimit(p, udpSize) };
}
