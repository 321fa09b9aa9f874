/**
 * `sms-gateway out`'s adapter for the shared SMS pipeline: `POST {url}/v1/sms/send {to, from, body}`
 * with `Authorization: Bearer <key>` → `202 {"messageId","status":"queued"}`.
 *
 * Errors are always `{"error":"…"}`: 400 → permanent (SMS_INVALID_NUMBER for the E.164 message,
 * SMS_TOO_LONG for the body length, else SMS_PROVIDER); 401/403 → SMS_AUTH, permanent; 429 →
 * SMS_RATE_LIMITED, transient, honouring Retry-After; 5xx, a timeout or a reset after the request left
 * are ambiguous (the SMS may have been queued): the gateway does not de-duplicate, so the pipeline
 * reports them as SMS_UNCERTAIN and never sends a second request; connection refused → SMS_NETWORK,
 * retried. Every send passes the gateway's auth guard, so a bad key can
 * never get this machine's IP locked out by a burst of sends.
 */
import type { Network } from '../proxy';
import { fromFetchFailure, parseRetryAfter, SmsError } from '../sms/errors';
import type { OptionSchema } from '../sms/send-options';
import type { SmsProvider, SmsSendRequest, SmsSendResult } from '../sms/provider';
import { isRedirect, NO_REDIRECTS } from '../safe-url';
import { baseUrl, E164, errorText, isAuthRejection, readJson, redirectError } from './api';
import { AuthGuard, AuthRefusedError } from './auth-guard';
import { gatewayGuard } from './connection';

export const PROVIDER = 'sms-gateway';

/**
 * What `sms-gateway out` takes as a node property and in msg.sms.options: the gateway's optional
 * `userId` (your end user, kept with the message on the gateway).
 */
export const GATEWAY_OPTIONS: OptionSchema = {
  userId: { type: 'string', maxLength: 128 },
};

export interface GatewayProviderOptions {
  url?: string;
  apiKey?: string;
  /** the config node's default sender (E.164) */
  from?: string;
  guard?: AuthGuard;
  /** how the gateway is reached (proxy or direct); default: the global fetch */
  network?: Network;
}

export class GatewayProvider implements SmsProvider {
  readonly name = PROVIDER;
  readonly recipientKind = 'e164' as const;
  readonly optionSchema = GATEWAY_OPTIONS;
  private readonly base?: string;
  private readonly configError?: string;
  private readonly apiKey?: string;
  private readonly defaultFrom?: string;
  private readonly guard?: AuthGuard;
  private readonly fetch: typeof fetch;

  constructor(opts: GatewayProviderOptions) {
    this.apiKey = opts.apiKey || undefined;
    this.defaultFrom = opts.from?.trim() || undefined;
    this.fetch = opts.network?.fetch ?? fetch;
    try {
      this.base = baseUrl(opts.url);
      this.guard = opts.guard ?? gatewayGuard(this.base);
    } catch (err) {
      this.configError = (err as Error).message;
    }
  }

  async send(request: SmsSendRequest, signal: AbortSignal): Promise<SmsSendResult> {
    if (this.configError || !this.base || !this.guard)
      throw new SmsError('SMS_CONFIG', `SMS gateway: ${this.configError ?? 'invalid configuration'}`);
    if (!this.apiKey) throw new SmsError('SMS_CONFIG', 'SMS gateway: no API key configured');
    const from = request.from?.trim() || this.defaultFrom;
    if (!from)
      throw new SmsError(
        'SMS_BAD_SENDER',
        'SMS gateway: no sender number (set From on the node or the gateway)',
      );
    if (!E164.test(from))
      throw new SmsError(
        'SMS_BAD_SENDER',
        `SMS gateway: the sender ${from} is not an E.164 number (+15551234567)`,
      );

    const body: Record<string, unknown> = { to: request.to, from, body: request.text };
    // msg.sms.options.userId, else msg.userId (the older way), else the node's userId
    const given = request.msg.sms as { options?: { userId?: unknown } } | undefined;
    const own = typeof given?.options?.userId === 'string' ? given.options.userId : undefined;
    const legacy = request.msg.userId;
    const userId =
      own ?? (typeof legacy === 'string' && legacy ? legacy : undefined) ?? request.options?.userId;
    if (typeof userId === 'string' && userId) body.userId = userId;

    let ticket;
    try {
      ticket = await this.guard.begin(this.apiKey, signal);
    } catch (err) {
      if (err instanceof AuthRefusedError)
        throw new SmsError('SMS_AUTH', `SMS gateway: ${err.message}`, { providerCode: err.code });
      throw fromFetchFailure(err, 'SMS gateway');
    }

    let res: Response;
    try {
      res = await this.fetch(`${this.base}/v1/sms/send`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
        ...NO_REDIRECTS,
        signal,
      });
    } catch (err) {
      ticket.settled();
      throw fromFetchFailure(err, 'SMS gateway');
    }
    if (isRedirect(res.status)) {
      ticket.settled();
      // not followed, so nothing was sent: a configuration error, never retried
      throw new SmsError('SMS_CONFIG', (await redirectError(res)).message, { status: res.status });
    }
    const json = await readJson(res);
    if (isAuthRejection(res.status)) ticket.failed();
    else if (res.ok || res.status === 400) ticket.succeeded();
    else ticket.settled();

    if (res.ok) {
      const reply = (json ?? {}) as { messageId?: unknown; status?: unknown };
      if (typeof reply.messageId !== 'string' || !reply.messageId)
        // probably accepted, but nothing confirms it: ambiguous, so SMS_UNCERTAIN and never sent again
        throw new SmsError('SMS_PROVIDER', `SMS gateway: HTTP ${res.status} without a messageId`, {
          status: res.status,
          transient: true,
          ambiguous: true,
        });
      return {
        ids: [reply.messageId],
        status: typeof reply.status === 'string' ? reply.status : 'queued',
        details: { from },
      };
    }
    throw classify(res.status, errorText(json, res.status), res.headers.get('retry-after'));
  }
}

/** The gateway's error → a stable SmsError. */
export function classify(status: number, serverMessage: string, retryAfter?: string | null): SmsError {
  const message = `SMS gateway: ${serverMessage}`;
  const opts = { status, providerCode: status };
  if (status === 400) {
    if (/e\.?164|phone number/i.test(serverMessage)) return new SmsError('SMS_INVALID_NUMBER', message, opts);
    if (/body must be|characters|too long/i.test(serverMessage))
      return new SmsError('SMS_TOO_LONG', message, opts);
    return new SmsError('SMS_PROVIDER', message, opts);
  }
  if (status === 401 || status === 403) return new SmsError('SMS_AUTH', message, opts);
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return new SmsError('SMS_RATE_LIMITED', message, { ...opts, transient: true, retryAfterMs });
  }
  // a 5xx comes after the request was sent (from the gateway or a proxy in front of it): it may have
  // been queued, and the gateway cannot recognise a resend, so the pipeline reports SMS_UNCERTAIN
  if (status >= 500)
    return new SmsError('SMS_PROVIDER', message, { ...opts, transient: true, ambiguous: true });
  return new SmsError('SMS_PROVIDER', message, opts);
}
