/**
 * docs/writing-apps.md, executed: every block marked `<!-- tutorial: KIND [PATH] -->` runs in
 * document order in a scratch copy of this checkout, so a tutorial that has drifted from the
 * code fails here before it fails a reader. Kinds:
 *   run      each line is a shell command (run from the checkout) that must exit 0
 *   output   the previous command's stdout, exactly
 *   file     the block is written to PATH (relative to the checkout)
 *   serve    the command is started in the background; the test waits until it answers DNS
 * Two substitutions keep the run on loopback and off fixed ports: port 5353 becomes a free port,
 * and the upstream 1.1.1.1:53 a closed loopback port (no query leaves the machine).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run } from '../helpers/dig.js';
import { freePort, waitFor } from '../helpers/net.js';
import { needTools } from '../helpers/tools.js';
import { root } from '../helpers/edge.js';

const DOC = join(root, 'docs/writing-apps.md');

interface Step {
  kind: 'run' | 'output' | 'file' | 'serve';
  path?: string;
  body: string;
  line: number;
}

function tutorialSteps(text: string): Step[] {
  const steps: Step[] = [];
  for (const m of text.matchAll(/<!-- tutorial: (\w+)(?: (\S+))? -->\n```[\w-]*\n([\s\S]*?)```/g)) {
    const kind = m[1] as Step['kind'];
    if (!['run', 'output', 'file', 'serve'].includes(kind)) throw new Error(`unknown tutorial marker "${kind}"`);
    steps.push({ kind, path: m[2], body: m[3]!, line: text.slice(0, m.index).split('\n').length });
  }
  return steps;
}

const doc = readFileSync(DOC, 'utf8');
const steps = tutorialSteps(doc);

describe('docs/writing-apps.md markers', () => {
  it('marks every shell block a reader runs (only npm install is left to the reader)', () => {
    const unmarked = [...doc.matchAll(/(^|\n)(?!<!-- tutorial)[^\n]*\n```sh\n([\s\S]*?)```/g)].map((m) => m[2]!.trim());
    expect(unmarked).toEqual(['npm install']);
    expect(steps.filter((s) => s.kind === 'serve').length).toBeGreaterThanOrEqual(1);
    expect(steps.filter((s) => s.kind === 'output').length).toBeGreaterThanOrEqual(2);
    expect(steps.some((s) => s.kind === 'run' && /new-app greeter/.test(s.body))).toBe(true);
  });
});

describe.skipIf(!needTools('dig'))('docs/writing-apps.md, run as written', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'edge-tutorial-'));
  const checkout = join(scratch, 'edge-resolver');
  let port = 0;
  let server: ChildProcess | null = null;
  let serverOutput = '';
  let lastStdout = '';
  let failed = false;

  const substitute = (s: string) => s.replace(/\b5353\b/g, String(port)).replace(/1\.1\.1\.1:53\b/g, '127.0.0.1:9');
  // npx must find the checkout's own edge-resolver bin, never a registry.
  const env = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false' };

  function sh(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const p = spawn('sh', ['-c', command], { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  }

  async function stopServer(): Promise<void> {
    const s = server;
    server = null;
    if (!s || s.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      s.on('exit', () => resolve());
      // npx runs the bin in a child process: signal the whole group.
      process.kill(-s.pid!, 'SIGTERM');
    });
  }

  beforeAll(async () => {
    port = await freePort();
    // A checkout as a reader has it after `npm install` and a first build: sources, build output
    // (timestamps kept, so nothing is rebuilt needlessly) and the installed dependencies.
    mkdirSync(checkout);
    for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'vitest.config.ts', 'scripts', 'assembly', 'host', 'apps', 'build', 'dist', 'test/helpers']) {
      cpSync(join(root, entry), join(checkout, entry), { recursive: true, preserveTimestamps: true });
    }
    symlinkSync(join(root, 'node_modules'), join(checkout, 'node_modules'));
  });

  afterAll(async () => {
    await stopServer();
    rmSync(scratch, { recursive: true, force: true });
  });

  for (const [i, step] of steps.entries()) {
    const title = `${String(i + 1).padStart(2, '0')} ${step.kind}${step.path ? ` ${step.path}` : ''}: ${step.body.split('\n')[0]!.slice(0, 60)} (line ${step.line})`;
    it(title, async () => {
      if (failed) throw new Error('an earlier step failed');
      try {
        await runStep(step);
      } catch (e) {
        failed = true;
        throw e;
      }
    }, 300_000);
  }

  async function runStep(step: Step): Promise<void> {
    const body = substitute(step.body);
    switch (step.kind) {
      case 'file': {
        const path = join(checkout, step.path!);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, body);
        return;
      }
      case 'run': {
        for (const command of body.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))) {
          const r = await sh(command);
          expect(r.code, `${command}\n${r.stdout}${r.stderr}`).toBe(0);
          lastStdout = r.stdout;
        }
        return;
      }
      case 'output':
        expect(lastStdout.trim()).toBe(body.trim());
        return;
      case 'serve': {
        await stopServer();
        serverOutput = '';
        const s = spawn('sh', ['-c', `exec ${body.trim()}`], { cwd: checkout, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        s.stdout!.on('data', (d) => (serverOutput += d));
        s.stderr!.on('data', (d) => (serverOutput += d));
        server = s;
        await waitFor(async () => {
          if (s.exitCode !== null) throw new Error(`${body.trim()} exited (${s.exitCode}): ${serverOutput}`);
          const r = await run('dig', ['@127.0.0.1', '-p', String(port), 'probe.invalid', '+tries=1', '+time=1']);
          return r.stdout.includes('status:');
        }, 30_000);
        return;
      }
    }
  }
});
