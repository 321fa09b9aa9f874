import type { RawData } from 'ws';
import { frameBytes, frameSize, isUtf8Text } from '../frames';

/** One JSON object read from a server frame; `text` is its source, for messages that need it. */
export type Frame = Record<string, unknown>;

/** Where a skipped frame is reported: `kind` is stable (log once per kind), `message` safe to show. */
export type SkipReport = (kind: string, message: string) => void;

/**
 * "Might anyone want this frame?", asked of its raw bytes before they are checked and parsed. A source
 * that knows what its nodes selected answers false for frames nobody could want; those are dropped
 * silently (not wanted is not an error). It must never answer false for a wanted frame.
 */
export type Prefilter = (bytes: Buffer) => boolean;

/**
 * The one reading of an untrusted server frame, in one order for every source:
 * binary → size → (prefilter) → UTF-8 → JSON → object. A frame failing a check is skipped and
 * reported; it never drops the link. The size is read before any copy, so an oversized frame costs
 * nothing to reject; a frame the prefilter rejects costs a byte search instead of a parse.
 */
export class FrameParser {
  constructor(
    /** how the server is named in reports, e.g. "PrivMX Bridge" */
    private readonly label: () => string,
    private readonly maxFrameBytes: number,
    private readonly skip: SkipReport,
    private readonly prefilter?: Prefilter,
  ) {}

  /** frames the prefilter rejected unparsed */
  rejected = 0;

  parse(data: RawData, isBinary: boolean): Frame | undefined {
    if (isBinary) return this.skipped('binary', 'skipped a binary frame');
    const size = frameSize(data);
    if (size > this.maxFrameBytes)
      return this.skipped('oversized', `skipped a frame of ${size} bytes (limit ${this.maxFrameBytes})`);
    const bytes = frameBytes(data);
    if (this.prefilter !== undefined && !this.prefilter(bytes)) {
      this.rejected++;
      return undefined;
    }
    if (!isUtf8Text(bytes))
      return this.skipped('invalid-utf8', 'skipped a text frame that is not valid UTF-8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      return this.skipped('invalid-json', `skipped a frame that is not JSON (${size} bytes)`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      return this.skipped('not-an-object', 'skipped a JSON frame that is not an object');
    return parsed as Frame;
  }

  /** Report a frame the protocol itself rejects (unknown type, …) the same way. */
  skipped(kind: string, message: string): undefined {
    this.skip(kind, `${this.label()}: ${message}`);
    return undefined;
  }
}
