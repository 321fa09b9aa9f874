/**
 * CPaaS error responses → SmsError. The API answers `{"requestError":{"serviceException"|"policyException":
 * {"messageId":"SVC0002","text":"Invalid input value for message part %1","variables":["address"]}}}`.
 * Our classification (sms-providers.md): SVC* input errors and POL* policy errors are permanent (a POL
 * about rate or quota is transient), 401 = token rejected, 5xx/timeouts/network are transient; a 5xx is
 * also ambiguous (it may follow a processed request): safe to retry only thanks to clientCorrelator.
 */
import { parseRetryAfter, SmsError } from '../sms/errors';
import { isRecord } from './http';

export interface RequestErrorInfo {
  kind: 'service' | 'policy';
  /** SVC0002, POL0001, … */
  messageId: string;
  /** the text with %1… filled in from variables */
  message: string;
}

/** %1, %2 … replaced by variables[0], variables[1] … (unknown placeholders stay). */
export function fillText(text: string, variables: unknown): string {
  const vars = Array.isArray(variables) ? variables : [];
  return text.replace(/%(\d+)/g, (match, n: string) => {
    const value: unknown = vars[Number(n) - 1];
    return value === undefined || value === null ? match : String(value);
  });
}

/** The exception inside a requestError body, if the body is one. */
export function parseRequestError(body: unknown): RequestErrorInfo | undefined {
  if (!isRecord(body) || !isRecord(body.requestError)) return undefined;
  const requestError = body.requestError;
  for (const [key, value] of Object.entries(requestError)) {
    if (!isRecord(value)) continue;
    const messageId = typeof value.messageId === 'string' ? value.messageId : '';
    const text = typeof value.text === 'string' ? value.text : '';
    if (!messageId && !text) continue;
    const kind = /policy/i.test(key) || /^POL/i.test(messageId) ? 'policy' : 'service';
    return { kind, messageId, message: fillText(text, value.variables) || messageId };
  }
  return undefined;
}

const RATE = /\brate\b|quota|throttl|too many requests|frequency/i;
const FUNDS = /credit|balance|fund|insufficient/i;
const SENDER = /sender/i;
const ADDRESS = /address|destination|recipient|msisdn/i;

/** Classify a non-2xx CPaaS answer. `status` is the HTTP status, `body` the parsed body. */
export function classifyHttpError(
  status: number,
  body: unknown,
  headers?: { get(name: string): string | null },
): SmsError {
  const retryAfterMs = parseRetryAfter(headers?.get('retry-after'));
  const info = parseRequestError(body);
  if (info) {
    const message = `CPaaS ${info.messageId ? info.messageId + ': ' : ''}${info.message}`;
    const base = { status, providerCode: info.messageId || undefined };
    if (status >= 500)
      return new SmsError('SMS_PROVIDER', message, {
        ...base,
        transient: true,
        ambiguous: true,
        retryAfterMs,
      });
    if (info.kind === 'policy') {
      if (RATE.test(info.message) || status === 429)
        return new SmsError('SMS_RATE_LIMITED', message, { ...base, transient: true, retryAfterMs });
      if (FUNDS.test(info.message)) return new SmsError('SMS_INSUFFICIENT_FUNDS', message, base);
      if (status === 401) return new SmsError('SMS_AUTH', message, base);
      return new SmsError('SMS_PROVIDER', message, base);
    }
    if (SENDER.test(info.message)) return new SmsError('SMS_BAD_SENDER', message, base);
    if (ADDRESS.test(info.message)) return new SmsError('SMS_INVALID_NUMBER', message, base);
    if (status === 401) return new SmsError('SMS_AUTH', message, base);
    return new SmsError('SMS_PROVIDER', message, base);
  }
  if (status === 401) return new SmsError('SMS_AUTH', 'CPaaS rejected the access token (401)', { status });
  if (status === 403) return new SmsError('SMS_AUTH', 'CPaaS denied access (403)', { status });
  if (status === 404) return new SmsError('SMS_CONFIG', 'CPaaS: not found (404), check the URL', { status });
  if (status === 408)
    return new SmsError('SMS_TIMEOUT', 'CPaaS: request timed out (408)', { status, transient: true });
  if (status === 429)
    return new SmsError('SMS_RATE_LIMITED', 'CPaaS: too many requests (429)', {
      status,
      transient: true,
      retryAfterMs,
    });
  if (status >= 500)
    return new SmsError('SMS_PROVIDER', `CPaaS server error (${status})`, {
      status,
      transient: true,
      ambiguous: true,
      retryAfterMs,
    });
  return new SmsError('SMS_PROVIDER', `CPaaS answered HTTP ${status}`, { status });
}
