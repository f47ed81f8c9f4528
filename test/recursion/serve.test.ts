/**
 * `edge-resolver serve` in recursive mode, the real binary with a config file, against the
 * loopback NSD world (world.ts): a test root signed at test time and its trust anchor, the same
 * root text as the verified local copy. Plain resolution, CNAME across zones, DNAME, a lame
 * delegation, a dead server, a slow server, glue outside the bailiwick (neither used nor
 * cached), a forged additional record (not cached), QNAME minimisation on and off (what the
 * authoritative servers logged), and the local root: in service (no query reaches the test
 * root server), then expired (queries reach it).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig } from '../helpers/dig.js';
import { startCli, type CliNode } from '../helpers/edge.js';
import { insertRecords, namedRoot, queryName, startHierarchy, wireRecords, type Hierarchy } from '../helpers/hierarchy.js';
import { freePort, waitFor } from '../helpers/net.js';
import { signHierarchy, type SignedHierarchy } from '../helpers/signer.js';
import { needTools } from '../helpers/tools.js';
import { SERVERS, seen, trapZones, worldZones, type ServerId } from './world.js';

const runs = needTools('nsd', 'dig', 'ldns-signzone', 'ldns-keygen');
const dir = mkdtempSync(join(tmpdir(), 'edge-recursive-serve-'));
let h: Hierarchy;
let root: SignedHierarchy;

/** The world's root zone signed with test keys (its apex NS is `ns.`, at the root server's address). */
function signedRoot(ip: Record<string, string>): SignedHierarchy {
  const body = worldZones(ip)['.']!
    .split('\n')
    .filter((l) => !/^\$|^\. IN (SOA|NS) /.test(l))
    .join('\n');
  return signHierarchy({ name: '.', records: body }, { nsAddress: ip.root!, dir: join(dir, 'signer') });
}

async function metric(admin: number, name: string, match = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(match))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

async function status(admin: number): Promise<{ resolver: Record<string, unknown>; zone: Record<string, unknown> | null }> {
  return (await fetch(`http://127.0.0.1:${admin}/status`)).json() as never;
}

/** The binary with a config file: recursive mode, hints at the world's root, `copy` as the local root. */
async function serve(name: string, o: { qmin: boolean; copy: string }): Promise<{ cli: CliNode; admin: number; rootBefore: number }> {
  const hints = join(dir, 'named.root');
  writeFileSync(hints, namedRoot({ 'a.root-servers.test.': h.ip.root! }));
  const admin = await freePort();
  const config = join(dir, `${name}.toml`);
  writeFileSync(
    config,
    `node_id = "${name}"
[server]
request_timeout_ms = 6000
[admin]
listen = "127.0.0.1:${admin}"
[resolver]
mode = "recursive"
root_hints = "${hints}"
qname_minimisation = ${o.qmin}
[zone]
source = "${o.copy}"
[dnssec]
trust_anchor = "${root.anchorFile()}"
`,
  );
  // The probe is a name the tests do not use.
  const cli = await startCli(['--config', config], 'probe.dummy');
  await waitFor(async () => (await status(admin)).zone?.state === 'serving', 20_000);
  h.clearLogs();
  // The start-up probe may have gone out before the copy loaded.
  return { cli, admin, rootBefore: await metric(admin, 'edge_recursion_root_source_total', 'source="root_servers"') };
}

/** The answer section as "TYPE data"; a SERVFAIL shows as its EDE line, so a failure says why. */
const data = async (n: { host: string; port: number }, name: string, type = 'A') => {
  const r = await dig(n, [name, type]);
  if (r.status === 'SERVFAIL') return [`SERVFAIL ${/; EDE: .*/.exec(r.raw)?.[0] ?? ''}`];
  return r.answers.map((a) => `${a.type} ${a.data}`);
};
const all = (...ids: ServerId[]) => ids.flatMap((id) => seen(h, id));

describe.skipIf(!runs)('edge-resolver serve --mode recursive (the binary, a config file)', () => {
  let node: { cli: CliNode; admin: number; rootBefore: number };

  beforeAll(async () => {
    h = await startHierarchy({
      servers: SERVERS,
      zones: (ip) => {
        root = signedRoot(ip);
        return { ...worldZones(ip), '.': root.zones['.']! };
      },
      perServer: () => ({ trap: trapZones() }),
    });
    const copy = join(dir, 'root.zone');
    writeFileSync(copy, root.zones['.']!);
    node = await serve('qmin-on', { qmin: true, copy });
  }, 60_000);

  afterAll(async () => {
    await node?.cli.stop();
    await h?.stop();
  });

  const dns = () => node.cli.dns;

  it('resolves a name, a CNAME into another zone and a DNAME, with no upstream resolver', async () => {
    expect(await data(dns(), 'www.example.test')).toEqual(['A 192.0.2.1']);
    expect(await data(dns(), 'alias.example.test')).toEqual(['CNAME www.target.other.', 'A 192.0.2.10']);
    expect(await data(dns(), 'www.legacy.example.test')).toEqual(['DNAME target.other.', 'CNAME www.target.other.', 'A 192.0.2.10']);
    expect((await dig(dns(), ['nope.example.test', 'A'])).status).toBe('NXDOMAIN');
    expect(seen(h, 'root')).toEqual([]);
  });

  it('uses the other server of a lame delegation, and of one whose first server is dead', async () => {
    for (let i = 0; i < 3; i++) expect(await data(dns(), `h${i}.lame.test`)).toEqual(['A 192.0.2.200']);
    expect(seen(h, 'lamebox').filter((x) => x.endsWith('lame.test. A')).length).toBeLessThanOrEqual(1);
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) expect(await data(dns(), `h${i}.dead.test`)).toEqual(['A 192.0.2.200']);
    expect(Date.now() - t0).toBeLessThan(6000); // the dead address costs one timeout, then is set aside
  });

  it('answers through a slow server', async () => {
    h.servers.slowbox!.behaviour.delayMs = 1200;
    for (let i = 0; i < 3; i++) expect(await data(dns(), `h${i}.slow.test`)).toEqual(['A 192.0.2.200']);
  });

  it('neither uses nor caches glue from outside the bailiwick of the server that sent it', async () => {
    const forged = await wireRecords(`ns.oob.other. 3600 IN A ${h.ip.trap}`);
    for (const id of ['tld1', 'tld2'] as const) {
      h.servers[id]!.behaviour.mutate = (reply, query) => (queryName(query).endsWith('oob.test.') ? insertRecords(reply, 2, forged) : reply);
    }
    expect(await data(dns(), 'www.oob.test')).toEqual(['A 192.0.2.9']);
    expect(seen(h, 'other')).toContain('ns.oob.other. A');
    // not cached: the address of ns.oob.other. is still the real one
    expect(await data(dns(), 'ns.oob.other')).toEqual([`A ${h.ip.multi}`]);
    expect(seen(h, 'trap')).toEqual([]);
  });

  it('never caches a forged record from the additional section', async () => {
    const forged = await wireRecords('deep.er.target.other. 3600 IN A 198.51.100.66');
    for (const id of ['ex1', 'ex2'] as const) h.servers[id]!.behaviour.mutate = (reply) => insertRecords(reply, 2, forged);
    expect(await data(dns(), 'mail.example.test')).toEqual(['A 192.0.2.25']);
    expect(await data(dns(), 'deep.er.target.other')).toEqual(['A 192.0.2.11']);
    expect(seen(h, 'tgt')).toContain('deep.er.target.other. A');
  });

  it('minimises QNAMEs: each server learns one label more than its zone cut', async () => {
    expect(await data(dns(), 'a.b.c.example.test')).toEqual(['A 192.0.2.3']);
    const ex = all('ex1', 'ex2');
    expect(ex).toContain('a.b.c.example.test. A');
    expect(ex.some((x) => x === 'c.example.test. A' || x === 'b.c.example.test. A')).toBe(true);
  });

  it('asked no root server while the copy was in service', async () => {
    expect(await metric(node.admin, 'edge_recursion_root_source_total', 'source="local"')).toBeGreaterThan(0);
    expect(await metric(node.admin, 'edge_recursion_root_source_total', 'source="root_servers"')).toBe(node.rootBefore);
    expect((await status(node.admin)).resolver).toMatchObject({ mode: 'recursive', root_source: 'local', qname_minimisation: true });
  });

  it('without minimisation sends the full name; when the copy expires the root server is asked', async () => {
    // A copy whose signatures expire in a few seconds; the root server keeps its 30-day ones.
    const now = Math.floor(Date.now() / 1000);
    const expiring = join(dir, 'root-expiring.zone');
    writeFileSync(expiring, root.byName.get('.')!.resign!({ inception: now - 3600, expiration: now + 12 }));
    const other = await serve('qmin-off', { qmin: false, copy: expiring });
    try {
      expect(await data(other.cli.dns, 'a.b.c.example.test')).toEqual(['A 192.0.2.3']);
      expect(all('tld1', 'tld2')).toContain('a.b.c.example.test. A');
      expect(seen(h, 'root')).toEqual([]);
      expect((await status(other.admin)).resolver.root_source).toBe('local');
      // past the expiry the copy is out of service, and what was learned from it is gone too
      await waitFor(async () => (await status(other.admin)).resolver.root_source === 'root_servers', 20_000, 250);
      expect((await status(other.admin)).zone?.expired).toBe(true);
      h.clearLogs();
      // other. was never asked for on this node (the start-up probe was for dummy.)
      expect(await data(other.cli.dns, 'www.target.other')).toEqual(['A 192.0.2.10']);
      expect(seen(h, 'root').length).toBeGreaterThan(0);
      expect(await metric(other.admin, 'edge_recursion_root_source_total', 'source="root_servers"')).toBeGreaterThan(other.rootBefore);
    } finally {
      await other.cli.stop();
    }
  }, 60_000);
});

