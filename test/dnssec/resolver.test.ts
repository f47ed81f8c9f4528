/**
 * Validation through the whole resolver, over real sockets: the signed test hierarchy
 * (signer-hierarchy.ts) served by NSD, the resolver forwarding to it with the hierarchy's root
 * as its trust anchor, and dig as the client. Every case of the hierarchy must come out as the
 * validator's own test says (secure: AD; insecure: no AD; bogus: SERVFAIL with the EDE that
 * names the name and the server), and the client-side rules hold: AD only when asked (DO or
 * AD, RFC 6840 §5.7–5.8), CD=1 gets the data unvalidated (§5.9) and not cached as secure,
 * DO=0 never sees RRSIG/NSEC/NSEC3, a negative trust anchor turns bogus into insecure.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig, type DigAnswer } from '../helpers/dig.js';
import { startEdge, type TestNode } from '../helpers/edge.js';
import { freePort } from '../helpers/net.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { signHierarchy, type SignedHierarchy } from '../helpers/signer.js';
import { HIERARCHY_CASES, testHierarchy } from '../helpers/signer-hierarchy.js';
import { needTools } from '../helpers/tools.js';

const host = `127.${20 + Math.floor(Math.random() * 230)}.${Math.floor(Math.random() * 250)}.1`;

/** The Extended DNS Errors dig printed: code and EXTRA-TEXT. */
export function edes(r: DigAnswer): Array<{ code: number; text: string }> {
  return [...r.raw.matchAll(/^; EDE: (\d+)[^:\n]*(?::\s*\((.*)\))?$/gm)].map((m) => ({ code: Number(m[1]), text: m[2] ?? '' }));
}

async function metric(node: TestNode, name: string, labels: Record<string, string>): Promise<number> {
  const text = await node.node.metrics.text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe.skipIf(!needTools('ldns-keygen', 'ldns-signzone', 'dnssec-keygen', 'dnssec-signzone', 'nsd', 'dig'))('validation through the resolver (signed hierarchy on NSD, dig)', () => {
  let h: SignedHierarchy;
  let nsd: Nsd;
  let edge: TestNode;
  const upstream = () => `${host}:${nsd.port}`;

  beforeAll(async () => {
    await freePort(host);
    h = signHierarchy(testHierarchy(), { nsAddress: host });
    nsd = await startNsd(h.zones, { host });
    edge = await startEdge(config());
  }, 120_000);

  const TOKEN = 'a-long-admin-token-for-dnssec-tests';
  /** The node's config; `dnssec` adds keys to [dnssec], `routes` lines to the forward app's routes. */
  function config(o: { dnssec?: string; routes?: string } = {}): string {
    return `
[admin]
listen = "127.0.0.1:0"
token = "${TOKEN}"
[upstreams]
default = ["${upstream()}"]
plain = ["${upstream()}"]
[dnssec]
trust_anchor = "${h.anchorFile()}"
${o.dnssec ?? ''}
[apps.forward.config.routes]
"." = "default"
${o.routes ?? ''}
`;
  }
  const reload = async (o: { dnssec?: string; routes?: string } = {}) => expect(await edge.node.reload(`[server]\nlisten = ["127.0.0.1:0"]\n${config(o)}`)).toEqual({ ok: true, errors: [] });
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${edge.edge.listening.admin!.port}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers ?? {}) } });
  const ntas = async () => ((await (await admin('/status')).json()) as { dnssec: { negative_trust_anchors: Array<{ name: string; until: string; reason: string }> } }).dnssec.negative_trust_anchors;

  afterAll(async () => {
    await edge?.stop();
    await nsd?.stop();
  });

  const ask = (name: string, type: string, ...flags: string[]) => dig(edge.dns, ['+tries=1', '+time=5', ...flags, name, type]);

  for (const c of HIERARCHY_CASES) {
    it(`${c.name} ${c.type}: ${c.verdict} (${c.what})`, async () => {
      const r = await ask(c.name, c.type, '+dnssec');
      if (c.verdict === 'bogus') {
        expect(r.status, r.raw).toBe('SERVFAIL');
        expect(r.flags).not.toContain('ad');
        const [e, ...more] = edes(r);
        expect(more).toEqual([]);
        expect(e?.code, r.raw).toBe(c.ede ?? 6);
        expect(e!.text).toContain(c.name.split('.').slice(-3).join('.'));
        expect(e!.text).toContain(upstream());
        return;
      }
      expect(['NOERROR', 'NXDOMAIN'], r.raw).toContain(r.status);
      if (c.verdict === 'secure') expect(r.flags, r.raw).toContain('ad');
      else expect(r.flags, r.raw).not.toContain('ad');
    }, 30_000);
  }

  it('sets AD for a client that asked with the AD bit and no DO, and for none that asked with neither (RFC 6840 §5.7–5.8)', async () => {
    const withAd = await ask('www.secure.test.', 'A', '+adflag');
    expect(withAd.flags).toContain('ad');
    const neither = await ask('www.secure.test.', 'A', '+noadflag');
    expect(neither.status).toBe('NOERROR');
    expect(neither.flags).not.toContain('ad');
  });

  it('never shows a DO=0 client RRSIG, NSEC or NSEC3, in answers or denials', async () => {
    for (const [name, type] of [['www.secure.test.', 'A'], ['nope.secure.test.', 'A'], ['nope.nsec3.test.', 'A'], ['x.wild.secure.test.', 'TXT']] as const) {
      const r = await ask(name, type);
      const types = [...r.answers, ...r.authority].map((a) => a.type);
      expect(types, `${name} ${type}: ${r.raw}`).not.toContain('RRSIG');
      expect(types).not.toContain('NSEC');
      expect(types).not.toContain('NSEC3');
      const signed = await ask(name, type, '+dnssec');
      expect([...signed.answers, ...signed.authority].map((a) => a.type)).toContain('RRSIG');
    }
  });

  it('gives a CD=1 client the data unvalidated, without AD, and does not cache it as secure or let it hide the bogus answer', async () => {
    const cd = await ask('www.expired.test.', 'A', '+dnssec', '+cd');
    expect(cd.status).toBe('NOERROR');
    expect(cd.answers.find((a) => a.type === 'A')?.data).toBe('192.0.2.41');
    expect(cd.flags).not.toContain('ad');
    const secureCd = await ask('www.rsa.test.', 'A', '+dnssec', '+cd');
    expect(secureCd.flags).not.toContain('ad');
    // asked again without CD: validated, not the CD answer from the cache
    expect((await ask('www.expired.test.', 'A', '+dnssec')).status).toBe('SERVFAIL');
    expect((await ask('www.rsa.test.', 'A', '+dnssec')).flags).toContain('ad');
  });

  it('answers a remembered bogus name from the bogus cache without asking again, with the same EDE', async () => {
    const first = await ask('www.notyet.test.', 'A', '+dnssec');
    expect(edes(first)[0]?.code).toBe(8);
    const asked = await metric(edge, 'edge_upstream_queries_total', { result: 'bogus' });
    const again = await ask('www.notyet.test.', 'A', '+dnssec');
    expect(again.status).toBe('SERVFAIL');
    expect(edes(again)[0]?.code).toBe(8);
    expect(await metric(edge, 'edge_upstream_queries_total', { result: 'bogus' })).toBe(asked);
  });

  it('counts bogus answers by server and reason', async () => {
    await ask('www.nosig.test.', 'A', '+dnssec');
    expect(await metric(edge, 'edge_dnssec_bogus_total', { server: upstream(), reason: 'rrsigs-missing' })).toBeGreaterThan(0);
    expect(await metric(edge, 'edge_dnssec_validations_total', { state: 'secure' })).toBeGreaterThan(0);
  });

  it('treats a name under a negative trust anchor as insecure: the data, no AD', async () => {
    edge.node.negativeAnchors.set('wrongkey.test.', Date.now() + 60_000, 'test');
    try {
      const r = await ask('www.wrongkey.test.', 'A', '+dnssec');
      expect(r.status, r.raw).toBe('NOERROR');
      expect(r.flags).not.toContain('ad');
      expect(r.answers.find((a) => a.type === 'A')?.data).toBe('192.0.2.44');
    } finally {
      edge.node.negativeAnchors.remove('wrongkey.test.');
    }
  });

  it('takes negative trust anchors pushed through the admin API, with an expiry, lists them in /status, and drops them on DELETE', async () => {
    expect((await ask('www.dsmismatch.test.', 'A', '+dnssec')).status).toBe('SERVFAIL');
    const put = await admin('/negative-trust-anchors', { method: 'PUT', body: JSON.stringify({ name: 'dsmismatch.test', seconds: 600, reason: 'DS rollover gone wrong' }) });
    expect(put.status).toBe(200);
    const r = await ask('www.dsmismatch.test.', 'A', '+dnssec');
    expect(r.status, r.raw).toBe('NOERROR');
    expect(r.flags).not.toContain('ad');
    const listed = await ntas();
    expect(listed).toEqual([{ name: 'dsmismatch.test.', until: expect.any(String), reason: 'DS rollover gone wrong' }]);
    expect(Date.parse(listed[0]!.until) - Date.now()).toBeGreaterThan(590_000);
    // a reload keeps a pushed one
    await reload();
    expect((await ntas()).map((n) => n.name)).toEqual(['dsmismatch.test.']);
    // writes need the token; an NTA without an expiry or with a bad name is refused
    expect((await fetch(`http://127.0.0.1:${edge.edge.listening.admin!.port}/negative-trust-anchors`, { method: 'PUT', body: '{"name":"x.test","seconds":60}' })).status).toBe(401);
    expect((await admin('/negative-trust-anchors', { method: 'PUT', body: JSON.stringify({ name: 'x.test' }) })).status).toBe(400);
    expect((await admin('/negative-trust-anchors', { method: 'PUT', body: JSON.stringify({ name: 'a..b', seconds: 60 }) })).status).toBe(400);
    const del = await admin('/negative-trust-anchors?name=dsmismatch.test.', { method: 'DELETE' });
    expect(await del.json()).toMatchObject({ removed: true });
    expect(await ntas()).toEqual([]);
    const after = await ask('www.dsmismatch.test.', 'A', '+dnssec');
    expect(after.status).toBe('SERVFAIL');
    expect(edes(after)[0]?.code).toBe(9);
  });

  it('takes negative trust anchors from [dnssec] negative_trust_anchors, and a reload without them takes them away', async () => {
    await reload({ dnssec: 'negative_trust_anchors = ["nosig.test.", { name = "notyet.test", until = 2099-01-01T00:00:00Z, reason = "clock skew at the signer" }]\nnta_lifetime = 3600' });
    try {
      for (const name of ['www.nosig.test.', 'www.notyet.test.']) {
        const r = await ask(name, 'A', '+dnssec');
        expect(r.status, r.raw).toBe('NOERROR');
        expect(r.flags).not.toContain('ad');
      }
      const listed = await ntas();
      expect(listed.map((n) => [n.name, n.reason])).toEqual([
        ['nosig.test.', 'config'],
        ['notyet.test.', 'clock skew at the signer'],
      ]);
      expect(listed[1]!.until).toBe('2099-01-01T00:00:00.000Z');
      expect(Math.abs(Date.parse(listed[0]!.until) - Date.now() - 3_600_000)).toBeLessThan(60_000);
    } finally {
      await reload();
    }
    expect(await ntas()).toEqual([]);
    expect((await ask('www.nosig.test.', 'A', '+dnssec')).status).toBe('SERVFAIL');
    const bad = await edge.node.reload(`[server]\nlisten = ["127.0.0.1:0"]\n${config({ dnssec: 'negative_trust_anchors = [{ name = "x.test", until = "soon" }]' })}`);
    expect(bad.ok).toBe(false);
    expect(bad.errors.join('\n')).toMatch(/dnssec\.negative_trust_anchors\.0\.until/);
  });

  it('passes on the answers of a group in [dnssec] unvalidated_groups unvalidated: the data, no AD, never bogus', async () => {
    await reload({ dnssec: 'unvalidated_groups = ["plain"]', routes: '"expired.test." = "plain"\n"rsa.test." = "plain"' });
    try {
      const expired = await ask('www.expired.test.', 'A', '+dnssec');
      expect(expired.status, expired.raw).toBe('NOERROR');
      expect(expired.answers.find((a) => a.type === 'A')?.data).toBe('192.0.2.41');
      expect(expired.flags).not.toContain('ad');
      const signed = await ask('www.rsa.test.', 'A', '+dnssec');
      expect(signed.flags).not.toContain('ad');
      // the other groups still validate
      expect((await ask('www.secure.test.', 'A', '+dnssec')).flags).toContain('ad');
    } finally {
      await reload();
    }
    expect((await ask('www.expired.test.', 'A', '+dnssec')).status).toBe('SERVFAIL');
    const bad = await edge.node.reload(`[server]\nlisten = ["127.0.0.1:0"]\n${config({ dnssec: 'unvalidated_groups = ["nosuch"]' })}`);
    expect(bad.errors.join('\n')).toContain('dnssec.unvalidated_groups: "nosuch" is not a group in [upstreams]');
  });
});
