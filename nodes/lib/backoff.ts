/**
 * Reconnect delays: exponential with jitter for transient failures, a separate and much slower
 * schedule for permanent ones (bad credentials), so a wrong key never hammers a server.
 */
export interface BackoffOptions {
  /** first delay after a transient failure */
  initialDelayMs: number;
  /** cap for transient delays */
  maxDelayMs: number;
  /** growth per consecutive failure */
  factor: number;
  /** 0..1: share of each delay that is randomised (0.5 = delay/2 + random(delay/2)) */
  jitter: number;
  /** first delay after a permanent failure (auth, scope); doubles per consecutive permanent failure */
  permanentDelayMs: number;
  /** cap for permanent delays */
  maxPermanentDelayMs: number;
}

export const defaultBackoff: BackoffOptions = {
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  factor: 2,
  jitter: 0.5,
  permanentDelayMs: 120_000,
  maxPermanentDelayMs: 30 * 60_000,
};

export class Backoff {
  private transientFailures = 0;
  private permanentFailures = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** consecutive permanent failures since the last success */
  get permanentCount(): number {
    return this.permanentFailures;
  }

  /** The delay before the next attempt, counting this failure. */
  next(permanent: boolean): number {
    let base: number;
    if (permanent) {
      this.permanentFailures++;
      base = Math.min(
        this.opts.maxPermanentDelayMs,
        this.opts.permanentDelayMs * 2 ** (this.permanentFailures - 1),
      );
    } else {
      base = Math.min(
        this.opts.maxDelayMs,
        this.opts.initialDelayMs * this.opts.factor ** this.transientFailures,
      );
      this.transientFailures++;
    }
    const jitter = Math.min(1, Math.max(0, this.opts.jitter));
    // Permanent delays are only ever lengthened by jitter: they are a floor that protects the server.
    return permanent
      ? Math.round(base * (1 + jitter * this.random()))
      : Math.round(base * (1 - jitter) + base * jitter * this.random());
  }

  /** Credentials worked: forget earlier permanent failures. */
  resetPermanent(): void {
    this.permanentFailures = 0;
  }

  /** A stable session forgives earlier failures. */
  reset(): void {
    this.transientFailures = 0;
    this.permanentFailures = 0;
  }
}
