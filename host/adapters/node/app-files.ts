/**
 * Files the `[apps]` config names: folders of apps built outside the package (`[apps] dirs`)
 * and each app's data file (`[apps.<name>] data`). Both are read whenever the chain is built, at
 * start and on every reload, and before anything is swapped: a folder or a data file that fails
 * fails the build, so the running chain and the data it holds stay. Relative paths are taken
 * from the config file's folder, so a config means the same whatever the working directory.
 */

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LoadKind } from '../../abi/verdict.js';
import type { AppCatalog } from '../../apps/load-apps.js';
import type { WasmAppChain } from '../../apps/app-chain.js';
import { ConfigError, type AppOverride, type Config } from '../../core/config.js';
import { withAppDirs } from './catalog.js';

/** The folder relative paths in a config are taken from: the config file's, else the working directory. */
export function configBaseDir(configPath: string | undefined): string {
  return configPath ? dirname(resolve(configPath)) : process.cwd();
}

/** The installed apps plus those in the config's `[apps] dirs`. */
export function catalogForConfig(base: AppCatalog, config: Config, baseDir: string): AppCatalog {
  return withAppDirs(base, (config.apps.dirs ?? []).map((d) => resolve(baseDir, d)));
}

/**
 * Hands each app in `chain` the file its `[apps.<name>] data` names, as a DATA load. The app
 * validates and swaps; a file it refuses throws ConfigError with the app's reason (for a block
 * list, the line). An app that is not in the chain (switched off) gets nothing.
 */
export function loadAppData(chain: WasmAppChain, config: Config, baseDir: string): void {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(config.apps)) {
    if (name === 'chain' || name === 'dirs') continue;
    const data = (value as AppOverride).data;
    const app = chain.app(name);
    if (!data || !app) continue;
    const path = resolve(baseDir, data);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(path));
    } catch (e) {
      problems.push(`apps.${name}.data: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      continue;
    }
    const r = app.load(LoadKind.DATA, bytes);
    if (!r.ok) problems.push(`apps.${name}.data: ${path}: ${r.error}`);
  }
  if (problems.length) throw new ConfigError(problems);
}
