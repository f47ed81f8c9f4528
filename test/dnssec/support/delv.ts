/**
 * delv (bind9-dnsutils) as the reference validator: it asks the given server for the answer
 * and for every DS and DNSKEY on the way down from the trust anchor in `-a` (and from nothing
 * else: no root hints, no built-in key), and says what it made of them.
 */

import { run } from '../../helpers/dig.js';
import type { Verdict } from '../../helpers/signer-hierarchy.js';

export interface DelvVerdict {
  verdict: Verdict | 'unknown';
  output: string;
}

/** `root`: the anchor delv uses (it ignores the others in the file). */
export async function delv(server: { host: string; port: number }, anchorFile: string, name: string, type: string, root = '.'): Promise<DelvVerdict> {
  const r = await run('delv', [`@${server.host}`, '-p', String(server.port), '-4', '-a', anchorFile, `+root=${root}`, '+nocrypto', name, type], 30_000);
  const output = `${r.stdout}\n${r.stderr}`;
  let verdict: DelvVerdict['verdict'] = 'unknown';
  if (/; (negative response, )?fully validated/.test(output)) verdict = 'secure';
  else if (/; (negative response, )?unsigned answer/.test(output)) verdict = 'insecure';
  else if (/resolution failed|validation failed|broken trust chain|insecurity proof failed|no valid signature|SERVFAIL/i.test(output)) verdict = 'bogus';
  return { verdict, output };
}
