#!/usr/bin/env node
// Builds everything `npm start` and `npm test` need, with no manual step:
//   0. the guest SDK's copy of the host's closed lists (phases, transports, verdicts, RR types,
//      ...): assembly/tables.generated.ts and assembly/rrtypes.generated.ts, rendered by
//      host/abi/guest-tables.ts from the host tables, so each list is declared once;
//   1. every app in apps/<name>/ (AssemblyScript -> build/apps/<name>.wasm, with the SDK's ABI
//      version in an edge_abi_version custom section), skipped when the .wasm is newer than its
//      sources and the SDK;
//   2. with --test-apps, the hostile test modules in test/abi/modules/ -> build/test-apps/;
//   3. host/apps/registry.generated.ts from apps/chain.json and each app.json (the chain
//      order lives in one flat file, as CoreDNS's plugin.cfg);
//   4. the TypeScript host -> dist/ (skipped when dist/ is newer than every host source), and the zone commands bundled into one file
//      (dist/host/adapters/node/cli/zone.bundle.cjs): `zone check` is a short-lived process, and
//      loading some 40 modules cost it about 40 ms of its start (bench/RESULTS.md); then V8's
//      code cache for that bundle, for this Node and for the command lines it runs under
//      (scripts/zone-code-cache.mjs), made again whenever it is missing or older than the bundle;
//   5. the apps metered for Cloudflare Workers (build/workers/<name>.wasm, with the meter in
//      dist/) and host/adapters/workers/apps.generated.ts, which imports them: a Worker cannot
//      compile Wasm from bytes at run time, so it can only run modules metered before upload.
//   6. with --test-apps (or --worker), the Worker bundle the Workers tests run in workerd:
//      `wrangler deploy --dry-run --outdir build/worker`, so the tests run what wrangler deploys.
// Usage: node scripts/build.mjs [--test-apps] [--worker] [--no-tsc] [--force]
//
// Apps kept outside the package (`edge-resolver new-app NAME --dir DIR`) are built with
//   node scripts/build.mjs --apps-dir DIR [--apps-dir DIR2 ...] [--force]
// which compiles only DIR/<name>/index.ts -> DIR/<name>/<name>.wasm, with the same flags (after
// step 0, which the SDK needs), and nothing else: the host finds them at run time through `[apps] dirs` in its config.

import { readdirSync, readFileSync, statSync, existsSync, mkdirSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const force = args.has('--force');

/** asc flags shared by every app: ABI v1 requires an imported memory (the host caps it). */
export const ASC_FLAGS = ['--runtime', 'minimal', '--importMemory', '-O3', '--noAssert'];

function newestMtime(paths) {
  let newest = 0;
  for (const p of paths) {
    const st = statSync(p);
    if (st.isDirectory()) {
      newest = Math.max(newest, newestMtime(readdirSync(p).map((f) => join(p, f))));
    } else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) {
      newest = Math.max(newest, st.mtimeMs);
    }
  }
  return newest;
}

/**
 * The ABI version of the SDK in assembly/, which every module built here carries in an
 * `edge_abi_version` custom section (docs/abi/v1.md, *Versioning*), so a host can refuse a
 * module built for another version without running it.
 */
const SDK_ABI_VERSION = (() => {
  const m = /export const ABI_VERSION: i32 = (\d+);/.exec(readFileSync(join(root, 'assembly', 'sdk.ts'), 'utf8'));
  if (!m) throw new Error('assembly/sdk.ts: no "export const ABI_VERSION: i32 = N;"');
  return Number(m[1]);
})();
const ABI_SECTION = 'edge_abi_version';

function leb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** A reader of a module's unsigned LEB128 numbers, from just after its 8-byte header. */
function wasmReader(wasm) {
  const r = {
    p: 8,
    u32() {
      let v = 0, s = 0, b;
      do {
        b = wasm[r.p++];
        v |= (b & 0x7f) << s;
        s += 7;
      } while (b & 0x80);
      return v >>> 0;
    },
  };
  return r;
}

/** Appends the ABI marker section to the module at `path` unless it has one. */
function markAbi(path) {
  const wasm = readFileSync(path);
  const r = wasmReader(wasm);
  while (r.p < wasm.length) {
    const id = wasm[r.p++];
    const end = r.u32() + r.p;
    if (id === 0) {
      const len = r.u32();
      if (wasm.subarray(r.p, r.p + len).toString('utf8') === ABI_SECTION) return;
    }
    r.p = end;
  }
  const name = Buffer.from(ABI_SECTION);
  const payload = [...leb(name.length), ...name, ...leb(SDK_ABI_VERSION)];
  writeFileSync(path, Buffer.concat([wasm, Buffer.from([0, ...leb(payload.length), ...payload])]));
}

async function compile(entry, out, extraSources) {
  const srcTime = newestMtime([dirname(entry), join(root, 'assembly'), ...extraSources]);
  if (!force && existsSync(out) && statSync(out).mtimeMs >= srcTime) {
    markAbi(out);
    return false;
  }
  mkdirSync(dirname(out), { recursive: true });
  const stderr = [];
  // Loaded only when something is out of date: the compiler alone takes a good part of a
  // second to import, which every `npm start` with nothing changed would pay.
  const { default: asc } = await import('assemblyscript/asc');
  const { error } = await asc.main([entry, '-o', out, ...ASC_FLAGS], {
    stdout: { write: () => true },
    stderr: { write: (s) => (stderr.push(String(s)), true) },
  });
  if (error) {
    process.stderr.write(stderr.join(''));
    throw new Error(`asc failed for ${entry}: ${error.message}`);
  }
  markAbi(out);
  return true;
}

/** Initial pages of the imported env.memory, read from the binary's import section. */
function memoryMinPages(wasm) {
  const r = wasmReader(wasm);
  const str = () => {
    const len = r.u32();
    const text = new TextDecoder().decode(wasm.subarray(r.p, r.p + len));
    r.p += len;
    return text;
  };
  while (r.p < wasm.length) {
    const id = wasm[r.p++];
    const end = r.u32() + r.p;
    if (id === 2) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const mod = str();
        const name = str();
        const kind = wasm[r.p++];
        if (kind === 0) r.u32();
        else if (kind === 2) {
          const flags = wasm[r.p++];
          const min = r.u32();
          if (flags & 1) r.u32();
          if (mod === 'env' && name === 'memory') return min;
        } else if (kind === 1) {
          r.p++;
          const f = wasm[r.p++];
          r.u32();
          if (f & 1) r.u32();
        } else if (kind === 3) r.p += 2;
      }
      return 1;
    }
    r.p = end;
  }
  return 1;
}

function discoverApps(appsDir = join(root, 'apps'), label = 'apps') {
  const apps = [];
  for (const name of readdirSync(appsDir).sort()) {
    // dot folders are not apps (new-app writes into .new-app-* before it renames)
    if (name.startsWith('.')) continue;
    const manifestPath = join(appsDir, name, 'app.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (manifest.name !== name) throw new Error(`${label}/${name}/app.json: name "${manifest.name}" must equal the folder name "${name}"`);
    apps.push({ name, manifest, entry: join(appsDir, name, 'index.ts') });
  }
  return apps;
}

/** `--apps-dir DIR` values (repeatable; `--apps-dir=DIR` too), as absolute paths. */
function appsDirsFromArgs(argv) {
  const dirs = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--apps-dir') {
      if (!argv[i + 1] || argv[i + 1].startsWith('--')) throw new Error('--apps-dir needs a folder');
      dirs.push(resolve(argv[++i]));
    } else if (argv[i].startsWith('--apps-dir=')) {
      dirs.push(resolve(argv[i].slice('--apps-dir='.length)));
    }
  }
  return dirs;
}

/**
 * Step 0: renders the guest's tables from the host's (host/abi/guest-tables.ts, bundled by
 * esbuild so this script can run the TypeScript on Node 20) and writes each file that changed,
 * so an unchanged table does not make every app look out of date.
 */
async function writeGuestTables() {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [join(root, 'host', 'abi', 'guest-tables.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    logLevel: 'warning',
  });
  const { guestTables } = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
  for (const f of guestTables()) {
    const path = join(root, f.path);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== f.text) writeFileSync(path, f.text);
  }
}

/** Builds the apps in folders outside the package, each .wasm beside its app.json. */
async function buildAppsDirs(dirs) {
  const started = Date.now();
  await writeGuestTables();
  // Names are global in a config ([apps] chain), so an outside app may not shadow an installed one.
  const installed = new Set(discoverApps().map((a) => a.name));
  const built = [];
  let found = 0;
  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`--apps-dir ${dir}: no such folder`);
    for (const app of discoverApps(dir, dir)) {
      found++;
      if (installed.has(app.name)) throw new Error(`${join(dir, app.name)}: "${app.name}" is the name of an app installed with edge-resolver; rename yours`);
      if (await compile(app.entry, join(dir, app.name, `${app.name}.wasm`), [])) built.push(app.name);
    }
  }
  if (found === 0) throw new Error(`no apps (folders with an app.json) in ${dirs.join(', ')}`);
  const what = built.length ? `compiled ${built.join(', ')}` : 'apps up to date';
  console.error(`build: ${what} in ${dirs.join(', ')}; ${Date.now() - started} ms`);
}

async function main() {
  const started = Date.now();
  // wrangler runs this script as its custom build; when this script is what runs wrangler
  // (step 6), everything is built already.
  if (process.env.EDGE_BUILD_PARENT === '1') return;
  const appsDirs = appsDirsFromArgs(process.argv.slice(2));
  if (appsDirs.length) return buildAppsDirs(appsDirs);
  await writeGuestTables();
  const apps = discoverApps();
  const built = [];
  for (const app of apps) {
    const out = join(root, 'build', 'apps', `${app.name}.wasm`);
    if (await compile(app.entry, out, [])) built.push(app.name);
    app.minPages = memoryMinPages(readFileSync(out));
  }

  if (args.has('--test-apps')) {
    const dir = join(root, 'test', 'abi', 'modules');
    if (existsSync(dir)) {
      for (const f of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
        const out = join(root, 'build', 'test-apps', f.replace(/\.ts$/, '.wasm'));
        if (await compile(join(dir, f), out, [])) built.push(`test:${f}`);
      }
    }
  }

  const chain = JSON.parse(readFileSync(join(root, 'apps', 'chain.json'), 'utf8'));
  const known = new Set(apps.map((a) => a.name));
  for (const name of chain.chain) {
    if (!known.has(name)) throw new Error(`apps/chain.json names "${name}", but there is no apps/${name}/app.json`);
  }
  const registry = [
    '// Generated by scripts/build.mjs from apps/chain.json and apps/*/app.json. Do not edit.',
    '',
    `export const defaultChain: readonly string[] = ${JSON.stringify(chain.chain)};`,
    '',
    'export interface BuiltinApp {',
    '  manifest: unknown;',
    '  /** File name under build/apps/. */',
    '  wasm: string;',
    '  minPages: number;',
    '}',
    '',
    'export const builtinApps: Readonly<Record<string, BuiltinApp>> = {',
    ...apps.map((a) => `  ${a.name}: { manifest: ${JSON.stringify(a.manifest)}, wasm: '${a.name}.wasm', minPages: ${a.minPages} },`),
    '};',
    '',
  ].join('\n');
  const registryPath = join(root, 'host', 'apps', 'registry.generated.ts');
  if (!existsSync(registryPath) || readFileSync(registryPath, 'utf8') !== registry) writeFileSync(registryPath, registry);

  if (!args.has('--no-tsc') && !hostUpToDate()) {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], {
      stdio: 'inherit',
    });
    // The package's bin (edge-resolver) must be executable for npx and global installs.
    chmodSync(join(root, 'dist', 'host', 'adapters', 'node', 'main.js'), 0o755);
    await bundleZoneCli();
    writeFileSync(hostStamp, `${new Date().toISOString()}\n`);
  }
  if (!args.has('--no-tsc') && (await zoneCodeCache())) built.push('zone code cache');
  if (existsSync(join(root, 'dist', 'host', 'abi', 'meter.js'))) await meterForWorkers(apps);
  if ((args.has('--test-apps') || args.has('--worker')) && bundleWorker()) built.push('worker bundle');
  const what = built.length ? `compiled ${built.join(', ')}` : 'apps up to date';
  console.error(`build: ${what}; ${Date.now() - started} ms`);
}

/**
 * Step 4 is skipped when dist/ was built after every host source and compiler setting changed:
 * even incremental, tsc spends seconds checking an unchanged tree, which `npm start` (prestart
 * builds) paid before every first answer. The stamp is written only after a build that worked.
 */
const hostStamp = join(root, 'dist', '.host-built');
function hostUpToDate() {
  if (force || !existsSync(hostStamp) || !existsSync(join(root, 'dist', 'host', 'adapters', 'node', 'main.js'))) return false;
  const inputs = [join(root, 'host'), ...['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'].map((f) => join(root, f))];
  return statSync(hostStamp).mtimeMs > Math.max(...inputs.map(newestAny));
}

const zoneCliDir = join(root, 'dist', 'host', 'adapters', 'node', 'cli');

/**
 * Step 4, second half: the zone commands as one script beside the files tsc wrote. CommonJS, not
 * an ES module: cli/zone-loader.ts compiles it with vm.Script, the API that takes a code cache on
 * Node 20 (which has no module.enableCompileCache).
 */
async function bundleZoneCli() {
  const { build } = await import('esbuild');
  for (const f of readdirSync(zoneCliDir)) if (/^zone\.bundle\./.test(f)) rmSync(join(zoneCliDir, f));
  await build({
    entryPoints: [join(zoneCliDir, 'zone.js')],
    outfile: join(zoneCliDir, 'zone.bundle.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
}

/**
 * Step 4, last: V8's code cache for the bundle, one file per command line a zone command runs
 * under (`node main.js`, and the bin's own flags), each made by a check of the lookalike root so
 * it holds the functions a check runs. Made only when missing or older than the bundle; a
 * checkout without the fixture, or a failure here, simply leaves no cache (the commands compile
 * as usual).
 */
async function zoneCodeCache() {
  const bundle = join(zoneCliDir, 'zone.bundle.cjs');
  const fixture = join(root, 'test', 'fixtures', 'zones', 'root-lookalike-2026082201.zone.gz');
  if (!existsSync(bundle) || !existsSync(fixture)) return false;
  const { codeCachePath, codeCacheKey } = await import(join(zoneCliDir, 'zone-loader.js'));
  const { NODE_FLAGS } = await import(join(root, 'dist', 'host', 'adapters', 'node', 'v8-flags.js'));
  const since = statSync(bundle).mtimeMs;
  let made = false;
  for (const flags of [[], [...NODE_FLAGS]]) {
    const file = codeCachePath(zoneCliDir, codeCacheKey(flags, ''));
    if (!force && existsSync(file) && statSync(file).mtimeMs >= since) continue;
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    try {
      execFileSync(process.execPath, [...flags, join(root, 'scripts', 'zone-code-cache.mjs'), zoneCliDir, fixture], { stdio: 'inherit', env });
      made = true;
    } catch {
      // only an optimisation: the zone commands run the same without it
      console.error(`build: no zone code cache for node ${flags.join(' ')} (see above); the zone commands will compile as usual`);
    }
  }
  return made;
}

/** Step 5: metered copies of the apps and the module that imports them for the Worker bundle. */
async function meterForWorkers(apps) {
  const { meter } = await import(join(root, 'dist', 'host', 'abi', 'meter.js'));
  const outDir = join(root, 'build', 'workers');
  mkdirSync(outDir, { recursive: true });
  for (const app of apps) {
    const src = join(root, 'build', 'apps', `${app.name}.wasm`);
    const out = join(outDir, `${app.name}.wasm`);
    // a changed meter re-meters every app, not only the apps that changed
    const newest = Math.max(statSync(src).mtimeMs, statSync(join(root, 'dist', 'host', 'abi', 'meter.js')).mtimeMs);
    if (!force && existsSync(out) && statSync(out).mtimeMs >= newest) continue;
    writeFileSync(out, meter(new Uint8Array(readFileSync(src))));
  }
  const ident = (name) => `${name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())}Wasm`;
  const text = [
    '// Generated by scripts/build.mjs: the apps metered at build time, imported as compiled',
    '// WebAssembly.Module values (wrangler bundles .wasm imports that way). Do not edit.',
    '',
    ...apps.map((a) => `import ${ident(a.name)} from '../../../build/workers/${a.name}.wasm';`),
    '',
    'export const appModules: Readonly<Record<string, WebAssembly.Module>> = {',
    ...apps.map((a) => `  ${a.name}: ${ident(a.name)},`),
    '};',
    '',
  ].join('\n');
  const path = join(root, 'host', 'adapters', 'workers', 'apps.generated.ts');
  mkdirSync(dirname(path), { recursive: true });
  if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileSync(path, text);
}

/** Step 6: the Worker bundle, rebuilt when a source, an app or wrangler.toml is newer. */
function bundleWorker() {
  const out = join(root, 'build', 'worker', 'index.js');
  const sources = [join(root, 'host'), join(root, 'build', 'workers'), join(root, 'wrangler.toml'), join(root, 'package-lock.json')];
  const newest = Math.max(newestMtime(sources.slice(0, 1)), ...sources.slice(1).map((p) => newestAny(p)));
  if (!force && existsSync(out) && statSync(out).mtimeMs >= newest) return false;
  const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
  // wrangler leaves the modules of earlier bundles in the folder (their names carry a content
  // hash), and a stale one would be taken for the app it once was
  rmSync(join(root, 'build', 'worker'), { recursive: true, force: true });
  execFileSync(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', join(root, 'build', 'worker')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, EDGE_BUILD_PARENT: '1', WRANGLER_SEND_METRICS: 'false' },
  });
  return true;
}

function newestAny(p) {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(p).map((f) => newestAny(join(p, f))));
}

main().catch((e) => {
  console.error(`build failed: ${e.message}`);
  process.exit(1);
});
