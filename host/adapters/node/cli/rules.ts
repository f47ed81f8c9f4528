/**
 * `edge-resolver rules check FILE [--config FILE]` validates a rule set offline with the same
 * override app the nodes run; `edge-resolver rules push --to URL[,URL...] FILE` pushes it to
 * several nodes: first a dry run on every node, then, only if all accept, the real push, so a
 * rule set that one node refuses applies nowhere.
 */

import { readFileSync } from 'node:fs';
import { LoadKind } from '../../../abi/verdict.js';
import { AppInstance, appMetrics } from '../../../apps/app-instance.js';
import { encodeAppConfig, parseConfig } from '../../../core/config.js';
import { silentLogger } from '../../../core/log.js';
import { MemoryMetrics } from '../../../core/metrics.js';
import { nodeCatalog } from '../catalog.js';
import { EXIT, UsageError, describeFsError, dispatch, parseCommand, type Command, type Out } from './args.js';

export const RULES_CHECK: Command = {
  name: 'rules check',
  synopsis: 'FILE [--config CONFIG]',
  summary: 'Checks a rule file offline with the override app the nodes run (docs/rules.md). Prints FILE: ok, or FILE:LINE:COL: problem lines.',
  flags: { config: { type: 'string', value: 'CONFIG', help: 'check group names against this config\'s [upstreams] (default: any name)' } },
  positionals: { min: 1, max: 1, what: 'the rule FILE' },
  details: 'Exit status: 0 valid, 1 refused, 2 a wrong command line.',
};

export const RULES_PUSH: Command = {
  name: 'rules push',
  synopsis: '--to URL[,URL...] FILE [--token TOKEN]',
  summary: 'Pushes a rule file to the admin API of several nodes: a dry run on every node first, then, only if all accept, the push; a set one node refuses applies nowhere.',
  flags: {
    to: { type: 'string', value: 'URL[,URL...]', help: 'admin base URLs of the nodes (http://10.0.0.1:9153)' },
    token: { type: 'string', value: 'TOKEN', help: 'admin bearer token (default: $EDGE_ADMIN_TOKEN)' },
  },
  positionals: { min: 1, max: 1, what: 'the rule FILE' },
  details: 'Exit status: 0 applied on every node, 1 refused or unreachable somewhere (applied nowhere), 2 a wrong command line.',
};

/** Returns the problems with a rule set, as FILE:LINE:COL: message lines; empty when valid. */
export function checkRules(file: string, text: Uint8Array, configPath?: string): string[] {
  const catalog = nodeCatalog();
  const src = catalog.get('override');
  if (!src) return [`${file}: the override app is not installed`];
  let groups = '*';
  if (configPath) {
    const c = parseConfig(readFileSync(configPath, 'utf8'), configPath);
    groups = Object.keys(c.upstreams).join(',');
  }
  const app = new AppInstance(src, silentLogger, appMetrics(new MemoryMetrics()));
  const cfg = app.load(LoadKind.CONFIG, encodeAppConfig({}, { upstream_groups: groups, installed_apps: catalog.names().join(',') }));
  if (!cfg.ok) return [`${file}: ${cfg.error}`];
  const r = app.load(LoadKind.DATA, text);
  if (r.ok) return [];
  return r.error.split('\n').filter(Boolean).map((l) => (/^\d+:\d+: /.test(l) ? `${file}:${l}` : `${file}: ${l}`));
}

async function put(url: string, body: Uint8Array, token: string | undefined, check: boolean): Promise<{ ok: boolean; text: string; hash?: string }> {
  const target = `${url.replace(/\/+$/, '')}/rules${check ? '?check=1' : ''}`;
  try {
    const res = await fetch(target, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain; charset=utf-8', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body.slice(),
      signal: AbortSignal.timeout(5000),
    });
    const json = (await res.json().catch(() => ({}))) as { hash?: string; errors?: string[]; error?: string };
    if (res.status === 200) return { ok: true, text: json.hash ?? '', hash: json.hash };
    const why = json.errors?.join('\n    ') ?? json.error ?? `HTTP ${res.status}`;
    return { ok: false, text: `HTTP ${res.status}: ${why}` };
  } catch (e) {
    return { ok: false, text: `unreachable: ${(e as Error).message}` };
  }
}

async function rulesCheck(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(RULES_CHECK, argv, out);
  if (!parsed) return EXIT.ok;
  const values = parsed.values as { config?: string };
  {
    const file = parsed.positionals[0]!;
    let text: Uint8Array;
    try {
      text = new Uint8Array(readFileSync(file));
    } catch (e) {
      out.stderr(`${describeFsError(e, file)}\n`);
      return EXIT.failed;
    }
    const problems = checkRules(file, text, values.config);
    if (problems.length) {
      out.stderr(problems.join('\n') + '\n');
      return 1;
    }
    out.stdout(`${file}: ok\n`);
    return EXIT.ok;
  }
}

async function rulesPush(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(RULES_PUSH, argv, out);
  if (!parsed) return EXIT.ok;
  const values = parsed.values as { to?: string; token?: string };
  if (!values.to) throw new UsageError(RULES_PUSH.name, 'missing --to URL[,URL...]');
  {
    const file = parsed.positionals[0]!;
    const urls = values.to.split(',').filter(Boolean);
    const token = values.token ?? process.env.EDGE_ADMIN_TOKEN;
    let body: Uint8Array;
    try {
      body = new Uint8Array(readFileSync(file));
    } catch (e) {
      out.stderr(`${describeFsError(e, file)}\n`);
      return EXIT.failed;
    }
    const checks = await Promise.all(urls.map((u) => put(u, body, token, true)));
    if (checks.some((c) => !c.ok)) {
      urls.forEach((u, i) => out.stdout(`${u}: ${checks[i]!.ok ? `would apply ${checks[i]!.text}` : `refused: ${checks[i]!.text}`}\n`));
      out.stderr('rules push: not applied anywhere (a node refused the rule set or could not be reached)\n');
      return 1;
    }
    const results = await Promise.all(urls.map((u) => put(u, body, token, false)));
    urls.forEach((u, i) => out.stdout(`${u}: ${results[i]!.ok ? results[i]!.text : `error: ${results[i]!.text}`}\n`));
    const hashes = new Set(results.filter((r) => r.ok).map((r) => r.hash));
    if (results.some((r) => !r.ok)) return 1;
    if (hashes.size !== 1) {
      out.stderr('rules push: nodes report different hashes\n');
      return 1;
    }
    return 0;
  }
}

export function rulesCommand(argv: string[], out: Out): Promise<number> {
  return dispatch('rules', 'Rule sets for the override app (docs/rules.md).', [
    { ...RULES_CHECK, run: rulesCheck },
    { ...RULES_PUSH, run: rulesPush },
  ], argv, out);
}
