import { fromFetchFailure, parseRetryAfter, SmsError } from '../sms/errors';
import type { SmsProvider, SmsSendRequest, SmsSendResult } from '../sms/provider';
import { errorText, pbxwareError, scrub } from './errors';

export type PbxwareApi = 'action' | 'json';
export type PbxwareMode = 'sms' | 'voicemail';

export interface PbxwareSettings {
  /** base URL of the PBX, e.g. https://pbx.example.com */
  url: string;
  /** tenant (server) id, required by the action API */
  tenant?: string;
  /** API style; default 'action' */
  api?: PbxwareApi;
  apiKey?: string;
}

export interface PbxwareProviderOptions extends PbxwareSettings {
  /** 'sms' (default): send to E.164 numbers; 'voicemail': a voicemail notification to extensions */
  mode?: PbxwareMode;
  /** the server config node's Network fetch (proxy or direct); default the global fetch */
  fetch?: typeof fetch;
}

/** What goes on the wire (exported for tests and the help text). */
export interface PbxwareRequest {
  url: string;
  init: RequestInit & { method: string; headers: Record<string, string> };
}

const ACTION_SEND = 'pbxware.sms.send_message';

export function base64Utf8(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** The base URL, validated: http(s) only, no credentials, no query. */
export function pbxBase(url: string): URL {
  let base: URL;
  try {
    base = new URL((url ?? '').trim());
  } catch {
    throw new SmsError('SMS_CONFIG', 'PBXware: the server URL is not a valid URL');
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:')
    throw new SmsError('SMS_CONFIG', 'PBXware: the server URL must start with https:// or http://');
  base.search = '';
  base.hash = '';
  return base;
}

function joinPath(base: URL, path: string): string {
  const url = new URL(base.toString());
  url.pathname = url.pathname.replace(/\/+$/, '') + path;
  return url.toString();
}

/**
 * Action API: POST {url}/?apikey=…&action=pbxware.sms.send_message&server=<tenant>&to_number=<E.164>&body=<base64>.
 * The documentation says the parameters travel in the query string "(GET or POST)"; we use POST with the
 * query string: it is the documented form, and POST is never replayed by caches, prefetchers or proxies
 * the way a GET may be, so one send stays one SMS.
 */
export function actionRequest(settings: PbxwareSettings, params: Record<string, string>): PbxwareRequest {
  const url = pbxBase(settings.url);
  if (!url.pathname) url.pathname = '/';
  url.searchParams.set('apikey', settings.apiKey ?? '');
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return { url: url.toString(), init: { method: 'POST', headers: { Accept: 'application/json' } } };
}

export function actionSendRequest(settings: PbxwareSettings, to: string, text: string): PbxwareRequest {
  return actionRequest(settings, {
    action: ACTION_SEND,
    server: settings.tenant ?? '',
    to_number: to,
    body: base64Utf8(text),
  });
}

/** JSON API: POST {url}/api/sms/send with X-API-Key and {"to","message"}. */
export function jsonSendRequest(settings: PbxwareSettings, to: string, text: string): PbxwareRequest {
  return jsonPost(settings, '/api/sms/send', { to, message: text });
}

/** JSON API: POST {url}/api/sms/notifications/voicemail with {"extension","message"}. */
export function voicemailRequest(settings: PbxwareSettings, extension: string, text: string): PbxwareRequest {
  return jsonPost(settings, '/api/sms/notifications/voicemail', { extension, message: text });
}

function jsonPost(settings: PbxwareSettings, path: string, body: Record<string, string>): PbxwareRequest {
  return {
    url: joinPath(pbxBase(settings.url), path),
    init: {
      method: 'POST',
      headers: {
        'X-API-Key': settings.apiKey ?? '',
        'Content-Type': 'application/json',
        Accept: 'application/json',
      },
      body: JSON.stringify(body),
    },
  };
}

/** A PBX extension as typed: digits (and * #), or a short alphanumeric id. */
export function isExtension(value: string): boolean {
  return /^[A-Za-z0-9*#._-]{1,32}$/.test(value);
}

/** Check settings that would make every send fail. Throws SmsError SMS_CONFIG. */
export function checkSettings(settings: PbxwareSettings, mode: PbxwareMode = 'sms'): void {
  pbxBase(settings.url);
  if (!settings.apiKey) throw new SmsError('SMS_CONFIG', 'PBXware: no API key configured');
  if (mode === 'sms' && (settings.api ?? 'action') === 'action' && !String(settings.tenant ?? '').trim())
    throw new SmsError('SMS_CONFIG', 'PBXware: no tenant (server) id configured — the action API needs it');
}

export interface PbxwareAnswer {
  status: number;
  body: unknown;
}

/**
 * Send one request and classify the answer. HTTP 200 with an `error` key is a failure (permanent,
 * never retried); 429 and connection refused are transient; a timeout, a reset, a 5xx or a 2xx that is
 * not JSON may follow a processed request: ambiguous, never resubmitted (SMS_UNCERTAIN).
 * Nothing here ever contains the request URL (the action API carries the key in it).
 */
export async function pbxwareCall(
  request: PbxwareRequest,
  apiKey: string | undefined,
  signal: AbortSignal,
  fetchImpl: typeof fetch = fetch,
): Promise<PbxwareAnswer> {
  let res: Response;
  try {
    res = await fetchImpl(request.url, { ...request.init, redirect: 'manual', signal });
  } catch (err) {
    // fetch errors may carry the URL (with ?apikey=…): build a fresh message from the error's kind only
    throw fromFetchFailure(err, 'PBXware');
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw fromFetchFailure(err, 'PBXware');
  }
  let body: unknown;
  let json = false;
  try {
    body = JSON.parse(text);
    json = true;
  } catch {
    body = undefined;
  }
  const status = res.status;
  const errorValue =
    json && body && typeof body === 'object' && !Array.isArray(body)
      ? (body as { error?: unknown }).error
      : undefined;
  const hasError =
    errorValue !== undefined && errorValue !== null && errorValue !== false && errorValue !== '';

  if (status === 429) {
    throw new SmsError('SMS_RATE_LIMITED', 'PBXware: too many requests (HTTP 429)', {
      transient: true,
      status,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
    });
  }
  if (status >= 500) {
    const detail = hasError ? `: ${scrub(errorText(errorValue), apiKey).slice(0, 200)}` : '';
    // after the request was sent (by the PBX or a proxy): it may have been processed, and PBXware
    // cannot recognise a resend, so the pipeline reports SMS_UNCERTAIN instead of sending again
    throw new SmsError('SMS_PROVIDER', `PBXware: server error (HTTP ${status})${detail}`, {
      transient: true,
      ambiguous: true,
      status,
    });
  }
  if (hasError) throw pbxwareError(errorText(errorValue), status, apiKey);
  if (status >= 300 && status < 400)
    throw new SmsError(
      'SMS_CONFIG',
      `PBXware: the server redirects (HTTP ${status}) — set the URL to the address it redirects to (https?)`,
      { status },
    );
  if (status === 401 || status === 403)
    throw new SmsError('SMS_AUTH', `PBXware: the API key was rejected (HTTP ${status})`, { status });
  if (status === 404)
    throw new SmsError('SMS_CONFIG', 'PBXware: not found (HTTP 404) — check the URL and the API style', {
      status,
    });
  if (status >= 400)
    throw new SmsError('SMS_PROVIDER', `PBXware: request refused (HTTP ${status})`, { status });
  if (!json)
    // a 2xx the PBX may have sent after it processed the request (a PHP notice before the JSON, a
    // truncated body): transient, but ambiguous, so it is never resubmitted (no second SMS)
    throw new SmsError('SMS_PROVIDER', `PBXware: unexpected answer (HTTP ${status}, not JSON)`, {
      transient: true,
      ambiguous: true,
      status,
    });
  return { status, body };
}

/** The message ids in a success answer: `id` (write actions answer {"success":"…","id":N}) or similar. */
export function successIds(body: unknown): string[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return [];
  const b = body as Record<string, unknown>;
  for (const key of ['id', 'message_id', 'messageId', 'sms_id']) {
    const v = b[key];
    if (typeof v === 'string' && v) return [v];
    if (typeof v === 'number' && Number.isFinite(v)) return [String(v)];
  }
  if (Array.isArray(b.ids))
    return b.ids.filter((v) => typeof v === 'string' || typeof v === 'number').map(String);
  return [];
}

/** msg.to = msg.extension when only msg.extension is set (voicemail mode's recipients). */
export function extensionAsRecipient(msg: Record<string, unknown>): void {
  const ext = msg.extension;
  const empty = (v: unknown) => v === undefined || v === null || v === '';
  if (empty(msg.to) && !empty(ext)) msg.to = Array.isArray(ext) ? ext.map(String) : String(ext);
}

/** The SMS provider adapter for `pbxware out`. */
export function createPbxwareProvider(opts: PbxwareProviderOptions): SmsProvider {
  const mode: PbxwareMode = opts.mode === 'voicemail' ? 'voicemail' : 'sms';
  const api: PbxwareApi = opts.api === 'json' ? 'json' : 'action';
  const settings: PbxwareSettings = {
    url: opts.url,
    tenant: opts.tenant !== undefined ? String(opts.tenant).trim() : undefined,
    api,
    apiKey: opts.apiKey,
  };
  const fetchImpl = opts.fetch ?? fetch;
  return {
    name: 'pbxware',
    // no per-message options: mode (SMS or voicemail) decides how To is read, so it stays on the node
    optionSchema: {},
    recipientKind: mode === 'voicemail' ? 'opaque' : 'e164',
    // voicemail notifications go to extensions: msg.extension is accepted as well as msg.to
    ...(mode === 'voicemail' ? { prepare: extensionAsRecipient } : {}),
    async send(request: SmsSendRequest, signal: AbortSignal): Promise<SmsSendResult> {
      checkSettings(settings, mode);
      const to = request.to.trim();
      let wire: PbxwareRequest;
      if (mode === 'voicemail') {
        if (!isExtension(to))
          throw new SmsError(
            'SMS_INVALID_NUMBER',
            `PBXware: "${to.slice(0, 40)}" is not an extension number`,
          );
        // The voicemail notification exists only in the JSON API, whatever the API style.
        wire = voicemailRequest(settings, to, request.text);
      } else {
        wire =
          api === 'json'
            ? jsonSendRequest(settings, to, request.text)
            : actionSendRequest(settings, to, request.text);
      }
      const answer = await pbxwareCall(wire, settings.apiKey, signal, fetchImpl);
      const body = (answer.body ?? {}) as Record<string, unknown>;
      const details: Record<string, unknown> = { api: mode === 'voicemail' ? 'json' : api, mode };
      if (typeof body.success === 'string')
        details.success = scrub(body.success, settings.apiKey).slice(0, 200);
      return {
        ids: successIds(body),
        status: typeof body.status === 'string' ? body.status : 'submitted',
        details,
      };
    },
  };
}
