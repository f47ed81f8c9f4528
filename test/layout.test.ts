/**
 * Checks that keep the layout true (as CoreDNS checks plugin READMEs): the core is
 * runtime-neutral, every app folder has the same shape, and app READMEs have the sections an
 * operator looks for.
 */

import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { root } from './helpers/edge.js';

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (p.endsWith(ext)) out.push(p);
  }
  return out;
}

const NODE_BUILTINS = /from ['"](node:|fs|path|os|net|dgram|http|https|http2|crypto|child_process|url|util|zlib|stream|events)(\/[^'"]*)?['"]/;

describe('layout', () => {
  it('keeps host/core, host/abi, host/apps and host/node free of runtime-specific imports', () => {
    const offenders: string[] = [];
    for (const dir of ['host/core', 'host/abi', 'host/apps', 'host/node']) {
      for (const f of files(join(root, dir), '.ts')) {
        if (f.endsWith('.test.ts')) continue;
        const text = readFileSync(f, 'utf8');
        if (NODE_BUILTINS.test(text) || /from ['"]cloudflare:/.test(text) || /\bBuffer\.|\bprocess\.(env|argv|exit)/.test(text)) {
          offenders.push(relative(root, f));
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('keeps the layers in order: no import runs back up, and the adapters do not import each other', () => {
    // Each layer may import from itself and the layers before it.
    const layers = ['host/core', 'host/abi', 'host/apps', 'host/node'];
    const layerOf = (file: string) => {
      const rel = relative(root, file);
      if (rel.startsWith('host/adapters/')) return rel.split('/').slice(0, 3).join('/');
      return layers.find((l) => rel.startsWith(`${l}/`)) ?? rel;
    };
    const allowed = (from: string, to: string) => {
      if (from === to) return true;
      const [i, j] = [layers.indexOf(from), layers.indexOf(to)];
      if (j < 0) return false;
      return i < 0 ? from.startsWith('host/adapters/') : j < i;
    };
    const offenders: string[] = [];
    for (const dir of [...layers, 'host/adapters/node', 'host/adapters/workers']) {
      for (const f of files(join(root, dir), '.ts')) {
        if (f.endsWith('.test.ts')) continue;
        for (const m of readFileSync(f, 'utf8').matchAll(/(?:from|import) '(\.[^']+)'/g)) {
          const target = layerOf(resolve(dirname(f), m[1]!));
          // generated imports of build output (the Worker's .wasm modules) are not a layer
          if (!target.startsWith('host/')) continue;
          if (!allowed(layerOf(f), target)) offenders.push(`${relative(root, f)} -> ${m[1]}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('gives every app the same folder shape and a README with the operator sections', () => {
    const apps = readdirSync(join(root, 'apps')).filter((d) => existsSync(join(root, 'apps', d, 'app.json')));
    expect(apps.length).toBeGreaterThan(0);
    for (const app of apps) {
      const dir = join(root, 'apps', app);
      for (const f of ['index.ts', 'app.json', 'README.md', `${app}.test.ts`]) {
        expect(existsSync(join(dir, f)), `apps/${app}/${f}`).toBe(true);
      }
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      for (const section of ['Name', 'Description', 'Config', 'Verdicts', 'Metrics', 'Examples']) {
        expect(readme, `apps/${app}/README.md section ${section}`).toMatch(new RegExp(`^## ${section}$`, 'm'));
      }
      expect(readme.split('\n')[0]).toBe(`# ${app}`);
    }
  });

  it('lists only installed apps in apps/chain.json', () => {
    const chain = JSON.parse(readFileSync(join(root, 'apps/chain.json'), 'utf8')).chain as string[];
    for (const app of chain) expect(existsSync(join(root, 'apps', app, 'app.json')), app).toBe(true);
  });
});
