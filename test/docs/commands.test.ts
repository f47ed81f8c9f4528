/**
 * Small truths in README and docs/: the apt line installs what CI installs, and every
 * `edge-resolver zone ...` command they show runs as written, with the files the checkout ships.
 */

import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { root } from '../helpers/edge.js';

const read = (f: string) => readFileSync(join(root, f), 'utf8');

/** The lines of the fenced code blocks of a Markdown text. */
function codeLines(md: string): string[] {
  const out: string[] = [];
  let inBlock = false;
  for (const line of md.split('\n')) {
    if (line.startsWith('```')) inBlock = !inBlock;
    else if (inBlock) out.push(line);
  }
  return out;
}

describe('README and docs', () => {
  it("README's apt line names exactly the packages .ci/run installs, in the same order", () => {
    const ci = /^PACKAGES="([^"]+)"$/m.exec(read('.ci/run'))?.[1]?.split(/\s+/);
    const readme = /`apt-get install ([^`]+)`/.exec(read('README.md'))?.[1]?.split(/\s+/);
    expect(ci?.length).toBeGreaterThan(5);
    expect(readme).toEqual(ci);
    // The tools the tests drive come from these packages.
    for (const p of ['bind9-dnsutils', 'bind9-utils', 'knot-dnsutils', 'nsd', 'unbound', 'ldnsutils', 'systemd']) expect(ci).toContain(p);
  });

  const scratch = mkdtempSync(join(tmpdir(), 'edge-doc-commands-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  // The commands as a reader runs them from the checkout: the files they name are the
  // checkout's, what they write lands in a scratch folder.
  symlinkSync(join(root, 'test'), join(scratch, 'test'));
  const commands = ['README.md', 'docs/zones.md'].flatMap((doc) =>
    codeLines(read(doc))
      .map((l) => l.replace(/\s+#.*$/, '').trim())
      .filter((l) => /^(npx )?edge-resolver zone /.test(l))
      .map((l) => ({ doc, line: l })),
  );

  it('shows zone commands (check, compile, inspect) to run', () => {
    expect(commands.map((c) => c.line.replace(/^npx /, '').split(' ')[2])).toEqual(expect.arrayContaining(['check', 'compile', 'inspect']));
  });

  it('runs every zone command README and docs/zones.md show, as written, with the shipped files', { timeout: 120_000 }, async () => {
    for (const { doc, line } of commands) {
      const args = line.replace(/^(npx )?edge-resolver /, '').split(/\s+/);
      const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, [join(root, 'dist/host/adapters/node/main.js'), ...args], { cwd: scratch, timeout: 60_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as NodeJS.ErrnoException).code) || 1 : 0, stdout, stderr }),
        ),
      );
      expect(r.code, `${doc}: ${line}\n${r.stdout}${r.stderr}`).toBe(0);
    }
  });
});
