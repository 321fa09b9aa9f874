/**
 * Reading WebSocket frames from a server we do not trust. Every source opens its socket with ws's
 * `skipUTF8Validation`: otherwise ws closes the link (1007) on a text frame with invalid UTF-8, and one
 * bad frame must never drop the connection. Each source checks the text itself and skips the frame.
 */
import * as buffer from 'buffer';
import type { RawData } from 'ws';

/** Node ≥ 18.14 has a native check; older ones decode strictly */
const strictDecoder = new TextDecoder('utf-8', { fatal: true });
const nativeIsUtf8 = (buffer as { isUtf8?: (input: Buffer) => boolean }).isUtf8;

/** The frame's bytes as one Buffer (ws hands fragments as an array, rarely as an ArrayBuffer). */
export function frameBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** The frame's size in bytes, without copying it. */
export function frameSize(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

/** Whether the bytes are valid UTF-8 (a text frame must be). */
export function isUtf8Text(bytes: Buffer): boolean {
  if (nativeIsUtf8) return nativeIsUtf8(bytes);
  try {
    strictDecoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
