import { ConnectionError, ManagedConnection, SessionContext } from '../connection';
import type { EventMessage } from '../envelope';
import { HTTP_AND_WS_SCHEMES, parseConfigUrl } from '../config-url';
import { OnceLogger } from '../log-once';
import { defaultNetwork, Network } from '../proxy';
import { fanOut, SourceUser } from '../session/fanout';
import { Frame, FrameParser } from '../session/frame-parser';
import { SourceSocket } from '../session/socket';
import { sourceDefaults, SourceTiming, sourceTiming } from '../session/timing';
import { esmsEnvelope, EsmsEventType, isEsmsEventType } from './envelope';
import { accessTokenCookie, cleanAccessToken, isTokenExpired, tokenExpiry } from './token';

export const DEFAULT_ESMS_URL = 'https://sms.esmsafrica.io';

/** A registered `esms in` node: it wants events by type. */
export type EsmsUser = SourceUser<EsmsEventType>;

export interface EsmsTimings extends SourceTiming {
  /** the client ping period (the docs: every 30 s) */
  pingIntervalMs: number;
}

/**
 * Production timings: ping every 30 s; a link that shows no frame (pong or event) for two ping periods
 * plus a margin is dead. A rejected token waits minutes, and after a few rejections we stay red until
 * the user pastes a fresh token and redeploys.
 */
export const ESMS_TIMING: EsmsTimings = {
  ...sourceDefaults,
  deadAfterMs: 65_000,
  maxPermanentFailures: 5,
  pingIntervalMs: 30_000,
  handshakeTimeoutMs: 15_000,
  maxFrameBytes: 256 * 1024,
};

/** The timings in force now (tests override them with `tuning.esms`). */
export function esmsTiming(): EsmsTimings {
  return sourceTiming('esms', ESMS_TIMING);
}

export interface EsmsConnectionOptions {
  /** https base URL of the platform, e.g. https://sms.esmsafrica.io */
  url?: string;
  /** the portal session JWT (cookie esms_access_token) */
  accessToken?: string;
  /** where bad server input is reported (once per kind) */
  warn?: (message: string) => void;
  /** override timings (tests); default esmsTiming() */
  timings?: Partial<EsmsTimings>;
  /** TLS options passed to ws (certificates are verified unless the user says otherwise) */
  rejectUnauthorized?: boolean;
  /** how the platform is reached (proxy or direct); default: the proxy environment variables */
  network?: Network;
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
export function upgradeFailure(status: number, retryAfterMs?: number): ConnectionError {
  if (status === 401 || status === 403)
    return new ConnectionError(TOKEN_REJECTED + ` (HTTP ${status})`, { permanent: true, code: 'AUTH' });
  if (status === 404)
    return new ConnectionError('no WebSocket endpoint at /ws (HTTP 404) — check the URL', {
      permanent: true,
      code: 'CONFIG',
    });
  return new ConnectionError(`WebSocket upgrade refused (HTTP ${status})`, {
    code: status === 429 ? 'RATE_LIMITED' : 'NETWORK',
    retryAfterMs: status === 429 ? retryAfterMs : undefined,
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
  private readonly parser: FrameParser;
  private readonly rejectUnauthorized: boolean;
  private readonly network: Network;
  /** upgrade attempts made (for tests and diagnostics) */
  attempts = 0;

  constructor(opts: EsmsConnectionOptions) {
    const timings = { ...esmsTiming(), ...opts.timings };
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
    this.network = opts.network ?? defaultNetwork;
    const warn = opts.warn ?? (() => {});
    const badInput = new OnceLogger((m) => warn(redact(m, this.token)));
    this.parser = new FrameParser(
      () => 'eSMS',
      timings.maxFrameBytes,
      (kind, m) => badInput.warn(kind, m),
    );
  }

  protected async runSession(ctx: SessionContext): Promise<void> {
    if (this.urlError) throw new ConnectionError(this.urlError, { config: true });
    const problem = tokenProblem(this.token, ctx.clock.now());
    if (problem) throw problem;
    this.attempts++;
    const { clock } = ctx;
    let pingTimer: unknown;
    const socket = new SourceSocket(
      {
        url: this.wsUrl,
        network: this.network,
        timing: this.timings,
        parser: this.parser,
        headers: { Cookie: accessTokenCookie(this.token) },
        rejectUnauthorized: this.rejectUnauthorized,
        refused: (status, retryAfterMs) => upgradeFailure(status, retryAfterMs),
        failed: (err) =>
          new ConnectionError(redact(err.message || 'WebSocket error', this.token), { code: 'NETWORK' }),
        closed: (code) =>
          new ConnectionError(`connection closed by the server (code ${code})`, { code: 'CLOSED' }),
        onOpen: () => {
          ctx.setPhase('subscribed');
          schedulePing();
        },
        onFrame: (frame) => this.handleFrame(frame, clock.now()),
      },
      ctx,
    );
    const schedulePing = () => {
      pingTimer = clock.setTimeout(() => {
        if (!socket.isOpen) return;
        socket.send('{"type":"ping"}');
        schedulePing();
      }, this.timings.pingIntervalMs);
    };
    const onAbort = () => {
      if (ctx.stopping) void socket.closeGracefully();
      else socket.terminate();
    };
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await socket.ended;
    } finally {
      clock.clearTimeout(pingTimer);
      ctx.signal.removeEventListener('abort', onAbort);
      socket.dispose();
    }
  }

  /** One parsed frame: pong = heartbeat only; events go to the users that want their type. */
  private handleFrame(frame: Frame, now: number): void {
    const type = frame.type;
    if (type === 'pong' || type === 'ping') return;
    if (!isEsmsEventType(type)) {
      const kind = typeof type === 'string' ? type.slice(0, 40) : typeof type;
      this.parser.skipped(`unknown-type:${kind}`, `skipped an event of unknown type "${kind}"`);
      return;
    }
    fanOut(this.users, type, () => esmsEnvelope(frame, now) as EventMessage);
  }
}
