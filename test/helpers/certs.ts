/** Certificates made at test time with openssl (the DoH, DoT and TLS-upstream tests). */

import { join } from 'node:path';
import { run } from './dig.js';

/** A self-signed certificate for `name` and `ip` (its own CA), made now in `dir`. */
export async function makeCertificate(dir: string, name = 'localhost', ip = '127.0.0.1'): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.cert.pem`);
  const key = join(dir, `${name}.key.pem`);
  const r = await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
    '-addext', `subjectAltName=DNS:${name},IP:${ip}`, '-keyout', key, '-out', cert,
  ]);
  if (r.code !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}
