import WebSocket from 'ws';
import {
  ConnectionError,
  ConnectionUser,
  defaultReconnect,
  ManagedConnection,
  ReconnectOptions,
  SessionContext,
} from '../connection';
import type { EventMessage } from '../envelope';
import { HTTP_AND_WS_SCHEMES, parseConfigUrl } from '../config-url';
import { frameBytes, frameSize, isUtf8Text } from '../frames';
import { OnceLogger } from '../log-once';
import { tuned } from '../tuning';
import { esmsEnvelope, EsmsEventType } from './envelope';
import { accessTokenCookie, cleanAccessToken, isTokenExpired, tokenExpiry } from './token';

export const DEFAULT_ESMS_URL = 'https://sms.esmsafrica.io';

/** A registered `esms in` node. */
export interface EsmsUser extends ConnectionUser {
  /** the event types this user wants; empty = all */
  readonly events: readonly EsmsEventType[];
  onEvent(msg: EventMessage): void;
}

export interface EsmsTimings extends ReconnectOptions {
  /** the client ping period (the docs: every 30 s) */
  pingIntervalMs: number;
  /** the WebSocket opening handshake must finish within this */
  connectTimeoutMs: number;
  /** frames larger than this are logged once and skipped */
  maxFrameBytes: number;
}

/**
 * Production timings: ping every 30 s; a link that shows no frame (pong or event) for two ping periods
 * plus a margin is dead. A rejected token waits minutes, and after a few rejections we stay red until
 * the user pastes a fresh token and redeploys.
 */
export function esmsTimings(): EsmsTimings {
  return tuned<EsmsTimings>('esms', {
    ...defaultReconnect,
    deadAfterMs: 65_000,
    maxPermanentFailures: 5,
    pingIntervalMs: 30_000,
    connectTimeoutMs: 15_000,
    maxFrameBytes: 256 * 1024,
  });
}

export interface EsmsConnectionOptions {
  /** https base URL of the platform, e.g. https://sms.esmsafrica.io */
  url?: string;
  /** the portal session JWT (cookie esms_access_token) */
  accessToken?: string;
  /** where bad server input is reported (once per kind) */
  warn?: (message: string) => void;
  /** override timings (tests); default esmsTimings() */
  timings?: Partial<EsmsTimings>;
  /** TLS options passed to ws (certificates are verified unless the user says otherwise) */
  rejectUnauthorized?: boolean;
}

export const TOKEN_REJECTED = 'access token expired or invalid — paste a fresh esms_access_token';

/** wss://host/ws for an https base (ws:// for http), keeping any path prefix. */
export function esmsWebSocketUrl(base: string | undefined): string {
  const raw = base && base.trim() ? base.trim() : DEFAULT_ESMS_URL;
  const url = parseConfigUrl(raw, 'eSMS', DEFAULT_ESMS_URL, HTTP_AND_WS_SCHEMES);
  if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol === 'http:') url.protocol = 'ws:';
  url.pathname = url.pathname.replace(/\/+$/, '') + '/ws';
  url.search = '';
  url.hash = '';
  url.username = '';
  url.password = '';
  return url.toString();
}

/** A failure safe to show, for an unexpected HTTP answer to the upgrade. */
export function upgradeFailure(status: number, retryAfter?: string): ConnectionError {
  if (status === 401 || status === 403)
    return new ConnectionError(TOKEN_REJECTED + ` (HTTP ${status})`, { permanent: true, code: 'AUTH' });
  if (status === 404)
    return new ConnectionError('no WebSocket endpoint at /ws (HTTP 404) — check the URL', {
      permanent: true,
      code: 'CONFIG',
    });
  const seconds = Number(retryAfter);
  return new ConnectionError(`WebSocket upgrade refused (HTTP ${status})`, {
    code: status === 429 ? 'RATE_LIMITED' : 'NETWORK',
    retryAfterMs: status === 429 && Number.isFinite(seconds) ? seconds * 1000 : undefined,
  });
}

/** Check the token before using it: missing, or expired by its own `exp` claim. */
export function tokenProblem(token: string, now: number = Date.now()): ConnectionError | undefined {
  if (!token)
    return new ConnectionError('no access token configured — paste the esms_access_token cookie value', {
      config: true,
    });
  if (isTokenExpired(token, now)) {
    const when = new Date(tokenExpiry(token)!).toISOString();
    // it never becomes valid again: only a fresh token (a configuration change) helps
    return new ConnectionError(`access token expired at ${when} — paste a fresh esms_access_token`, {
      config: true,
      code: 'AUTH',
    });
  }
  return undefined;
}

/** Remove a secret from a message before it is shown anywhere. */
export function redact(text: string, ...secrets: (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

/**
 * The one WebSocket session of an `esms-africa` config node. The cookie is the only authentication:
 * a 401/403 on the upgrade means the token is expired or revoked. Every frame feeds the dead-link
 * watchdog; we send `{"type":"ping"}` every pingIntervalMs and the server's `{"type":"pong"}` keeps the
 * link alive. Events go to every registered user that wants their type.
 */
export class EsmsConnection extends ManagedConnection<EsmsUser> {
  private readonly token: string;
  private readonly wsUrl: string;
  private readonly urlError?: string;
  private readonly timings: EsmsTimings;
  private readonly badInput: OnceLogger;
  private readonly rejectUnauthorized: boolean;
  /** upgrade attempts made (for tests and diagnostics) */
  attempts = 0;

  constructor(opts: EsmsConnectionOptions) {
    const timings = { ...esmsTimings(), ...opts.timings };
    super(timings);
    this.timings = timings;
    this.token = cleanAccessToken(opts.accessToken);
    let wsUrl = '';
    try {
      wsUrl = esmsWebSocketUrl(opts.url);
    } catch (err) {
      this.urlError = (err as Error).message;
    }
    this.wsUrl = wsUrl;
    this.rejectUnauthorized = opts.rejectUnauthorized !== false;
    const warn = opts.warn ?? (() => {});
    this.badInput = new OnceLogger((m) => warn(redact(m, this.token)));
  }

  protected runSession(ctx: SessionContext): Promise<void> {
    if (this.urlError) return Promise.reject(new ConnectionError(this.urlError, { config: true }));
    const problem = tokenProblem(this.token, ctx.clock.now());
    if (problem) return Promise.reject(problem);
    this.attempts++;
    return new Promise<void>((resolve, reject) => {
      const clock = ctx.clock;
      let failure: ConnectionError | undefined;
      let pingTimer: unknown;
      let closeTimer: unknown;
      let ended = false;
      const ws = new WebSocket(this.wsUrl, {
        headers: { Cookie: accessTokenCookie(this.token) },
        handshakeTimeout: this.timings.connectTimeoutMs,
        perMessageDeflate: false,
        followRedirects: false,
        rejectUnauthorized: this.rejectUnauthorized,
        skipUTF8Validation: true, // checked per frame (nodes/lib/frames.ts)
      });

      const finish = () => {
        if (ended) return;
        ended = true;
        clock.clearTimeout(pingTimer);
        clock.clearTimeout(closeTimer);
        ctx.signal.removeEventListener('abort', onAbort);
        ws.removeAllListeners();
        ws.on('error', () => {});
        if (failure) reject(failure);
        else resolve();
      };

      const schedulePing = () => {
        pingTimer = clock.setTimeout(() => {
          if (ws.readyState !== WebSocket.OPEN) return;
          ws.send('{"type":"ping"}', () => {});
          schedulePing();
        }, this.timings.pingIntervalMs);
      };

      const onAbort = () => {
        if (ctx.stopping && ws.readyState === WebSocket.OPEN) {
          ws.close(1000, 'closing');
          closeTimer = clock.setTimeout(() => ws.terminate(), Math.min(2000, this.timings.connectTimeoutMs));
        } else {
          ws.terminate();
        }
      };
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });

      ws.on('unexpected-response', (_req, res) => {
        failure = upgradeFailure(res.statusCode ?? 0, headerValue(res.headers['retry-after']));
        res.resume();
        ws.terminate();
      });
      ws.on('open', () => {
        ctx.alive();
        ctx.setPhase('subscribed');
        schedulePing();
      });
      ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
        ctx.alive();
        this.handleFrame(data, isBinary, clock.now());
      });
      ws.on('ping', () => ctx.alive());
      ws.on('pong', () => ctx.alive());
      ws.on('error', (err: Error) => {
        failure ??= new ConnectionError(redact(err.message || 'WebSocket error', this.token), {
          code: 'NETWORK',
        });
      });
      ws.on('close', (code: number) => {
        failure ??= new ConnectionError(`connection closed by the server (code ${code})`, { code: 'CLOSED' });
        finish();
      });
    });
  }

  /** One frame from the server: pong = heartbeat only; events go to users; anything else is logged once. */
  private handleFrame(data: WebSocket.RawData, isBinary: boolean, now: number): void {
    const size = frameSize(data);
    if (size > this.timings.maxFrameBytes) {
      this.badInput.warn(
        'oversized',
        `eSMS: skipped a frame of ${size} bytes (larger than ${this.timings.maxFrameBytes})`,
      );
      return;
    }
    if (isBinary) {
      this.badInput.warn('binary', 'eSMS: skipped a binary frame');
      return;
    }
    const bytes = frameBytes(data);
    if (!isUtf8Text(bytes)) {
      this.badInput.warn('invalid-utf8', 'eSMS: skipped a text frame that is not valid UTF-8');
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(bytes.toString('utf8'));
    } catch {
      this.badInput.warn('invalid-json', 'eSMS: skipped a frame that is not valid JSON');
      return;
    }
    if (!frame || typeof frame !== 'object' || Array.isArray(frame)) {
      this.badInput.warn('not-object', 'eSMS: skipped a frame that is not a JSON object');
      return;
    }
    const type = (frame as { type?: unknown }).type;
    if (type === 'pong' || type === 'ping') return;
    const envelope = esmsEnvelope(frame as Record<string, unknown>, now);
    if (!envelope) {
      const kind = typeof type === 'string' ? type.slice(0, 40) : typeof type;
      this.badInput.warn(`unknown-type:${kind}`, `eSMS: skipped an event of unknown type "${kind}"`);
      return;
    }
    let first = true;
    for (const user of this.users) {
      if (user.events.length > 0 && !user.events.includes(envelope.event.type as EsmsEventType)) continue;
      // every user gets its own copy: one flow mutating a payload must not change another's
      const msg = first ? envelope : (structuredClone(envelope) as EventMessage);
      first = false;
      try {
        user.onEvent(msg);
      } catch {
        // a user's handler must never break the connection
      }
    }
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
