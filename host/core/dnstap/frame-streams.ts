/**
 * Frame Streams (github.com/farsightsec/fstrm, "Frame Streams Control Frames"), the transport
 * dnstap runs over. A data frame is a 32-bit big-endian length and the payload. A control frame
 * is an escape (length 0), its own length, a control type and fields (CONTENT_TYPE: a length and
 * the content type's name).
 *
 * - Unidirectional (a file): START, data frames, STOP.
 * - Bidirectional (a socket): the writer sends READY with the content types it offers, the
 *   reader answers ACCEPT with the one it takes, the writer sends START, data frames, STOP, and
 *   the reader answers FINISH.
 */

export const DNSTAP_CONTENT_TYPE = 'protobuf:dnstap.Dnstap';

export const Control = { ACCEPT: 1, START: 2, STOP: 3, READY: 4, FINISH: 5 } as const;
export type ControlType = (typeof Control)[keyof typeof Control];

const FIELD_CONTENT_TYPE = 1;
/** A control frame is small; anything longer is not one we would take (fstrm caps it at 512). */
export const MAX_CONTROL_LENGTH = 512;

/** A data frame around `payload`. */
export function dataFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** A control frame of `type` with a CONTENT_TYPE field for each of `contentTypes`. */
export function controlFrame(type: ControlType, contentTypes: string[] = []): Uint8Array {
  const names = contentTypes.map((t) => new TextEncoder().encode(t));
  const length = 4 + names.reduce((n, b) => n + 8 + b.length, 0);
  const out = new Uint8Array(8 + length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0);
  v.setUint32(4, length);
  v.setUint32(8, type);
  let p = 12;
  for (const b of names) {
    v.setUint32(p, FIELD_CONTENT_TYPE);
    v.setUint32(p + 4, b.length);
    out.set(b, p + 8);
    p += 8 + b.length;
  }
  return out;
}

export interface ControlFrame {
  type: number;
  contentTypes: string[];
}

/**
 * The control frame at the start of `buf`, with the bytes it took; null while `buf` holds only
 * part of one. Throws on what cannot be a control frame (a data frame, a length out of range).
 */
export function readControlFrame(buf: Uint8Array): { frame: ControlFrame; length: number } | null {
  if (buf.length < 4) return null;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (v.getUint32(0) !== 0) throw new Error('expected a control frame, got a data frame');
  if (buf.length < 8) return null;
  const length = v.getUint32(4);
  if (length < 4 || length > MAX_CONTROL_LENGTH) throw new Error(`control frame length ${length} out of range`);
  if (buf.length < 8 + length) return null;
  const frame: ControlFrame = { type: v.getUint32(8), contentTypes: [] };
  for (let p = 12; p < 8 + length; ) {
    if (p + 8 > 8 + length) throw new Error('control frame field runs past the frame');
    const field = v.getUint32(p);
    const len = v.getUint32(p + 4);
    if (p + 8 + len > 8 + length) throw new Error('control frame field runs past the frame');
    if (field === FIELD_CONTENT_TYPE) frame.contentTypes.push(new TextDecoder().decode(buf.subarray(p + 8, p + 8 + len)));
    p += 8 + len;
  }
  return { frame, length: 8 + length };
}
