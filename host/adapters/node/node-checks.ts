/**
 * What a config needs from this machine on Node beyond what the schema and the node check:
 * the DoH and DoT certificate and key, read and paired as the TLS listeners will. Run by the Node
 * platform's parse, so `config check`, `serve` and every reload (SIGHUP, POST /reload) refuse
 * the same config with the same messages.
 */

import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Config } from '../../core/config.js';
import { describeFsError } from './cli/args.js';

/** One line per problem, each naming its key; empty when the config can run here. */
export function nodeConfigProblems(c: Config): string[] {
  const problems: string[] = [];
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
