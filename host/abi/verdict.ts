/**
 * ABI v1 enumerations (docs/abi/v1.md). A verdict is exactly one value; side effects such as
 * tags travel through their own imports, never as flag bits in the verdict.
 */

export const ABI_VERSION = 1;

export const Verdict = {
  CONTINUE: 0,
  RESPOND: 1,
  FORWARD: 2,
  REFUSE: 3,
  SERVFAIL: 4,
  DROP: 5,
} as const;
export type VerdictCode = (typeof Verdict)[keyof typeof Verdict];
export const verdictNames = ['continue', 'respond', 'forward', 'refuse', 'servfail', 'drop'] as const;
export type VerdictName = (typeof verdictNames)[number];

export const phaseNames = ['pre-cache', 'post-cache', 'resolve', 'post-resolve'] as const;
export type PhaseName = (typeof phaseNames)[number];
export const Phase: Record<PhaseName, number> = { 'pre-cache': 0, 'post-cache': 1, resolve: 2, 'post-resolve': 3 };

export const LoadKind = { CONFIG: 0, DATA: 1 } as const;
export type LoadKindCode = (typeof LoadKind)[keyof typeof LoadKind];

/** Fields settable with `ctx_set`. */
export const CtxField = { ROUTE: 1, DISABLE_APP: 2, TTL_CAP: 3 } as const;

/** Return codes of the tag and context imports. */
export const Status = { OK: 0, INVALID: -1, LIMIT: -2 } as const;

export const MAX_MESSAGE_BYTES = 65535;
