/**
 * The certificate the TLS listeners (DoH over HTTPS, DNS over TLS) present: the configured PEM
 * pair (`server.tls_cert`, `server.tls_key`) or, without one, a self-signed certificate made at
 * start, so both work out of the box for testing; production configures a real one.
 */

import { readFileSync } from 'node:fs';
import { generate } from 'selfsigned';

/** PEM files, or 'self-signed' for a certificate made at start. */
export type CertificateSetting = 'self-signed' | { cert: string; key: string };

export interface Certificate {
  cert: string | Buffer;
  key: string | Buffer;
  /** Set for the self-signed certificate, to log. */
  fingerprint?: string;
}

let ephemeral: Promise<{ cert: string; key: string; fingerprint: string }> | null = null;

/** One self-signed certificate per process, for localhost and the loopback addresses. */
function selfSignedCertificate() {
  ephemeral ??= generate([{ name: 'commonName', value: 'edge-resolver' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 365 * 86_400_000),
    extensions: [
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  }).then((p) => ({ cert: p.cert, key: p.private, fingerprint: p.fingerprint }));
  return ephemeral;
}

export async function loadCertificate(setting: CertificateSetting): Promise<Certificate> {
  if (setting === 'self-signed') return selfSignedCertificate();
  return { cert: readFileSync(setting.cert), key: readFileSync(setting.key) };
}
