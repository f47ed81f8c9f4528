#!/usr/bin/env node
/**
 * The `edge-resolver` command. `serve` runs a node; `config check`, `zone ...`, `rules ...` and
 * `new-app` are the offline tools around it.
 */

import { readFileSync } from 'node:fs';
import { projectRoot } from './paths.js';

const HELP = `edge-resolver: an edge DNS resolver on WebAssembly apps

Usage:
  edge-resolver serve [--config FILE] [--listen HOST:PORT]... [--doh HOST:PORT]... [--doh-http HOST:PORT]...
                      [--admin HOST:PORT] [--upstream HOST:PORT]... [--node-id ID]
                      [--rules FILE] [--root-zone SOURCE --trust-anchor FILE]
                      [--mode forward|recursive] [--root-hints FILE]
                      [--peer ID=HOST:PORT]... [--site-key KEYID:SECRET]...
                      [--log-level debug|info|warn|error]
  edge-resolver config check FILE
  edge-resolver rules check FILE [--config CONFIG]
  edge-resolver rules push --to URL[,URL...] FILE [--token TOKEN]
  edge-resolver zone check FILE [--trust-anchor FILE] [--now ISO-8601] [--json]
  edge-resolver zone compile FILE -o IMAGE [--trust-anchor FILE]
  edge-resolver new-app NAME [--dir DIR] [--phase PHASE] [--description TEXT]
  edge-resolver --version | --help

Flags given to serve override the config file; without --config the embedded default config
is used (DNS on 127.0.0.1:5353, DoH on https://127.0.0.1:8053 with a self-signed certificate
and on http://127.0.0.1:8080, admin on 127.0.0.1:9153).
Signals: SIGHUP reloads the config file; SIGINT/SIGTERM shut down gracefully.
`;

const ZONE_CLI = './cli/zone.bundle.js';

type Out = { stdout: (s: string) => void; stderr: (s: string) => void };
const io: Out = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

export async function main(argv: string[], out: Out = io): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      // Each command loads only what it needs: `zone check` need not start a server's worth of code.
      case 'serve':
        return await (await import('./cli/serve.js')).serve(rest);
      case 'config':
        return await (await import('./cli/serve.js')).configCommand(rest, out);
      case 'rules': {
        const { rulesCommand } = await import('./cli/rules.js');
        return await rulesCommand(rest, out);
      }
      case 'new-app': {
        const { newAppCommand } = await import('./cli/new-app.js');
        return await newAppCommand(rest, out);
      }
      case 'zone': {
        // the build's one-file bundle of ./cli/zone.js: a zone check starts about 40 ms sooner
        const { zoneCommand } = (await import(ZONE_CLI)) as typeof import('./cli/zone.js');
        return await zoneCommand(rest, out);
      }
      case '--version':
      case 'version':
        out.stdout(`${JSON.parse(readFileSync(`${projectRoot()}/package.json`, 'utf8')).version}\n`);
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        out.stdout(HELP);
        return 0;
      default:
        out.stderr(`edge-resolver: unknown command "${cmd}"\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    const problems = (e as { problems?: unknown }).problems;
    out.stderr(`edge-resolver: ${Array.isArray(problems) ? '\n' + problems.join('\n') : (e as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
