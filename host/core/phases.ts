/**
 * The phases of a request at which apps run: the one table of them. A phase's ABI value is its
 * position here (docs/abi/v1.md, "Phases"; apps already built depend on it, so a new phase goes
 * at the end). The guest SDK's `Phase` enum and the override app's phase names are generated
 * from this table at build time (scripts/build.mjs, host/abi/guest-tables.ts).
 */

export const phaseTable = [
  /** Before the cache is consulted. */
  { name: 'pre-cache', message: 'query' },
  /** On a cache hit, with the answer about to leave the cache. */
  { name: 'post-cache', message: 'response' },
  /** On a cache miss, before the query goes upstream. */
  { name: 'resolve', message: 'query' },
  /** With the answer from an app, a peer or an upstream. */
  { name: 'post-resolve', message: 'response' },
] as const satisfies ReadonlyArray<{ name: string; message: 'query' | 'response' }>;

export type PhaseName = (typeof phaseTable)[number]['name'];

export const phaseNames = phaseTable.map((p) => p.name) as unknown as readonly [PhaseName, ...PhaseName[]];

/** Phase values by name: `Phase['pre-cache']` is 0. */
export const Phase = Object.fromEntries(phaseNames.map((n, i) => [n, i])) as Record<PhaseName, number>;

type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;

/** Phase values by camel-case name, for code: `PHASE.preCache`. */
export const PHASE = Object.fromEntries(phaseNames.map((n, i) => [n.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), i])) as {
  readonly [K in PhaseName as Camel<K>]: number;
};

export const PHASE_COUNT = phaseTable.length;
