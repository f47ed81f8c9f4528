/**
 * Extended DNS Errors (RFC 8914) the validator reports: the INFO-CODE and an EXTRA-TEXT that
 * names the name and why (and the server, when the caller said which one answered). The
 * resolver puts one on a SERVFAIL for a bogus answer with `edeOption`.
 */

import type { EdnsOption } from '../dns/wire.js';

export const EDE = {
  OTHER: 0,
  UNSUPPORTED_DNSKEY_ALGORITHM: 1,
  UNSUPPORTED_DS_DIGEST_TYPE: 2,
  DNSSEC_INDETERMINATE: 5,
  DNSSEC_BOGUS: 6,
  SIGNATURE_EXPIRED: 7,
  SIGNATURE_NOT_YET_VALID: 8,
  DNSKEY_MISSING: 9,
  RRSIGS_MISSING: 10,
  NSEC_MISSING: 12,
  /** RFC 9276 §3.2: NSEC3 iterations above the validator's limit (the answer is insecure). */
  UNSUPPORTED_NSEC3_ITERATIONS: 27,
} as const;

/** EDNS option code of an Extended DNS Error (RFC 8914 §2). */
export const EDE_OPTION_CODE = 15;

export interface Ede {
  code: number;
  /** EXTRA-TEXT: which name, why, and from which server when known. */
  text: string;
}

/** The EDNS option carrying `ede`, for the OPT record of a response. */
export function edeOption(ede: Ede): EdnsOption {
  const text = new TextEncoder().encode(ede.text);
  const data = new Uint8Array(2 + text.length);
  data[0] = ede.code >>> 8;
  data[1] = ede.code & 0xff;
  data.set(text, 2);
  return { code: EDE_OPTION_CODE, data };
}
