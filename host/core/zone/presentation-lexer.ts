/**
 * Splits presentation-format lines into entries (RFC 1035 §5.1): whitespace-separated words,
 * quoted strings, `;` comments, and parentheses that join lines. Works on raw bytes and keeps
 * token offsets, copying only when an entry spans lines (the buffer of a finished line may be
 * gone by the time the entry ends).
 */

import { ZoneError } from './errors.js';
import { TOKEN_QUOTED, type Tokens } from './tokens.js';

/** A single entry may span many lines but not grow without bound. */
const MAX_ENTRY_BYTES = 1 << 20;

export class Entry implements Tokens {
  buf: Uint8Array = new Uint8Array(0);
  start: Int32Array = new Int32Array(64);
  end: Int32Array = new Int32Array(64);
  flags: Uint8Array = new Uint8Array(64);
  line: Int32Array = new Int32Array(64);
  col: Int32Array = new Int32Array(64);
  count = 0;
  /** The entry's first line began with a blank: the owner is inherited. */
  blankStart = false;
  /** Tokens of earlier lines of this entry, copied here. */
  own: Uint8Array = new Uint8Array(4096);
  ownUsed = 0;

  reset(): void {
    this.count = 0;
    this.ownUsed = 0;
  }

  push(s: number, e: number, flags: number, line: number, col: number): void {
    if (this.count === this.start.length) this.grow();
    const k = this.count++;
    this.start[k] = s;
    this.end[k] = e;
    this.flags[k] = flags;
    this.line[k] = line;
    this.col[k] = col;
  }

  private grow(): void {
    const n = this.start.length * 2;
    const g32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.start = g32(this.start);
    this.end = g32(this.end);
    this.line = g32(this.line);
    this.col = g32(this.col);
    const f = new Uint8Array(n);
    f.set(this.flags);
    this.flags = f;
  }

  /** Copies tokens `[from, count)` out of `src` into the entry's own buffer. */
  adopt(src: Uint8Array, from: number): boolean {
    let need = 0;
    for (let k = from; k < this.count; k++) need += this.end[k]! - this.start[k]!;
    if (this.ownUsed + need > MAX_ENTRY_BYTES) return false;
    if (this.ownUsed + need > this.own.length) {
      let n = this.own.length * 2;
      while (n < this.ownUsed + need) n *= 2;
      const b = new Uint8Array(n);
      b.set(this.own.subarray(0, this.ownUsed));
      this.own = b;
    }
    for (let k = from; k < this.count; k++) {
      const s = this.start[k]!;
      const e = this.end[k]!;
      this.own.set(src.subarray(s, e), this.ownUsed);
      this.start[k] = this.ownUsed;
      this.ownUsed += e - s;
      this.end[k] = this.ownUsed;
    }
    return true;
  }
}

export class Lexer {
  readonly entry = new Entry();
  private depth = 0;
  private parenLine = 0;
  private parenCol = 0;

  constructor(private readonly file: string) {}

  private fail(code: 'syntax' | 'binary' | 'limit', msg: string, line: number, col: number): never {
    throw new ZoneError(code, msg, { file: this.file, line, column: col });
  }

  /**
   * Tokenizes one line (`buf[s, e)`, newline excluded). Returns true when it completes an entry
   * with at least one token; the caller reads `entry`, then calls `entry.reset()`.
   */
  lexLine(buf: Uint8Array, s: number, e: number, lineNo: number): boolean {
    const entry = this.entry;
    const firstOfLine = entry.count;
    if (firstOfLine === 0 && this.depth === 0) {
      const c = s < e ? buf[s]! : 0;
      entry.blankStart = c === 0x20 || c === 0x09;
    }
    let i = s;
    while (i < e) {
      const c = buf[i]!;
      if (c === 0x20 || c === 0x09 || c === 0x0d) {
        i++;
        continue;
      }
      if (c === 0x3b) break;
      if (c === 0x28) {
        if (this.depth === 0) {
          this.parenLine = lineNo;
          this.parenCol = i - s + 1;
        }
        this.depth++;
        i++;
        continue;
      }
      if (c === 0x29) {
        if (this.depth === 0) this.fail('syntax', '")" without a matching "("', lineNo, i - s + 1);
        this.depth--;
        i++;
        continue;
      }
      if (c < 0x20 || c === 0x7f) {
        this.fail('binary', `binary data (byte 0x${c.toString(16).padStart(2, '0')}) where zone text was expected`, lineNo, i - s + 1);
      }
      if (c === 0x22) {
        let j = i + 1;
        for (;;) {
          if (j >= e) this.fail('syntax', 'quoted string not closed on this line', lineNo, i - s + 1);
          const d = buf[j]!;
          if (d === 0x22) break;
          if (d === 0x5c) {
            j += 2;
            continue;
          }
          if (d < 0x20 && d !== 0x09) {
            this.fail('binary', `binary data (byte 0x${d.toString(16).padStart(2, '0')}) inside a quoted string`, lineNo, j - s + 1);
          }
          j++;
        }
        entry.push(i + 1, j, TOKEN_QUOTED, lineNo, i - s + 1);
        i = j + 1;
        continue;
      }
      let j = i;
      while (j < e) {
        const d = buf[j]!;
        if (d <= 0x20) {
          if (d === 0x20 || d === 0x09 || d === 0x0d) break;
          this.fail('binary', `binary data (byte 0x${d.toString(16).padStart(2, '0')}) where zone text was expected`, lineNo, j - s + 1);
        }
        if (d === 0x5c) {
          if (j + 1 >= e) this.fail('syntax', 'backslash at the end of a line', lineNo, j - s + 1);
          j += 2;
          continue;
        }
        if (d === 0x3b || d === 0x28 || d === 0x29) break;
        if (d === 0x22) {
          // a quoted part inside a word (SvcParams key="value") stays in the word
          j++;
          while (j < e && buf[j] !== 0x22) j += buf[j] === 0x5c ? 2 : 1;
          if (j >= e) this.fail('syntax', 'quoted string not closed on this line', lineNo, i - s + 1);
        }
        j++;
      }
      entry.push(i, j, 0, lineNo, i - s + 1);
      i = j;
    }
    if (this.depth > 0) {
      if (entry.count > firstOfLine || entry.ownUsed > 0) {
        if (!entry.adopt(buf, firstOfLine)) this.fail('limit', 'entry longer than 1 MiB', this.parenLine, this.parenCol);
        entry.buf = entry.own;
      }
      return false;
    }
    if (entry.count === 0) return false;
    if (firstOfLine > 0) {
      if (!entry.adopt(buf, firstOfLine)) this.fail('limit', 'entry longer than 1 MiB', lineNo, 1);
      entry.buf = entry.own;
    } else {
      entry.buf = buf;
    }
    return true;
  }

  /** At end of input: an open parenthesis means the file was cut short. */
  finish(lineNo: number): void {
    if (this.depth > 0) {
      throw new ZoneError(
        'truncated',
        `input ended inside parentheses opened at line ${this.parenLine} (truncated file?)`,
        { file: this.file, line: lineNo, column: 1 },
      );
    }
  }
}
