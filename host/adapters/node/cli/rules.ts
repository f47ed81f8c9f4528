/**
 * `edge-resolver rules check FILE [--config FILE]` validates a rule set offline with the same
 * override app the nodes run; `edge-resolver rules push --to URL[,URL...] FILE` pushes it to
 * several nodes: first a dry run on every node, then, only if all accept, the real push, so a
 * rule set that one node refuses applies nowhere.
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LoadKind } from '../../../abi/verdict.js';
import { AppInstance, appMetrics } from '../../../apps/app-instance.js';
import { encodeAppConfig, parseConfig } from '../../../core/config.js';
import { silentLogger } from '../../../core/log.js';
import { MemoryMetrics } from '../../../core/metrics.js';
import { nodeCatalog } from '../catalog.js';

type Out = { stdout: (s: string) => void; stderr: (s: string) => void };

const USAGE = `usage:
  edge-resolver rules check FILE [--config CONFIG]
  edge-resolver rules push --to URL[,URL...] FILE [--token TOKEN]   (token also from EDGE_ADMIN_TOKEN)
`;

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

export async function rulesCommand(argv: string[], out: Out): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'check') {
    const { values, positionals } = parseArgs({ args: rest, options: { config: { type: 'string' } }, allowPositionals: true });
    if (positionals.length !== 1) {
      out.stderr(USAGE);
      return 2;
    }
    const file = positionals[0]!;
    let text: Uint8Array;
    try {
      text = new Uint8Array(readFileSync(file));
    } catch (e) {
      out.stderr(`${file}: ${(e as Error).message}\n`);
      return 1;
    }
    const problems = checkRules(file, text, values.config);
    if (problems.length) {
      out.stderr(problems.join('\n') + '\n');
      return 1;
    }
    out.stdout(`${file}: ok\n`);
    return 0;
  }
  if (sub === 'push') {
    const { values, positionals } = parseArgs({ args: rest, options: { to: { type: 'string' }, token: { type: 'string' } }, allowPositionals: true });
    if (!values.to || positionals.length !== 1) {
      out.stderr(USAGE);
      return 2;
    }
    const file = positionals[0]!;
    const urls = values.to.split(',').filter(Boolean);
    const token = values.token ?? process.env.EDGE_ADMIN_TOKEN;
    const body = new Uint8Array(readFileSync(file));
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
  out.stderr(USAGE);
  return 2;
}
