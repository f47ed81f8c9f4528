/**
 * `edge-resolver control VERB`: a running node's admin API from the command line (the role of
 * unbound-control and rec_control). It finds the admin address and token from the node's config
 * file (--config; by default /etc/edge-resolver/edge.toml when it exists, else the embedded
 * default: 127.0.0.1:9153), the token in `admin.token`, else in the token file the node made at
 * first start (admin-token.ts), else $EDGE_ADMIN_TOKEN. docs/operations.md lists the verbs.
 */

import { existsSync, readFileSync } from 'node:fs';
import { parseConfig, type Config } from '../../../core/config.js';
import { configBaseDir } from '../app-files.js';
import { readTokenFile, tokenFileOf } from '../admin-token.js';
import { defaultConfigText } from '../default-config.js';
import { EXIT, UsageError, describeFsError, dispatch, parseCommand, type Command, type Flag, type Out, type Values } from './args.js';

export const SYSTEM_CONFIG = '/etc/edge-resolver/edge.toml';

const COMMON: Record<string, Flag> = {
  config: { type: 'string', short: 'c', value: 'FILE', help: `the node's config file, for its admin address and token (default ${SYSTEM_CONFIG} if it exists, else the embedded default: 127.0.0.1:9153)` },
  admin: { type: 'string', value: 'URL', help: 'the admin API to talk to, e.g. http://127.0.0.1:9153 (instead of the config\'s admin.listen)' },
  token: { type: 'string', value: 'TOKEN', help: 'the bearer token (default: admin.token, the token file, $EDGE_ADMIN_TOKEN)' },
  json: { type: 'boolean', help: 'print the JSON the node answered' },
};

interface Target {
  base: string;
  token: string | undefined;
  /** Where the token came from, for the hint when the node refuses it. */
  tokenFrom: string;
}

/** The admin address and token, from the flags and the config file. Throws a one-line Error. */
export function findTarget(values: Values, env: NodeJS.ProcessEnv = process.env): Target {
  const path = (values.config as string | undefined) ?? (existsSync(SYSTEM_CONFIG) ? SYSTEM_CONFIG : undefined);
  let text: string;
  try {
    text = path ? readFileSync(path, 'utf8') : defaultConfigText();
  } catch (e) {
    throw new Error(describeFsError(e, path!));
  }
  const c: Config = parseConfig(text, path ?? 'embedded config');
  let base = values.admin as string | undefined;
  if (!base) {
    const listen = c.admin.listen;
    if (!listen) throw new Error(`${path ?? 'the embedded config'}: admin.listen is off; the node has no admin API to talk to (or give --admin URL)`);
    // A wildcard listener is reached on loopback.
    base = `http://${listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:')}`;
  }
  base = base.replace(/\/+$/, '');
  if (typeof values.token === 'string') return { base, token: values.token, tokenFrom: '--token' };
  if (c.admin.token) return { base, token: c.admin.token, tokenFrom: `admin.token in ${path}` };
  const file = tokenFileOf(c, configBaseDir(path), env);
  if (file) {
    try {
      return { base, token: readTokenFile(file), tokenFrom: file };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'EACCES') throw e;
      if ((e as NodeJS.ErrnoException).code === 'EACCES') return { base, token: env.EDGE_ADMIN_TOKEN, tokenFrom: `${file} (not readable by this user: run as the node's user or root)` };
    }
  }
  return { base, token: env.EDGE_ADMIN_TOKEN, tokenFrom: env.EDGE_ADMIN_TOKEN ? '$EDGE_ADMIN_TOKEN' : 'nowhere (no admin.token, no token file yet, no $EDGE_ADMIN_TOKEN)' };
}

type Reply = { status: number; body: any };

async function call(t: Target, method: string, path: string, body?: string | Uint8Array, timeoutMs = 30_000): Promise<Reply> {
  let res: Response;
  try {
    res = await fetch(`${t.base}${path}`, {
      method,
      headers: { ...(t.token ? { authorization: `Bearer ${t.token}` } : {}), ...(body !== undefined ? { 'content-type': typeof body === 'string' && body.startsWith('{') ? 'application/json' : 'text/plain; charset=utf-8' } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : body.slice() } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new Error(`${t.base} is not answering (${cause ?? (e as Error).message}); is the node running, and is this its admin address?`);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // a text body (/metrics, /health)
  }
  if (res.status === 401) throw new Error(`${method} ${path}: the node refused the token (401); token from ${t.tokenFrom}`);
  if (res.status === 403) throw new Error(`${method} ${path}: admin writes are off on this node (403): it has no admin.token and admin.token_file = ""`);
  return { status: res.status, body: parsed };
}

/** The node's error lines from a refusal body. */
function errorsOf(body: any): string {
  if (Array.isArray(body?.errors)) return body.errors.join('\n');
  return body?.error ?? JSON.stringify(body);
}

function print(out: Out, values: Values, r: Reply, human: () => string): number {
  if (values.json) out.stdout(`${JSON.stringify(r.body, null, 2)}\n`);
  const ok = r.status >= 200 && r.status < 300;
  if (!ok) {
    out.stderr(`${errorsOf(r.body)}\n`);
    return EXIT.failed;
  }
  if (!values.json) out.stdout(human());
  return EXIT.ok;
}

function upstreamLines(u: Record<string, Array<{ server: string; up: boolean; consecutiveFailures: number }>>): string {
  const groups = Object.entries(u ?? {});
  if (!groups.length) return 'none\n';
  return groups.map(([g, servers]) => `${g}: ${servers.map((s) => `${s.server} ${s.up ? 'up' : `down (${s.consecutiveFailures} failures)`}`).join(', ')}`).join('\n') + '\n';
}

function peerLines(p: Record<string, { up: boolean; address: string }>): string {
  const peers = Object.entries(p ?? {});
  if (!peers.length) return 'none (this node pools with no other)\n';
  return peers.map(([id, s]) => `${id} ${s.address} ${s.up ? 'up' : 'down'}`).join('\n') + '\n';
}

type Verb = Command & { run: (argv: string[], out: Out) => Promise<number> };

function verb(name: string, synopsis: string, summary: string, positionals: Command['positionals'], extra: Record<string, Flag>, act: (t: Target, v: Values, args: string[], out: Out) => Promise<number>): Verb {
  const c: Command = { name: `control ${name}`, synopsis, summary, flags: { ...COMMON, ...extra }, ...(positionals ? { positionals } : {}), details: 'Exit status: 0 done, 1 the node refused or did not answer, 2 a wrong command line.' };
  return {
    ...c,
    run: async (argv, out) => {
      const parsed = parseCommand(c, argv, out);
      if (!parsed) return EXIT.ok;
      return act(findTarget(parsed.values), parsed.values, parsed.positionals, out);
    },
  };
}

const ago = (s: number) => (s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`);

export const CONTROL_VERBS: Verb[] = [
  verb('status', '', "The node's status: id, uptime, config, apps, upstreams, peers, cache, rules, zone.", undefined, {}, async (t, v, _a, out) => {
    const r = await call(t, 'GET', '/status');
    return print(out, v, r, () => {
      const s = r.body;
      const lines = [
        `node       ${s.node_id} (up ${ago(s.uptime_s)})`,
        `config     ${String(s.config?.hash ?? '').slice(0, 16)} from ${s.config?.source}; reloads ${s.config?.reloads?.ok ?? 0} ok, ${s.config?.reloads?.failed ?? 0} refused${s.config?.reloads?.lastError ? ` (last: ${s.config.reloads.lastError})` : ''}`,
        `apps       ${(s.apps ?? []).map((a: { name: string; breaker_open: boolean }) => `${a.name}${a.breaker_open ? ' (breaker open)' : ''}`).join(', ')}`,
        `cache      ${JSON.stringify(s.cache ?? {})}`,
        `rules      ${s.rules?.hash ? String(s.rules.hash).slice(0, 16) : 'none'}`,
        `zone       ${s.zone ? `serial ${s.zone.serial ?? '-'} ${s.zone.serving ? 'serving' : 'not serving'}` : 'none'}`,
        ...upstreamLines(s.upstreams).trimEnd().split('\n').map((l, i) => `${i ? '          ' : 'upstreams'}  ${l}`),
        ...peerLines(s.peers).trimEnd().split('\n').map((l, i) => `${i ? '          ' : 'peers    '}  ${l}`),
      ];
      return lines.join('\n') + '\n';
    });
  }),
  verb('reload', '', 'Reloads the config file (as SIGHUP does); a refused config is printed by key and the running one stays.', undefined, {}, async (t, v, _a, out) => {
    const r = await call(t, 'POST', '/reload');
    return print(out, v, r, () => 'reloaded\n');
  }),
  verb('flush', '[NAME]', 'Drops cached answers (in recursive mode the iterator RRset cache too): for NAME and every name under it (a zone), or everything without NAME.', { min: 0, max: 1, what: 'NAME' }, {}, async (t, v, a, out) => {
    const r = await call(t, 'POST', `/cache/flush${a[0] ? `?name=${encodeURIComponent(a[0])}` : ''}`);
    return print(out, v, r, () => `flushed ${r.body.flushed} entries${a[0] ? ` at and under ${a[0]}` : ''}\n`);
  }),
  verb('push-rules', 'FILE', 'Pushes a rule set to this node (kept in its rule file when it has one); a refused set leaves the running one.', { min: 1, max: 1, what: 'the rule FILE' }, { check: { type: 'boolean', help: 'only check it on the node (a dry run)' } }, async (t, v, a, out) => {
    let body: Uint8Array;
    try {
      body = new Uint8Array(readFileSync(a[0]!));
    } catch (e) {
      throw new Error(describeFsError(e, a[0]!));
    }
    const r = await call(t, 'PUT', `/rules${v.check ? '?check=1' : ''}`, body);
    return print(out, v, r, () => `${r.body.applied ? 'applied' : 'would apply'} ${r.body.hash}${r.body.changed === false ? ' (unchanged)' : ''}\n`);
  }),
  verb('rules', '', 'Prints the rule set running on the node, with its hash.', undefined, {}, async (t, v, _a, out) => {
    const r = await call(t, 'GET', '/rules');
    return print(out, v, r, () => `# hash ${r.body.hash ?? 'none'}\n${r.body.text ?? ''}`);
  }),
  verb('clear-rules', '', 'Removes the rule set (a configured rule file is left holding no rules).', undefined, {}, async (t, v, _a, out) => {
    const r = await call(t, 'DELETE', '/rules');
    return print(out, v, r, () => 'rules cleared\n');
  }),
  verb('refresh-zone', '', 'Refreshes the zone copy now; a failed attempt leaves the copy in service.', undefined, {}, async (t, v, _a, out) => {
    const r = await call(t, 'POST', '/zone/refresh', undefined, 120_000);
    return print(out, v, r, () => `${r.body.outcome}: serial ${r.body.serial ?? '-'}\n`);
  }),
  verb('zone', '', "The zone copy's status (docs/zones.md).", undefined, {}, async (t, v, _a, out) => {
    const r = await call(t, 'GET', '/zone');
    return print(out, v, r, () => `${JSON.stringify(r.body, null, 2)}\n`);
  }),
  verb(
    'set-nta',
    'NAME [--seconds N | --until TIME] [--reason TEXT]',
    'Sets a negative trust anchor (RFC 7646): answers at and below NAME are not validated until it expires (at most 30 days); cached answers there are flushed.',
    { min: 1, max: 1, what: 'the NAME' },
    {
      seconds: { type: 'string', value: 'N', help: 'how long it lasts (default 3600)' },
      until: { type: 'string', value: 'TIME', help: 'when it ends, RFC 3339 (2026-12-31T00:00:00Z)' },
      reason: { type: 'string', value: 'TEXT', help: 'why (shown in /status)' },
    },
    async (t, v, a, out) => {
      const doc: Record<string, unknown> = { name: a[0] };
      if (typeof v.until === 'string') doc.until = v.until;
      else {
        const seconds = Number(v.seconds ?? 3600);
        if (!Number.isInteger(seconds) || seconds <= 0) throw new UsageError('control set-nta', `--seconds "${v.seconds}" is not a positive whole number`);
        doc.seconds = seconds;
      }
      if (typeof v.reason === 'string') doc.reason = v.reason;
      const r = await call(t, 'PUT', '/negative-trust-anchors', JSON.stringify(doc));
      return print(out, v, r, () => `negative trust anchor ${r.body.name} until ${r.body.until}\n`);
    },
  ),
  verb('clear-nta', 'NAME', 'Removes a negative trust anchor set at run time.', { min: 1, max: 1, what: 'the NAME' }, {}, async (t, v, a, out) => {
    const r = await call(t, 'DELETE', `/negative-trust-anchors?name=${encodeURIComponent(a[0]!)}`);
    if (r.status === 200 && r.body.removed === false) {
      if (v.json) out.stdout(`${JSON.stringify(r.body, null, 2)}\n`);
      out.stderr(`no negative trust anchor set at run time for ${a[0]}\n`);
      return EXIT.failed;
    }
    return print(out, v, r, () => `negative trust anchor ${a[0]} removed\n`);
  }),
  verb('list-nta', '', 'Lists the negative trust anchors in force (the config\'s and those set at run time).', undefined, {}, async (t, v, _a, out) => {
    const r = await call(t, 'GET', '/negative-trust-anchors');
    return print(out, v, r, () => {
      const list = (r.body.negative_trust_anchors ?? []) as Array<{ name: string; until: string | number; reason?: string }>;
      return list.length ? list.map((n) => `${n.name} until ${typeof n.until === 'number' ? new Date(n.until).toISOString() : n.until}${n.reason ? ` (${n.reason})` : ''}`).join('\n') + '\n' : 'none\n';
    });
  }),
  verb(
    'query-log',
    '[on|off|config] [--sample R]',
    'Shows or switches the query log at run time: on (every query, or the share --sample R picks), off, or config (back to [log] queries and query_sample). The switch holds across reloads until config.',
    { min: 0, max: 1, what: 'on, off or config' },
    { sample: { type: 'string', value: 'R', help: 'with on: the share of queries logged, above 0 up to 1 (default 1)' } },
    async (t, v, a, out) => {
      const what = a[0];
      let r: Reply;
      if (what === undefined) r = await call(t, 'GET', '/log/queries');
      else if (what === 'config') r = await call(t, 'DELETE', '/log/queries');
      else if (what === 'on' || what === 'off') {
        const sample = what === 'off' ? 0 : Number(v.sample ?? 1);
        if (!(sample > 0 && sample <= 1) && what === 'on') throw new UsageError('control query-log', `--sample "${v.sample}" is not a share above 0 up to 1`);
        r = await call(t, 'PUT', '/log/queries', JSON.stringify({ sample }));
      } else throw new UsageError('control query-log', `"${what}" is not on, off or config`);
      return print(out, v, r, () => `query log ${r.body.sample > 0 ? `on (sample ${r.body.sample})` : 'off'}, from ${r.body.from}\n`);
    },
  ),
  verb('peers', '', 'The site\'s other nodes this one pools its cache with, up or down.', undefined, {}, async (t, v, _a, out) => {
    const r = await call(t, 'GET', '/status');
    return print(out, v, { ...r, body: r.status === 200 ? r.body.peers : r.body }, () => peerLines(r.body.peers));
  }),
  verb('upstreams', '', 'Each upstream group\'s servers, up or down.', undefined, {}, async (t, v, _a, out) => {
    const r = await call(t, 'GET', '/status');
    return print(out, v, { ...r, body: r.status === 200 ? r.body.upstreams : r.body }, () => upstreamLines(r.body.upstreams));
  }),
];

export function controlCommand(argv: string[], out: Out): Promise<number> {
  return dispatch('control', 'Talks to a running node over its admin API (address and token from its config file).', CONTROL_VERBS, argv, out);
}
