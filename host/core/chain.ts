/**
 * What the pipeline needs from the app chain. host/apps/app-chain.ts implements it over Wasm
 * apps; the core never sees an app instance, only the outcome of a phase.
 */

import type { RequestContext } from './context.js';

export type PhaseOutcome =
  | { kind: 'continue' }
  | { kind: 'respond'; message: Uint8Array; app: string }
  | { kind: 'forward'; target: string; app: string }
  /** `why`: what made it (a fail-closed app's trap, an open breaker), for the EDE text. */
  | { kind: 'rcode'; rcode: number; app: string; why?: string }
  | { kind: 'drop'; app: string };

export interface AppChain {
  /** True when some enabled app runs in `phase` (lets the pipeline skip encoding the context). */
  runsIn(phase: number): boolean;
  /** Runs the apps of one phase in chain order; effects (tags, route, ...) are applied to `ctx`. */
  run(phase: number, ctx: RequestContext, msg: Uint8Array): PhaseOutcome;
}

export const emptyChain: AppChain = {
  runsIn: () => false,
  run: () => ({ kind: 'continue' }),
};
