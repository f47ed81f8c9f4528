#!/usr/bin/env node
// Serves the Worker bundle (build/worker/, from `node scripts/build.mjs --worker`) in workerd
// through the Miniflare API, without wrangler dev's own layers, for bench/workers.sh.
// Usage: node bench/workerd-serve.mjs PORT EDGE_CONFIG_FILE
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Miniflare } from 'miniflare';
import { parse } from 'smol-toml';

const root = join(import.meta.dirname, '..');
const [port, configFile] = process.argv.slice(2);
const toml = parse(readFileSync(join(root, 'wrangler.toml'), 'utf8'));
const mf = new Miniflare({
  host: '127.0.0.1',
  port: Number(port),
  modules: true,
  scriptPath: join(root, 'build', 'worker', 'index.js'),
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
  compatibilityDate: toml.compatibility_date,
  kvNamespaces: ['EDGE_KV'],
  durableObjects: { SHARDS: { className: 'EdgeShard', useSQLite: true } },
  bindings: { ...toml.vars, EDGE_CONFIG: readFileSync(configFile, 'utf8'), EDGE_SITE_KEYS: `k1=${randomBytes(32).toString('hex')}` },
});
console.error(`workerd-serve: ${await mf.ready}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
