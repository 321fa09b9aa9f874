import { Backoff, type BackoffOptions } from '../backoff';
import { type Clock, sleep } from '../clock';
import { SmsError, SmsErrorCodes } from './errors';

/**
 * Run one send with a per-attempt timeout and retries for transient failures only: exponential
 * backoff with jitter, the server's Retry-After honoured, a bounded number of attempts, and an
 * abort (node close) that ends every wait at once.
 */
export interface RetryOptions {
  /** retries after the first attempt (3 = at most 4 attempts) */
  retries: number;
  /** per attempt; the attempt's signal aborts and the wait ends after this long */
  timeoutMs: number;
  backoff: Pick<BackoffOptions, 'initialDelayMs' | 'maxDelayMs' | 'factor' | 'jitter'>;
  /** a Retry-After longer than this is not waited for: the error is reported instead */
  maxRetryAfterMs: number;
  /**
   * Our own timeout may fire after the provider received the request, so retrying could send a
   * second SMS. Retry timeouts only when the provider deduplicates resubmissions (idempotent).
   */
  retryTimeouts: boolean;
  /** provider name for messages */
  provider: string;
  clock: Clock;
  random?: () => number;
  /** node close: ends the current attempt and any backoff wait; the result is `cancelled` */
  signal?: AbortSignal;
}

export type RetryResult<T> =
  | { ok: true; value: T; attempts: number }
  | { ok: false; error: SmsError; attempts: number; cancelled: boolean };

const codes = new Set<string>(SmsErrorCodes);

/** Anything thrown by an adapter, as an SmsError (unknown errors are permanent SMS_PROVIDER). */
export function asSmsError(err: unknown, provider: string): SmsError {
  if (err instanceof SmsError) return err;
  const e = err as { name?: string; code?: unknown; message?: unknown } | undefined;
  if (e && e.name === 'SmsError' && typeof e.code === 'string' && codes.has(e.code)) return e as SmsError;
  const message = e && typeof e.message === 'string' && e.message ? e.message : String(err);
  return new SmsError('SMS_PROVIDER', `${provider}: ${message}`);
}

const CANCELLED = Symbol('cancelled');
const TIMED_OUT = Symbol('timed-out');

/** One attempt raced against its timeout and the close signal (adapters that ignore the signal cannot hang us). */
async function attemptOnce<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  opts: RetryOptions,
): Promise<{ value: T } | { error: unknown } | { reason: typeof CANCELLED | typeof TIMED_OUT }> {
  const controller = new AbortController();
  let settle!: (reason: typeof CANCELLED | typeof TIMED_OUT) => void;
  const aborted = new Promise<typeof CANCELLED | typeof TIMED_OUT>((resolve) => (settle = resolve));
  const onClose = () => {
    controller.abort(new SmsError('SMS_PROVIDER', `${opts.provider}: cancelled (node closed)`));
    settle(CANCELLED);
  };
  const timer = opts.clock.setTimeout(() => {
    controller.abort(new SmsError('SMS_TIMEOUT', `${opts.provider}: request timed out`, { transient: true }));
    settle(TIMED_OUT);
  }, opts.timeoutMs);
  opts.signal?.addEventListener('abort', onClose, { once: true });
  try {
    if (opts.signal?.aborted) return { reason: CANCELLED };
    const work = Promise.resolve()
      .then(() => fn(controller.signal))
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
    const first = await Promise.race([work, aborted]);
    if (first === CANCELLED || first === TIMED_OUT) return { reason: first };
    // the adapter may have rejected because of our abort: report why we aborted
    if (controller.signal.aborted) return { reason: opts.signal?.aborted ? CANCELLED : TIMED_OUT };
    return first;
  } finally {
    opts.clock.clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onClose);
  }
}

export async function withRetry<T>(
  fn: (attempt: number, signal: AbortSignal) => Promise<T>,
  opts: RetryOptions,
): Promise<RetryResult<T>> {
  const backoff = new Backoff(
    { ...opts.backoff, permanentDelayMs: 0, maxPermanentDelayMs: 0 },
    opts.random ?? Math.random,
  );
  const retries = Math.max(0, Math.floor(opts.retries));
  for (let attempt = 0; ; attempt++) {
    const outcome = await attemptOnce((signal) => fn(attempt, signal), opts);
    const attempts = attempt + 1;
    if ('value' in outcome) return { ok: true, value: outcome.value, attempts };
    let error: SmsError;
    if ('reason' in outcome) {
      if (outcome.reason === CANCELLED)
        return {
          ok: false,
          error: new SmsError('SMS_PROVIDER', `${opts.provider}: cancelled (node closed)`),
          attempts,
          cancelled: true,
        };
      const seconds = Math.round(opts.timeoutMs / 100) / 10;
      error = opts.retryTimeouts
        ? new SmsError('SMS_TIMEOUT', `${opts.provider}: no answer within ${seconds}s`, { transient: true })
        : new SmsError(
            'SMS_TIMEOUT',
            `${opts.provider}: no answer within ${seconds}s; the SMS may have been sent, so it is not retried`,
          );
    } else {
      error = asSmsError(outcome.error, opts.provider);
      if (error.transient && error.ambiguous && !opts.retryTimeouts)
        error = new SmsError(
          error.code,
          `${error.message}; the SMS may have been sent, so it is not retried`,
          { status: error.status, providerCode: error.providerCode, ambiguous: true },
        );
    }
    if (!error.transient || attempt >= retries) return { ok: false, error, attempts, cancelled: false };
    let delay = backoff.next(false);
    if (error.retryAfterMs !== undefined) {
      if (error.retryAfterMs > opts.maxRetryAfterMs) return { ok: false, error, attempts, cancelled: false };
      delay = Math.max(0, error.retryAfterMs);
    }
    const slept = await sleep(opts.clock, delay, opts.signal);
    if (!slept)
      return {
        ok: false,
        error: new SmsError('SMS_PROVIDER', `${opts.provider}: cancelled (node closed)`),
        attempts,
        cancelled: true,
      };
  }
}
