import { randomBytes } from 'node:crypto';
import type { SMSAPI, SmsDetails } from 'smsapi';
import { isProxyAuthError, type Network } from '../proxy';
import { redactUrl } from '../safe-url';
import { fromFetchFailure, SmsError } from '../sms/errors';
import type { OptionSchema, SmsOptions } from '../sms/send-options';
import type { SmsProvider, SmsSendRequest, SmsSendResult } from '../sms/provider';
import { smsapiClient } from './client';

/**
 * SMSAPI through the official `smsapi` client. One SMS per call, a FRESH details object each time
 * (the client mutates it). Every logical SMS carries an `idx` with `checkIdx`, so SMSAPI itself
 * refuses a second copy (error 53): a retry after a lost answer can never send two SMS, and an
 * error 53 on a retry means the earlier attempt went through.
 *
 * The client calls fetch (the account's, see ./client.ts: the global one, or undici's through a proxy)
 * with its default redirect mode and sends the token only in the Authorization header, which fetch drops on a redirect to another origin (Fetch standard, undici):
 * a redirect never carries the token elsewhere (proved in test/admin-endpoints.test.ts).
 *
 * The client takes no AbortSignal: the pipeline stops waiting on timeout/close and the request
 * finishes (or fails) on its own.
 */
export const SMSAPI_URLS = [
  'https://smsapi.io/api',
  'https://api.smsapi.com',
  'https://api.smsapi.pl',
] as const;
export const DEFAULT_SMSAPI_URL = SMSAPI_URLS[0];

export interface SmsapiAccount {
  /** service base URL; empty = https://smsapi.io/api */
  url?: string;
  /** OAuth token (credential) */
  token?: string;
  /** default sender name */
  from?: string;
  /** SMSAPI test mode: validated and priced, nothing sent */
  test?: boolean;
  /** how the service is reached (proxy or direct); default: the global fetch as the client does */
  network?: Network;
}

export interface SmsapiSendOptions {
  /** SMSAPI max_parts (1–10): the server refuses longer texts (error 12) */
  maxParts?: number;
  /** SMSAPI `normalize`: replace national characters (ą → a) so the SMS stays GSM-7 */
  normalize?: boolean;
}

/** SMSAPI's request character sets (`encoding`); the client sends utf-8 unless told otherwise */
export const SMSAPI_ENCODINGS = [
  'utf-8',
  'iso-8859-1',
  'iso-8859-2',
  'iso-8859-3',
  'iso-8859-7',
  'windows-1250',
  'windows-1251',
] as const;

/** SMSAPI's expiration_date must lie 15 minutes to 72 hours after the sending time */
export const SMSAPI_EXPIRATION_MINUTES = { min: 15, max: 72 * 60 } as const;

/**
 * What `smsapi out` takes as node properties and in msg.sms.options (the README lists them):
 * fast (priority route), flash, date (scheduled sending, per message only), expiration (minutes),
 * encoding (request character set), noUnicode (refuse a text that needs Unicode).
 */
export const SMSAPI_OPTIONS: OptionSchema = {
  fast: { type: 'boolean' },
  flash: { type: 'boolean' },
  date: { type: 'date' },
  expiration: { type: 'number', ...SMSAPI_EXPIRATION_MINUTES, integer: true },
  encoding: { type: 'string', values: SMSAPI_ENCODINGS },
  noUnicode: { type: 'boolean' },
};

/** The options as the client's details (date and expirationDate are Dates; the client formats them). */
export function smsapiOptionDetails(options: SmsOptions | undefined, now: number): SmsDetails {
  const details: SmsDetails = {};
  if (!options) return details;
  if (options.fast === true) details.fast = true;
  if (options.flash === true) details.flash = true;
  if (options.noUnicode === true) details.noUnicode = true;
  if (typeof options.encoding === 'string')
    details.encoding = options.encoding as (typeof SMSAPI_ENCODINGS)[number];
  const date = options.date instanceof Date ? options.date.getTime() : undefined;
  if (date !== undefined) details.date = new Date(date);
  if (typeof options.expiration === 'number')
    details.expirationDate = new Date((date ?? now) + options.expiration * 60_000);
  return details;
}

/** Check and normalise the base URL: http(s) only, no trailing slash. Throws SMS_CONFIG. */
export function serviceUrl(url: string | undefined): string {
  const value = (url ?? '').trim() || DEFAULT_SMSAPI_URL;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new SmsError('SMS_CONFIG', `SMSAPI: invalid service URL "${redactUrl(value)}"`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new SmsError('SMS_CONFIG', `SMSAPI: the service URL must be http(s): "${redactUrl(value)}"`);
  if (parsed.username || parsed.password)
    throw new SmsError('SMS_CONFIG', 'SMSAPI: put the token in the credentials, not in the URL');
  return value.replace(/\/+$/, '');
}

/** MessageError codes → pipeline codes. Transient: 201, 202, 999. */
/** ambiguous: an internal error may follow a processed request (safe to retry: idx + check_idx) */
const MESSAGE_CODES: Record<number, { code: SmsError['code']; transient?: boolean; ambiguous?: boolean }> = {
  11: { code: 'SMS_TOO_LONG' },
  12: { code: 'SMS_TOO_LONG' },
  13: { code: 'SMS_INVALID_NUMBER' },
  14: { code: 'SMS_BAD_SENDER' },
  52: { code: 'SMS_RATE_LIMITED' },
  101: { code: 'SMS_AUTH' },
  102: { code: 'SMS_AUTH' },
  103: { code: 'SMS_INSUFFICIENT_FUNDS' },
  105: { code: 'SMS_AUTH' },
  201: { code: 'SMS_PROVIDER', transient: true, ambiguous: true },
  202: { code: 'SMS_RATE_LIMITED', transient: true },
  999: { code: 'SMS_PROVIDER', transient: true, ambiguous: true },
};

interface ClientError {
  name?: string;
  message?: string;
  data?: { error?: unknown; message?: unknown; invalidNumbers?: unknown; invalid_numbers?: unknown };
  status?: number;
  statusText?: string;
  responseBody?: unknown;
  cause?: unknown;
}

function bodyMessage(body: unknown): string | undefined {
  if (typeof body !== 'string' || !body) return undefined;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed?.message === 'string' && parsed.message) return parsed.message.slice(0, 200);
  } catch {
    /* not JSON */
  }
  return undefined;
}

function invalidNumbers(data: ClientError['data']): string {
  const list = data?.invalidNumbers ?? data?.invalid_numbers;
  if (!Array.isArray(list) || list.length === 0) return '';
  const numbers = list
    .map((n) => {
      const item = n as { submittedNumber?: unknown; submitted_number?: unknown; number?: unknown };
      return String(item?.submittedNumber ?? item?.submitted_number ?? item?.number ?? n);
    })
    .slice(0, 5);
  return `: ${numbers.join(', ')}`;
}

/** fetch's way of saying it refused a redirect (the client's fetch is `redirect: 'error'`) */
function isRefusedRedirect(err: unknown): boolean {
  const e = err as { name?: string; message?: string; cause?: { message?: unknown } } | undefined;
  return (
    e?.name === 'TypeError' && e.message === 'fetch failed' && /redirect/i.test(String(e.cause?.message))
  );
}

/** Classify anything the official client throws. Messages carry the server's text, never the token. */
export function mapSmsapiError(err: unknown): SmsError {
  if (err instanceof SmsError) return err;
  const e = (err ?? {}) as ClientError;
  if (e.name === 'MessageError') {
    const providerCode = Number(e.data?.error);
    const text = typeof e.data?.message === 'string' && e.data.message ? e.data.message : 'error';
    const known = MESSAGE_CODES[providerCode];
    const extra = providerCode === 13 ? invalidNumbers(e.data) : '';
    return new SmsError(known?.code ?? 'SMS_PROVIDER', `SMSAPI error ${providerCode}: ${text}${extra}`, {
      transient: known?.transient,
      ambiguous: known?.ambiguous,
      providerCode,
    });
  }
  if (e.name === 'HttpError' && typeof e.status === 'number') {
    const status = e.status;
    const detail = bodyMessage(e.responseBody) ?? e.statusText ?? '';
    const message = `SMSAPI HTTP ${status}${detail ? `: ${detail}` : ''}`;
    if (status === 401 || status === 403) return new SmsError('SMS_AUTH', message, { status });
    // the client does not expose response headers on errors, so Retry-After cannot be read: back off
    if (status === 429) return new SmsError('SMS_RATE_LIMITED', message, { status, transient: true });
    if (status === 408) return new SmsError('SMS_TIMEOUT', message, { status, transient: true });
    if (status >= 500)
      return new SmsError('SMS_PROVIDER', message, { status, transient: true, ambiguous: true });
    return new SmsError('SMS_PROVIDER', message, { status });
  }
  if (isRefusedRedirect(err))
    return new SmsError(
      'SMS_PROVIDER',
      'SMSAPI answered with a redirect, which requests carrying the token never follow: check the service URL',
    );
  if (isProxyAuthError(err) || (e.name === 'TypeError' && e.message === 'fetch failed'))
    return fromFetchFailure(err, 'SMSAPI');
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return fromFetchFailure(err, 'SMSAPI');
  // an unreadable answer (malformed JSON, wrong content type): the request may have been accepted,
  // which is safe to retry only because every SMS carries idx + checkIdx
  return new SmsError(
    'SMS_PROVIDER',
    `SMSAPI: unexpected answer (${e.name ?? 'Error'}: ${e.message ?? ''})`,
    { transient: true, ambiguous: true },
  );
}

interface ListItem {
  id?: unknown;
  points?: unknown;
  status?: unknown;
  parts?: unknown;
}

export class SmsapiProvider implements SmsProvider {
  readonly name = 'smsapi';
  readonly recipientKind = 'e164' as const;
  readonly testMode: boolean;
  /** idx + checkIdx make resubmissions safe: the pipeline may retry timeouts */
  readonly idempotent = true;
  readonly optionSchema = SMSAPI_OPTIONS;
  /** undefined while the account has no token: every send then fails with SMS_CONFIG */
  private readonly client?: SMSAPI;
  private readonly from?: string;
  constructor(
    account: SmsapiAccount,
    private readonly options: SmsapiSendOptions = {},
  ) {
    // A missing token is reported per send (Catch-able), not at deploy: an example imported without
    // its credentials deploys cleanly, like the other sinks.
    const url = serviceUrl(account.url);
    if (account.token) this.client = smsapiClient(account.token, url, account.network);
    this.testMode = !!account.test;
    this.from = account.from?.trim() || undefined;
  }

  /** idx: the pipeline's sendId (the same for every attempt of one SMS), else a fresh one */
  private idxFor(request: SmsSendRequest): string {
    const sendId = request.sendId;
    if (typeof sendId === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(sendId)) return sendId;
    return `nr${randomBytes(12).toString('hex')}`;
  }

  async send(request: SmsSendRequest, signal: AbortSignal): Promise<SmsSendResult> {
    if (signal.aborted) throw mapSmsapiError(signal.reason);
    if (!this.client) throw new SmsError('SMS_CONFIG', 'SMSAPI: no OAuth token in the account credentials');
    const idx = this.idxFor(request);
    // a fresh object per call: the client mutates it
    const details: SmsDetails = { ...smsapiOptionDetails(request.options, Date.now()), idx, checkIdx: true };
    const from = request.from?.trim() || this.from;
    if (from) details.from = from;
    if (this.testMode) details.test = true;
    const maxParts = this.options.maxParts;
    if (maxParts && maxParts >= 1 && maxParts <= 10)
      details.maxParts = Math.floor(maxParts) as SmsDetails['maxParts'];
    if (this.options.normalize) details.normalize = true;
    let response;
    try {
      response = await this.client.sms.sendSms(request.to, request.text, details);
    } catch (err) {
      const mapped = mapSmsapiError(err);
      if (mapped.providerCode === 53 && request.attempt > 0) {
        // an earlier attempt of this very SMS was accepted (its answer was lost): do not send again
        return {
          ids: [],
          status: 'ACCEPTED',
          test: this.testMode,
          details: { idx, resubmissionRefused: true },
        };
      }
      throw mapped;
    }
    const list = (Array.isArray(response?.list) ? response.list : []) as ListItem[];
    const points = list.reduce((sum, item) => sum + (typeof item.points === 'number' ? item.points : 0), 0);
    const parts =
      typeof response?.parts === 'number'
        ? response.parts
        : typeof list[0]?.parts === 'number'
          ? list[0].parts
          : undefined;
    return {
      ids: list.map((item) => String(item.id)),
      status: typeof list[0]?.status === 'string' ? list[0].status : 'QUEUE',
      test: this.testMode,
      ...(parts ? { parts } : {}),
      details: { points: Math.round(points * 10000) / 10000, idx },
    };
  }
}

/** Test connection: GET /profile (harmless, sends nothing). Answers "<username> · <points> points". */
export async function testSmsapiAccount(account: SmsapiAccount, signal: AbortSignal): Promise<string> {
  if (!account.token) throw new SmsError('SMS_CONFIG', 'SMSAPI: enter the OAuth token');
  const client = smsapiClient(account.token, serviceUrl(account.url), account.network);
  const aborted = new Promise<never>((_resolve, reject) => {
    const fail = () =>
      reject(new SmsError('SMS_TIMEOUT', 'SMSAPI: no answer (timed out)', { transient: true }));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  try {
    const profile = await Promise.race([client.profile.get(), aborted]);
    const who = profile?.username || profile?.name || 'account';
    const points = typeof profile?.points === 'number' ? ` · ${profile.points} points` : '';
    return `${who}${points}${account.test ? ' · test mode' : ''}`;
  } catch (err) {
    throw mapSmsapiError(err);
  }
}
