/**
 * One validation path: `config check`, `serve` and a reload refuse the same broken configs with
 * the same messages, every problem on its own line naming its key. `config check` runs what
 * `serve` runs short of opening listeners (ResolverNode.check: parse, the Node checks, reading
 * what the config names, building the chain), so nothing it accepts is refused at start.
 */

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../host/core/config.js';
import { silentLogger } from '../../host/core/log.js';
import { EdgeNode } from '../../host/adapters/node/edge-node.js';
import { checkConfigFile } from '../../host/adapters/node/cli/serve.js';
import { root } from '../helpers/edge.js';

const main = join(root, 'dist/host/adapters/node/main.js');
const dir = mkdtempSync(join(tmpdir(), 'edge-config-check-'));

function cli(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [main, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}

const upstreams = '[upstreams]\ndefault = ["127.0.0.1:9"]\n';
const server = '[server]\nlisten = ["127.0.0.1:0"]\n';
const base = `${server}${upstreams}`;
const readmeToml = /```toml\n([\s\S]*?)```/.exec(readFileSync(join(root, 'README.md'), 'utf8'))![1]!;

/** Broken configs and a line each must produce (the key, and what is wrong). */
const cases: Array<{ name: string; toml: string; expect: RegExp[] }> = [
  { name: 'an unknown app', toml: `${base}[apps.nosuch]\nenabled = true\n`, expect: [/^apps\.nosuch: no installed app of that name$/] },
  { name: 'an unknown app in the chain', toml: `${base}[apps]\nchain = ["override", "nosuch", "forward"]\n`, expect: [/^apps\.chain: "nosuch" is not an installed app/] },
  { name: 'a route to a missing group', toml: `${base}[apps.forward.config.routes]\n"." = "default"\n"com." = "nowhere"\n`, expect: [/^apps\.forward\.config: .*nowhere/] },
  { name: "an unknown key in an app's config", toml: `${base}[apps.forward.config]\nroutez = { "." = "default" }\n`, expect: [/^apps\.forward\.config.*routez/] },
  { name: "README's sample config (TLS files that do not exist)", toml: readmeToml, expect: [/: server\.tls_cert: cannot read \/etc\/edge\/cert\.pem: no such file \(ENOENT\)$/, /: server\.tls_key: cannot read \/etc\/edge\/key\.pem: no such file \(ENOENT\)$/] },
  { name: 'a listen port past 65535', toml: `[server]\nlisten = ["127.0.0.1:99999"]\n${upstreams}`, expect: [/: server\.listen\.0: "127\.0\.0\.1:99999": port 99999 is out of range/] },
  { name: 'a DoH port past 65535 and an admin port past 65535', toml: `${server}doh_http = ["127.0.0.1:70000"]\n[admin]\nlisten = "127.0.0.1:65536"\n${upstreams}`, expect: [/: server\.doh_http\.0: .*port 70000 is out of range/, /: admin\.listen: .*port 65536 is out of range/] },
  { name: 'a listener named by a host name', toml: `[server]\nlisten = ["localhost:5353"]\n${upstreams}`, expect: [/: server\.listen\.0: "localhost:5353": "localhost" is not an IPv4 address/] },
  { name: 'a bad IPv6 listener', toml: `[server]\nlisten = ["[::g]:53"]\n${upstreams}`, expect: [/: server\.listen\.0: "\[::g\]:53": "::g" is not an IPv6 address/] },
  { name: 'a rule file that does not exist', toml: `${base}[rules]\nfile = "no-such.rules"\n`, expect: [/^rules\.file: cannot read .*no-such\.rules: ENOENT$/] },
  { name: 'a rule file with a bad rule', toml: `${base}[rules]\nfile = "bad.rules"\n`, expect: [/^rules\.file: .*bad\.rules:1:\d+: /] },
  { name: 'a block list that does not exist', toml: `${base}[apps]\nchain = ["blocklist", "forward"]\n[apps.blocklist]\ndata = "no-such.list"\n`, expect: [/^apps\.blocklist\.data: cannot read .*no-such\.list/] },
  { name: 'a trust anchor that does not exist', toml: `${base}[zone]\nsource = "root.zone"\ntrust_anchor = "/no/such/anchor.ds"\n`, expect: [/^zone\.trust_anchor: /] },
  { name: 'a certificate without its key', toml: `${server}doh = ["127.0.0.1:0"]\ntls_cert = "cert.pem"\n${upstreams}`, expect: [/: server: tls_cert and tls_key go together$/] },
  { name: 'several problems at once', toml: `[server]\nlisten = ["127.0.0.1:99999"]\nrequest_timout_ms = 5\n[cache]\nmax_entries = -5\n${upstreams}`, expect: [/server\.listen\.0: .*out of range/, /server: unknown key "request_timout_ms"/, /cache\.max_entries/] },
  { name: 'an access rule with a bad prefix and one with a bad action', toml: `${base}[access]\nrules = ["10.0.0.0/33 allow", "10.1.0.0/16 permit"]\n`, expect: [/: access\.rules\.0: "10\.0\.0\.0\/33 allow": "\/33" is not a prefix length for IPv4/, /: access\.rules\.1: .*the action is one of allow, refuse, deny, not "permit"/] },
  { name: 'access rules for a listener that does not exist', toml: `${base}[access.listeners]\n"127.0.0.1:53" = ["10.0.0.0/8 allow"]\n`, expect: [/: access\.listeners\."127\.0\.0\.1:53": not a listener in \[server\]/] },
  { name: 'two dnstap outputs', toml: `${base}[dnstap]\nfile = "tap.dnstap"\nsocket = "/run/tap.sock"\n`, expect: [/: dnstap: file and socket are two outputs; give one$/] },
  { name: 'a dnstap file with several workers', toml: `[server]\nlisten = ["127.0.0.1:5399"]\nworkers = 2\n${upstreams}[dnstap]\nfile = "tap.dnstap"\n`, expect: [/: dnstap\.file: 2 workers \(server\.workers\) would each write .*tap\.dnstap over the others; use dnstap\.socket/] },
  { name: 'a dnstap file in a folder that does not exist', toml: `${base}[dnstap]\nfile = "/no/such/dir/tap.dnstap"\n`, expect: [/: dnstap\.file: cannot write \/no\/such\/dir\/tap\.dnstap: no such folder \(\/no\/such\/dir\)$/] },
  { name: 'a TOML syntax error', toml: `${base}[cache\n`, expect: [/:\d+:\d+: /] },
  { name: 'a DoT listener whose certificate does not exist', toml: `${server}dot = ["127.0.0.1:0"]\ntls_cert = "/no/such/cert.pem"\ntls_key = "/no/such/key.pem"\n${upstreams}`, expect: [/: server\.tls_cert: cannot read \/no\/such\/cert\.pem: no such file \(ENOENT\)$/, /: server\.tls_key: cannot read /] },
  { name: "a TLS upstream group's CA file that does not exist", toml: `${server}[upstreams.default]\nservers = ["127.0.0.1:853"]\ntls = true\ntls_ca = "/no/such/ca.pem"\n`, expect: [/: upstreams\.default\.tls_ca: cannot read \/no\/such\/ca\.pem: no such file \(ENOENT\)$/] },
  { name: 'two workers on a port picked at start', toml: `[server]\nlisten = ["127.0.0.1:0"]\nworkers = 2\n${upstreams}`, expect: [/: server\.listen: "127\.0\.0\.1:0": 2 workers \(server\.workers\) share each listener, so it needs a fixed port, not 0$/] },
];

describe('config check, serve and reload refuse the same configs with the same messages', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.rules'), 'phase = pre-cache qname-suffix example.com respond NOSUCHRCODE\n');
  const file = (i: number) => join(dir, `case-${i}.toml`);
  cases.forEach((c, i) => writeFileSync(file(i), c.toml));

  /** What config check prints for each case (in process: the same function the command runs). */
  const checked: string[][] = [];

  it('config check and serve print the same lines, naming each key, and exit 1', { timeout: 300_000 }, async () => {
    for (const [i] of cases.entries()) checked[i] = await checkConfigFile(file(i));
    // The command itself, for a few: its lines are checkConfigFile's, and it exits 1.
    for (const i of [0, 4, 14]) {
      const r = await cli(['config', 'check', file(i)]);
      expect(r.code, cases[i]!.name).toBe(1);
      expect(r.stderr, cases[i]!.name).toBe(checked[i]!.join('\n') + '\n');
    }
    // serve, four at a time (the machine is shared): every one must stop before it opens anything.
    const served: Array<Awaited<ReturnType<typeof cli>>> = [];
    for (let i = 0; i < cases.length; i += 4) {
      const batch = await Promise.all(cases.slice(i, i + 4).map((_, k) => cli(['serve', '--config', file(i + k)], 90_000)));
      served.push(...batch);
    }
    for (const [i, c] of cases.entries()) {
      const lines = checked[i]!;
      for (const re of c.expect) expect(lines.some((l) => re.test(l)), `${c.name}: ${re} in\n${lines.join('\n')}`).toBe(true);
      expect(served[i]!.code, `${c.name}: serve\n${served[i]!.stdout}${served[i]!.stderr}`).toBe(1);
      expect(served[i]!.stderr, c.name).toBe(lines.join('\n') + '\n');
    }
  });

  it('a reload (what SIGHUP and POST /reload run) refuses them with the same lines and keeps the running config', { timeout: 60_000 }, async () => {
    const path = join(dir, 'running.toml');
    const good = `${base}[apps.forward.config.routes]\n"." = "default"\n`;
    writeFileSync(path, good);
    const edge = await EdgeNode.start(parseConfig(good, path), { configPath: path, configText: good, logger: silentLogger });
    try {
      for (const [i, c] of cases.entries()) {
        const check = checked[i] ?? (await checkConfigFile(file(i)));
        writeFileSync(path, c.toml);
        const r = await edge.reload();
        expect(r.ok, c.name).toBe(false);
        // The same lines, with the running file's name where config check names its own.
        expect(r.errors.map((l) => l.replaceAll(path, 'FILE')), c.name).toEqual(check.map((l) => l.replaceAll(file(i), 'FILE')));
      }
      expect(edge.node.config.text).toBe(good);
    } finally {
      await edge.close(0);
    }
  });

  it('accepts what serve accepts: a good config, contrib/edge.toml', async () => {
    const ok = join(dir, 'ok.toml');
    writeFileSync(ok, `${base}[apps.forward.config.routes]\n"." = "default"\n"com." = "default"\n`);
    expect(await cli(['config', 'check', ok])).toMatchObject({ code: 0, stdout: `${ok}: ok\n` });
    expect((await cli(['config', 'check', join(root, 'contrib/edge.toml')])).code).toBe(0);
  });
});
