/**
 * `edge-resolver serve`: a node from a config file (or the embedded default) with the command
 * line's flags on top; SIGHUP reloads, SIGINT/SIGTERM shut down gracefully. Its own module so the
 * offline commands do not load the server.
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, parseConfig, validateConfig, type Config } from '../../../core/config.js';
import { consoleLogger } from '../../../core/log.js';
import { defaultConfigText } from '../default-config.js';
import { EdgeNode } from '../edge-node.js';

type Out = { stdout: (s: string) => void; stderr: (s: string) => void };

/** Applies serve's flags on top of a config's raw TOML values; the result is validated again. */
export function applyServeFlags(config: Config, v: Record<string, string | string[] | boolean | undefined>): Config {
  const c: Config = structuredClone(config);
  const list = (k: string) => (v[k] as string[] | undefined) ?? [];
  if (list('listen').length) c.server.listen = list('listen');
  if (list('doh').length) c.server.doh = list('doh');
  if (list('doh-http').length) c.server.doh_http = list('doh-http');
  if (typeof v.admin === 'string') c.admin.listen = v.admin;
  if (list('upstream').length) c.upstreams = { ...c.upstreams, [c.upstream.default_group]: list('upstream') };
  if (typeof v['node-id'] === 'string') c.node_id = v['node-id'];
  if (typeof v['log-level'] === 'string') c.log.level = v['log-level'] as Config['log']['level'];
  if (typeof v.rules === 'string') c.rules.file = v.rules;
  if (typeof v['root-zone'] === 'string') c.zone.source = v['root-zone'];
  if (typeof v['trust-anchor'] === 'string') c.zone.trust_anchor = v['trust-anchor'];
  if (typeof v.mode === 'string') c.resolver.mode = v.mode as Config['resolver']['mode'];
  if (typeof v['root-hints'] === 'string') c.resolver.root_hints = v['root-hints'];
  for (const p of list('peer')) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new ConfigError([`--peer ${p}: expected ID=HOST:PORT`]);
    c.site.peers = { ...c.site.peers, [p.slice(0, eq)]: p.slice(eq + 1) };
  }
  const keys = list('site-key');
  if (keys.length) {
    c.site.keys = {};
    for (const k of keys) {
      const colon = k.indexOf(':');
      if (colon <= 0) throw new ConfigError([`--site-key: expected KEYID:SECRET`]);
      c.site.keys[k.slice(0, colon)] = k.slice(colon + 1);
    }
    // The first key given signs; the others are still accepted (rotation).
    c.site.signing_key = keys[0]!.slice(0, keys[0]!.indexOf(':'));
  }
  return c;
}

export async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      listen: { type: 'string', multiple: true },
      doh: { type: 'string', multiple: true },
      'doh-http': { type: 'string', multiple: true },
      admin: { type: 'string' },
      upstream: { type: 'string', multiple: true },
      'node-id': { type: 'string' },
      'log-level': { type: 'string' },
      rules: { type: 'string' },
      'root-zone': { type: 'string' },
      'trust-anchor': { type: 'string' },
      mode: { type: 'string' },
      'root-hints': { type: 'string' },
      peer: { type: 'string', multiple: true },
      'site-key': { type: 'string', multiple: true },
    },
    strict: true,
  });
  const path = values.config;
  const text = path ? readFileSync(path, 'utf8') : defaultConfigText();
  const base = parseConfig(text, path ?? 'embedded config');
  // Validated again after the flags, so a bad flag value is reported like a bad key; the same on
  // every reload, so SIGHUP does not drop --peer, --site-key, --root-zone and the rest.
  const overrides = (c: Config) => validateConfig(applyServeFlags(c, values), 'command line');
  const config = overrides(base);
  const logger = consoleLogger(config.log.level);
  // The signal handlers go in before the node starts, so a SIGTERM that arrives while it is
  // starting (making a certificate, loading a zone) stops it once it is up rather than killing
  // the process half-way; a SIGHUP then has nothing to reload yet.
  let node: EdgeNode | null = null;
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    logger.log('info', 'shutting down', { signal: sig });
    if (node) void node.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => (node ? void node.reload() : logger.log('warn', 'SIGHUP while starting; nothing to reload yet')));
  // A rejection nothing awaited is a bug in background work (a watch, a timer), not a reason to
  // stop answering: Node's default would end the process. Log it loudly and keep serving.
  process.on('unhandledRejection', (e) => logger.log('error', 'unhandled rejection in background work (a bug; please report it)', { error: (e as Error)?.stack ?? String(e) }));
  node = await EdgeNode.start(config, { configPath: path, configText: text, logger, overrides });
  if (stopping) {
    await node.close();
    process.exit(0);
  }
  return new Promise<number>(() => undefined);
}

export async function configCommand(argv: string[], out: Out): Promise<number> {
  const [sub, file] = argv;
  if (sub !== 'check' || !file) {
    out.stderr('usage: edge-resolver config check FILE\n');
    return 2;
  }
  try {
    parseConfig(readFileSync(file, 'utf8'), file);
    out.stdout(`${file}: ok\n`);
    return 0;
  } catch (e) {
    out.stderr(e instanceof ConfigError ? e.problems.join('\n') + '\n' : `${file}: ${(e as Error).message}\n`);
    return 1;
  }
}

