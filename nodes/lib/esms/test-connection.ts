import WebSocket from 'ws';
import { ConnectionError } from '../connection';
import { isRedirect, NO_REDIRECTS, redirectRefused } from '../safe-url';
import { DEFAULT_ESMS_URL, esmsWebSocketUrl, redact, tokenProblem, upgradeFailure } from './connection';
import { accessTokenCookie, cleanAccessToken, tokenExpiry } from './token';

/** REST endpoint used to check an API key (see esmsApiKeyProbe). */
export function esmsRestUrl(base: string | undefined, path: string): string {
  const url = new URL(base && base.trim() ? base.trim() : DEFAULT_ESMS_URL);
  url.pathname = url.pathname.replace(/\/+$/, '') + path;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/**
 * Open the WebSocket with the cookie and wait for the upgrade: 101 = the token is accepted, 401/403 =
 * expired or revoked. Closes at once with 1000. Resolves to a short human text.
 */
export function probeWebSocket(
  base: string | undefined,
  rawToken: string,
  signal: AbortSignal,
  now: number = Date.now(),
): Promise<string> {
  const token = cleanAccessToken(rawToken);
  const problem = tokenProblem(token, now);
  if (problem) return Promise.reject(problem);
  let wsUrl: string;
  try {
    wsUrl = esmsWebSocketUrl(base);
  } catch (err) {
    return Promise.reject(new ConnectionError((err as Error).message, { code: 'CONFIG' }));
  }
  return new Promise<string>((resolve, reject) => {
    let failure: Error | undefined;
    let opened = false;
    const ws = new WebSocket(wsUrl, {
      headers: { Cookie: accessTokenCookie(token) },
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
      followRedirects: false,
    });
    const onAbort = () => {
      failure ??= new ConnectionError('timed out waiting for the WebSocket upgrade', { code: 'TIMEOUT' });
      ws.terminate();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location ?? null;
      failure = isRedirect(status)
        ? new ConnectionError(redirectRefused('WebSocket', status, location), { code: 'CONFIG' })
        : upgradeFailure(status);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      opened = true;
      ws.close(1000, 'test');
    });
    ws.on('error', (err: Error) => {
      failure ??= new ConnectionError(redact(err.message || 'WebSocket error', token), { code: 'NETWORK' });
    });
    ws.on('close', () => {
      signal.removeEventListener('abort', onAbort);
      if (opened) {
        const expiry = tokenExpiry(token);
        resolve(
          'WebSocket upgrade accepted' +
            (expiry !== undefined ? ` — the token is valid until ${new Date(expiry).toISOString()}` : ''),
        );
      } else
        reject(failure ?? new ConnectionError('connection closed before the upgrade', { code: 'NETWORK' }));
    });
  });
}

/**
 * Check a REST API key without sending anything: POST /api/messages/send with an empty body. The key
 * is checked before the body, so 401/403 = rejected key and 422 (validation: "to"/"text" missing) =
 * accepted key. Best effort: the order of these checks is inferred, not documented.
 */
export async function probeApiKey(
  base: string | undefined,
  apiKey: string,
  signal: AbortSignal,
): Promise<string> {
  let res: Response;
  try {
    res = await fetch(esmsRestUrl(base, '/api/messages/send'), {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${apiKey}`,
        'Content-Type': 'application/json',
        Accept: 'application/json',
      },
      body: '{}',
      ...NO_REDIRECTS,
      signal,
    });
  } catch (err) {
    const name = (err as { name?: string })?.name;
    const cause = (err as { cause?: { code?: string } })?.cause?.code;
    throw new ConnectionError(
      name === 'TimeoutError' || name === 'AbortError'
        ? 'REST API: request timed out'
        : `REST API: network error${cause ? ` (${cause})` : ''}`,
      { code: 'NETWORK' },
    );
  }
  if (isRedirect(res.status)) {
    await res.body?.cancel();
    throw new ConnectionError(redirectRefused('REST API', res.status, res.headers.get('location')), {
      code: 'CONFIG',
    });
  }
  const text = await res.text().catch(() => '');
  if (res.status === 401 || res.status === 403)
    throw new ConnectionError(`REST API: the API key was rejected (HTTP ${res.status})`, { code: 'AUTH' });
  if (res.status === 422 || res.status === 400) return 'REST API key accepted';
  if (res.ok) return 'REST API key accepted';
  let detail = '';
  try {
    const body = JSON.parse(text) as { detail?: { message?: unknown } | string };
    const d = body.detail;
    detail = typeof d === 'string' ? d : typeof d?.message === 'string' ? d.message : '';
  } catch {
    // not JSON: the status says enough
  }
  throw new ConnectionError(
    redact(`REST API: HTTP ${res.status}${detail ? ` — ${detail.slice(0, 200)}` : ''}`, apiKey),
    { code: res.status >= 500 ? 'NETWORK' : 'CONFIG' },
  );
}

/** The test-connection endpoint's work for an `esms-africa` config node. */
export async function testEsmsConnection(
  config: Record<string, unknown>,
  credentials: Record<string, string>,
  signal: AbortSignal,
): Promise<string> {
  const url = typeof config.url === 'string' ? config.url : undefined;
  const { accessToken, apiKey } = credentials;
  if (!accessToken && !apiKey)
    throw new ConnectionError('enter an access token (for events) or an API key (for sending)', {
      code: 'CONFIG',
    });
  const results: string[] = [];
  if (accessToken) results.push(await probeWebSocket(url, accessToken, signal));
  if (apiKey) results.push(await probeApiKey(url, apiKey, signal));
  return results.join('; ');
}
