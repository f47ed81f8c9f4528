/** A DNS message or name that cannot be read; `offset` says where in the message, when known. */
export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(message: string, readonly offset = -1) {
    super(offset >= 0 ? `${message} at offset ${offset}` : message);
  }
}
