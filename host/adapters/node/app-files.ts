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

export interface LoadedData {
  app: string;
  path: string;
  bytes: Uint8Array;
  /** Re-load the file when it changes. */
  watch: boolean;
}

/** The data files a config names: `[apps.<name>] data`, and `[rules] file` for the override app. */
export function dataFiles(config: Config, baseDir: string): Array<Omit<LoadedData, 'bytes'>> {
  const out: Array<Omit<LoadedData, 'bytes'>> = [];
  for (const [name, value] of Object.entries(config.apps)) {
    if (name === 'chain' || name === 'dirs') continue;
    const data = (value as AppOverride).data;
    if (data) out.push({ app: name, path: resolve(baseDir, data), watch: true });
  }
  if (config.rules.file) out.push({ app: 'override', path: resolve(baseDir, config.rules.file), watch: config.rules.watch });
  return out;
}

/**
 * Hands each app in `chain` its data file as a DATA load, before the chain goes into service.
 * The app validates and swaps; a file it refuses throws ConfigError with the app's reason (for a
 * block list, the line), so a start or reload with bad data changes nothing. An app that is not
 * in the chain (switched off) gets nothing.
 */
export function loadAppData(chain: WasmAppChain, config: Config, baseDir: string): LoadedData[] {
  const problems: string[] = [];
  const loaded: LoadedData[] = [];
  for (const f of dataFiles(config, baseDir)) {
    const app = chain.app(f.app);
    if (!app) continue;
    const where = f.app === 'override' && config.rules.file ? 'rules.file' : `apps.${f.app}.data`;
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(f.path));
    } catch (e) {
      problems.push(`${where}: cannot read ${f.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      continue;
    }
    const r = app.load(LoadKind.DATA, bytes);
    if (!r.ok) {
      // Apps report "LINE:COL: message"; name the file so the line means something.
      problems.push(...r.error.split('\n').filter(Boolean).map((l) => `${where}: ${/^\d+:\d+: /.test(l) ? `${f.path}:${l}` : `${f.path}: ${l}`}`));
      continue;
    }
    loaded.push({ ...f, bytes });
  }
  if (problems.length) throw new ConfigError(problems);
  return loaded;
}
