import { describe, expect, it } from 'vitest';
import { consoleLogger, formatLogLine } from './log.js';

describe('log lines', () => {
  const at = new Date('2026-12-04T19:05:05.123Z');
  const fields = { signal: 'SIGTERM', errors: 'a b', n: 3, skipped: undefined };

  it('carry a time and a level in every format', () => {
    expect(formatLogLine('text', 'info', 'shutting down', fields, at)).toBe('2026-12-04T19:05:05.123Z info shutting down signal=SIGTERM errors="a b" n=3');
    expect(formatLogLine('logfmt', 'warn', 'shutting down', fields, at)).toBe('ts=2026-12-04T19:05:05.123Z level=warn msg="shutting down" signal=SIGTERM errors="a b" n=3');
    expect(JSON.parse(formatLogLine('json', 'error', 'shutting down', fields, at))).toEqual({ ts: '2026-12-04T19:05:05.123Z', level: 'error', msg: 'shutting down', signal: 'SIGTERM', errors: 'a b', n: 3 });
  });

  it('keep the level filter, and a field cannot overwrite ts, level or msg in JSON', () => {
    const lines: string[] = [];
    const log = consoleLogger('warn', (l) => lines.push(l), 'json');
    log.log('info', 'dropped');
    log.log('warn', 'kept', { level: 'debug', msg: 'x' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', msg: 'kept' });
  });
});
