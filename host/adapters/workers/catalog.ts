/**
 * The apps bundled with the Worker: compiled modules imported statically (a Worker cannot
 * compile Wasm from bytes at run time) and metered at build time. A module without the meter
 * is refused: nothing can interrupt a running Wasm call on Workers, so an unmetered app that
 * loops would hang the isolate.
 */

import { isMetered } from '../../abi/meter.js';
import { AppLoadError } from '../../apps/app-instance.js';
import { catalogOf, type AppCatalog, type CatalogEntry } from '../../apps/load-apps.js';
import { builtinApps, defaultChain } from '../../apps/registry.generated.js';
import { appModules } from './apps.generated.js';

let cached: AppCatalog | null = null;

export function workersCatalog(modules: Readonly<Record<string, WebAssembly.Module>> = appModules): AppCatalog {
  if (cached && modules === appModules) return cached;
  const entries: Record<string, CatalogEntry> = {};
  for (const [name, app] of Object.entries(builtinApps)) {
    const module = modules[name];
    if (!module) throw new AppLoadError(`app ${name}: not in the Worker bundle; run "npm run build" before wrangler`);
    if (!isMetered(module)) throw new AppLoadError(`app ${name}: its module is not metered; the build meters apps for Workers ("npm run build")`);
    entries[name] = { manifest: app.manifest, module, minPages: app.minPages };
  }
  const catalog = catalogOf(entries, defaultChain);
  if (modules === appModules) cached = catalog;
  return catalog;
}
