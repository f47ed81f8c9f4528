/**
 * Validation when zones are routed to different groups: `corp.example.` goes to its own
 * authoritative server (a group of one NSD that serves only that zone, as an operator routes
 * an internal signed zone), everything else to an NSD that serves the test root and
 * `example.`. The chain of trust for `www.corp.example.` needs keys from both: the DNSKEYs of
 * `corp.example.` from its server, and the DS of `corp.example.` and every key above it from
 * the other (the child's server answers REFUSED for the root, and for the DS only a NODATA from
 * the child side, RFC 4035 §2.4). Asking all of them of the answer's own group, the answer was
 * never secure.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { startEdge, type TestNode } from '../helpers/edge.js';
import { freePort } from '../helpers/net.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { signHierarchy, type SignedHierarchy } from '../helpers/signer.js';
import { needTools } from '../helpers/tools.js';

const r1 = 20 + Math.floor(Math.random() * 230);
const r2 = Math.floor(Math.random() * 250);
const parentHost = `127.${r1}.${r2}.1`;
const childHost = `127.${r1}.${r2}.2`;

describe.skipIf(!needTools('ldns-keygen', 'ldns-signzone', 'nsd', 'dig'))('key queries follow the routing table', () => {
  let h: SignedHierarchy;
  let parent: Nsd;
  let child: Nsd;
  let node: TestNode;

  beforeAll(async () => {
    await freePort(parentHost);
    await freePort(childHost);
    h = signHierarchy({ name: '.', children: [{ name: 'example.', children: [{ name: 'corp.example.', records: 'www IN A 192.0.2.7' }] }] }, { nsAddress: parentHost });
    const { 'corp.example.': corp, ...above } = h.zones;
    parent = await startNsd(above, { host: parentHost });
    child = await startNsd({ 'corp.example.': corp! }, { host: childHost });
    node = await startEdge(`[upstreams]
default = ["${parentHost}:${parent.port}"]
corp = ["${childHost}:${child.port}"]
[dnssec]
trust_anchor = "${h.anchorFile()}"
[apps.forward.config.routes]
"." = "default"
"corp.example." = "corp"
`);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await parent?.stop();
    await child?.stop();
  });

  it('validates an answer from the zone’s own group with the DS and keys above it from the parent’s', async () => {
    const a = await dig(node.dns, ['+dnssec', 'www.corp.example', 'A']);
    expect(a.status).toBe('NOERROR');
    expect(a.answers.filter((r) => r.type === 'A').map((r) => r.data)).toEqual(['192.0.2.7']);
    expect(a.flags).toContain('ad');
  });

  it('answers a DS query for the routed zone from its parent, validated', async () => {
    const a = await dig(node.dns, ['+dnssec', 'corp.example', 'DS']);
    expect(a.status).toBe('NOERROR');
    expect(a.answers.some((r) => r.type === 'DS')).toBe(true);
    expect(a.flags).toContain('ad');
  });

  it('proves a name absent in the routed zone with the same chain', async () => {
    const a = await dig(node.dns, ['+dnssec', 'nothere.corp.example', 'A']);
    expect(a.status).toBe('NXDOMAIN');
    expect(a.flags).toContain('ad');
  });
});
