/** The apps installed with this package: build/apps/<name>.wasm plus the generated registry. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogOf, type AppCatalog, type CatalogEntry } from '../../apps/load-apps.js';
import { meter } from '../../abi/meter.js';
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
