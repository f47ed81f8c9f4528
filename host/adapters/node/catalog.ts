/** The apps installed with this package: build/apps/<name>.wasm plus the generated registry. */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogOf, type AppCatalog, type CatalogEntry } from '../../apps/load-apps.js';
import { parseManifest } from '../../apps/manifest.js';
import { meter } from '../../abi/meter.js';
import { readImports } from '../../abi/wasm-binary.js';
import { ConfigError } from '../../core/config.js';
import { builtinApps, defaultChain } from '../../apps/registry.generated.js';
import { projectRoot } from './paths.js';

let cached: AppCatalog | null = null;

export function nodeCatalog(): AppCatalog {
  if (cached) return cached;
  const entries: Record<string, CatalogEntry> = {};
  for (const [name, app] of Object.entries(builtinApps)) {
    const file = join(projectRoot(), 'build', 'apps', app.wasm);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch {
      throw new Error(`app ${name}: ${file} is missing; run "npm run build"`);
    }
    // Every app runs metered on Node, so one that never returns traps instead of hanging the node.
    entries[name] = { manifest: app.manifest, module: new WebAssembly.Module(meter(bytes)), minPages: app.minPages };
  }
  cached = catalogOf(entries, defaultChain);
  return cached;
}

/**
 * `base` plus the apps in folders outside the package (`[apps] dirs`): every DIR/<name>/ with an
 * app.json and the <name>.wasm that `node scripts/build.mjs --apps-dir DIR` puts beside it.
 * Read on every call, so a reload picks up an app that was rebuilt. Throws ConfigError.
 */
export function withAppDirs(base: AppCatalog, dirs: readonly string[]): AppCatalog {
  if (dirs.length === 0) return base;
  const entries: Record<string, CatalogEntry> = {};
  const foundIn = new Map<string, string>();
  const problems: string[] = [];
  for (const dir of dirs) {
    let folders: string[];
    try {
      folders = readdirSync(dir).sort();
    } catch (e) {
      problems.push(`apps.dirs: cannot read ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      continue;
    }
    for (const name of folders) {
      // dot folders are not apps (new-app writes into .new-app-* before it renames)
      if (name.startsWith('.')) continue;
      const manifestPath = join(dir, name, 'app.json');
      if (!existsSync(manifestPath)) continue;
      const wasmPath = join(dir, name, `${name}.wasm`);
      try {
        const manifest = parseManifest(JSON.parse(readFileSync(manifestPath, 'utf8')), manifestPath);
        if (manifest.name !== name) throw new Error(`name "${manifest.name}" must equal the folder name "${name}"`);
        if (base.get(name)) throw new Error(`app "${name}" is already installed with edge-resolver; choose another name`);
        if (foundIn.has(name)) throw new Error(`app "${name}" is also in ${foundIn.get(name)}`);
        if (!existsSync(wasmPath)) throw new Error(`${wasmPath} is missing; build it with "node scripts/build.mjs --apps-dir ${dir}"`);
        const bytes = new Uint8Array(readFileSync(wasmPath));
        const memory = readImports(bytes).find((i) => i.module === 'env' && i.name === 'memory' && i.kind === 2)?.memory;
        entries[name] = { manifest, module: new WebAssembly.Module(meter(bytes)), minPages: memory?.min ?? 1 };
        foundIn.set(name, dir);
      } catch (e) {
        const msg = (e as Error).message;
        problems.push(`apps.dirs: ${msg.startsWith(manifestPath) ? msg : `${manifestPath}: ${msg}`}`);
      }
    }
  }
  if (problems.length) throw new ConfigError(problems);
  const extra = catalogOf(entries, []);
  return {
    names: () => [...base.names(), ...extra.names()],
    defaultChain: () => base.defaultChain(),
    get: (name) => base.get(name) ?? extra.get(name),
  };
}
