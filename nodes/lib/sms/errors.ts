import { ConnectionError } from '../connection';
import { PROXY_AUTH } from '../proxy';
/** Stable error codes: what a Catch node (msg.error.code) routes on. A public contract. */
export const SmsErrorCodes = [
  'SMS_INVALID_NUMBER',
  'SMS_NO_RECIPIENT',
  'SMS_EMPTY',
  'SMS_TOO_LONG',
  'SMS_AUTH',
  'SMS_INSUFFICIENT_FUNDS',
  'SMS_RATE_LIMITED',
  'SMS_QUEUE_FULL',
  'SMS_BAD_SENDER',
  'SMS_CONFIG',
  'SMS_PROVIDER',
  'SMS_TIMEOUT',
  'SMS_NETWORK',
  'SMS_TEMPLATE',
  /** queued (or waiting to retry) when the node closed: not sent */
  'SMS_CANCELLED',
  /** the request may have reached the provider and is not sent again: it may have been sent */
  'SMS_UNCERTAIN',
  /** more recipients than the node's maxRecipients: nothing sent */
  'SMS_TOO_MANY_RECIPIENTS',
  /** the cluster store (Redis) is unreachable and the cluster's onError is 'hold' */
  'SMS_CLUSTER_DOWN',
  /** a msg.sms.options key the sink does not take, or a bad value (wrong type, out of range, a past date) */
  'SMS_BAD_OPTION',
  /** msg.payload is an object and the node has no Message template: set one */
  'SMS_NO_TEXT',
] as const;

export type SmsErrorCode = (typeof SmsErrorCodes)[number];

export interface SmsErrorOptions {
  /** retry with backoff (network, timeout, 5xx, 429, provider-transient codes) */
  transient?: boolean;
  /** server's Retry-After, in ms */
  retryAfterMs?: number;
  /** HTTP status, when there was one */
  status?: number;
  /** the provider's own error code (SMSAPI 13, CPaaS SVC0002, …) */
  providerCode?: string | number;
  /**
   * the request may have reached the provider (a timeout, a reset or a 5xx after it was sent): retried
   * only for idempotent providers, since a retry could otherwise deliver the SMS twice; elsewhere it
   * becomes SMS_UNCERTAIN
   */
  ambiguous?: boolean;
}

/** An SMS failure with a message that is safe to show: never a token, key or password. */
export class SmsError extends Error {
  readonly code: SmsErrorCode;
  readonly transient: boolean;
  readonly retryAfterMs?: number;
  readonly status?: number;
  readonly providerCode?: string | number;
  readonly ambiguous: boolean;

  constructor(code: SmsErrorCode, message: string, opts: SmsErrorOptions = {}) {
    super(message);
    this.name = 'SmsError';
    this.code = code;
    this.transient = !!opts.transient;
    this.retryAfterMs = opts.retryAfterMs;
    this.status = opts.status;
    this.providerCode = opts.providerCode;
    this.ambiguous = !!opts.ambiguous;
  }
}

/** Parse an HTTP Retry-After header (seconds or an HTTP date) into ms. */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Connection failures that prove the request never left: always safe to retry. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Classify a fetch() failure (no HTTP response) as network or timeout. Both are transient, but
 * unless the cause proves the request never left (connection refused, DNS), the provider may have
 * received it: such errors are marked ambiguous and retried only for idempotent providers.
 */
export function fromFetchFailure(err: unknown, provider: string): SmsError {
  // the proxy refused its credentials (407) or is misconfigured: permanent, like a rejected key
  if (err instanceof ConnectionError && err.code === PROXY_AUTH)
    return new SmsError('SMS_AUTH', `${provider}: ${err.message}`, { status: 407 });
  if (err instanceof ConnectionError && err.config)
    return new SmsError('SMS_CONFIG', `${provider}: ${err.message}`);
  const name = (err as { name?: string })?.name;
  if (name === 'TimeoutError' || name === 'AbortError')
    return new SmsError('SMS_TIMEOUT', `${provider}: request timed out`, {
      transient: true,
      ambiguous: true,
    });
  const cause = (err as { cause?: { code?: string } })?.cause?.code;
  return new SmsError('SMS_NETWORK', `${provider}: network error${cause ? ` (${cause})` : ''}`, {
    transient: true,
    ambiguous: !(cause && NOT_SENT.has(cause)),
  });
}
