import { defaultReconnect, ReconnectOptions } from '../connection';
import { tuned } from '../tuning';

/**
 * The one timing vocabulary of every event source. Each protocol adds its own heartbeats and
 * lifetimes to these; the names below mean the same thing everywhere.
 */
export interface SourceTiming extends ReconnectOptions {
  /** the WebSocket opening handshake must finish within this */
  handshakeTimeoutMs: number;
  /** graceful close (redeploy): protocol goodbyes + close(1000), then the socket is terminated */
  closeTimeoutMs: number;
  /** frames larger than this are logged once and skipped (the link is kept) */
  maxFrameBytes: number;
  /** frames read in one tick before the socket pauses until the flow had its turn (setImmediate) */
  burstFrames: number;
  /** paused for the flow and nothing completed for this long: the count is stale, read again */
  flowStallMs: number;
}

export const sourceDefaults: SourceTiming = {
  ...defaultReconnect,
  handshakeTimeoutMs: 15_000,
  closeTimeoutMs: 2_000,
  maxFrameBytes: 1 << 20,
  burstFrames: 64,
  flowStallMs: 10_000,
};

/** A protocol's timing: the shared defaults, the protocol's own, then any test overrides. */
export function sourceTiming<T extends SourceTiming>(protocol: string, defaults: T): T {
  return tuned(protocol, defaults);
}
