/**
 * Answer shaping, the last step before an answer leaves: the client's ID, flags and question
 * spelling on the body, the TTL cap, and the EDNS the client gets (our payload size, its DO bit,
 * Extended DNS Errors). Every answer goes through here, wherever it came from.
 */

import type { RequestContext } from '../context.js';
import { Rcode, RRType } from '../dns/rr-types.js';
import {
  EDE_OPTION, EDE_PROHIBITED, EDE_STALE_ANSWER, EDNS_FLAG_DO, FLAG_AD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_CD, HEADER_LEN, appendOpt, encodeOpt, nameEquals, put16, put32, readName, u16, walkRecords,
  type EdnsOption, type ParsedQuery,
} from '../dns/wire.js';
import { nameAt } from '../dns/name.js';
import { udpLimit } from './screen.js';
import type { AnswerSource, Reply } from './types.js';

/** Gives a body the client's ID, flags and question spelling, in place (callers pass a copy they own). */
export function shape(out: Uint8Array, p: ParsedQuery): Uint8Array {
  put16(out, 0, p.header.id);
  const qflags = p.header.flags;
  // TC, AD and the rcode stay; AA is cleared: a resolver is not the authority for its answers.
  const keep = u16(out, 2) & (0x000f | 0x0200 | FLAG_AD);
  let flags = FLAG_QR | FLAG_RA | (qflags & (0x7800 | FLAG_RD | FLAG_CD)) | keep;
  // RFC 6840 §5.8: AD only for clients that asked with AD or DO.
  const dnssecOk = !!p.edns && (p.edns.flags & EDNS_FLAG_DO) !== 0;
  if (!(qflags & FLAG_AD) && !dnssecOk) flags &= ~FLAG_AD;
  put16(out, 2, flags);
  if (u16(out, 4) === 1 && out.length >= p.questionEnd) {
    const q = p.question!.name;
    // Nearly always the body spells the question as the query does, but for case: compared in
    // place. Otherwise the body's name is read out (it may be compressed) and compared.
    if (nameAt(out, HEADER_LEN, q)) out.set(q, HEADER_LEN);
    else {
      try {
        const { name } = readName(out, HEADER_LEN);
        if (name.length === q.length && nameEquals(name, q)) out.set(q, HEADER_LEN);
      } catch {
        // leave the body's own question
      }
    }
  }
  return out;
}


/** Applies the TTL cap and EDNS to a shaped answer. */
export function finish(
  out: Uint8Array,
  source: AnswerSource,
  p: ParsedQuery,
  ctx: Pick<RequestContext, 'ttlCap'>,
  udpSize: number,
  knownMinTtl?: number,
  edes: readonly Ede[] = NO_EDE,
): Reply {
  let minTtl = knownMinTtl ?? Number.MAX_SAFE_INTEGER;
  // The answer's question is the query's (same name length), so it ends where the query's did.
  let questionEnd = p.questionEnd;
  if (knownMinTtl === undefined || ctx.ttlCap > 0) {
    try {
      const { records, questionEnd: qe } = walkRecords(out);
      questionEnd = qe;
      let computed = Number.MAX_SAFE_INTEGER;
      for (const r of records) {
        if (r.type === RRType.OPT) continue;
        let ttl = r.ttl;
        if (ctx.ttlCap > 0 && ttl > ctx.ttlCap) {
          ttl = ctx.ttlCap;
          put32(out, r.ttlOffset, ttl);
        }
        computed = Math.min(computed, ttl);
      }
      minTtl = Math.min(minTtl, computed);
    } catch {
      // an app's answer we could not walk: send as is
    }
  }
  if (minTtl === Number.MAX_SAFE_INTEGER) minTtl = 0;
  const rcode = out[3]! & 0xf;
  let message = out;
  let opt: Uint8Array | null = null;
  if (p.edns) {
    const options: EdnsOption[] = [];
    if (source === 'stale') options.push(edeOption(EDE_STALE_ANSWER));
    for (const e of edes) options.push(edeOption(e.code, e.text));
    // Every SERVFAIL and REFUSED says why (RFC 8914); the steps that know more have said it above.
    if (edes.length === 0 && (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED)) {
      const e = fallbackEde(rcode, source);
      options.push(edeOption(e.code, e.text));
    }
    opt = options.length === 0 ? plainOpt(udpSize, p.edns.flags & EDNS_FLAG_DO) : encodeOpt(udpSize, p.edns.flags & EDNS_FLAG_DO, options);
    message = appendOpt(out, opt);
  }
  return { message, rcode, source, minTtl, questionEnd, opt, udpLimit: udpLimit(p, udpSize) };
}

const NO_EDE: readonly Ede[] = [];

/**
 * The OPT record without options, by payload size and DO bit, made once: most answers carry
 * one, and nothing changes a Reply's `opt` after it is made (a peer's mark is a new record).
 */
const plainOpts = new Map<number, Uint8Array>();

function plainOpt(udpSize: number, doBit: number): Uint8Array {
  const key = udpSize * 2 + (doBit ? 1 : 0);
  let opt = plainOpts.get(key);
  if (!opt) {
    if (plainOpts.size >= 16) plainOpts.clear();
    opt = encodeOpt(udpSize, doBit);
    plainOpts.set(key, opt);
  }
  return opt;
}

/** The EDE of a SERVFAIL or REFUSED whose maker gave none, by where it came from. */
function fallbackEde(rcode: number, source: AnswerSource): Ede {
  if (rcode === Rcode.REFUSED) return { code: EDE_PROHIBITED, text: source === 'peer' ? 'refused by the node that owns this name' : 'refused' };
  switch (source) {
    case 'cache':
      return { code: EDE_NO_REACHABLE_AUTHORITY, text: 'the last attempt to resolve this name failed; the failure is cached (cache.failure_ttl)' };
    case 'upstream':
      return { code: EDE_NO_REACHABLE_AUTHORITY, text: 'the upstream answered SERVFAIL' };
    case 'peer':
      return { code: EDE_NO_REACHABLE_AUTHORITY, text: 'the node that owns this name answered SERVFAIL' };
    default:
      return { code: 0, text: 'SERVFAIL' };
  }
}

const EDE_NO_REACHABLE_AUTHORITY = 22;

/** An Extended DNS Error (RFC 8914): INFO-CODE and EXTRA-TEXT. */
export interface Ede {
  code: number;
  text: string;
}

export function edeOption(code: number, text = ''): EdnsOption {
  const t = new TextEncoder().encode(text.slice(0, 200));
  const data = new Uint8Array(2 + t.length);
  data[0] = code >>> 8;
  data[1] = code & 0xff;
  data.set(t, 2);
  return { code: EDE_OPTION, data };
}
