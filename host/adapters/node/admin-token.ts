/**
 * Where a node's admin token comes from on Node when the config gives none: a file made at first
 * start, readable by the node's user only (docs/operations.md, "The admin token"). With it, admin
 * writes (reload, flush, rules, zone refresh, negative trust anchors) work out of the box, and
 * `edge-resolver control` on the same machine finds the same file.
 *
 * The file is `admin.token_file`, or by default `$STATE_DIRECTORY/admin.token` under systemd
 * (StateDirectory=), else `$XDG_STATE_HOME/edge-resolver/admin.token`
 * (`~/.local/state/edge-resolver/admin.token`). `admin.token_file = ""` switches it off: without
 * `admin.token`, admin writes are then refused.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/log.js';

export function defaultTokenFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STATE_DIRECTORY) return join(env.STATE_DIRECTORY.split(':')[0]!, 'admin.token');
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'edge-resolver', 'admin.token');
}

/** The token file a config uses, or null when it needs none (a token in the config, no admin listener, switched off). */
export function tokenFileOf(c: Config, baseDir: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (c.admin.token || !c.admin.listen || c.admin.token_file === '') return null;
  return c.admin.token_file ? resolve(baseDir, c.admin.token_file) : defaultTokenFile(env);
}

/** The token in `file`; throws a one-line Error when it cannot be read or holds none. */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw Object.assign(new Error(`admin.token_file: cannot read ${file}${code ? ` (${code})` : ''}`), { code });
  }
  const token = text.trim();
  if (token.length < 16 || /\s/.test(token)) throw new Error(`admin.token_file: ${file} holds no token (one line of at least 16 characters)`);
  return token;
}

/**
 * The admin token for `c`: the config's, else the token file's, made (32 random bytes, hex, mode
 * 0600 in a folder made 0700) when it does not exist yet. Throws a one-line Error.
 */
export function adminToken(c: Config, baseDir: string, logger: Logger): string | undefined {
  const file = tokenFileOf(c, baseDir);
  if (!file) return c.admin.token;
  try {
    const token = readTokenFile(file);
    const mode = statSync(file).mode & 0o077;
    if (mode) logger.log('warn', 'the admin token file is readable by others; chmod 600 it', { file });
    return token;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const token = randomBytes(32).toString('hex');
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // wx: two nodes starting at once do not overwrite each other's token.
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readTokenFile(file);
    throw new Error(`admin.token_file: cannot make ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); set admin.token, or admin.token_file to a writable place`);
  }
  logger.log('info', 'admin token made at first start; edge-resolver control reads it from this file', { file });
  return token;
}
