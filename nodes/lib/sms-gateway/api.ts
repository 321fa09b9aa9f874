/**
 * REST facts of the SMS gateway (Gravity SMS) shared by the connection, the provider and the
 * "Test connection" endpoint (the gateway's REST API; README, "SMS gateway").
 */
import { parseConfigUrl } from '../config-url';
import { parseRetryAfter } from '../sms/errors';
import { isRedirect, NO_REDIRECTS, redirectRefused } from '../safe-url';

export const DEFAULT_GATEWAY_URL = 'https://smsgateway-api.onrender.com';

/** E.164: a plus, a non-zero digit, at most 15 digits in all. */
export const E164 = /^\+[1-9]\d{1,14}$/;

export type WsAuthMode = 'token' | 'apiKey';

export function wsAuthMode(value: unknown): WsAuthMode {
  return value === 'apiKey' ? 'apiKey' : 'token';
}

/** The base URL without a trailing slash; throws a message without secrets when it is not http(s). */
export function baseUrl(url: string | undefined): string {
  const raw = (url || '').trim() || DEFAULT_GATEWAY_URL;
  const parsed = parseConfigUrl(raw, 'gateway', DEFAULT_GATEWAY_URL);
  parsed.search = '';
  parsed.hash = '';
  return parsed.toString().replace(/\/+$/, '');
}

/** http(s)://host/base → ws(s)://host/base/ws */
export function wsUrl(base: string): string {
  const url = new URL(base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = url.pathname.replace(/\/+$/, '') + '/ws';
  return url.toString();
}

/** host[:port] of the gateway, for messages (never userinfo) */
export function hostOf(base: string): string {
  try {
    return new URL(base).host;
  } catch {
    return 'gateway';
  }
}

/** A non-2xx answer of the gateway: `{"error":"…"}` plus the status and Retry-After. */
export class GatewayHttpError extends Error {
  constructor(
    readonly status: number,
    readonly serverMessage: string,
    readonly retryAfterMs?: number,
  ) {
    super(serverMessage);
    this.name = 'GatewayHttpError';
  }
}

/** Read a response body as JSON when it is JSON; never throws. */
export async function readJson(res: Response): Promise<unknown> {
  try {
    const text = await res.text();
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The server's `error` text, or a neutral description of the status. */
export function errorText(body: unknown, status: number): string {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string' && error.trim()) return error.trim().slice(0, 300);
  return `HTTP ${status}`;
}

export async function httpError(res: Response): Promise<GatewayHttpError> {
  const body = await readJson(res);
  return new GatewayHttpError(
    res.status,
    errorText(body, res.status),
    parseRetryAfter(res.headers.get('retry-after')),
  );
}

/** A 3xx to a request carrying the key: refused, with the reason (never followed). */
export async function redirectError(res: Response): Promise<GatewayHttpError> {
  await res.body?.cancel();
  return new GatewayHttpError(
    res.status,
    redirectRefused('SMS gateway', res.status, res.headers.get('location')),
  );
}

export interface WsToken {
  token: string;
  expiresIn?: number;
}

/** POST /v1/ws/token (Bearer key) → a single-use token valid ~60 s. Throws GatewayHttpError or fetch's error. */
export async function requestWsToken(
  base: string,
  apiKey: string,
  signal: AbortSignal,
  fetchImpl: typeof fetch = fetch,
): Promise<WsToken> {
  const res = await fetchImpl(`${base}/v1/ws/token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' },
    ...NO_REDIRECTS,
    signal,
  });
  if (isRedirect(res.status)) throw await redirectError(res);
  if (!res.ok) throw await httpError(res);
  const body = (await readJson(res)) as { token?: unknown; expiresIn?: unknown } | undefined;
  if (!body || typeof body.token !== 'string' || !body.token)
    throw new GatewayHttpError(res.status, 'the token endpoint answered without a token');
  return { token: body.token, expiresIn: typeof body.expiresIn === 'number' ? body.expiresIn : undefined };
}

/** Is this a rejection of the credentials (counts towards the gateway's IP lockout)? */
export function isAuthRejection(status: number): boolean {
  return status === 401 || status === 403;
}
