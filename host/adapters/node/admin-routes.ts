/**
 * The admin API's routes on Node (docs/operations.md): each one reads or calls the node. What
 * is Node's own is the rule file: a pushed rule set is written to the file the config names,
 * so a reload, a restart and the file watch all keep it.
 */

import { access, constants as fsConstants } from 'node:fs/promises';
import { dirname } from 'node:path';
import { textToName, WireError } from '../../core/dns/wire.js';
import type { ReloadResult, ResolverNode } from '../../node/resolver-node.js';
import type { AdminServer } from './admin-server.js';
import { dataFiles } from './app-files.js';
import { writeFileAtomically } from './files.js';
import type { PromMetrics } from './prom-metrics.js';

/** What `DELETE /rules` leaves in a configured rule file: a set with no rules, the same on every node. */
const NO_RULES = new TextEncoder().encode('# No rules: cleared with DELETE /rules.\n');

export function adminRoutes(
  admin: AdminServer,
  node: ResolverNode<PromMetrics>,
  o: { baseDir: string; reload: () => Promise<ReloadResult>; queryLog: { get: () => { sample: number; from: 'config' | 'admin' }; set: (sample: number | null) => void } },
): void {
  /** The rule file the config names (`[rules] file` or `[apps.override] data`), or null. */
  const rulesFile = () => dataFiles(node.currentConfig, o.baseDir).find((f) => f.app === 'override')?.path ?? null;
  const saveTo = (file: string) => (d: Uint8Array | null) => writeFileAtomically(file, d ?? NO_RULES);
  const rules = node.rules;

  admin.route('GET', '/metrics', async () => ({ status: 200, body: await node.metrics.text(), type: 'text/plain; version=0.0.4' }));
  admin.route('GET', '/health', async () => ({ status: 200, body: 'ok\n', type: 'text/plain' }));
  admin.route('GET', '/status', async () => ({ status: 200, body: node.status() }));
  admin.route('GET', '/rules', async () => ({ status: 200, body: { ...node.rulesState(), text: rules.text } }), 'read');
  admin.route('PUT', '/rules', async (req, body) => {
    const data = new TextEncoder().encode(body);
    const dryRun = new URL(req.url ?? '/', 'http://admin').searchParams.get('check') === '1';
    const file = rulesFile();
    let r = dryRun ? await rules.validate(data, 'pushed rules') : await rules.apply(data, 'pushed rules', file ? saveTo(file) : undefined);
    // A dry run answers for the save too, so `rules push` applies nowhere when one node could not keep the set.
    if (dryRun && r.ok && file) {
      r = await access(dirname(file), fsConstants.W_OK).then(
        () => r,
        (e: Error) => ({ ok: false, errors: [`pushed rules: cannot be saved to ${file} (${e.message})`] }),
      );
    }
    return r.ok ? { status: 200, body: { hash: r.hash, changed: r.changed, applied: !dryRun } } : { status: 422, body: { errors: r.errors, hash: rules.current?.hash ?? null } };
  });
  admin.route('DELETE', '/rules', async () => {
    const file = rulesFile();
    // With a rule file the file stays the truth: it gets a set with no rules, not removed (a
    // reload would then refuse the config for a missing file).
    const r = file ? await rules.apply(NO_RULES, 'DELETE /rules', saveTo(file)) : await rules.clear();
    return r.ok ? { status: 200, body: { hash: file ? r.hash : null } } : { status: 500, body: { errors: r.errors } };
  });
  admin.route('POST', '/cache/flush', async (req) => {
    const name = new URL(req.url ?? '/', 'http://admin').searchParams.get('name');
    let zone: Uint8Array | null = null;
    if (name) {
      try {
        zone = textToName(name.endsWith('.') ? name : `${name}.`);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        return { status: 400, body: { error: `name: "${name}" is not a domain name (${e.message})` } };
      }
    }
    const flushed = node.currentResolver.flush(zone ? { names: [], suffixes: [zone] } : null, 'admin');
    return { status: 200, body: { flushed, name: name ?? null } };
  });
  // Negative trust anchors (RFC 7646), pushed at run time beside the config's: in memory, so a
  // restart forgets them (they are meant to expire anyway); a reload keeps them.
  const ntaList = () => ({ status: 200, body: { negative_trust_anchors: (node.status().dnssec as { negative_trust_anchors: unknown[] }).negative_trust_anchors } });
  admin.route('GET', '/negative-trust-anchors', async () => ntaList());
  admin.route('PUT', '/negative-trust-anchors', async (_req, body) => {
    let doc: { name?: unknown; until?: unknown; seconds?: unknown; reason?: unknown };
    try {
      doc = JSON.parse(body) as typeof doc;
    } catch {
      return { status: 400, body: { error: 'expected JSON: {"name": "example.com.", "seconds": 3600 | "until": "2026-12-31T00:00:00Z", "reason": "..."}' } };
    }
    if (typeof doc.name !== 'string') return { status: 400, body: { error: 'name: a domain name is required' } };
    const until = typeof doc.until === 'string' ? Date.parse(doc.until) : typeof doc.seconds === 'number' ? Date.now() + doc.seconds * 1000 : NaN;
    if (!Number.isFinite(until)) return { status: 400, body: { error: 'give "seconds" (a number) or "until" (an RFC 3339 date-time): negative trust anchors expire (RFC 7646 §2)' } };
    if (until > Date.now() + 30 * 86_400_000) return { status: 400, body: { error: 'a negative trust anchor lasts at most 30 days' } };
    try {
      const nta = node.setNegativeAnchor(doc.name, until, typeof doc.reason === 'string' ? doc.reason.slice(0, 200) : '');
      return { status: 200, body: { name: nta.name, until: new Date(nta.until).toISOString(), reason: nta.reason } };
    } catch (e) {
      return { status: 400, body: { error: (e as Error).message } };
    }
  });
  admin.route('DELETE', '/negative-trust-anchors', async (req) => {
    const name = new URL(req.url ?? '/', 'http://admin').searchParams.get('name');
    if (!name) return { status: 400, body: { error: 'name: give ?name=example.com' } };
    try {
      return { status: 200, body: { removed: node.removeNegativeAnchor(name), name } };
    } catch (e) {
      return { status: 400, body: { error: (e as Error).message } };
    }
  });
  const noZone = { status: 404, body: { error: 'no [zone] source configured' } };
  admin.route('GET', '/zone', async () => (node.zone ? { status: 200, body: node.zone.status() } : noZone));
  admin.route('POST', '/zone/refresh', async () => {
    const zone = node.zone;
    if (!zone) return noZone;
    const outcome = await zone.refresh('admin');
    return { status: outcome === 'failed' ? 422 : 200, body: { outcome, ...zone.status() } };
  });
  // The query log, switched at run time: PUT {"sample": 0.1} (0 off, 1 every query) holds until
  // DELETE puts the config's [log] queries / query_sample back (a reload keeps the switch).
  admin.route('GET', '/log/queries', async () => ({ status: 200, body: o.queryLog.get() }), 'read');
  admin.route('PUT', '/log/queries', async (_req, body) => {
    let sample: unknown;
    try {
      sample = (JSON.parse(body) as { sample?: unknown }).sample;
    } catch {
      sample = undefined;
    }
    if (typeof sample !== 'number' || !(sample >= 0 && sample <= 1)) return { status: 400, body: { error: 'give {"sample": N} with N from 0 (off) to 1 (every query)' } };
    o.queryLog.set(sample);
    return { status: 200, body: o.queryLog.get() };
  });
  admin.route('DELETE', '/log/queries', async () => {
    o.queryLog.set(null);
    return { status: 200, body: o.queryLog.get() };
  });
  admin.route('POST', '/reload', async () => {
    const r = await o.reload();
    return { status: r.ok ? 200 : 422, body: r };
  });
}
