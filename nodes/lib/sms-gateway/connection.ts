/**
 * The SMS gateway's event WebSocket (`ws(s)://host/ws`): in-band auth with the API key or a one-time
 * token fetched for every connect, the server's JSON ping as heartbeat, `sms_status` / `sms_inbound`
 * events for the whole account (each user filters by type).
 */
import { defaultBackoff } from '../backoff';
import { ConnectionError, ManagedConnection, SessionContext } from '../connection';
import { OnceLogger } from '../log-once';
import { fanOut, SourceUser } from '../session/fanout';
import { FrameParser } from '../session/frame-parser';
import { SourceSocket } from '../session/socket';
import { sourceDefaults, SourceTiming, sourceTiming } from '../session/timing';
import { defaultNetwork, Network } from '../proxy';
import { baseUrl, GatewayHttpError, hostOf, isAuthRejection, requestWsToken, WsAuthMode, wsUrl } from './api';
import { AuthGuard, authGuardFor, AuthRefusedError, AuthTicket } from './auth-guard';
import { gatewayEnvelope, GatewayEventType, isGatewayEventType } from './envelope';

export interface GatewayTiming extends SourceTiming {
  /** no answer to the auth frame within this = give up this attempt (transient) */
  authTimeoutMs: number;
  /** token request timeout */
  requestTimeoutMs: number;
  /** the auth guard's window and limit (see auth-guard.ts) */
  authWindowMs: number;
  authRefuseAt: number;
}

export const GATEWAY_TIMING: GatewayTiming = {
  ...sourceDefaults,
  // After an auth failure wait minutes, doubling; stop after 4 (see the IP lockout in the protocol notes).
  backoff: { ...defaultBackoff, permanentDelayMs: 120_000, maxPermanentDelayMs: 30 * 60_000 },
  // The server pings every 30 s: two missed pings and a margin = dead link.
  deadAfterMs: 75_000,
  maxPermanentFailures: 4,
  authTimeoutMs: 15_000,
  requestTimeoutMs: 15_000,
  handshakeTimeoutMs: 15_000,
  maxFrameBytes: 1_000_000,
  authWindowMs: 5 * 60_000,
  authRefuseAt: 5,
};

/** The timings in force now (tests override them with `tuning['sms-gateway']`). */
export function gatewayTiming(): GatewayTiming {
  return sourceTiming('sms-gateway', GATEWAY_TIMING);
}

/** The guard for a gateway URL with the current timings. */
export function gatewayGuard(url: string, timing: GatewayTiming = gatewayTiming()): AuthGuard {
  return authGuardFor(url, {
    windowMs: timing.authWindowMs,
    refuseAt: timing.authRefuseAt,
    clock: timing.clock,
  });
}

/** A source node registered with the connection: it wants events by type. */
export type GatewayUser = SourceUser<GatewayEventType>;

export interface GatewayConnectionOptions {
  url?: string;
  apiKey?: string;
  wsAuth?: WsAuthMode;
  /** where bad server input is reported (once per kind) */
  log?: (message: string) => void;
  timing?: GatewayTiming;
  guard?: AuthGuard;
  /** how the gateway is reached (proxy or direct); default: the proxy environment variables */
  network?: Network;
}

export class GatewayConnection extends ManagedConnection<GatewayUser> {
  readonly base?: string;
  readonly wsAuth: WsAuthMode;
  readonly guard?: AuthGuard;
  private readonly configError?: string;
  private readonly apiKey?: string;
  private readonly timing: GatewayTiming;
  private readonly parser: FrameParser;
  private readonly network: Network;
  /** counters, for tests and the status */
  readonly stats = { connects: 0, tokens: 0, events: 0, skipped: 0 };

  constructor(opts: GatewayConnectionOptions) {
    const timing = opts.timing ?? gatewayTiming();
    super(timing);
    this.timing = timing;
    this.wsAuth = opts.wsAuth ?? 'token';
    this.apiKey = opts.apiKey || undefined;
    const badInput = new OnceLogger(opts.log ?? (() => {}));
    this.parser = new FrameParser(
      () => `SMS gateway ${this.base ? hostOf(this.base) : ''}`,
      timing.maxFrameBytes,
      (kind, message) => {
        this.stats.skipped++;
        badInput.warn(kind, message);
      },
    );
    this.network = opts.network ?? defaultNetwork;
    try {
      this.base = baseUrl(opts.url);
      this.guard = opts.guard ?? gatewayGuard(this.base, timing);
    } catch (err) {
      this.configError = (err as Error).message;
    }
  }

  protected async runSession(ctx: SessionContext): Promise<void> {
    // a URL without a scheme or a missing key cannot heal by waiting: no request, no retry
    if (this.configError || !this.base || !this.guard)
      throw new ConnectionError(this.configError ?? 'invalid configuration', { config: true });
    if (!this.apiKey) throw new ConnectionError('no API key configured', { config: true });
    const apiKey = this.apiKey;
    const authFrame =
      this.wsAuth === 'token'
        ? { type: 'auth', token: await this.fetchToken(this.base, apiKey, this.guard, ctx) }
        : { type: 'auth', apiKey };
    const ticket = await this.admit(this.guard, apiKey, ctx.signal);
    this.stats.connects++;
    await this.socketSession(ctx, wsUrl(this.base), JSON.stringify(authFrame), ticket);
  }

  private async admit(guard: AuthGuard, apiKey: string, signal: AbortSignal): Promise<AuthTicket> {
    try {
      return await guard.begin(apiKey, signal);
    } catch (err) {
      if (err instanceof AuthRefusedError)
        throw new ConnectionError(err.message, {
          permanent: true,
          code: err.code,
          retryAfterMs: err.retryInMs,
        });
      throw err;
    }
  }

  /** A fresh single-use token for this connect (never reused, never logged). */
  private async fetchToken(
    base: string,
    apiKey: string,
    guard: AuthGuard,
    ctx: SessionContext,
  ): Promise<string> {
    const ticket = await this.admit(guard, apiKey, ctx.signal);
    // the session's signal plus our own timeout (a timer we clear: nothing outlives the session)
    const controller = new AbortController();
    const onAbort = () => controller.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const timer = ctx.clock.setTimeout(
      () => controller.abort(new DOMException('token request timed out', 'TimeoutError')),
      this.timing.requestTimeoutMs,
    );
    try {
      const { token } = await requestWsToken(base, apiKey, controller.signal, this.network.fetch);
      ticket.succeeded();
      this.stats.tokens++;
      return token;
    } catch (err) {
      if (err instanceof GatewayHttpError) {
        if (isAuthRejection(err.status)) {
          ticket.failed();
          throw new ConnectionError(err.serverMessage, { permanent: true, code: 'AUTH' });
        }
        ticket.settled();
        if (err.status === 429)
          // also what the gateway answers while an IP is locked out: wait as long as it says
          throw new ConnectionError(`token request: ${err.serverMessage}`, {
            code: 'RATE_LIMITED',
            retryAfterMs: err.retryAfterMs,
          });
        throw new ConnectionError(`token request: ${err.serverMessage}`, {
          code: err.status >= 500 ? 'SERVER' : 'TOKEN',
          permanent: err.status < 500,
        });
      }
      ticket.settled();
      if (err instanceof ConnectionError) throw err; // from the proxy: 407, configuration
      throw new ConnectionError(networkReason(err, base), { code: 'NETWORK' });
    } finally {
      ctx.clock.clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  private socketSession(
    ctx: SessionContext,
    url: string,
    authFrame: string,
    ticket: AuthTicket,
  ): Promise<void> {
    const { clock } = ctx;
    const timing = this.timing;
    let authed = false;
    let authTimer: unknown;
    const authFailed = (reason: unknown) =>
      new ConnectionError(serverReason(reason), { permanent: true, code: 'AUTH' });
    const socket = new SourceSocket(
      {
        url,
        network: this.network,
        timing,
        parser: this.parser,
        refused: (status, retryAfterMs) => {
          const reason = `WebSocket upgrade refused (HTTP ${status})`;
          if (isAuthRejection(status)) return new ConnectionError(reason, { permanent: true, code: 'AUTH' });
          return new ConnectionError(reason, {
            code: status === 429 ? 'RATE_LIMITED' : 'UPGRADE',
            retryAfterMs,
          });
        },
        failed: (err) => new ConnectionError(networkReason(err, url), { code: 'NETWORK' }),
        closed: (code, reason) => {
          if (code !== 1008)
            return new ConnectionError(`connection closed (${code}${reason ? `: ${reason}` : ''})`, {
              code: 'CLOSED',
            });
          // Policy Violation: the gateway refused the credentials (with or without an auth_error first)
          if (!authed) ticket.failed();
          return authFailed(reason || 'authentication refused');
        },
        onOpen: () => {
          ctx.setPhase('authenticating');
          socket.send(authFrame);
          authTimer = clock.setTimeout(
            () => socket.fail(new ConnectionError('no answer to the auth message', { code: 'AUTH_TIMEOUT' })),
            timing.authTimeoutMs,
          );
        },
        onFrame: (event) => {
          const type = event.type;
          if (!authed) {
            if (type === 'auth_ok') {
              authed = true;
              clock.clearTimeout(authTimer);
              ticket.succeeded();
              ctx.setPhase('subscribed');
            } else if (type === 'auth_error') {
              ticket.failed();
              socket.fail(authFailed(event.error));
            } else if (type !== 'ping') {
              this.parser.skipped(
                `before-auth:${String(type)}`,
                `a "${String(type)}" frame arrived before auth_ok`,
              );
            }
            return;
          }
          if (type === 'ping' || type === 'auth_ok') return;
          if (type === 'auth_error') return socket.fail(authFailed(event.error));
          if (!isGatewayEventType(type)) {
            const name = String(type).slice(0, 40);
            this.parser.skipped(`unknown-type:${name}`, `unknown event type "${name}"`);
            return;
          }
          this.stats.events++;
          const now = clock.now();
          fanOut(this.users, type, (t) => gatewayEnvelope(event, t, now));
        },
      },
      ctx,
    );
    const onAbort = () => {
      // nothing to unsubscribe on this protocol: close politely, bounded
      if (ctx.stopping) void socket.closeGracefully();
      else socket.terminate();
    };
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    return socket.ended.finally(() => {
      clock.clearTimeout(authTimer);
      ctx.signal.removeEventListener('abort', onAbort);
      // no verdict reached (network, timeout, closing): the attempt does not count either way
      ticket.settled();
      socket.dispose();
    });
  }
}

function serverReason(value: unknown): string {
  return typeof value === 'string' && value.trim() ? value.trim().slice(0, 200) : 'authentication refused';
}

function networkReason(err: unknown, url: string): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string }; message?: string };
  if (e?.name === 'TimeoutError') return `${hostOf(url)}: request timed out`;
  const code = e?.cause?.code ?? e?.code;
  if (code) return `cannot reach ${hostOf(url)} (${code})`;
  return `cannot reach ${hostOf(url)}${e?.message ? `: ${e.message.slice(0, 120)}` : ''}`;
}
