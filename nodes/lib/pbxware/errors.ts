import { SmsError, SmsErrorCode } from '../sms/errors';

/**
 * PBXware answers HTTP 200 and signals a failure only with an `error` key. These are the
 * documented texts: all of them are configuration problems on the PBX or in our settings, so they are
 * permanent (never retried) and keep the server's own words.
 */
interface KnownError {
  match: RegExp;
  code: SmsErrorCode;
  providerCode: string;
  hint: string;
}

const KNOWN: KnownError[] = [
  {
    match: /sms api is disabled/i,
    code: 'SMS_CONFIG',
    providerCode: 'sms_api_disabled',
    hint: 'set "Enable SMS API" to Yes in Tenant → Settings → SMS Settings → Notifications',
  },
  {
    match: /sms not enabled for this tenant/i,
    code: 'SMS_CONFIG',
    providerCode: 'sms_not_enabled',
    hint: 'SMS is not enabled for this tenant: check the tenant (server) id and its SMS settings',
  },
  {
    match: /sender sms number/i,
    code: 'SMS_BAD_SENDER',
    providerCode: 'bad_sender',
    hint: 'set a valid SMS-enabled Sender Number in Tenant → Settings → SMS Settings → Notifications',
  },
  {
    match: /destination does not have an assigned sms number/i,
    code: 'SMS_INVALID_NUMBER',
    providerCode: 'no_sms_number',
    hint: "assign an SMS number to the destination (the extension's SMS notification settings)",
  },
  {
    match: /invalid api key|api key is (invalid|missing)|missing api key/i,
    code: 'SMS_AUTH',
    providerCode: 'invalid_api_key',
    hint: 'check the API key and that it allows SMS actions',
  },
];

/** Remove the API key (and anything long that looks like it) from a text before showing it. */
export function scrub(text: string, apiKey?: string): string {
  let out = text;
  if (apiKey && apiKey.length >= 4) out = out.split(apiKey).join('***');
  out = out.replace(/(apikey=)[^&\s"']+/gi, '$1***');
  return out;
}

/** The server's `error` value as a one-line text. */
export function errorText(value: unknown): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  try {
    return JSON.stringify(value) ?? 'error';
  } catch {
    return 'error';
  }
}

/** Map PBXware's `{"error": "…"}` to a permanent SmsError with a stable code. */
export function pbxwareError(serverText: string, status: number, apiKey?: string): SmsError {
  const text = scrub(serverText, apiKey).slice(0, 300) || 'unknown error';
  const known = KNOWN.find((k) => k.match.test(text));
  if (known)
    return new SmsError(known.code, `PBXware: ${text} — ${known.hint}`, {
      status,
      providerCode: known.providerCode,
    });
  if (status === 401 || status === 403)
    return new SmsError('SMS_AUTH', `PBXware: ${text}`, { status, providerCode: 'auth' });
  // An unknown error text: we cannot know whether a retry would send twice, so we never retry it.
  return new SmsError('SMS_PROVIDER', `PBXware: ${text}`, { status, providerCode: 'error' });
}
