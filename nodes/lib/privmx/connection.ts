import { ConnectionError, ConnectionState, ManagedConnection, SessionContext } from '../connection';
import type { Network } from '../proxy';
import { SourceTiming, sourceDefaults, sourceTiming } from '../session/timing';
import { PrivmxEndpoints, privmxEndpoints } from './endpoints';
import type { PrivmxChannel } from './envelope';
import { desiredChannels, MISSING_KEY, PrivmxSession } from './session';
import type { PrivmxUser } from './subscriber';
import { TokenPair, TokenStore } from './tokens';

export { coversSolution, missingScope, privmxEndpoints, solutionScope, toConnectionError } from './endpoints';
export type { PrivmxEndpoints } from './endpoints';
export type { TokenPair } from './tokens';

/**
 * The `privmx-bridge` config node's ONE WebSocket session to a PrivMX Bridge.
 *
 * Session (session.ts): open `ws(s)://host/api`, `manager/auth` over that socket (credentials, or the
 * refresh token while it is valid), `manager/bindAccessToken`, `manager/subscribeToChannel` with the
 * union of the channels of every registered `privmx in` node. Authenticating over the socket rather
 * than over HTTP keeps one transport, one TLS handshake and one place where a link failure shows up;
 * the refresh later runs on the same socket, right before the re-bind it must be followed by.
 */

export interface PrivmxSettings {
  /** http(s) base such as http://localhost:9111 (ws(s) and a trailing /api are accepted too) */
  url: string;
  /** empty = solution:* */
  solutionId?: string;
  apiKeyId?: string;
  apiKeySecret?: string;
  /** how the Bridge is reached (proxy or direct); default: the proxy environment variables */
  network?: Network;
}

export interface PrivmxOptions extends SourceTiming {
  /** per JSON-RPC request */
  requestTimeoutMs: number;
  /** refresh the access token at this share of its remaining life */
  refreshFraction: number;
  /** never schedule a refresh sooner than this */
  minRefreshDelayMs: number;
  /** a refresh token that expires within this is not worth trying */
  refreshSkewMs: number;
}

export const PRIVMX_TIMING: PrivmxOptions = {
  ...sourceDefaults,
  deadAfterMs: 30_000,
  requestTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  refreshFraction: 0.8,
  minRefreshDelayMs: 1_000,
  refreshSkewMs: 5_000,
};

/** The timings in force now (tests override them with `tuning.privmx`). */
export function privmxTiming(): PrivmxOptions {
  return sourceTiming('privmx', PRIVMX_TIMING);
}

/** Where the connection reports (the config node's log). Messages never contain secrets. */
export interface PrivmxLog {
  /** bad server input and odd situations: logged once per kind */
  warn(kind: string, message: string): void;
  /** state changes: connected, lost, failing */
  info?(message: string): void;
  error?(message: string): void;
}

/** ManagedConnection for the PrivMX Bridge. One per `privmx-bridge` config node. */
export class PrivmxConnection extends ManagedConnection<PrivmxUser> {
  readonly options: PrivmxOptions;
  private readonly tokenStore: TokenStore;
  private session: PrivmxSession | undefined;
  private endpointsCache: PrivmxEndpoints | undefined;
  private lastReason: string | undefined;
  /** frames rejected unparsed by the sessions that ended */
  private rejectedBefore = 0;

  constructor(
    readonly settings: PrivmxSettings,
    readonly log: PrivmxLog,
    options: Partial<PrivmxOptions> = {},
  ) {
    const merged: PrivmxOptions = { ...PRIVMX_TIMING, ...options };
    super(merged);
    this.options = merged;
    this.tokenStore = new TokenStore(settings);
  }

  /** credentials auths so far (each opens a server session; there are at most 16) */
  get credentialAuths(): number {
    return this.tokenStore.credentialAuths;
  }

  /** the current token pair (kept for the next connection with the same settings) */
  get tokens(): TokenPair | undefined {
    return this.tokenStore.current;
  }

  get endpoints(): PrivmxEndpoints {
    if (!this.endpointsCache) this.endpointsCache = privmxEndpoints(this.settings.url);
    return this.endpointsCache;
  }

  /** The union of every user's channels, in a stable order. */
  desiredChannels(): PrivmxChannel[] {
    return desiredChannels(this.users);
  }

  /** Frames rejected from their bytes, never parsed, because no registered node could want them. */
  get rejectedFrames(): number {
    return this.rejectedBefore + (this.session?.rejectedFrames ?? 0);
  }

  /** Channels currently subscribed on the socket (for tests and diagnostics). */
  get subscribedChannels(): PrivmxChannel[] {
    return this.session ? this.session.channels : [];
  }

  protected async runSession(ctx: SessionContext): Promise<void> {
    // a bad URL or missing credentials never reach the network
    const endpoints = this.endpoints;
    if (!this.settings.apiKeyId || !this.settings.apiKeySecret) {
      throw new ConnectionError(MISSING_KEY, { config: true });
    }
    const { settings, options, log, tokenStore: tokens, users } = this;
    const session = new PrivmxSession({ settings, options, endpoints, log, tokens, users }, ctx);
    this.session = session;
    try {
      await session.run();
    } finally {
      this.rejectedBefore += session.rejectedFrames;
      if (this.session === session) this.session = undefined;
    }
  }

  protected override usersChanged(): void {
    this.session?.sync();
  }

  protected override setState(state: ConnectionState): void {
    const was = this.state.phase;
    super.setState(state);
    if (state.phase === 'subscribed' && was !== 'subscribed') {
      this.log.info?.(
        `connected to ${this.safeDisplay()}, subscribed to ${this.desiredChannels().join(', ') || 'nothing'}`,
      );
      this.lastReason = undefined;
    } else if ((state.phase === 'backoff' || state.phase === 'error') && state.reason !== this.lastReason) {
      this.lastReason = state.reason;
      const line = `PrivMX Bridge ${this.safeDisplay()}: ${state.reason}`;
      if (state.permanent) (this.log.error ?? this.log.info)?.(line);
      else this.log.info?.(line);
    }
  }

  private safeDisplay(): string {
    try {
      return this.endpoints.display;
    } catch {
      return '(invalid URL)';
    }
  }
}
