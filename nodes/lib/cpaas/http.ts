/** Small HTTP/URL helpers for the CPaaS client: timeouts on the injectable clock, URL building, redaction. */
import type { Clock } from '../clock';
import { parseConfigUrl } from '../config-url';

/** A signal that aborts when `parent` does or after `ms` on `clock`; dispose() clears the timer and listener. */
export function deadline(
  clock: Clock,
  ms: number,
  parent?: AbortSignal,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onAbort, { once: true });
  const timer = clock.setTimeout(
    () => controller.abort(new DOMException('request timed out', 'TimeoutError')),
    Math.max(0, ms),
  );
  return {
    signal: controller.signal,
    dispose: () => {
      clock.clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}

/** The configured base URL without trailing slashes; throws ConfigUrlError on anything that is not http(s). */
export function normaliseBase(url: unknown): string {
  const text = typeof url === 'string' ? url.trim().replace(/\/+$/, '') : '';
  parseConfigUrl(text, 'CPaaS', 'https://oauth-cpaas.att.com');
  return text;
}

/**
 * A resourceURL from the server as an absolute URL on the configured base. A resourceURL naming another
 * origin is reduced to its path: the bearer token is only ever sent to the configured server.
 */
export function resolveResource(base: string, resourceURL: string): string {
  const baseUrl = new URL(base);
  const url = new URL(resourceURL, baseUrl.origin + '/');
  if (url.origin === baseUrl.origin) return url.toString();
  return baseUrl.origin + url.pathname + url.search;
}

/** ws(s)://host{channelURL}?access_token=… with the scheme from the base URL. */
export function channelSocketUrl(base: string, channelURL: string, accessToken: string): string {
  const baseUrl = new URL(base);
  const url = new URL(channelURL, baseUrl.origin + '/');
  url.protocol = baseUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  url.host = baseUrl.host;
  url.searchParams.set('access_token', accessToken);
  return url.toString();
}

/** The last path segment of a resource URL (the id). */
export function lastSegment(url: string): string {
  const path = url.split(/[?#]/)[0].replace(/\/+$/, '');
  const segment = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Remove secrets from a text that may carry a URL (the socket URL holds the access token). */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text.replace(/(access_token=)[^&\s"'#]+/gi, '$1***');
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

/** Read a response body as JSON when it is JSON; the raw text otherwise ('' when empty). */
export async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `promise`, or the signal's abort as a rejection (the promise itself keeps running for others). */
export function raced<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function abortError(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('aborted', 'AbortError');
}
