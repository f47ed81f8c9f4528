/**
 * Every SERVFAIL and REFUSED the resolver makes carries an Extended DNS Error (RFC 8914) that
 * says why (issue 17, item 7): a table of cases over real sockets, each with the EDE codes dig
 * reads from the OPT record. And the CHAOS identification names (RFC 4892), answered from the
 * config or refused as it says.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOFTWARE_VERSION } from '../../host/core/version.js';
import { run } from '../helpers/dig.js';
import { catalogWith, testManifest } from '../helpers/apps.js';
import { root, startEdge, type TestNode } from '../helpers/edge.js';
import { startNsd, type Nsd } from '../helpers/nsd.js';
import { opt, reply, startScriptedUpstream, type ScriptedUpstream } from '../helpers/scripted-upstream.js';
import { needTools } from '../helpers/tools.js';

const zone = readFileSync(join(root, 'test/fixtures/example.test.zone'), 'utf8');
const net = `127.${30 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 256)}`;

interface Seen {
  status: string;
  ede: number[];
  text: string;
  out: string;
}

async function ask(n: TestNode, args: string[], src = '127.0.0.1'): Promise<Seen> {
  const r = await run('dig', [`@${n.dns.host}`, '-p', String(n.dns.port), '-b', src, '+tries=1', '+time=8', ...args]);
  if (r.code !== 0) throw new Error(`dig failed (${r.code}): ${r.stdout}${r.stderr}`);
  const ede = [...r.stdout.matchAll(/; EDE: (\d+)/g)].map((m) => Number(m[1]));
  return { status: /status: ([A-Z]+)/.exec(r.stdout)?.[1] ?? 'NONE', ede, text: [...r.stdout.matchAll(/; EDE: \d+ \([^)]*\): \((.*)\)/g)].map((m) => m[1]).join(' | '), out: r.stdout };
}

describe.skipIf(!needTools('nsd', 'dig'))('Extended DNS Errors on every SERVFAIL and REFUSED', () => {
  let nsd: Nsd;
  let silent: ScriptedUpstream;
  let refusing: ScriptedUpstream;
  let failing: ScriptedUpstream;
  let garbled: ScriptedUpstream;
  let n: TestNode;
  beforeAll(async () => {
    nsd = await startNsd({ 'example.test.': zone });
    silent = await startScriptedUpstream(() => null);
    refusing = await startScriptedUpstream((q) => reply(q, { rcode: 5 }));
    // A SERVFAIL that says why in its own EDE (6, DNSSEC Bogus), which the client is told too.
    const theirEde = new Uint8Array([0, 15, 0, 2 + 9, 0, 6, ...new TextEncoder().encode('bad sigs!')]);
    failing = await startScriptedUpstream((q) => reply(q, { rcode: 2, additional: [opt(0, theirEde)] }));
    // ANCOUNT says one record and none follows: the answer does not parse.
    garbled = await startScriptedUpstream((q) => {
      const r = reply(q);
      r[7] = 1;
      return r;
    });
    n = await startEdge(`
[access]
rules = ["${net}.2 refuse"]
[upstreams]
default = ["${nsd.address}"]
silent = ["${silent.address}"]
refusing = ["${refusing.address}"]
failing = ["${failing.address}"]
garbled = ["${garbled.address}"]
[upstream]
try_timeout_ms = 300
[apps.forward.config.routes]
"." = "default"
"silent.test." = "silent"
"refusing.test." = "refusing"
"failing.test." = "failing"
"garbled.test." = "garbled"
`);
    await n.node.rules.apply(
      new TextEncoder().encode('phase = pre-cache qname-suffix no.example.test respond REFUSED\nphase = pre-cache qname-suffix broken.example.test respond SERVFAIL\n'),
      'test',
    );
  });
  afterAll(async () => {
    await n?.stop();
    await Promise.all([silent?.close(), refusing?.close(), failing?.close(), garbled?.close()]);
    await nsd?.stop();
  });

  // [case, dig arguments, source address, status, EDE codes in order, a word of the text]
  const table: Array<[string, string[], string, string, number[], RegExp]> = [
    ['upstream silent (timeouts)', ['www.silent.test', 'A'], '127.0.0.1', 'SERVFAIL', [22], /no server of upstream group silent answered/],
    ['upstream answers garbage', ['www.garbled.test', 'A'], '127.0.0.1', 'SERVFAIL', [23, 22], /malformed/],
    ['upstream refuses', ['www.refusing.test', 'A'], '127.0.0.1', 'SERVFAIL', [23, 22], /answered REFUSED/],
    ['upstream answers SERVFAIL, with its own EDE', ['www.failing.test', 'A'], '127.0.0.1', 'SERVFAIL', [6, 22], /: bad sigs! \| .* answered SERVFAIL/],
    ['the same failure, from the cache', ['www.failing.test', 'A'], '127.0.0.1', 'SERVFAIL', [22], /failure is cached/],
    ['a rule refuses', ['x.no.example.test', 'A'], '127.0.0.1', 'REFUSED', [18], /refused by a rule/],
    ['a rule answers SERVFAIL', ['x.broken.example.test', 'A'], '127.0.0.1', 'SERVFAIL', [0], /a rule \(override\) answered SERVFAIL/],
    ['access control refuses the client', ['www.example.test', 'A'], `${net}.2`, 'REFUSED', [18], /is not allowed here/],
    ['a class not served (HESIOD)', ['-c', 'HS', '-t', 'A', 'www.example.test'], '127.0.0.1', 'REFUSED', [21], /class 4 is not served/],
    ['a CHAOS name not served', ['-c', 'CH', '-t', 'TXT', 'authors.bind'], '127.0.0.1', 'REFUSED', [21], /class 3 is not served/],
  ];

  it.each(table)('%s', async (_name, args, src, status, codes, text) => {
    const r = await ask(n, args, src);
    expect(r.status, r.out).toBe(status);
    expect(r.ede, r.out).toEqual(codes);
    expect(r.text, r.out).toMatch(text);
  });

  it('says why a fail-closed app failed', async () => {
    const catalog = catalogWith({ trap_app: { file: 'trap', manifest: testManifest('trap_app', { failure: 'fail-closed' }) } });
    const t = await startEdge(`[upstreams]\ndefault = ["${nsd.address}"]\n[apps]\nchain = ["trap_app", "forward"]\n[apps.forward.config.routes]\n"." = "default"\n`, { catalog });
    try {
      const r = await ask(t, ['trap.example.test', 'A']);
      expect(r.status).toBe('SERVFAIL');
      expect(r.ede).toEqual([0]);
      expect(r.text).toMatch(/app trap_app failed: it trapped \(trap\); its failure policy is fail-closed/);
    } finally {
      await t.stop();
    }
  });
});

describe.skipIf(!needTools('dig'))('CHAOS identification names (RFC 4892)', () => {
  it('answers version.bind, version.server, hostname.bind and id.server by default, like Unbound', async () => {
    const n = await startEdge('[upstreams]\ndefault = ["127.0.0.1:9"]\n');
    try {
      for (const name of ['version.bind', 'version.server']) {
        const r = await ask(n, ['-c', 'CH', '-t', 'TXT', name]);
        expect(r.status).toBe('NOERROR');
        expect(r.out).toMatch(new RegExp(`${name.replace('.', '\\.')}\\.\\s+0\\s+CH\\s+TXT\\s+"edge-resolver ${SOFTWARE_VERSION.replace(/\./g, '\\.')}"`));
      }
      for (const name of ['hostname.bind', 'id.server']) {
        const r = await ask(n, ['-c', 'CH', '-t', 'TXT', name]);
        expect(r.out).toMatch(/CH\s+TXT\s+"node1"/);
      }
    } finally {
      await n.stop();
    }
  });

  it('answers from [server] identity and version, and refuses with EDE 18 what is hidden', async () => {
    const a = await startEdge('identity = "pop-ams-3"\nversion = "resolver"\n[upstreams]\ndefault = ["127.0.0.1:9"]\n');
    try {
      expect((await ask(a, ['-c', 'CH', '-t', 'TXT', 'id.server'])).out).toMatch(/CH\s+TXT\s+"pop-ams-3"/);
      expect((await ask(a, ['-c', 'CH', '-t', 'TXT', 'version.bind'])).out).toMatch(/CH\s+TXT\s+"resolver"/);
    } finally {
      await a.stop();
    }
    const b = await startEdge('hide_identity = true\nhide_version = true\n[upstreams]\ndefault = ["127.0.0.1:9"]\n');
    try {
      for (const [name, key] of [['version.bind', 'hide_version'], ['hostname.bind', 'hide_identity'], ['id.server', 'hide_identity']] as const) {
        const r = await ask(b, ['-c', 'CH', '-t', 'TXT', name]);
        expect(r.status).toBe('REFUSED');
        expect(r.ede).toEqual([18]);
        expect(r.text).toContain(`server.${key}`);
      }
    } finally {
      await b.stop();
    }
  });

  it('keeps the version it reports equal to package.json', () => {
    expect(SOFTWARE_VERSION).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  });
});
