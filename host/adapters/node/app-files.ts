/**
 * Files the `[apps]` config names: folders of apps built outside the package (`[apps] dirs`)
 * and each app's data file (`[apps.<name>] data`, `[rules] file`). Both are read whenever the
 * chain is built, at start and on every reload, and before anything is swapped: a folder or a
 * data file that fails fails the build, so the running chain and the data it holds stay.
 * Relative paths are taken from the config file's folder, so a config means the same whatever
 * the working directory.
 */

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { AppCatalog } from '../../apps/load-apps.js';
import type { AppOverride, Config } from '../../core/config.js';
import type { Logger } from '../../core/log.js';
import type { AppDataSource } from '../../node/platform.js';
import { withAppDirs } from './catalog.js';
import { watchFile } from './files.js';

/** Changes to a data file are applied once its writer is done. */
const DEBOUNCE_MS = 150;

/** The folder relative paths in a config are taken from: the config file's, else the working directory. */
export function configBaseDir(configPath: string | undefined): string {
  return configPath ? dirname(resolve(configPath)) : process.cwd();
}

/** The installed apps plus those in the config's `[apps] dirs`. */
export function catalogForConfig(base: AppCatalog, config: Config, baseDir: string): AppCatalog {
  return withAppDirs(base, (config.apps.dirs ?? []).map((d) => resolve(baseDir, d)));
}

export interface DataFileEntry {
  app: string;
  /** The config key that names it. */
  key: string;
  path: string;
  /** Re-load the file when it changes. */
  watch: boolean;
}

/** The data files a config names: `[apps.<name>] data`, and `[rules] file` for the override app. */
export function dataFiles(config: Config, baseDir: string): DataFileEntry[] {
  const out: DataFileEntry[] = [];
  for (const [name, value] of Object.entries(config.apps)) {
    if (name === 'chain' || name === 'dirs') continue;
    const data = (value as AppOverride).data;
    if (data) out.push({ app: name, key: `apps.${name}.data`, path: resolve(baseDir, data), watch: true });
  }
  if (config.rules.file) out.push({ app: 'override', key: 'rules.file', path: resolve(baseDir, config.rules.file), watch: config.rules.watch });
  return out;
}

/** A data file as the node reads it: read at each build, watched when the config says so. */
export function fileDataSource(f: DataFileEntry, logger: Logger): AppDataSource {
  return {
    app: f.app,
    key: f.key,
    description: f.path,
    async read() {
      try {
        return new Uint8Array(await readFile(f.path));
      } catch (e) {
        throw new Error((e as NodeJS.ErrnoException).code ?? (e as Error).message);
      }
    },
    ...(f.watch ? { watch: (onChange: () => void) => watchFile(f.path, onChange, DEBOUNCE_MS, (e) => logger.log('error', 'file watch failed', { file: f.path, error: e.message })) } : {}),
  };
}
