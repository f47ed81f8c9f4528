/**
 * The command line's manners: every command and subcommand answers --help with its flags, a
 * wrong command line is one readable line and exit status 2, -V/--version print the version,
 * and the top-level usage lists every command.
 */

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from '../../host/adapters/node/cli/args.js';
import { CONTROL_VERBS } from '../../host/adapters/node/cli/control.js';
import { NEW_APP } from '../../host/adapters/node/cli/new-app.js';
import { RULES_CHECK, RULES_PUSH } from '../../host/adapters/node/cli/rules.js';
import { CONFIG_CHECK, SERVE } from '../../host/adapters/node/cli/serve.js';
import { ZONE_COMMANDS } from '../../host/adapters/node/cli/zone.js';
import { root } from '../helpers/edge.js';

const main = join(root, 'dist/host/adapters/node/main.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [main, ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr })),
  );
}

const leaves: Command[] = [SERVE, CONFIG_CHECK, RULES_CHECK, RULES_PUSH, ...ZONE_COMMANDS, NEW_APP, ...CONTROL_VERBS];
const groups = ['config', 'rules', 'zone', 'control'];

describe('edge-resolver command line', () => {
  it('answers --help (and -h) on every command and subcommand with its flags, exit 0', { timeout: 120_000 }, async () => {
    const runs = await Promise.all(leaves.map((c) => cli([...c.name.split(' '), '--help'])));
    for (const [i, c] of leaves.entries()) {
      const r = runs[i]!;
      expect(r.code, c.name).toBe(0);
      expect(r.stdout, c.name).toMatch(new RegExp(`^usage: edge-resolver ${c.name}`));
      for (const flag of [...Object.keys(c.flags), 'help']) expect(r.stdout, `${c.name} --${flag}`).toContain(`--${flag}`);
    }
    const short = await cli(['serve', '-h']);
    expect(short.code).toBe(0);
    expect(short.stdout).toMatch(/^usage: edge-resolver serve/);
    for (const g of groups) {
      const r = await cli([g, '--help']);
      expect(r.code, g).toBe(0);
      for (const c of leaves.filter((l) => l.name.startsWith(`${g} `))) expect(r.stdout, `${g} --help lists ${c.name}`).toContain(c.name);
    }
    // `help COMMAND` is COMMAND --help.
    expect((await cli(['help', 'zone', 'inspect'])).stdout).toMatch(/^usage: edge-resolver zone inspect IMAGE/);
  });

  it('lists every command in the top-level usage, zone inspect included', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of leaves.filter((l) => !l.name.startsWith('control '))) expect(r.stdout, c.name).toContain(`  ${c.name} `);
    expect(r.stdout).toContain('  control ');
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^usage: edge-resolver COMMAND/);
  });

  it('prints the version for -V, --version and version', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
    for (const v of ['-V', '--version', 'version']) expect(await cli([v])).toMatchObject({ code: 0, stdout: `edge-resolver ${pkg}\n` });
  });

  it('answers a wrong command line with one line naming the problem and exit 2', { timeout: 120_000 }, async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /^edge-resolver: unknown command "frobnicate"; edge-resolver --help lists the commands$/],
      [['serve', '--no-such-flag'], /^edge-resolver serve: unknown option --no-such-flag \(see edge-resolver serve --help\)$/],
      [['serve', '--listen'], /^edge-resolver serve: --listen needs a value/],
      [['serve', 'extra'], /^edge-resolver serve: unexpected argument "extra"/],
      [['config'], /^edge-resolver config: missing command \(check\)/],
      [['config', 'frob'], /^edge-resolver config: unknown command "frob"/],
      [['config', 'check'], /^edge-resolver config check: missing the config FILE/],
      [['config', 'check', 'a.toml', 'b.toml'], /^edge-resolver config check: unexpected argument "b\.toml"/],
      [['rules', 'push', 'x.rules'], /^edge-resolver rules push: missing --to/],
      [['zone', 'check', 'root.zone', '--now', 'tuesday'], /^edge-resolver zone check: --now "tuesday" is not an ISO 8601 time \(e\.g\. 2026-08-22T12:00:00Z\)/],
      [['zone', 'inspect', 'root.img', '--now', '1'], /^edge-resolver zone inspect: --now "1" is not an ISO 8601 time/],
      [['zone', 'check', 'root.zone', '--json=yes'], /^edge-resolver zone check: --json takes no value/],
      [['zone', 'compile', 'root.zone'], /^edge-resolver zone compile: missing -o IMAGE/],
      [['zone', 'check', 'root.zone', '--dnssec', 'maybe'], /^edge-resolver zone check: --dnssec must be one of require, verify-if-present, ignore/],
      [['new-app'], /^edge-resolver new-app: missing the app NAME/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    for (const [i, [args, re]] of cases.entries()) {
      const r = runs[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n').filter(Boolean), args.join(' ')).toHaveLength(1);
      expect(r.stderr.trimEnd(), args.join(' ')).toMatch(re);
    }
  });

  it('says why a file cannot be read, in one line, with exit 1', async () => {
    const r = await cli(['config', 'check', '/no/such/edge.toml']);
    expect(r).toMatchObject({ code: 1, stderr: 'cannot read /no/such/edge.toml: no such file (ENOENT)\n' });
    const s = await cli(['serve', '--config', '/no/such/edge.toml']);
    expect(s).toMatchObject({ code: 1, stderr: 'cannot read /no/such/edge.toml: no such file (ENOENT)\n' });
  });
});
