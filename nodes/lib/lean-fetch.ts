import { STATUS_CODES } from 'node:http';
import type * as Undici from 'undici';

/**
 * `fetch` for the simple requests this package makes itself, on undici's `request` API: no WHATWG
 * request copy, body streams or response tee, about a quarter of fetch's CPU per request (it was the
 * largest cost of every SMS). Simple means: a string, bytes or URLSearchParams body (or none), and
 * redirects not followed ('manual' or 'error': every request that carries a secret). Anything else is
 * left to the real fetch (see `isLean`). What callers read of the answer is what fetch gives: status,
 * statusText, headers and the body; errors are fetch's too: `TypeError('fetch failed')` with the
 * network error as its cause, the signal's reason on abort.
 */
export function isLean(input: unknown, init: RequestInit | undefined): init is RequestInit {
  if (typeof input !== 'string' && !(input instanceof URL)) return false;
  if (!init || (init.redirect !== 'manual' && init.redirect !== 'error')) return false;
  const body = init.body;
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof URLSearchParams
  );
}

/** statuses whose answer has no body (the Response constructor refuses one) */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function leanFetch(
  request: typeof Undici.request,
  dispatcher: Undici.Dispatcher,
  url: string,
  init: RequestInit,
): Promise<Response> {
  const headers: Record<string, string> = { accept: '*/*', 'user-agent': 'node' };
  new Headers(init.headers).forEach((value, name) => (headers[name] = value));
  let body: string | Uint8Array | undefined;
  if (typeof init.body === 'string') {
    body = init.body;
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
  } else if (init.body instanceof URLSearchParams) {
    body = init.body.toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
  } else if (init.body instanceof Uint8Array) body = init.body;
  const signal = init.signal ?? undefined;
  let answer: Undici.Dispatcher.ResponseData;
  let bytes: ArrayBuffer;
  try {
    answer = await request(url, {
      dispatcher,
      method: (init.method ?? 'GET').toUpperCase() as Undici.Dispatcher.HttpMethod,
      headers,
      body,
      signal,
    });
    bytes = await answer.body.arrayBuffer();
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw Object.assign(new TypeError('fetch failed'), { cause: err });
  }
  const status = answer.statusCode;
  if (init.redirect === 'error' && REDIRECTS.has(status))
    throw Object.assign(new TypeError('fetch failed'), { cause: new Error('unexpected redirect') });
  const out = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    if (Array.isArray(value)) for (const v of value) out.append(name, v);
    else if (value !== undefined) out.append(name, value);
  }
  return new Response(NULL_BODY.has(status) ? null : bytes, {
    status,
    statusText: STATUS_CODES[status] ?? '',
    headers: out,
  });
}
