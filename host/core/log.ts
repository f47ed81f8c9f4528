/** Structured logging for the core; adapters decide where lines go. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
}

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** One line per event: `level msg key=value ...`, values quoted when they contain spaces. */
export function formatLine(level: LogLevel, msg: string, fields: LogFields = {}): string {
  let line = `${level} ${msg}`;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const s = String(v);
    line += ` ${k}=${/[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s}`;
  }
  return line;
}

export function consoleLogger(min: LogLevel = 'info', write: (line: string) => void = (l) => console.error(l)): Logger {
  return {
    log(level, msg, fields) {
      if (order[level] >= order[min]) write(formatLine(level, msg, fields));
    },
  };
}

export const silentLogger: Logger = { log() {} };
