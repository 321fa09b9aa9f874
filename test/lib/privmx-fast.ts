import type { PrivmxOptions } from '../../nodes/lib/privmx/connection';

/** Protocol timings for connection tests against the fake Bridge: quick reconnects, patient requests. */
export const FAST: Partial<PrivmxOptions> = {
  backoff: {
    initialDelayMs: 20,
    maxDelayMs: 100,
    factor: 2,
    jitter: 0,
    permanentDelayMs: 2000,
    maxPermanentDelayMs: 4000,
  },
  deadAfterMs: 5000,
  // limits a busy machine never reaches by accident (a late answer must not look like a failure);
  // the timeout test sets a short one
  requestTimeoutMs: 5_000,
  handshakeTimeoutMs: 5_000,
  closeTimeoutMs: 2_000,
  minRefreshDelayMs: 20,
};
