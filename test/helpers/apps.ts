/** Test-only app catalogs: the built-in apps plus the hostile modules in build/test-apps/. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { meter } from '../../host/abi/meter.js';
import { catalogOf, type AppCatalog, type CatalogEntry } from '../../host/apps/load-apps.js';
import { builtinApps, defaultChain } from '../../host/apps/registry.generated.js';
import { AppHarness } from '../../host/apps/harness.js';

const root = join(__dirname, '..', '..');

export function testModule(file: string, opts: { metered?: boolean } = {}): WebAssembly.Module {
  const bytes = new Uint8Array(readFileSync(join(root, 'build', 'test-apps', `${file}.wasm`)));
  return new WebAssembly.Module(opts.metered === false ? bytes : meter(bytes));
}

export function testManifest(name: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    abi_version: 1,
    description: `test module ${name}`,
    phases: ['pre-cache'],
    failure: 'fail-open',
    memory: { max_pages: 16 },
    capabilities: [],
    ...over,
  };
}

/** The installed apps (metered, as on Node) plus extra test entries. */
export function catalogWith(extra: Record<string, { file: string; manifest: Record<string, unknown>; metered?: boolean }>, chain: readonly string[] = defaultChain): AppCatalog {
  const entries: Record<string, CatalogEntry> = {};
  for (const [name, app] of Object.entries(builtinApps)) {
    const bytes = new Uint8Array(readFileSync(join(root, 'build', 'apps', app.wasm)));
    entries[name] = { manifest: app.manifest, module: new WebAssembly.Module(meter(bytes)), minPages: app.minPages };
  }
  for (const [name, e] of Object.entries(extra)) {
    entries[name] = { manifest: e.manifest, module: testModule(e.file, { metered: e.metered }), minPages: 1 };
  }
  return catalogOf(entries, chain);
}

/** An installed app under the test harness: build/apps/<name>.wasm with apps/<name>/app.json. */
export function harnessFor(name: string, opts: ConstructorParameters<typeof AppHarness>[2] = {}): AppHarness {
  const wasm = new Uint8Array(readFileSync(join(root, 'build', 'apps', `${name}.wasm`)));
  const manifest = JSON.parse(readFileSync(join(root, 'apps', name, 'app.json'), 'utf8'));
  return AppHarness.fromBytes(wasm, manifest, opts);
}

/**
 * An app in any folder under the test harness: <appDir>/app.json with the <name>.wasm that
 * `node scripts/build.mjs --apps-dir` puts beside it (apps made with `new-app --dir`).
 */
export function harnessIn(appDir: string, opts: ConstructorParameters<typeof AppHarness>[2] = {}): AppHarness {
  const manifest = JSON.parse(readFileSync(join(appDir, 'app.json'), 'utf8')) as { name?: unknown };
  const wasm = new Uint8Array(readFileSync(join(appDir, `${String(manifest.name)}.wasm`)));
  return AppHarness.fromBytes(wasm, manifest, opts);
}
