/**
 * ABI v1 enumerations (docs/abi/v1.md): the one table of each. The guest SDK's enums are
 * generated from these at build time (host/abi/guest-tables.ts -> assembly/tables.generated.ts),
 * and test/abi/golden.test.ts pins every value: they are the wire contract with apps already
 * built. A verdict is exactly one value; side effects such as tags travel through their own
 * imports, never as flag bits in the verdict.
 */

export const ABI_VERSION = 1;

/** `{ CONTINUE: 0, RESPOND: 1, ... }` from a table whose entries' values are their positions. */
type ByName<T extends ReadonlyArray<{ name: string }>> = {
  readonly [I in keyof T & `${number}` as Uppercase<T[I]['name']>]: I extends `${infer N extends number}` ? N : never;
};
function byName<T extends ReadonlyArray<{ name: string }>>(table: T): ByName<T> {
  return Object.fromEntries(table.map((e, i) => [e.name.toUpperCase(), i])) as ByName<T>;
}

/** What an app returns from `on_query`; the value is the position here. */
export const verdictTable = [
  { name: 'continue', doc: 'Pass the request to the next app in the phase.' },
  { name: 'respond', doc: 'Answer with the message given to `respond`; the chain stops.' },
  { name: 'forward', doc: 'Send the query to the target given to `setTarget` (an upstream group or `peer:<id>`).' },
  { name: 'refuse', doc: 'Answer REFUSED.' },
  { name: 'servfail', doc: 'Answer SERVFAIL.' },
  { name: 'drop', doc: 'Send no answer at all.' },
] as const;
export type VerdictName = (typeof verdictTable)[number]['name'];
export const verdictNames: readonly VerdictName[] = verdictTable.map((v) => v.name);
export const Verdict = byName(verdictTable);
export type VerdictCode = (typeof Verdict)[keyof typeof Verdict];

export { Phase, phaseNames, type PhaseName } from '../core/phases.js';

/** The `kind` of an `on_load` call; the value is the position here. */
export const loadKindTable = [
  { name: 'config', doc: 'The app\'s `[apps.<name>.config]` table from the config, as `key=value` lines.' },
  { name: 'data', doc: 'Long-lived data: a zone image, a rule set, a block list.' },
] as const;
export const LoadKind = byName(loadKindTable);
export type LoadKindCode = (typeof LoadKind)[keyof typeof LoadKind];

/** Fields an app may set in the context with `ctx_set`. */
export const CtxField = { ROUTE: 1, DISABLE_APP: 2, TTL_CAP: 3 } as const;

/** Return codes of the imports that return a status. */
export const Status = { OK: 0, INVALID: -1, LIMIT: -2 } as const;

export const MAX_MESSAGE_BYTES = 65535;
