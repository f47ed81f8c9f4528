/**
 * `edge-resolver serve`: a node from a config file (or the embedded default) with the command
 * line's flags on top; SIGHUP reloads, SIGINT/SIGTERM shut down gracefully. Its own module so the
 * offline commands do not load the server.
 */

import { readFileSync } from 'node:fs';
import { ConfigError, parseConfig, validateConfig, type Config } from '../../../core/config.js';
import { consoleLogger } from '../../../core/log.js';
import { defaultConfigText } from '../default-config.js';
import { ResolverNode } from '../../../node/resolver-node.js';
import { EdgeNode } from '../edge-node.js';
import { runPrimary, serveWorker, takePrimaryState, workerIndex } from '../cluster.js';
import { missingNodeFlags } from '../v8-flags.js';
import { workerCount } from '../node-checks.js';
import { nodePlatform } from '../node-platform.js';
import { EXIT, describeFsError, dispatch, parseCommand, type Command, type Out } from './args.js';

/** Applies serve's flags on top of a config's raw TOML values; the result is validated again. */
export function applyServeFlags(config: Config, v: Record<string, string | string[] | boolean | undefined>): Config {
  const c: Config = structuredClone(config);
  const list = (k: string) => (v[k] as string[] | undefined) ?? [];
  if (list('listen').length) c.server.listen = list('listen');
  if (list('doh').length) c.server.doh = list('doh');
  if (list('doh-http').length) c.server.doh_http = list('doh-http');
  if (list('dot').length) c.server.dot = list('dot');
  if (typeof v.admin === 'string') c.admin.listen = v.admin;
  // Plain DNS servers, whatever the group was (a TLS group's name and CA are not theirs).
  if (list('upstream').length) c.upstreams = { ...c.upstreams, [c.upstream.default_group]: { servers: list('upstream'), tls: false } };
  if (typeof v['node-id'] === 'string') c.node_id = v['node-id'];
  if (typeof v['log-level'] === 'string') c.log.level = v['log-level'] as Config['log']['level'];
  if (typeof v['log-format'] === 'string') c.log.format = v['log-format'] as Config['log']['format'];
  if (typeof v.rules === 'string') c.rules.file = v.rules;
  if (typeof v['root-zone'] === 'string') c.zone.source = v['root-zone'];
  if (typeof v['trust-anchor'] === 'string') {
    // One anchor for validation and for the root copy: the flag replaces both.
    c.dnssec.trust_anchor = v['trust-anchor'];
    delete c.zone.trust_anchor;
  }
  if (v['no-validate'] === true) c.dnssec.validate = false;
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

export const SERVE: Command = {
  name: 'serve',
  synopsis: '[--config FILE] [flags]',
  summary: `Runs a resolver node: DNS over UDP and TCP, DoH, DNS over TLS (--dot) and the admin API.
Flags override the config file; without --config the embedded default config is used (DNS on
127.0.0.1:5353, DoH on https://127.0.0.1:8053 with a self-signed certificate and on
http://127.0.0.1:8080, admin on 127.0.0.1:9153).`,
  flags: {
    config: { type: 'string', short: 'c', value: 'FILE', help: 'the config file (docs/configuration.md)' },
    listen: { type: 'string', multiple: true, value: 'HOST:PORT', help: 'DNS over UDP and TCP (server.listen)' },
    doh: { type: 'string', multiple: true, value: 'HOST:PORT', help: 'DoH over HTTPS, HTTP/2 (server.doh)' },
    'doh-http': { type: 'string', multiple: true, value: 'HOST:PORT', help: 'DoH over plain HTTP (server.doh_http)' },
    dot: { type: 'string', multiple: true, value: 'HOST:PORT', help: 'DNS over TLS, RFC 7858 (server.dot)' },
    admin: { type: 'string', value: 'HOST:PORT', help: 'admin API and metrics (admin.listen)' },
    upstream: { type: 'string', multiple: true, value: 'HOST:PORT', help: 'servers of the default upstream group' },
    'node-id': { type: 'string', value: 'ID', help: 'this node\'s id (node_id)' },
    'log-level': { type: 'string', value: 'LEVEL', help: 'debug, info, warn or error (log.level)' },
    'log-format': { type: 'string', value: 'FORMAT', help: 'text, logfmt or json (log.format)' },
    rules: { type: 'string', value: 'FILE', help: 'rule file for the override app (rules.file)' },
    'root-zone': { type: 'string', value: 'SOURCE', help: 'zone copy static_zone serves: a file or URL (zone.source)' },
    'trust-anchor': { type: 'string', value: 'FILE', help: 'DS or DNSKEY records, one or more zones: where DNSSEC validation starts and what the zone copy must match (dnssec.trust_anchor; default: the IANA root anchors built in)' },
    'no-validate': { type: 'boolean', help: 'pass answers on without DNSSEC validation (dnssec.validate = false)' },
    mode: { type: 'string', value: 'forward|recursive', help: 'how misses are resolved (resolver.mode)' },
    'root-hints': { type: 'string', value: 'FILE', help: 'root hints for recursive mode (resolver.root_hints)' },
    peer: { type: 'string', multiple: true, value: 'ID=HOST:PORT', help: 'a node of the site (site.peers)' },
    'site-key': { type: 'string', multiple: true, value: 'KEYID:SECRET', help: 'a site key; the first one signs (site.keys)' },
  },
  details: `Signals: SIGHUP reloads the config file (a bad one is refused, the running one stays);
SIGINT and SIGTERM stop accepting, let requests in progress finish, and exit 0.
Exit status: 0 after a clean stop, 1 when the config is refused or a listener cannot be opened, 2 for a wrong command line.`,
};

/** True while `pid` runs (EPERM: it runs, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The processes from this one's parent up to the npm or npx that started it (the shell npx runs
 * the bin through is one), nearest first; empty when npm did not start it (a supervisor, a shell).
 * Walks /proc where there is one; elsewhere it is the parent alone.
 */
export function npmAncestors(env: NodeJS.ProcessEnv = process.env): number[] {
  const byNpm = env.npm_lifecycle_event === 'start' || env.npm_command === 'start' || env.npm_command === 'exec';
  if (!byNpm) return [];
  const chain = [process.ppid];
  try {
    for (let pid = process.ppid; chain.length <= 4; ) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv.slice(0, 2).some((a) => /^(npm|npx)(-cli\.js)?$/.test(a.split('/').pop() ?? ''))) return chain;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!ppid || ppid <= 1) break;
      chain.push(ppid);
      pid = ppid;
    }
  } catch {
    // no /proc: the parent is what can be watched
  }
  return chain.slice(0, 1);
}

/** Calls `gone` once when the parent changes or one of npmAncestors() ends. */
function watchNpmAncestors(gone: () => void): void {
  const chain = npmAncestors();
  if (chain.length === 0) return;
  const timer = setInterval(() => {
    if (process.ppid === chain[0] && chain.every(alive)) return;
    clearInterval(timer);
    gone();
  }, 500);
  timer.unref();
}

export async function serve(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(SERVE, argv, out);
  if (!parsed) return EXIT.ok;
  const values = parsed.values;
  const path = values.config as string | undefined;
  const text = path ? readConfigText(path) : defaultConfigText();
  const base = parseConfig(text, path ?? 'embedded config');
  // Validated again after the flags, so a bad flag value is reported like a bad key; the same on
  // every reload, so SIGHUP does not drop --peer, --site-key, --root-zone and the rest.
  const overrides = (c: Config) => validateConfig(applyServeFlags(c, values), 'command line');
  const config = overrides(base);
  const logger = consoleLogger(config.log.level, undefined, config.log.format);
  const worker = workerIndex();
  if (worker === undefined && workerCount(config) > 1) {
    // The primary of server.workers processes (cluster.ts): it answers no queries itself. The
    // config is checked here as serve checks it, once, rather than by every worker in turn.
    await ResolverNode.check(nodePlatform({ configPath: path, logger: consoleLogger('error', () => undefined), overrides }), text, path ?? 'embedded config');
    const code = await runPrimary(config, {
      count: workerCount(config),
      configPath: path,
      logger,
      onStopRequest: (stop) => {
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
        watchNpmAncestors(() => {
          logger.log('warn', 'the npm process that started this node is gone; shutting down');
          stop('npm exited');
        });
      },
    });
    process.exit(code);
  }
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
  process.on('SIGHUP', () => {
    // A worker's reloads come from its primary, which got the signal.
    if (worker !== undefined) return;
    if (!node) return logger.log('warn', 'SIGHUP while starting; nothing to reload yet');
    // Without --config there is no file to read again: say so rather than ignore the signal.
    if (!path) return logger.log('warn', 'SIGHUP: this node runs the embedded config; nothing to reload (start it with --config FILE)');
    void node.reload();
  });
  // A rejection nothing awaited is a bug in background work (a watch, a timer), not a reason to
  // stop answering: Node's default would end the process. Log it loudly and keep serving.
  process.on('unhandledRejection', (e) => logger.log('error', 'unhandled rejection in background work (a bug; please report it)', { error: (e as Error)?.stack ?? String(e) }));
  node = await EdgeNode.start(config, { configPath: path, configText: text, logger, overrides, ...(worker !== undefined ? { worker, beforeListen: (edge) => takePrimaryState(edge, logger) } : {}) });
  if (stopping) {
    await node.close();
    process.exit(0);
  }
  // Said once the node serves, so a refused config stays the first line a bad start prints.
  const missing = missingNodeFlags();
  if (missing.length > 0 && worker === undefined) {
    logger.log('info', 'node was started without the V8 flags the bin and npm start give it; the heap takes more memory', { missing: missing.join(' '), see: 'docs/operations.md, "Memory"' });
  }
  if (worker !== undefined) {
    serveWorker(node, worker, logger, () => stop('primary'));
    return new Promise<number>(() => undefined);
  }
  // Started by `npm start` or `npx`: npm forwards SIGINT and SIGTERM but not SIGHUP, and npx keeps
  // a shell in between that forwards nothing, so either can end and leave this node running,
  // orphaned, on its ports. Stop with the process that started it.
  watchNpmAncestors(() => {
    logger.log('warn', 'the npm process that started this node is gone; shutting down');
    stop('npm exited');
  });
  return new Promise<number>(() => undefined);
}

/** A config file's text; one readable line when it cannot be read. */
function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError([describeFsError(e, path)]);
  }
}

export const CONFIG_CHECK: Command = {
  name: 'config check',
  synopsis: 'FILE',
  brief: 'check a config file exactly as serve and a reload do',
  summary: `Checks a config file exactly as serve and a reload do, without starting anything: the schema,
listener addresses and ports, app names, each app's config (routes to upstream groups), the
files it names (rule and data files, trust anchor, TLS certificate and key). Prints FILE: ok,
or every problem, one line each, naming its key.`,
  flags: {},
  positionals: { min: 1, max: 1, what: 'the config FILE' },
  details: 'Exit status: 0 the config can run, 1 it is refused, 2 a wrong command line.',
};

/** What `config check` prints for `file`: [] when it can run, else one line per problem. */
export async function checkConfigFile(file: string): Promise<string[]> {
  try {
    const text = readConfigText(file);
    await ResolverNode.check(nodePlatform({ configPath: file, logger: consoleLogger('error', () => undefined) }), text, file);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

async function configCheck(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(CONFIG_CHECK, argv, out);
  if (!parsed) return EXIT.ok;
  const file = parsed.positionals[0]!;
  const problems = await checkConfigFile(file);
  if (problems.length) {
    out.stderr(problems.join('\n') + '\n');
    return EXIT.failed;
  }
  out.stdout(`${file}: ok\n`);
  return EXIT.ok;
}

export function configCommand(argv: string[], out: Out): Promise<number> {
  return dispatch('config', 'Offline checks of a config file.', [{ ...CONFIG_CHECK, run: configCheck }], argv, out);
}
