/**
 * The embedded config `npm start` runs with: DNS on 127.0.0.1:5353 (UDP and TCP), DoH over HTTPS
 * on 127.0.0.1:8053 (a self-signed certificate made at start) and over plain HTTP on
 * 127.0.0.1:8080, admin and metrics on 127.0.0.1:9153, upstreams from /etc/resolv.conf or,
 * when it names none, public resolvers.
 */

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

const PUBLIC_RESOLVERS = ['1.1.1.1:53', '9.9.9.9:53'];

export function systemNameservers(path = '/etc/resolv.conf'): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const addr = m[1]!.replace(/%.*$/, '');
    const v = isIP(addr);
    if (v === 4) out.push(`${addr}:53`);
    else if (v === 6) out.push(`[${addr}]:53`);
  }
  return out;
}

export function defaultConfigText(): string {
  const servers = systemNameservers();
  const upstreams = servers.length ? servers : PUBLIC_RESOLVERS;
  return `# Embedded default config (edge-resolver serve without --config).
node_id = "node1"

[server]
listen = ["127.0.0.1:5353"]
doh = ["127.0.0.1:8053"]
doh_http = ["127.0.0.1:8080"]

[admin]
listen = "127.0.0.1:9153"

[upstreams]
default = ${JSON.stringify(upstreams)}

[apps.forward.config.routes]
"." = "default"
`;
}
