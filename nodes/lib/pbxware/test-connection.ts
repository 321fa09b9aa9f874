import { ConnectionError } from '../connection';
import { fromFetchFailure, SmsError } from '../sms/errors';
import { pbxwareError } from './errors';
import { actionRequest, checkSettings, pbxBase, pbxwareCall, PbxwareSettings } from './provider';

/**
 * The test-connection endpoint's work for a `pbxware-server` config node. Sends nothing.
 * - action API: `action=pbxware.ext.list&server=<tenant>` (a read-only call): HTTP 200 without an
 *   `error` key = the URL, the key and the tenant are good.
 * - JSON API: best effort, because its public shape is only partly known: `GET /api/sms/send` with
 *   X-API-Key. An `error` key / 401 / 403 = the key is rejected; 404 = no JSON API there; any other
 *   answer (405 Method Not Allowed, 200) = the endpoint exists. Whether SMS is enabled shows only when
 *   sending.
 */
export async function testPbxwareConnection(
  config: Record<string, unknown>,
  credentials: Record<string, string>,
  signal: AbortSignal,
  fetchImpl: typeof fetch = fetch,
): Promise<string> {
  const settings: PbxwareSettings = {
    url: typeof config.url === 'string' ? config.url : '',
    tenant: config.tenant !== undefined && config.tenant !== null ? String(config.tenant).trim() : '',
    api: config.api === 'json' ? 'json' : 'action',
    apiKey: credentials.apiKey,
  };
  checkSettings(settings, 'sms');
  if (settings.api === 'action') {
    const answer = await pbxwareCall(
      actionRequest(settings, { action: 'pbxware.ext.list', server: settings.tenant ?? '' }),
      settings.apiKey,
      signal,
      fetchImpl,
    );
    const body = answer.body;
    const count = body && typeof body === 'object' ? Object.keys(body as object).length : 0;
    return `action API reachable, API key accepted for tenant ${settings.tenant} (${count} extensions listed)`;
  }
  const url = new URL(pbxBase(settings.url).toString());
  url.pathname = url.pathname.replace(/\/+$/, '') + '/api/sms/send';
  let res: Response;
  try {
    res = await fetchImpl(url.toString(), {
      method: 'GET',
      headers: { 'X-API-Key': settings.apiKey ?? '', Accept: 'application/json' },
      redirect: 'manual',
      signal,
    });
  } catch (err) {
    if (err instanceof ConnectionError) throw fromFetchFailure(err, 'PBXware'); // the proxy: 407, configuration
    const name = (err as { name?: string })?.name;
    const cause = (err as { cause?: { code?: string } })?.cause?.code;
    throw new SmsError(
      name === 'TimeoutError' || name === 'AbortError' ? 'SMS_TIMEOUT' : 'SMS_NETWORK',
      name === 'TimeoutError' || name === 'AbortError'
        ? 'PBXware: request timed out'
        : `PBXware: network error${cause ? ` (${cause})` : ''}`,
    );
  }
  const text = await res.text().catch(() => '');
  let error: unknown;
  try {
    error = (JSON.parse(text) as { error?: unknown })?.error;
  } catch {
    error = undefined;
  }
  // "Method not allowed"-style errors only say the endpoint exists; anything else is the server's verdict
  if (typeof error === 'string' && error && !/method|not allowed|use post/i.test(error))
    throw pbxwareError(error, res.status, settings.apiKey);
  if (res.status === 401 || res.status === 403)
    throw new SmsError('SMS_AUTH', `PBXware: the API key was rejected (HTTP ${res.status})`, {
      status: res.status,
    });
  if (res.status === 404)
    throw new SmsError(
      'SMS_CONFIG',
      'PBXware: no JSON API at /api/sms/send (HTTP 404) — try the action API style',
      {
        status: res.status,
      },
    );
  if (res.status >= 500)
    throw new SmsError('SMS_PROVIDER', `PBXware: server error (HTTP ${res.status})`, { status: res.status });
  if (res.status >= 300 && res.status < 400)
    throw new SmsError(
      'SMS_CONFIG',
      `PBXware: the server redirects (HTTP ${res.status}) — use the final URL`,
      {
        status: res.status,
      },
    );
  return `JSON API reachable (HTTP ${res.status}); best effort: the key and SMS settings are fully checked only when sending`;
}
