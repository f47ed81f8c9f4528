/**
 * The chain of app instances in config order, run phase by phase. Applies each app's effects to
 * the request context only when its call succeeded, and each app's failure policy when it did
 * not: fail-open skips the app, fail-closed answers SERVFAIL.
 */

import { MAX_CONTEXT_BYTES, MAX_TAGS, encodeContextInto, type RequestContext } from '../core/context.js';
import type { AppChain, PhaseOutcome } from '../core/chain.js';
import type { Counter, MetricsSink } from '../core/metrics.js';
import { Rcode } from '../core/dns/rr-types.js';
import { PHASE, PHASE_COUNT } from '../core/phases.js';
import { Verdict } from '../abi/verdict.js';
import type { Effect } from '../abi/imports.js';
import { appStateVersion, type AppInstance } from './app-instance.js';

export function applyEffects(ctx: RequestContext, effects: readonly Effect[]): void {
  for (const e of effects) {
    switch (e.kind) {
      case 'tag-set':
        // Past the limit a tag is dropped here, so the context always encodes and always
        // travels to the next node whole.
        if (ctx.tags.size < MAX_TAGS) ctx.tags.add(e.tag);
        break;
      case 'tag-clear':
        ctx.tags.delete(e.tag);
        break;
      case 'route':
        ctx.route = e.group;
        break;
      case 'disable-app':
        if (ctx.disabledApps.size < MAX_TAGS) ctx.disabledApps.add(e.app);
        break;
      case 'ttl-cap':
        ctx.ttlCap = ctx.ttlCap > 0 ? Math.min(ctx.ttlCap, e.seconds) : e.seconds;
        break;
    }
  }
}

let stamps = 0;

export class WasmAppChain implements AppChain {
  private readonly byPhase: AppInstance[][] = Array.from({ length: PHASE_COUNT }, () => []);
  private readonly skipped: Counter;
  /** The context is encoded here, not into a fresh array per call (see encodeContextInto). */
  private readonly scratch = new Uint8Array(MAX_CONTEXT_BYTES);
  /** answerStamp's last value (0: not kept), and the appStateVersion it was worked out at. */
  private stamp = 0;
  private stampedAt = -1;

  constructor(
    readonly apps: readonly AppInstance[],
    metrics: MetricsSink,
  ) {
    for (const app of apps) for (let p = 0; p < PHASE_COUNT; p++) if (app.declares(p)) this.byPhase[p]!.push(app);
    this.skipped = metrics.counter('edge_app_skipped_total', 'App calls skipped, by reason', ['app', 'reason']);
  }

  runsIn(phase: number): boolean {
    for (const app of this.byPhase[phase] ?? []) if (app.runsIn(phase)) return true;
    return false;
  }

  answerStamp(): number {
    // Worked out again only when some app's state moved (which phases an app runs in changes
    // only with a load); a new chain starts from a new stamp.
    const at = appStateVersion();
    if (at !== this.stampedAt) {
      this.stampedAt = at;
      this.stamp = this.apps.every((app) => app.manifest.question_only || !app.runsIn(PHASE.resolve)) ? ++stamps : 0;
    }
    return this.stamp;
  }

  questionOnly(name: string): boolean {
    return this.app(name)?.manifest.question_only ?? false;
  }

  app(name: string): AppInstance | undefined {
    return this.apps.find((a) => a.name === name);
  }

  run(phase: number, ctx: RequestContext, msg: Uint8Array): PhaseOutcome {
    let encoded: Uint8Array | null = null;
    for (const app of this.byPhase[phase] ?? []) {
      if (!app.runsIn(phase)) continue;
      if (ctx.disabledApps.has(app.name)) {
        this.skipped.inc({ app: app.name, reason: 'disabled-by-rule' });
        continue;
      }
      encoded ??= this.scratch.subarray(0, encodeContextInto(ctx, this.scratch));
      const r = app.call(phase, encoded, msg, ctx);
      if (r.kind !== 'ok') {
        if (app.manifest.failure === 'fail-closed') {
          const what = r.kind === 'open' ? 'its circuit breaker is open' : r.kind === 'quarantined' ? 'this question made it trap a short while ago' : `it trapped (${r.reason})`;
          return { kind: 'rcode', rcode: Rcode.SERVFAIL, app: app.name, why: `app ${app.name} failed: ${what}; its failure policy is fail-closed` };
        }
        this.skipped.inc({ app: app.name, reason: r.kind === 'open' ? 'breaker-open' : r.kind === 'quarantined' ? 'quarantined' : 'trapped' });
        continue;
      }
      if (r.effects.length > 0) {
        applyEffects(ctx, r.effects);
        encoded = null;
      }
      switch (r.verdict) {
        case Verdict.CONTINUE:
          continue;
        case Verdict.RESPOND:
          return { kind: 'respond', message: r.response!, app: app.name };
        case Verdict.FORWARD:
          return { kind: 'forward', target: r.target!, app: app.name };
        case Verdict.REFUSE:
          return { kind: 'rcode', rcode: Rcode.REFUSED, app: app.name };
        case Verdict.SERVFAIL:
          return { kind: 'rcode', rcode: Rcode.SERVFAIL, app: app.name };
        case Verdict.DROP:
          return { kind: 'drop', app: app.name };
      }
    }
    return { kind: 'continue' };
  }
}
