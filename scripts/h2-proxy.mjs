#!/usr/bin/env node
// TLS + HTTP/2 in front of `wrangler dev`, for DoH clients that speak only HTTP/2 (kdig +https).
// `wrangler dev --local-protocol https` offers TLS but no ALPN "h2", so such clients cannot
// talk to it; a deployed Worker serves HTTP/2 itself and needs none of this.
//   node scripts/h2-proxy.mjs [--listen 127.0.0.1:8443] [--to http://127.0.0.1:8787]
// A self-signed certificate for 127.0.0.1 is made with openssl in a temporary folder.

import { createSecureServer, constants } from 'node:http2';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { listen: { type: 'string', default: '127.0.0.1:8443' }, to: { type: 'string', default: 'http://127.0.0.1:8787' } } });
const [host, port] = [values.listen.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(values.listen)?.[1] ?? 8443)];
const target = new URL(values.to);

const dir = mkdtempSync(join(tmpdir(), 'edge-h2-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '7', '-subj', '/CN=127.0.0.1',
  '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });

const server = createSecureServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')), allowHTTP1: true }, async (req, res) => {
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!k.startsWith(':') && k !== 'host' && k !== 'connection') headers[k] = v;
    const method = req.method ?? 'GET';
    const upstream = await fetch(new URL(req.url, target), { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : Buffer.concat(chunks) });
    const out = {};
    upstream.headers.forEach((v, k) => {
      if (!['connection', 'transfer-encoding', 'keep-alive'].includes(k)) out[k] = v;
    });
    res.writeHead(upstream.status, out);
    res.end(Buffer.from(await upstream.arrayBuffer()));
  } catch (e) {
    res.writeHead(constants.HTTP_STATUS_BAD_GATEWAY, { 'content-type': 'text/plain' });
    console.error(`h2-proxy: ${e.message}`);
    res.end(`proxy: ${e.message}\n`);
  }
});
server.listen(port, host, () => console.error(`h2-proxy: https://${host}:${port} (HTTP/2 and HTTP/1.1) -> ${target.origin}`));
