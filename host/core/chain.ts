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
  /**
   * Names the chain's present state for the answer cache: non-zero when the resolve phase runs
   * only apps whose manifest says `question_only`, and different after any app's load (config,
   * data, rules) and for every new chain. An app's answer stored under one stamp is served only
   * while the chain gives that stamp. Absent or 0: app answers are not kept.
   */
  answerStamp?(): number;
  /** Whether `app` declares `question_only` (its resolve-phase answers may be kept under a stamp). */
  questionOnly?(app: string): boolean;
}

export const emptyChain: AppChain = {
  runsIn: () => false,
  run: () => ({ kind: 'continue' }),
};
