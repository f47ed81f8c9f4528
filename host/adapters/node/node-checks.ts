/**
 * What a config needs from this machine on Node beyond what the schema and the node check:
 * the DoH and DoT certificate and key, read and paired as the TLS listeners will, each TLS
 * upstream group's CA file, read and parsed as its connections will, and the folder of the
 * dnstap file. Run by the Node
 * platform's parse, so `config check`, `serve` and every reload (SIGHUP, POST /reload) refuse
 * the same config with the same messages.
 */

import { X509Certificate } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { createSecureContext } from 'node:tls';
import type { Config } from '../../core/config.js';
import { describeFsError } from './cli/args.js';

/**
 * One line per problem, each naming its key; empty when the config can run here. `baseDir`: the
 * config file's folder, which relative `tls_ca` and `dnstap.file` paths start from.
 */
export function nodeConfigProblems(c: Config, baseDir = process.cwd()): string[] {
  const problems = upstreamCaProblems(c, baseDir);
  const workers = workerCount(c);
  if (workers > 1) {
    for (const k of ['listen', 'dot', 'doh', 'doh_http'] as const) {
      for (const l of c.server[k]) if (/:0$/.test(l)) problems.push(`server.${k}: "${l}": ${workers} workers (server.workers) share each listener, so it needs a fixed port, not 0`);
    }
    for (const k of ['doh', 'dot'] as const) {
      if (c.server[k].length > 0 && (c.server.tls_cert === undefined || c.server.tls_key === undefined)) {
        problems.push(`server.${k}: ${workers} workers (server.workers) need server.tls_cert and server.tls_key: each would make its own self-signed certificate`);
      }
    }
  }
  problems.push(...dnstapProblems(c, baseDir, workers));
  const { tls_cert: cert, tls_key: key } = c.server;
  // The HTTPS DoH and the DoT listeners use them; without such a listener they are not read.
  if ((c.server.doh.length === 0 && c.server.dot.length === 0) || cert === undefined || key === undefined) return problems;
  const read = (k: string, path: string): Buffer | null => {
    try {
      return readFileSync(path);
    } catch (e) {
      problems.push(`server.${k}: ${describeFsError(e, path)}`);
      return null;
    }
  };
  const certPem = read('tls_cert', cert);
  const keyPem = read('tls_key', key);
  if (certPem && keyPem) {
    try {
      createSecureContext({ cert: certPem, key: keyPem });
    } catch (e) {
      problems.push(`server.tls_cert, server.tls_key: ${cert} and ${key} are not a PEM certificate and its private key (${(e as Error).message})`);
    }
  }
  return problems;
}

/** Each TLS group's `tls_ca`: readable, and PEM certificates (what its connections will trust). */
function upstreamCaProblems(c: Config, baseDir: string): string[] {
  const problems: string[] = [];
  for (const [name, g] of Object.entries(c.upstreams)) {
    if (!g.tls || g.tls_ca === undefined) continue;
    const path = resolve(baseDir, g.tls_ca);
    let pem: string;
    try {
      pem = readFileSync(path, 'utf8');
    } catch (e) {
      problems.push(`upstreams.${name}.tls_ca: ${describeFsError(e, path)}`);
      continue;
    }
    try {
      new X509Certificate(pem);
    } catch (e) {
      problems.push(`upstreams.${name}.tls_ca: ${path} is not a PEM certificate (${(e as Error).message})`);
    }
  }
  return problems;
}

/** `server.workers` as a number of processes ("auto": one per core). */
export function workerCount(c: Config): number {
  return c.server.workers === 'auto' ? availableParallelism() : c.server.workers;
}

/** The dnstap file is made at start: its folder must exist and take new files; one process writes it. */
function dnstapProblems(c: Config, baseDir: string, workers: number): string[] {
  const file = c.dnstap.file;
  if (file === undefined) return [];
  const path = resolve(baseDir, file);
  if (workers > 1) return [`dnstap.file: ${workers} workers (server.workers) would each write ${path} over the others; use dnstap.socket (a collector takes one stream per worker) or one worker`];
  const dir = dirname(path);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return [];
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such folder' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    return [`dnstap.file: cannot write ${path}: ${why} (${dir})`];
  }
}
