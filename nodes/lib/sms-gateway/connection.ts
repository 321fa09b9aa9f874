/**
 * The SMS gateway's event WebSocket (`ws(s)://host/ws`): in-band auth with the API key or a one-time
 * token fetched for every connect, the server's JSON ping as heartbeat, `sms_status` / `sms_inbound`
 * events for the whole account (each user filters by type).
 */
import WebSocket from 'ws';
import { defaultBackoff } from '../backoff';
import {
  ConnectionError,
  ConnectionUser,
  defaultReconnect,
  ManagedConnection,
  ReconnectOptions,
  SessionContext,
} from '../connection';
import type { EventMessage } from '../envelope';
import { frameBytes, isUtf8Text } from '../frames';
import { OnceLogger } from '../log-once';
import { tuned } from '../tuning';
import { baseUrl, GatewayHttpError, hostOf, isAuthRejection, requestWsToken, WsAuthMode, wsUrl } from './api';
import { AuthGuard, authGuardFor, AuthRefusedError, AuthTicket } from './auth-guard';
import { gatewayEnvelope, GatewayEventType, isGatewayEventType } from './envelope';

export interface GatewayTiming extends ReconnectOptions {
  /** no answer to the auth frame within this = give up this attempt (transient) */
  authTimeoutMs: number;
  /** token request timeout */
  requestTimeoutMs: number;
  /** graceful close: wait this long for the server's close frame, then terminate */
  closeWaitMs: number;
  /** frames larger than this are logged once and skipped */
  maxFrameBytes: number;
  /** the auth guard's window and limit (see auth-guard.ts) */
  authWindowMs: number;
  authRefuseAt: number;
}

export const GATEWAY_TIMING: GatewayTiming = {
  ...defaultReconnect,
  // After an auth failure wait minutes, doubling; stop after 4 (see the IP lockout in the protocol notes).
  backoff: { ...defaultBackoff, permanentDelayMs: 120_000, maxPermanentDelayMs: 30 * 60_000 },
  // The server pings every 30 s: two missed pings and a margin = dead link.
  deadAfterMs: 75_000,
  maxPermanentFailures: 4,
  authTimeoutMs: 15_000,
  requestTimeoutMs: 15_000,
  closeWaitMs: 2_000,
  maxFrameBytes: 1_000_000,
  authWindowMs: 5 * 60_000,
  authRefuseAt: 5,
};

/** The timings in force now (tests override them with `tuning['sms-gateway']`). */
export function gatewayTiming(): GatewayTiming {
  return tuned('sms-gateway', GATEWAY_TIMING);
}

/** The guard for a gateway URL with the current timings. */
export function gatewayGuard(url: string, timing: GatewayTiming = gatewayTiming()): AuthGuard {
  return authGuardFor(url, {
    windowMs: timing.authWindowMs,
    refuseAt: timing.authRefuseAt,
    clock: timing.clock,
  });
}

/** A source node registered with the connection. */
export interface GatewayUser extends ConnectionUser {
  wants(type: GatewayEventType): boolean;
  deliver(msg: EventMessage): void;
}

export interface GatewayConnectionOptions {
  url?: string;
  apiKey?: string;
  wsAuth?: WsAuthMode;
  /** where bad server input is reported (once per kind) */
  log?: (message: string) => void;
  timing?: GatewayTiming;
  guard?: AuthGuard;
}

export class GatewayConnection extends ManagedConnection<GatewayUser> {
  readonly base?: string;
  readonly wsAuth: WsAuthMode;
  readonly guard?: AuthGuard;
  private readonly configError?: string;
  private readonly apiKey?: string;
  private readonly timing: GatewayTiming;
  private readonly badInput: OnceLogger;
  /** counters, for tests and the status */
  readonly stats = { connects: 0, tokens: 0, events: 0, skipped: 0 };

  constructor(opts: GatewayConnectionOptions) {
    const timing = opts.timing ?? gatewayTiming();
    super(timing);
    this.timing = timing;
    this.wsAuth = opts.wsAuth ?? 'token';
    this.apiKey = opts.apiKey || undefined;
    this.badInput = new OnceLogger(opts.log ?? (() => {}));
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
      const { token } = await requestWsToken(base, apiKey, controller.signal);
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
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, {
        handshakeTimeout: timing.requestTimeoutMs,
        maxPayload: Math.max(timing.maxFrameBytes * 4, 1_000_000),
        perMessageDeflate: false,
        skipUTF8Validation: true, // checked per frame (nodes/lib/frames.ts)
      });
      let authed = false;
      let finished = false;
      let upgradeRefusal: ConnectionError | undefined;
      let authTimer: unknown;
      let closeTimer: unknown;

      const finish = (err?: ConnectionError) => {
        if (finished) return;
        finished = true;
        clock.clearTimeout(authTimer);
        clock.clearTimeout(closeTimer);
        ctx.signal.removeEventListener('abort', onAbort);
        // no verdict reached (network, timeout, closing): the attempt does not count either way
        ticket.settled();
        if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
        if (err) reject(err);
        else resolve();
      };

      const onAbort = () => {
        if (ctx.stopping && ws.readyState === WebSocket.OPEN) {
          // nothing to unsubscribe on this protocol: close politely, bounded
          ws.close(1000);
          closeTimer = clock.setTimeout(() => finish(), timing.closeWaitMs);
        } else finish();
      };
      if (ctx.signal.aborted) return finish();
      ctx.signal.addEventListener('abort', onAbort, { once: true });

      ws.on('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        const retryAfter = Number(res.headers['retry-after']);
        res.resume();
        const reason = `WebSocket upgrade refused (HTTP ${status})`;
        upgradeRefusal = isAuthRejection(status)
          ? new ConnectionError(reason, { permanent: true, code: 'AUTH' })
          : new ConnectionError(reason, {
              code: status === 429 ? 'RATE_LIMITED' : 'UPGRADE',
              retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
            });
        finish(upgradeRefusal);
      });

      ws.on('open', () => {
        ctx.alive();
        ctx.setPhase('authenticating');
        ws.send(authFrame);
        authTimer = clock.setTimeout(
          () => finish(new ConnectionError('no answer to the auth message', { code: 'AUTH_TIMEOUT' })),
          timing.authTimeoutMs,
        );
      });

      ws.on('message', (data, isBinary) => {
        if (finished) return;
        ctx.alive();
        const event = this.parseFrame(data, isBinary);
        if (!event) return;
        const type = event.type;
        if (!authed) {
          if (type === 'auth_ok') {
            authed = true;
            clock.clearTimeout(authTimer);
            ticket.succeeded();
            ctx.setPhase('subscribed');
          } else if (type === 'auth_error') {
            ticket.failed();
            finish(new ConnectionError(serverReason(event.error), { permanent: true, code: 'AUTH' }));
          } else if (type !== 'ping') {
            this.skip(`before-auth:${String(type)}`, `a "${String(type)}" frame arrived before auth_ok`);
          }
          return;
        }
        if (type === 'ping' || type === 'auth_ok') return;
        if (type === 'auth_error') {
          finish(new ConnectionError(serverReason(event.error), { permanent: true, code: 'AUTH' }));
          return;
        }
        if (!isGatewayEventType(type)) {
          this.skip(
            `unknown-type:${String(type).slice(0, 40)}`,
            `unknown event type "${String(type).slice(0, 40)}"`,
          );
          return;
        }
        this.stats.events++;
        this.dispatch(event, type, clock.now());
      });

      ws.on('close', (code, reasonBuffer) => {
        const reason = reasonBuffer.toString('utf8').slice(0, 200);
        if (ctx.signal.aborted) return finish();
        if (code === 1008) {
          // Policy Violation: the gateway refused the credentials (with or without an auth_error first)
          if (!authed) ticket.failed();
          return finish(
            new ConnectionError(serverReason(reason || 'authentication refused'), {
              permanent: true,
              code: 'AUTH',
            }),
          );
        }
        finish(
          new ConnectionError(`connection closed (${code}${reason ? `: ${reason}` : ''})`, {
            code: 'CLOSED',
          }),
        );
      });

      ws.on('error', (err) => {
        finish(upgradeRefusal ?? new ConnectionError(networkReason(err, url), { code: 'NETWORK' }));
      });
    });
  }

  /** JSON object from a frame, or undefined (logged once per kind) */
  private parseFrame(data: WebSocket.RawData, isBinary: boolean): Record<string, unknown> | undefined {
    if (isBinary) {
      this.skip('binary', 'binary frame skipped');
      return undefined;
    }
    const buffer = frameBytes(data);
    if (buffer.length > this.timing.maxFrameBytes) {
      this.skip('oversized', `frame of ${buffer.length} bytes skipped (limit ${this.timing.maxFrameBytes})`);
      return undefined;
    }
    if (!isUtf8Text(buffer)) {
      this.skip('invalid-utf8', 'text frame with invalid UTF-8 skipped');
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(buffer.toString('utf8'));
    } catch {
      this.skip('invalid-json', 'frame with invalid JSON skipped');
      return undefined;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      this.skip('not-an-object', 'frame that is not a JSON object skipped');
      return undefined;
    }
    return parsed as Record<string, unknown>;
  }

  private skip(kind: string, message: string): void {
    this.stats.skipped++;
    this.badInput.warn(kind, `SMS gateway ${this.base ? hostOf(this.base) : ''}: ${message}`);
  }

  /** Each user that wants the type gets its own envelope (payloads are never shared between flows). */
  private dispatch(event: Record<string, unknown>, type: GatewayEventType, now: number): void {
    let first = true;
    for (const user of this.users) {
      if (!user.wants(type)) continue;
      const payload = first ? event : structuredClone(event);
      first = false;
      try {
        user.deliver(gatewayEnvelope(payload, type, now));
      } catch {
        // a user's handler must never break the connection
      }
    }
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
