/**
 * Every refusal of a zone says where and why. A ZoneError carries a machine-readable code (so the
 * host can count refusals by cause) and, for text input, the `file:line:column` of the offending
 * token, because "the parser failed" with no position is what cost an operator hours in 2023.
 */

export type ZoneErrorCode =
  | 'syntax' // malformed presentation-format text
  | 'unknown-type' // a type mnemonic this table does not know (never silently type 0)
  | 'unknown-class'
  | 'binary' // control bytes where text was expected
  | 'line-too-long'
  | 'limit' // a configured record or byte limit was exceeded
  | 'include' // $INCLUDE refused: loop, escape from the zone directory, depth, no resolver
  | 'truncated' // input ended inside a record, a parenthesis, a message or a gzip stream
  | 'wire' // malformed wire-format input
  | 'zone' // the records do not form a zone (no SOA, two SOAs, mixed classes)
  | 'anchor' // trust anchor file unusable
  | 'image'; // malformed zone image

export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export class ZoneError extends Error {
  override readonly name = 'ZoneError';
  constructor(
    readonly code: ZoneErrorCode,
    readonly detail: string,
    readonly position?: SourcePosition,
  ) {
    super(position ? `${position.file}:${position.line}:${position.column}: ${detail}` : detail);
  }
}

/**
 * Thrown by field codecs, which know only which token of the current entry failed; the
 * presentation parser turns it into a ZoneError with that token's position.
 */
export class FieldError extends Error {
  override readonly name = 'FieldError';
  constructor(
    readonly token: number,
    message: string,
    readonly code: ZoneErrorCode = 'syntax',
  ) {
    super(message);
  }
}
