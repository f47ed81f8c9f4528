/**
 * Checks that keep the layout true (as CoreDNS checks plugin READMEs): the core is
 * runtime-neutral, every app folder has the same shape, and app READMEs have the sections an
 * operator looks for.
 */

import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
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
