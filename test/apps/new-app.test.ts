/**
 * `edge-resolver new-app`: names are checked, nothing is ever overwritten, and what it generates
 * builds, passes its own test, loads into a running resolver from a folder outside the package
 * (`[apps] dirs`) and answers `dig`. A module built for another ABI version, made from the same
 * scaffold, is refused with both versions named.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newAppCommand } from '../../host/adapters/node/cli/new-app.js';
import { parseManifest } from '../../host/apps/manifest.js';
import { ConfigError } from '../../host/core/config.js';
import { dig, run } from '../helpers/dig.js';
import { needTools } from '../helpers/tools.js';
import { root, startEdge } from '../helpers/edge.js';

const main = join(root, 'dist/host/adapters/node/main.js');
const build = join(root, 'scripts/build.mjs');

async function newApp(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await newAppCommand(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe('new-app: names and folders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-new-app-'));

  it('refuses names that are not snake_case, with a suggestion', async () => {
    for (const [name, hint] of [
      ['My-App', 'my_app'],
      ['1app', 'app'],
      ['app.name', 'app_name'],
      ['a'.repeat(33), 'a'.repeat(32)],
      ['ünicode', null],
    ] as const) {
      const r = await newApp(name, '--dir', dir);
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(/is not a valid app name: app names are snake_case/);
      if (hint) expect(r.stderr, name).toContain(`(e.g. "${hint}")`);
      expect(existsSync(join(dir, name)), name).toBe(false);
    }
  });

  it('refuses reserved names and the names of installed apps', async () => {
    expect((await newApp('chain', '--dir', dir)).stderr).toMatch(/"chain" is reserved: it is a key of \[apps\]/);
    expect((await newApp('dirs', '--dir', dir)).stderr).toMatch(/"dirs" is reserved/);
    expect((await newApp('static_zone', '--dir', dir)).stderr).toMatch(/"static_zone" is reserved: it is the name of a core edge-resolver app/);
    const installed = await newApp('blocklist', '--dir', dir);
    expect(installed.code).toBe(1);
    expect(installed.stderr).toMatch(/"blocklist" is the name of an app installed with edge-resolver/);
  });

  it('never overwrites an existing folder', async () => {
    mkdirSync(join(dir, 'taken'));
    writeFileSync(join(dir, 'taken', 'index.ts'), '// mine\n');
    const r = await newApp('taken', '--dir', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/taken already exists; new-app never overwrites/);
    expect(readFileSync(join(dir, 'taken', 'index.ts'), 'utf8')).toBe('// mine\n');
    expect(existsSync(join(dir, 'taken', 'app.json'))).toBe(false);
    // The project's own apps are existing folders too.
    const project = await newApp('blocklist');
    expect(project.code).toBe(1);
    expect(project.stderr).toMatch(/apps\/blocklist already exists/);
  });

  it('answers usage errors with exit 2 and one line that points to --help', async () => {
    for (const argv of [[], ['a', 'b'], ['app', '--phase', 'later'], ['app', '--bogus']]) {
      const r = await newApp(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(/^edge-resolver new-app: .+ \(see edge-resolver new-app --help\)\n$/);
    }
  });

  it('generates the folder shape the layout test asks for, with a valid manifest', async () => {
    const r = await newApp('shape_check', '--dir', dir, '--phase', 'resolve', '--description', 'Checks the shape.');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/created .*shape_check/);
    expect(r.stdout).toMatch(/--apps-dir/);
    const app = join(dir, 'shape_check');
    const manifest = parseManifest(JSON.parse(readFileSync(join(app, 'app.json'), 'utf8')), 'app.json');
    expect(manifest).toMatchObject({ name: 'shape_check', abi_version: 1, description: 'Checks the shape.', phases: ['resolve'], failure: 'fail-open', memory: { max_pages: 16 } });
    expect(manifest.config_schema).toBeDefined();
    const readme = readFileSync(join(app, 'README.md'), 'utf8');
    expect(readme.split('\n')[0]).toBe('# shape_check');
    for (const section of ['Name', 'Description', 'Config', 'Verdicts', 'Metrics', 'Examples']) expect(readme).toMatch(new RegExp(`^## ${section}$`, 'm'));
    expect(readme).toContain(`dirs = ["`);
    // The SDK import resolves from wherever the app is.
    const sdk = /from "([^"]+)";/.exec(readFileSync(join(app, 'index.ts'), 'utf8'))![1]!;
    expect(existsSync(join(app, `${sdk}.ts`))).toBe(true);
    const helpers = /from '([^']+apps\.js)';/.exec(readFileSync(join(app, 'shape_check.test.ts'), 'utf8'))![1]!;
    expect(existsSync(join(app, helpers.replace(/\.js$/, '.ts')))).toBe(true);
  });
});

describe.skipIf(!needTools('dig'))('new-app: scaffold in a temporary folder, built, loaded, queried', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-scaffold-'));
  const apps = join(dir, 'my-apps');
  const app = join(apps, 'hello_edge');

  beforeAll(async () => {
    // Through the real CLI, as a user runs it.
    const r = await run(process.execPath, [main, 'new-app', 'hello_edge', '--dir', apps]);
    expect(r.code, r.stderr).toBe(0);
    const b = await run(process.execPath, [build, '--apps-dir', apps], 120_000);
    expect(b.code, b.stderr).toBe(0);
  }, 180_000);

  it('builds the app beside its manifest', () => {
    expect(existsSync(join(app, 'hello_edge.wasm'))).toBe(true);
  });

  it('passes the test it was generated with', async () => {
    const r = await run(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--root', app], 120_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/4 passed/);
  }, 120_000);

  it('answers dig through a running resolver that loads it from [apps] dirs', async () => {
    // The upstream is a closed loopback port: the app answers without one.
    const edge = await startEdge(`[upstreams]\ndefault = ["127.0.0.1:9"]\n[apps]\ndirs = ["${apps}"]\nchain = ["hello_edge", "forward"]\n`);
    try {
      const txt = await dig(edge.dns, ['www.hello_edge.test', 'TXT']);
      expect(txt.status).toBe('NOERROR');
      expect(txt.answers).toEqual([{ name: 'www.hello_edge.test.', ttl: 60, type: 'TXT', data: '"hello from hello_edge"' }]);
      const a = await dig(edge.dns, ['Hello_Edge.test', 'A']);
      expect(a.status).toBe('NOERROR');
      expect(a.answers).toEqual([]);
      expect(await edge.node.metrics.text()).toMatch(/edge_app_events_total\{app="hello_edge",event="answered"\} 2/);
      // Config reaches it like any installed app's.
      const reload = await edge.node.reload(`[server]\nlisten = ["127.0.0.1:0"]\n[upstreams]\ndefault = ["127.0.0.1:9"]\n[apps]\ndirs = ["${apps}"]\nchain = ["hello_edge"]\n[apps.hello_edge.config]\nzone = "other.test."\n`);
      expect(reload).toEqual({ ok: true, errors: [] });
      expect((await dig(edge.dns, ['x.other.test', 'TXT'])).answers[0]?.data).toBe('"hello from hello_edge"');
    } finally {
      await edge.stop();
    }
  });

  it('reports what is wrong with an [apps] dirs folder', async () => {
    const cfg = (d: string) => `[upstreams]\ndefault = ["127.0.0.1:9"]\n[apps]\ndirs = ["${d}"]\n`;
    expect(String(await startEdge(cfg(join(dir, 'nope'))).catch((e: unknown) => e))).toMatch(/apps\.dirs: cannot read .*nope: ENOENT/);
    const unbuilt = join(dir, 'unbuilt');
    expect((await run(process.execPath, [main, 'new-app', 'not_built', '--dir', unbuilt])).code).toBe(0);
    expect(String(await startEdge(cfg(unbuilt)).catch((e: unknown) => e))).toMatch(/not_built\.wasm is missing; build it with "node scripts\/build\.mjs --apps-dir/);
    const clash = join(dir, 'clash');
    mkdirSync(join(clash, 'forward'), { recursive: true });
    writeFileSync(join(clash, 'forward', 'app.json'), readFileSync(join(root, 'apps/forward/app.json')));
    expect(String(await startEdge(cfg(clash)).catch((e: unknown) => e))).toMatch(/app "forward" is already installed with edge-resolver/);
    const b = await run(process.execPath, [build, '--apps-dir', clash]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/"forward" is the name of an app installed with edge-resolver; rename yours/);
  });

  it('refuses the same app built for another ABI version, naming both versions', async () => {
    const v2 = join(dir, 'v2-apps');
    expect((await run(process.execPath, [main, 'new-app', 'old_abi', '--dir', v2])).code).toBe(0);
    const index = join(v2, 'old_abi', 'index.ts');
    const src = readFileSync(index, 'utf8');
    writeFileSync(index, src.replace(/export \{ abi_version, input, gc \} from ("[^"]+");/, 'export { input, gc } from $1;\nexport function abi_version(): i32 { return 2; }'));
    const b = await run(process.execPath, [build, '--apps-dir', v2], 120_000);
    expect(b.code, b.stderr).toBe(0);
    const cfg = `[upstreams]\ndefault = ["127.0.0.1:9"]\n[apps]\ndirs = ["${v2}"]\nchain = ["old_abi"]\n`;
    const err = await startEdge(cfg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String(err)).toMatch(/app old_abi was built for ABI version 2; this host speaks ABI version 1/);
    // A manifest that claims another version is refused before the module runs.
    const manifestPath = join(v2, 'old_abi', 'app.json');
    writeFileSync(manifestPath, readFileSync(manifestPath, 'utf8').replace('"abi_version": 1', '"abi_version": 2'));
    expect(String(await startEdge(cfg).catch((e: unknown) => e))).toMatch(/app old_abi: manifest says ABI version 2; this host speaks ABI version 1/);
  }, 120_000);

});
