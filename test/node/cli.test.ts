/** The edge-resolver command as a user runs it: serve, signals, reload, config check. */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { startSlowUpstream } from '../helpers/slow-upstream.js';
import { dig, kdig, run } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { root, startCli } from '../helpers/edge.js';
import { freePort, waitFor } from '../helpers/net.js';

const zone = readFileSync(join(root, 'test/fixtures/example.test.zone'), 'utf8');
const main = join(root, 'dist/host/adapters/node/main.js');

describe.skipIf(!needTools('nsd', 'dig', 'kdig', 'curl'))('edge-resolver CLI', () => {
  let nsd: Nsd;
  const dir = mkdtempSync(join(tmpdir(), 'edge-cli-'));
  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
  });
  afterAll(async () => nsd?.stop());

  it('serve --listen --doh --upstream answers dig, kdig +tcp, kdig +https and curl, and exits 0 on SIGTERM', async () => {
    const doh = await freePort();
    const dohHttp = await freePort();
    const admin = await freePort();
    const node = await startCli(['--doh', `127.0.0.1:${doh}`, '--doh-http', `127.0.0.1:${dohHttp}`, '--admin', `127.0.0.1:${admin}`, '--upstream', nsd.address]);
    try {
      expect((await dig(node.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
      expect((await kdig(node.dns, ['+tcp', 'www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
      // --doh is HTTPS with HTTP/2 (a self-signed certificate made at start): kdig +https.
      expect((await kdig({ host: '127.0.0.1', port: doh }, ['+https', 'www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
      const tls = await run('curl', ['-sk', `https://127.0.0.1:${doh}/dns-query?name=www.example.test&type=A`]);
      expect(JSON.parse(tls.stdout).Answer[0].data).toBe('192.0.2.1');
      const json = await run('curl', ['-s', `http://127.0.0.1:${dohHttp}/dns-query?name=www.example.test&type=A`]);
      expect(JSON.parse(json.stdout).Answer[0].data).toBe('192.0.2.1');
      const metrics = await run('curl', ['-s', `http://127.0.0.1:${admin}/metrics`]);
      expect(metrics.stdout).toMatch(/edge_queries_total\{transport="udp"\} \d+/);
      const status = JSON.parse((await run('curl', ['-s', `http://127.0.0.1:${admin}/status`])).stdout);
      expect(status.apps.map((a: { name: string }) => a.name)).toEqual(['override', 'forward', 'static_zone']);
    } finally {
      expect(await node.stop('SIGTERM')).toBe(0);
    }
    expect(node.output()).toMatch(/shutting down/);
    // The start-up line names each listener's protocol; DoH says which one is HTTPS.
    const d = `127.0.0.1:${node.dns.port}`;
    expect(node.output()).toContain(`udp=${d} tcp=${d} doh=https://127.0.0.1:${doh}/dns-query,http://127.0.0.1:${dohHttp}/dns-query admin=http://127.0.0.1:${admin}`);
  });

  it('stamps every log line with a time and a level; --log-format json gives one JSON object a line', async () => {
    const text = await startCli(['--upstream', nsd.address, '--doh', `127.0.0.1:${await freePort()}`, '--doh-http', `127.0.0.1:${await freePort()}`, '--admin', `127.0.0.1:${await freePort()}`]);
    expect(await text.stop('SIGTERM')).toBe(0);
    for (const line of text.output().trim().split('\n')) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) /);
    const json = await startCli(['--log-format', 'json', '--upstream', nsd.address, '--doh', `127.0.0.1:${await freePort()}`, '--doh-http', `127.0.0.1:${await freePort()}`, '--admin', `127.0.0.1:${await freePort()}`]);
    expect(await json.stop('SIGTERM')).toBe(0);
    const docs = json.output().trim().split('\n').map((l) => JSON.parse(l));
    for (const d of docs) expect(d).toMatchObject({ ts: expect.stringMatching(/Z$/), level: expect.stringMatching(/^(debug|info|warn|error)$/), msg: expect.any(String) });
    expect(docs.find((d) => d.msg === 'edge-resolver listening')).toMatchObject({ node: 'node1', pid: expect.any(Number) });
  });

  it('prints IPv6 listeners in brackets on the start-up line', async () => {
    const v6 = await freePort();
    const [doh, http, admin] = [await freePort(), await freePort(), await freePort()];
    const node = await startCli(['--listen', `[::1]:${v6}`, '--doh', `[::1]:${doh}`, '--doh-http', `[::1]:${http}`, '--admin', `[::1]:${admin}`, '--upstream', nsd.address]);
    try {
      expect(node.output()).toContain(`udp=127.0.0.1:${node.dns.port},[::1]:${v6} tcp=127.0.0.1:${node.dns.port},[::1]:${v6} doh=https://[::1]:${doh}/dns-query,http://[::1]:${http}/dns-query admin=http://[::1]:${admin}`);
    } finally {
      expect(await node.stop('SIGTERM')).toBe(0);
    }
  });

  it('on SIGTERM answers the queries in progress (UDP and TCP), then exits 0', async () => {
    const slow = await startSlowUpstream(nsd);
    const node = await startCli(['--upstream', slow.address]);
    try {
      // Below the upstream try timeout (1.5 s) and the shutdown grace (3 s).
      slow.delayMs = 1000;
      const relayed = slow.queries;
      const udp = dig(node.dns, ['host40.example.test', 'A']);
      const tcp = kdig(node.dns, ['+tcp', 'host41.example.test', 'A']);
      await waitFor(async () => slow.queries >= relayed + 2, 5000);
      const exited = node.stop('SIGTERM');
      expect((await udp).answers[0]?.data).toBe('198.51.100.41');
      expect((await tcp).answers[0]?.data).toBe('198.51.100.42');
      expect(await exited).toBe(0);
      expect(node.output()).toMatch(/shutting down/);
    } finally {
      await node.stop('SIGKILL');
      await slow.close();
    }
  });

  it('keeps the running config when a reload brings a bad one (SIGHUP and POST /reload)', async () => {
    const admin = await freePort();
    const path = join(dir, 'edge.toml');
    const good = `[server]\nrequest_timeout_ms = 3000\n[admin]\nlisten = "127.0.0.1:${admin}"\ntoken = "0123456789abcdef0123"\n[upstreams]\ndefault = ["${nsd.address}"]\n[apps.forward.config.routes]\n"." = "default"\n`;
    writeFileSync(path, good);
    const node = await startCli(['--config', path]);
    try {
      writeFileSync(path, good.replace('request_timeout_ms', 'request_timout_ms'));
      node.proc.kill('SIGHUP');
      await waitFor(async () => node.output().includes('config reload refused'), 5000);
      expect(node.output()).toMatch(/server: unknown key \\"request_timout_ms\\"|server: unknown key "request_timout_ms"/);
      expect((await dig(node.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
      // A route to a group that does not exist is refused by the forward app itself.
      writeFileSync(path, good.replace('"." = "default"', '"." = "nosuch"'));
      const r = await run('curl', ['-s', '-X', 'POST', '-H', 'authorization: Bearer 0123456789abcdef0123', `http://127.0.0.1:${admin}/reload`]);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false });
      expect(r.stdout).toMatch(/names upstream group \\"nosuch\\", which is not in \[upstreams\]/);
      const unauth = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', `http://127.0.0.1:${admin}/reload`]);
      expect(unauth.stdout).toBe('401');
      expect((await dig(node.dns, ['www.example.test', 'A'])).answers[0]?.data).toBe('192.0.2.1');
      const status = JSON.parse((await run('curl', ['-s', `http://127.0.0.1:${admin}/status`])).stdout);
      expect(status.config.reloads).toMatchObject({ ok: 0, failed: 2 });
      // A good config applies.
      writeFileSync(path, good);
      node.proc.kill('SIGHUP');
      await waitFor(async () => node.output().includes('config reloaded'), 5000);
    } finally {
      await node.stop();
    }
  });

  it('keeps the command-line flags across a reload', async () => {
    const path = join(dir, 'flags.toml');
    // The file's own upstream is a closed port; --upstream points at NSD and must survive SIGHUP.
    writeFileSync(path, `[upstreams]\ndefault = ["127.0.0.1:9"]\n[apps.forward.config.routes]\n"." = "default"\n`);
    const node = await startCli(['--config', path, '--upstream', nsd.address]);
    try {
      node.proc.kill('SIGHUP');
      await waitFor(async () => node.output().includes('config reloaded'), 5000);
      expect((await dig(node.dns, ['host7.example.test', 'A'])).answers[0]?.data).toMatch(/^198\.51\.100\./);
    } finally {
      await node.stop();
    }
  });

  it('config check names the bad key and exits non-zero', async () => {
    const path = join(dir, 'bad.toml');
    writeFileSync(path, '[cache]\nmax_entries = -5\n[upstreams]\ndefault = ["127.0.0.1:53"]\n');
    const r = await run(process.execPath, [main, 'config', 'check', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cache\.max_entries/);
    writeFileSync(path, '[upstreams]\ndefault = ["127.0.0.1:53"]\n');
    expect((await run(process.execPath, [main, 'config', 'check', path])).code).toBe(0);
  });

  it('zone check and zone compile through the main command', async () => {
    const zones = join(root, 'test/fixtures/zones');
    const ok = await run(process.execPath, [main, 'zone', 'check', join(zones, 'root-lookalike-2026082201.zone.gz'), '--trust-anchor', join(zones, 'trust-anchor.ds'), '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ serial: 2026082201, usable: true, zonemd: { status: 'verified' }, dnssec: { status: 'verified' } });
    const expired = await run(process.execPath, [main, 'zone', 'check', join(zones, 'root-lookalike-expired-2026082201.zone.gz'), '--trust-anchor', join(zones, 'trust-anchor.ds')]);
    expect(expired.code).not.toBe(0);
    expect(expired.stderr).toMatch(/not usable: DNSSEC expired/);
    const image = join(dir, 'root.img');
    const compiled = await run(process.execPath, [main, 'zone', 'compile', join(zones, 'root-lookalike-2026082201.zone.gz'), '--trust-anchor', join(zones, 'trust-anchor.ds'), '-o', image]);
    expect(compiled.code).toBe(0);
    expect(compiled.stdout).toMatch(/serial 2026082201, ZONEMD verified, DNSSEC verified/);
  });

  it('refuses an unknown command and flag with usage', async () => {
    const r = await run(process.execPath, [main, 'frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
    const f = await run(process.execPath, [main, 'serve', '--no-such-flag']);
    expect(f.code).not.toBe(0);
    expect(f.stderr).toMatch(/no-such-flag/);
  });
});
