import { Backoff, type BackoffOptions } from '../backoff';
import { type Clock, sleep } from '../clock';
import { SmsError, SmsErrorCodes } from './errors';

/**
 * Run one send with a per-attempt timeout and retries for transient failures only: exponential
 * backoff with jitter, the server's Retry-After honoured, a bounded number of attempts.
 *
 * An attempt in flight is never cut short by the node closing (the provider may send the SMS while
 * the flow records nothing): it runs to its answer or its timeout. Closing ends backoff waits only.
 * A failure that does not tell whether the provider took the SMS (timeout, reset, 5xx) is retried only
 * when the provider de-duplicates resubmissions; otherwise, and when no retry follows, it is
 * SMS_UNCERTAIN ("may have been sent").
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
   * The provider de-duplicates resubmissions of one SMS (SMSAPI idx + check_idx, CPaaS
   * clientCorrelator), so ambiguous failures (timeout, reset, 5xx) may be retried.
   */
  retryTimeouts: boolean;
  /** provider name for messages */
  provider: string;
  clock: Clock;
  random?: () => number;
  /** node close: ends a backoff wait (the result is `cancelled`); never the attempt in flight */
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

/** The SMS was not sent: the node closed before (another) attempt. */
export function cancelledError(provider: string): SmsError {
  return new SmsError('SMS_CANCELLED', `${provider}: not sent: the node was stopped (redeploy or shutdown)`);
}

/** An ambiguous failure that is not tried again: the SMS may have been sent. */
function uncertain(error: SmsError, why: string): SmsError {
  return new SmsError('SMS_UNCERTAIN', `${error.message}: the SMS may have been sent (${why})`, {
    status: error.status,
    providerCode: error.providerCode,
    ambiguous: true,
  });
}

const TIMED_OUT = Symbol('timed-out');

/** One attempt raced against its timeout (adapters that ignore the signal cannot hang us). */
async function attemptOnce<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  opts: RetryOptions,
): Promise<{ value: T } | { error: unknown } | { reason: typeof TIMED_OUT }> {
  const controller = new AbortController();
  let settle!: (reason: typeof TIMED_OUT) => void;
  const timedOut = new Promise<typeof TIMED_OUT>((resolve) => (settle = resolve));
  const timer = opts.clock.setTimeout(() => {
    controller.abort(new SmsError('SMS_TIMEOUT', `${opts.provider}: request timed out`, { transient: true }));
    settle(TIMED_OUT);
  }, opts.timeoutMs);
  try {
    const work = Promise.resolve()
      .then(() => fn(controller.signal))
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
    const first = await Promise.race([work, timedOut]);
    if (first === TIMED_OUT) return { reason: first };
    // the adapter may have rejected because of our abort: report the timeout
    if (controller.signal.aborted) return { reason: TIMED_OUT };
    return first;
  } finally {
    opts.clock.clearTimeout(timer);
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
  const closed = () => !!opts.signal?.aborted;
  for (let attempt = 0; ; attempt++) {
    if (closed())
      return { ok: false, error: cancelledError(opts.provider), attempts: attempt, cancelled: true };
    const outcome = await attemptOnce((signal) => fn(attempt, signal), opts);
    const attempts = attempt + 1;
    if ('value' in outcome) return { ok: true, value: outcome.value, attempts };
    let error: SmsError;
    if ('reason' in outcome) {
      const seconds = Math.round(opts.timeoutMs / 100) / 10;
      error = new SmsError('SMS_TIMEOUT', `${opts.provider}: no answer within ${seconds}s`, {
        transient: true,
        ambiguous: true,
      });
    } else error = asSmsError(outcome.error, opts.provider);
    const fail = (e: SmsError) => ({ ok: false as const, error: e, attempts, cancelled: false });
    if (!error.transient) return fail(error);
    if (error.ambiguous && !opts.retryTimeouts)
      return fail(uncertain(error, 'this provider cannot recognise a resend, so it is not sent again'));
    if (attempt >= retries)
      return fail(error.ambiguous ? uncertain(error, `no clear answer after ${attempts} attempts`) : error);
    if (closed())
      return error.ambiguous
        ? fail(uncertain(error, 'not retried: the node was stopped'))
        : { ok: false, error: cancelledError(opts.provider), attempts, cancelled: true };
    let delay = backoff.next(false);
    if (error.retryAfterMs !== undefined) {
      if (error.retryAfterMs > opts.maxRetryAfterMs)
        return fail(error.ambiguous ? uncertain(error, 'the server asks to wait too long to retry') : error);
      delay = Math.max(0, error.retryAfterMs);
    }
    const slept = await sleep(opts.clock, delay, opts.signal);
    if (!slept) {
      // closed while waiting: nothing is in flight; an ambiguous earlier attempt may still have landed
      if (error.ambiguous) return fail(uncertain(error, 'not retried: the node was stopped'));
      return { ok: false, error: cancelledError(opts.provider), attempts, cancelled: true };
    }
  }
}
