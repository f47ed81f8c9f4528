#!/usr/bin/env node
// Makes V8's code cache for the zone commands' bundle (host/adapters/node/cli/zone-loader.ts):
// runs `zone check` of FIXTURE from the bundle compiled without a cache, then saves what V8
// compiled for it, so the cache holds the functions a check runs and not only the top level.
// The cache is for this Node and the V8 flags this script runs under (scripts/build.mjs runs it
// once per command line the CLI runs under). Written atomically; a failure leaves no file.
//
//   node [V8 flags] scripts/zone-code-cache.mjs CLI_DIR FIXTURE

import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [dir, fixture] = process.argv.slice(2);
if (!dir || !fixture) throw new Error('usage: zone-code-cache.mjs CLI_DIR FIXTURE');
const anchor = join(dirname(fixture), 'trust-anchor.ds');
const { loadZoneCli, codeCacheFile, codeCachePath } = await import(join(dir, 'zone-loader.js'));
const { cli, script, source } = await loadZoneCli(dir, { cache: false });
if (!script) throw new Error(`zone-code-cache: no bundle in ${dir}`);
const said = [];
const out = { stdout: (s) => said.push(s), stderr: (s) => said.push(s) };
const code = await cli.zoneCommand(['check', fixture, '--trust-anchor', anchor, '--now', '2026-08-23T00:00:00Z'], out);
if (code !== 0) throw new Error(`zone-code-cache: the check of ${fixture} failed:\n${said.join('')}`);
const file = codeCachePath(dir);
const tmp = `${file}.${process.pid}.tmp`;
try {
  writeFileSync(tmp, codeCacheFile(source, script.createCachedData()));
  renameSync(tmp, file);
} finally {
  rmSync(tmp, { force: true });
}
