/**
 * The app manifest (`apps/<name>/app.json`): what the host needs to know before it instantiates
 * an app. Validated apart from request handling (as CoreDNS keeps setup apart from its handler).
 */

import { z } from 'zod';
import { phaseNames } from '../abi/verdict.js';
import { formatIssues } from '../core/schema-errors.js';

/**
 * Default budgets (docs/abi/v1.md, *Fuel*). A query call of the built-in apps needs at most
 * about 63,000 units (static_zone on the root zone with DO), so `query` leaves 30 times that;
 * bench/fuel.mjs measures what a unit costs at worst, and so how long a call can run. Apps whose
 * loads or collections walk large data set their own `load` and `gc` in app.json.
 */
export const DEFAULT_FUEL = { query: 2_000_000, load: 2_000_000_000, start: 1_000_000, gc: 10_000_000 } as const;
const FUEL_MAX = 2 ** 40;

export const APP_NAME_RE = /^[a-z][a-z0-9_]{0,31}$/;

export const manifestSchema = z.strictObject({
  name: z.string().regex(APP_NAME_RE, 'app names are snake_case: a lowercase letter, then [a-z0-9_], at most 32'),
  abi_version: z.number().int().positive(),
  description: z.string().min(1),
  phases: z.array(z.enum(phaseNames)).min(1),
  failure: z.enum(['fail-open', 'fail-closed']),
  memory: z.strictObject({
    /** Cap on the app's linear memory, in 64 KiB pages. */
    max_pages: z.number().int().min(1).max(65536),
  }),
  capabilities: z.array(z.enum(['log', 'clock', 'metrics'])).default([]),
  /** Largest `on_load` input the host will pass (a zone image, a rule set). */
  max_load_bytes: z.number().int().min(0).max(256 * 1024 * 1024).default(1024 * 1024),
  /**
   * Work budgets in fuel units, enforced by the host's meter (docs/abi/v1.md, *Fuel*): one per
   * kind of call, so an app that never returns traps instead of hanging the node, and no entry
   * point runs on another's budget.
   */
  fuel: z
    .strictObject({
      /** Each on_query call (and phases_wanted, abi_version). */
      query: z.number().int().min(1000).max(FUEL_MAX).default(DEFAULT_FUEL.query),
      /** Each on_load call (config, a zone image, a rule set). */
      load: z.number().int().min(1000).max(FUEL_MAX).default(DEFAULT_FUEL.load),
      /** The module's start code (top-level initialisers), once per instance. */
      start: z.number().int().min(1000).max(FUEL_MAX).default(DEFAULT_FUEL.start),
      /** Each gc() the host runs. */
      gc: z.number().int().min(1000).max(FUEL_MAX).default(DEFAULT_FUEL.gc),
    })
    .prefault({}),
  /**
   * What the app does for a query (its verdict, its answer, its effects) follows from the
   * question (name, type, class, the RD, DO and CD bits), the request's tags and the app's own
   * config and data, and the clock only through TTLs it lowers as time passes: never the client,
   * the transport or anything else. The host then keeps the answers it gives in the resolve
   * phase in the answer cache (docs/writing-apps.md, *Answers the host keeps*).
   */
  question_only: z.boolean().default(false),
  /** JSON Schema of the app's `[apps.<name>.config]` table, checked when the config loads. */
  config_schema: z.record(z.string(), z.unknown()).optional(),
});

export type AppManifest = z.infer<typeof manifestSchema>;

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export function parseManifest(json: unknown, where: string): AppManifest {
  const r = manifestSchema.safeParse(json);
  if (!r.success) throw new ManifestError(`${where}: ${formatIssues(r.error.issues).join('; ')}`);
  return r.data;
}

/** Validates an app's config table against its manifest's JSON Schema; returns problem lines. */
export function checkAppConfig(manifest: AppManifest, config: Record<string, unknown>): string[] {
  const prefix = `apps.${manifest.name}.config`;
  if (!manifest.config_schema) {
    return Object.keys(config).length ? [`${prefix}: app ${manifest.name} takes no config`] : [];
  }
  const schema = z.fromJSONSchema(manifest.config_schema as Parameters<typeof z.fromJSONSchema>[0]);
  const r = schema.safeParse(config);
  return r.success ? [] : formatIssues(r.error.issues, prefix);
}
