/**
 * The command line's shared manners, on node:util parseArgs: every command and subcommand
 * declares its flags once, and from that answers `--help` with them, and turns a bad command
 * line into one readable line and exit status 2. Exit statuses, for every command:
 *   0  done (a check passed, a command succeeded)
 *   1  refused or failed (a config or zone refused, a node that answered with an error or not at all)
 *   2  a wrong command line (an unknown command or flag, a missing or bad value)
 */

import { parseArgs } from 'node:util';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export type Out = { stdout: (s: string) => void; stderr: (s: string) => void };

/** A wrong command line: reported as `edge-resolver COMMAND: MESSAGE` and exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    readonly command: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Flag {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** How the value is shown in help: `HOST:PORT`, `FILE`. */
  value?: string;
  help: string;
}

export interface Command {
  /** `serve`, `config check`, `zone inspect`. */
  name: string;
  /** What follows the name in the usage line: `FILE [--json]`. */
  synopsis: string;
  summary: string;
  /** One line for the list of a group's commands (default: the summary's first line). */
  brief?: string;
  flags: Record<string, Flag>;
  /** Positional arguments: how many at least and at most, and what they are called in errors. */
  positionals?: { min: number; max: number; what: string };
  /** Text after the flags (exit statuses, examples). */
  details?: string;
}

export function helpOf(c: Command): string {
  const rows = Object.entries(c.flags).map(([name, f]) => {
    const left = `${f.short ? `-${f.short}, ` : '    '}--${name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`;
    return [left, `${f.help}${f.multiple ? ' (may be repeated)' : ''}`] as const;
  });
  rows.push(['-h, --help', 'show this help']);
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  const lines = rows.map(([l, r]) => (l.length + 2 > width ? `  ${l}\n  ${' '.repeat(width)}${r}` : `  ${l.padEnd(width)}${r}`));
  return `usage: edge-resolver ${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}\n\n${c.summary}\n\noptions:\n${lines.join('\n')}\n${c.details ? `\n${c.details.trimEnd()}\n` : ''}`;
}

/** parseArgs's messages, as one line a user reads. */
function readable(e: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(e.message)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = quoted.split(' ')[0];
      return /does not take an argument/.test(e.message) ? `${flag} takes no value` : `${flag} needs a value`;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted}"`;
    default:
      return e.message.split('\n')[0]!;
  }
}

export type Values = Record<string, string | string[] | boolean | undefined>;

/** The command line after the command's name; null when it asked for --help (printed). Throws UsageError. */
export function parseCommand(c: Command, argv: string[], out: Out): { values: Values; positionals: string[] } | null {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, f] of Object.entries(c.flags)) options[name] = { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
  // --help anywhere wins over whatever else is wrong with the line.
  if (argv.includes('--help') || argv.includes('-h')) {
    out.stdout(helpOf(c));
    return null;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(c.name, readable(e as Error & { code?: string }));
  }
  const p = c.positionals ?? { min: 0, max: 0, what: 'argument' };
  const n = parsed.positionals.length;
  if (n < p.min) throw new UsageError(c.name, `missing ${p.what}`);
  if (n > p.max) throw new UsageError(c.name, p.max === 0 ? `unexpected argument "${parsed.positionals[0]}"` : `unexpected argument "${parsed.positionals[p.max]}" (takes ${p.max === 1 ? `one ${p.what}` : `at most ${p.max}`})`);
  return { values: parsed.values as Values, positionals: parsed.positionals };
}

/** A command with subcommands (`config`, `zone`, `rules`, `control`): its help lists them. */
export function groupHelp(name: string, summary: string, subs: Command[]): string {
  const width = Math.max(...subs.map((s) => s.name.length)) + 4;
  return `usage: edge-resolver ${name} COMMAND ...\n\n${summary}\n\ncommands:\n${subs.map((s) => `  ${s.name.padEnd(width)}${s.brief ?? s.summary.split('\n')[0]}`).join('\n')}\n\nedge-resolver ${name} COMMAND --help shows a command's options.\n`;
}

/** The one line a wrong command line gets. */
export function usageLine(e: UsageError): string {
  const who = `edge-resolver${e.command ? ` ${e.command}` : ''}`;
  return `${who}: ${e.message}${/--help/.test(e.message) ? '' : ` (see ${who} --help)`}\n`;
}

/** Runs `fn`; a UsageError it throws is printed as one line and gives exit status 2. */
export async function guarded(out: Out, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    out.stderr(usageLine(e));
    return EXIT.usage;
  }
}

/** Runs the subcommand `argv[0]` of a group; a wrong command line is one line and exit status 2. */
export function dispatch(name: string, summary: string, subs: Array<Command & { run: (argv: string[], out: Out) => Promise<number> }>, argv: string[], out: Out): Promise<number> {
  return guarded(out, () => dispatchTo(name, summary, subs, argv, out));
}

async function dispatchTo(name: string, summary: string, subs: Array<Command & { run: (argv: string[], out: Out) => Promise<number> }>, argv: string[], out: Out): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    out.stdout(groupHelp(name, summary, subs));
    return EXIT.ok;
  }
  if (sub === undefined) throw new UsageError(name, `missing command (${subs.map((s) => s.name.slice(name.length + 1)).join(', ')}); see edge-resolver ${name} --help`);
  const cmd = subs.find((s) => s.name === `${name} ${sub}`);
  if (!cmd) throw new UsageError(name, `unknown command "${sub}" (${subs.map((s) => s.name.slice(name.length + 1)).join(', ')})`);
  return cmd.run(rest, out);
}

/** A file's text, or one readable line saying why not (thrown as a plain Error). */
export function describeFsError(e: unknown, path: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  const why: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a folder', ENOTDIR: 'a parent is not a folder' };
  return `cannot read ${path}: ${code && why[code] ? `${why[code]} (${code})` : (e as Error).message}`;
}
