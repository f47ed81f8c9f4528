/** Structured logging for the core; adapters decide where lines go. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
}

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

const quoted = (s: string) => (/[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s);

/** ` key=value ...`, values quoted when they contain spaces, quotes or `=`. */
function fieldsText(fields: LogFields): string {
  let out = '';
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out += ` ${k}=${quoted(String(v))}`;
  return out;
}

/** One line per event: `level msg key=value ...`, values quoted when they contain spaces. */
export function formatLine(level: LogLevel, msg: string, fields: LogFields = {}): string {
  return `${level} ${msg}${fieldsText(fields)}`;
}

/**
 * How a line is written: `text` (the default) is `TIME LEVEL message key=value ...`; `logfmt` is
 * every part as key=value (`ts=... level=info msg="..." key=value`); `json` is one object per line
 * (`{"ts":...,"level":"info","msg":"...",...}`). The time is RFC 3339 UTC with milliseconds.
 */
export type LogFormat = 'text' | 'logfmt' | 'json';

/** One line in `format`, stamped `at`. */
export function formatLogLine(format: LogFormat, level: LogLevel, msg: string, fields: LogFields = {}, at: Date = new Date()): string {
  const ts = at.toISOString();
  if (format === 'json') {
    const doc: Record<string, unknown> = { ts, level, msg };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && !(k in doc)) doc[k] = v;
    return JSON.stringify(doc);
  }
  if (format === 'logfmt') return `ts=${ts} level=${level} msg=${quoted(msg)}${fieldsText(fields)}`;
  return `${ts} ${formatLine(level, msg, fields)}`;
}

export function consoleLogger(min: LogLevel = 'info', write: (line: string) => void = (l) => console.error(l), format: LogFormat = 'text'): Logger {
  return {
    log(level, msg, fields) {
      if (order[level] >= order[min]) write(formatLogLine(format, level, msg, fields));
    },
  };
}

export const silentLogger: Logger = { log() {} };
