#!/bin/sh
//bin/true; exec node --max-semi-space-size=4 "$0" "$@"
// Line 2 is a comment to JavaScript; run as a command, it starts node with its V8 start flags (v8-flags.ts).
/**
 * The `edge-resolver` command. `serve` runs a node; `control` talks to a running one; `config
 * check`, `zone ...`, `rules ...` and `new-app` are the offline tools around it. Every command
 * and subcommand answers --help; exit statuses are in cli/args.ts (0 done, 1 refused or
 * failed, 2 a wrong command line).
 */

import { readFileSync } from 'node:fs';
import { EXIT, UsageError, usageLine, type Out } from './cli/args.js';
import { projectRoot } from './paths.js';

const HELP = `usage: edge-resolver COMMAND [options]

An edge DNS resolver on WebAssembly apps.

commands:
  serve           run a resolver node (DNS over UDP/TCP, DoH, admin API)
  control         talk to a running node: status, reload, flush, rules, zone, negative trust anchors, peers, upstreams
  config check    check a config file exactly as serve and a reload do
  rules check     check a rule file offline with the override app the nodes run
  rules push      push a rule file to several nodes, all or none
  zone check      check a zone file (ZONEMD, DNSSEC, expiry)
  zone compile    check a zone file and write a zone image
  zone inspect    validate a zone image and print its header
  new-app         scaffold a new app

options:
  -h, --help      show this help (COMMAND --help: a command's options)
  -V, --version   print the version

Exit status: 0 done, 1 refused or failed (a config, zone or rule set refused; a node that
answered with an error or not at all), 2 a wrong command line.
`;

const io: Out = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

function version(): string {
  return JSON.parse(readFileSync(`${projectRoot()}/package.json`, 'utf8')).version;
}

/** Whether `zone ARGS` is a check or compile with the worker verifier (the default). */
function wantsVerifyWorker(args: readonly string[]): boolean {
  if (args[0] !== 'check' && args[0] !== 'compile') return false;
  return !args.some((a) => a === 'webcrypto' || a === '--verifier=webcrypto' || a === '--help' || a === '-h');
}

async function startWorkerEarly(): Promise<import('./cli/verify-worker.js').VerifyWorker | undefined> {
  try {
    return (await import('./cli/verify-worker.js')).startVerifyWorker();
  } catch {
    return undefined; // the verifier tries again, and checks on this thread if it cannot
  }
}

export async function main(argv: string[], out: Out = io): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      // Each command loads only what it needs: `zone check` need not start a server's worth of code.
      case 'serve':
        return await (await import('./cli/serve.js')).serve(rest, out);
      case 'config':
        return await (await import('./cli/serve.js')).configCommand(rest, out);
      case 'control':
        return await (await import('./cli/control.js')).controlCommand(rest, out);
      case 'rules':
        return await (await import('./cli/rules.js')).rulesCommand(rest, out);
      case 'new-app':
        return await (await import('./cli/new-app.js')).newAppCommand(rest, out);
      case 'zone': {
        // a check's signature thread first: it takes some 60 ms to start, which now overlaps
        // loading the zone commands (a guess from the command line; the command ends it if unused)
        const worker = wantsVerifyWorker(rest) ? await startWorkerEarly() : undefined;
        // the build's one-file bundle of ./cli/zone.js with V8's code cache for it: a zone
        // check starts about 40 ms sooner than from some 40 modules, and compiles less
        const { cli } = await (await import('./cli/zone-loader.js')).loadZoneCli();
        return await cli.zoneCommand(rest, out, worker ? { worker } : {});
      }
      case '--version':
      case '-V':
      case 'version':
        out.stdout(`edge-resolver ${version()}\n`);
        return EXIT.ok;
      case '--help':
      case '-h':
      case 'help':
        if (rest[0]) return await main([...rest, '--help'], out);
        out.stdout(HELP);
        return EXIT.ok;
      case undefined:
        out.stderr(HELP);
        return EXIT.usage;
      default:
        throw new UsageError('', `unknown command "${cmd}"; edge-resolver --help lists the commands`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      out.stderr(usageLine(e));
      return EXIT.usage;
    }
    // A refused config: one line per problem, each naming its key (the same lines config check prints).
    const problems = (e as { problems?: unknown }).problems;
    if (Array.isArray(problems)) out.stderr(problems.map((p) => `${p}\n`).join(''));
    else out.stderr(`edge-resolver${cmd ? ` ${cmd}` : ''}: ${(e as Error).message.split('\n')[0]}\n`);
    return EXIT.failed;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
