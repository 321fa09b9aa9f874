import { createHash } from 'crypto';
import WebSocket from 'ws';
import {
  ConnectionError,
  ConnectionState,
  defaultReconnect,
  ManagedConnection,
  ReconnectOptions,
  SessionContext,
} from '../connection';
import { HTTP_AND_WS_SCHEMES, parseConfigUrl } from '../config-url';
import { frameBytes, frameSize, isUtf8Text } from '../frames';
import { CHANNELS, isChannel, isKnownType, PrivmxChannel } from './envelope';
import { JsonRpcClient, JsonRpcError, RpcCode, RpcTransportError } from './jsonrpc';
import { Notification, PrivmxUser } from './subscriber';

/**
 * The `privmx-bridge` config node's ONE WebSocket session to a PrivMX Bridge.
 *
 * Session: open `ws(s)://host/api`, `manager/auth` over that socket (credentials, or the refresh token
 * while it is valid), `manager/bindAccessToken`, `manager/subscribeToChannel` with the union of the
 * channels of every registered `privmx in` node. Authenticating over the socket rather than over HTTP
 * keeps one transport, one TLS handshake and one place where a link failure shows up; the refresh
 * later runs on the same socket, right before the re-bind it must be followed by.
 */

export interface PrivmxSettings {
  /** http(s) base such as http://localhost:9111 (ws(s) and a trailing /api are accepted too) */
  url: string;
  /** empty = solution:* */
  solutionId?: string;
  apiKeyId?: string;
  apiKeySecret?: string;
}

export interface PrivmxOptions extends ReconnectOptions {
  /** per JSON-RPC request */
  requestTimeoutMs: number;
  /** WebSocket opening handshake */
  handshakeTimeoutMs: number;
  /** refresh the access token at this share of its remaining life */
  refreshFraction: number;
  /** never schedule a refresh sooner than this */
  minRefreshDelayMs: number;
  /** a refresh token that expires within this is not worth trying */
  refreshSkewMs: number;
  /** graceful close: wait this long for the server's close frame, then terminate */
  closeTimeoutMs: number;
  /** frames handled in one tick before the socket is paused until the flow caught up (setImmediate) */
  burstFrames: number;
  /** frames larger than this are logged once and skipped (the link is kept) */
  maxFrameBytes: number;
}

export const privmxDefaults: PrivmxOptions = {
  ...defaultReconnect,
  deadAfterMs: 30_000,
  requestTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  refreshFraction: 0.8,
  minRefreshDelayMs: 1_000,
  refreshSkewMs: 5_000,
  closeTimeoutMs: 2_000,
  burstFrames: 64,
  maxFrameBytes: 1 << 20,
};

/** Where the connection reports (the config node's log). Messages never contain secrets. */
export interface PrivmxLog {
  /** bad server input and odd situations: logged once per kind */
  warn(kind: string, message: string): void;
  /** state changes: connected, lost, failing */
  info?(message: string): void;
  error?(message: string): void;
}

export interface TokenPair {
  accessToken: string;
  accessTokenExpiry: number;
  refreshToken: string;
  refreshTokenExpiry: number;
  /** granted scopes, when the server told them */
  scope?: string[];
}

export interface PrivmxEndpoints {
  httpUrl: string;
  wsUrl: string;
  /** for messages: origin + path, never user info */
  display: string;
}

/** `http://host:9111` → POST `http://host:9111/api` and `ws://host:9111/api` (path ends with /api, no query). */
export function privmxEndpoints(raw: string): PrivmxEndpoints {
  let u: URL;
  try {
    u = parseConfigUrl(raw, 'Bridge', 'http://localhost:9111', HTTP_AND_WS_SCHEMES);
  } catch (err) {
    throw new ConnectionError((err as Error).message, { config: true });
  }
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  let path = u.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/api')) path += '/api';
  const hostPart = u.host;
  const httpUrl = `${secure ? 'https' : 'http'}://${hostPart}${path}`;
  const auth = u.username ? `${u.username}${u.password ? ':' + u.password : ''}@` : '';
  return {
    httpUrl: auth ? `${secure ? 'https' : 'http'}://${auth}${hostPart}${path}` : httpUrl,
    wsUrl: `${secure ? 'wss' : 'ws'}://${auth}${hostPart}${path}`,
    display: httpUrl,
  };
}

export function solutionScope(solutionId: string | undefined): string {
  const id = (solutionId ?? '').trim();
  return id ? `solution:${id}` : 'solution:*';
}

/** Does a granted scope list let events of the configured solution through? */
export function coversSolution(scope: readonly string[], solutionId: string | undefined): boolean {
  const id = (solutionId ?? '').trim();
  if (id) return scope.includes('solution:*') || scope.includes(`solution:${id}`);
  return scope.some((s) => s.startsWith('solution:'));
}

/** The scope named by a 24878 error: `data` is the channel on subscribe, "Cannot use X" on auth. */
export function missingScope(data: unknown): string | undefined {
  if (typeof data !== 'string' || !data) return undefined;
  const m = /^Cannot use (?:solution=(.+)|(\S+))$/.exec(data);
  if (m) return m[1] !== undefined ? `solution:${m[1]}` : m[2];
  return data.slice(0, 100);
}

/** Turn any failure into a ConnectionError whose message is safe to show. */
export function toConnectionError(err: unknown, during = ''): ConnectionError {
  if (err instanceof ConnectionError) return err;
  const at = during ? `${during}: ` : '';
  if (err instanceof JsonRpcError) {
    const tag = `(Bridge error ${err.code})`;
    switch (err.code) {
      case RpcCode.API_KEY_DOES_NOT_EXIST:
        return new ConnectionError(`API key does not exist ${tag}`, { permanent: true, code: 'AUTH' });
      case RpcCode.INVALID_CREDENTIALS:
        return new ConnectionError(`invalid API key secret ${tag}`, { permanent: true, code: 'AUTH' });
      case RpcCode.INVALID_SIGNATURE:
        return new ConnectionError(`invalid signature ${tag}`, { permanent: true, code: 'AUTH' });
      case RpcCode.INSUFFICIENT_SCOPE: {
        const scope = missingScope(err.data);
        return new ConnectionError(
          scope ? `API key lacks the scope "${scope}" ${tag}` : `insufficient scope ${tag}`,
          { permanent: true, code: 'SCOPE' },
        );
      }
      case RpcCode.METHOD_NOT_FOUND:
        return new ConnectionError(`${at}method not found: is the URL a PrivMX Bridge? ${tag}`, {
          permanent: true,
          code: 'PROTOCOL',
        });
      case RpcCode.INVALID_PARAMS:
        return new ConnectionError(
          `${at}invalid parameters${typeof err.data === 'string' ? ': ' + err.data.slice(0, 200) : ''} ${tag}`,
          { permanent: true, code: 'CONFIG' },
        );
      case RpcCode.INVALID_TOKEN:
      case RpcCode.UNAUTHORIZED:
        return new ConnectionError(`${at}${err.message} ${tag}`, { code: 'TOKEN' });
      default:
        return new ConnectionError(`${at}${err.message.slice(0, 200)} ${tag}`, { code: 'BRIDGE' });
    }
  }
  if (err instanceof RpcTransportError) return new ConnectionError(`${at}${err.message}`, { code: err.code });
  const message = err instanceof Error ? err.message || err.name : String(err);
  return new ConnectionError(`${at}${message}`, { code: 'NETWORK' });
}

interface AuthResult {
  accessToken?: unknown;
  accessTokenExpiry?: unknown;
  refreshToken?: unknown;
  refreshTokenExpiry?: unknown;
  scope?: unknown;
}

function toTokens(result: unknown): TokenPair {
  const r = (result ?? {}) as AuthResult;
  if (
    typeof r.accessToken !== 'string' ||
    typeof r.refreshToken !== 'string' ||
    typeof r.accessTokenExpiry !== 'number' ||
    typeof r.refreshTokenExpiry !== 'number'
  ) {
    throw new ConnectionError('manager/auth answered without a token pair', { code: 'PROTOCOL' });
  }
  return {
    accessToken: r.accessToken,
    accessTokenExpiry: r.accessTokenExpiry,
    refreshToken: r.refreshToken,
    refreshTokenExpiry: r.refreshTokenExpiry,
    scope: Array.isArray(r.scope) ? r.scope.filter((s): s is string => typeof s === 'string') : undefined,
  };
}

const WS_OPEN = 1;

const MISSING_KEY = 'API key id and secret are not set';

/** The part of PrivmxConnection a running session uses. */
interface SessionHost {
  readonly settings: PrivmxSettings;
  readonly options: PrivmxOptions;
  readonly endpoints: PrivmxEndpoints;
  readonly log: PrivmxLog;
  tokens: TokenPair | undefined;
  credentialAuths: number;
  desiredChannels(): PrivmxChannel[];
  dispatch(text: string, rpc: JsonRpcClient): void;
}

/** One socket's life: everything it creates is released in dispose(). */
class Session {
  private readonly ws: WebSocket;
  private readonly rpc: JsonRpcClient;
  private readonly subscribed = new Set<PrivmxChannel>();
  private ops: Promise<void> = Promise.resolve();
  /** establish() is queued: from now on a change of the users is a request queued behind it */
  private establishing = false;
  private refreshTimer: unknown;
  private failure: ConnectionError | undefined;
  private finished = false;
  private onEnd!: (err?: ConnectionError) => void;
  private readonly ended: Promise<void>;
  private onOpen!: () => void;
  private readonly opened: Promise<void>;
  private burst = 0;
  private paused = false;
  private releaseHandle: NodeJS.Immediate | undefined;
  private closeWaiter: (() => void) | undefined;

  constructor(
    private readonly host: SessionHost,
    private readonly ctx: SessionContext,
  ) {
    this.ended = new Promise<void>((resolve, reject) => {
      this.onEnd = (err) => (err ? reject(err) : resolve());
    });
    this.ended.catch(() => undefined);
    this.opened = new Promise<void>((resolve) => (this.onOpen = resolve));
    const opts = host.options;
    this.ws = new WebSocket(host.endpoints.wsUrl, {
      handshakeTimeout: opts.handshakeTimeoutMs,
      perMessageDeflate: false,
      // garbage must not kill the link: invalid UTF-8 is skipped as invalid JSON instead of closing with 1007
      skipUTF8Validation: true,
    });
    this.rpc = new JsonRpcClient((text) => this.ws.send(text), {
      timeoutMs: opts.requestTimeoutMs,
      clock: ctx.clock,
    });
    this.ws.on('open', this.handleOpen);
    this.ws.on('message', this.handleMessage);
    this.ws.on('ping', this.handleAlive);
    this.ws.on('pong', this.handleAlive);
    this.ws.on('error', this.handleError);
    this.ws.on('close', this.handleClose);
  }

  /** Resolves when the socket closed after an abort; rejects with the reason it failed otherwise. */
  async run(): Promise<void> {
    const signal = this.ctx.signal;
    if (signal.aborted) this.handleAbort();
    else signal.addEventListener('abort', this.handleAbort, { once: true });
    try {
      await Promise.race([this.opened, this.ended]);
      if (!this.finished) {
        this.ctx.setPhase('authenticating');
        this.establishing = true;
        await Promise.race([this.enqueue(() => this.establish()), this.ended]);
        if (!this.finished && !signal.aborted) this.ctx.setPhase('subscribed');
      }
    } catch (err) {
      this.fail(err);
    }
    try {
      await this.ended;
    } finally {
      signal.removeEventListener('abort', this.handleAbort);
      this.dispose();
    }
  }

  get channels(): PrivmxChannel[] {
    return CHANNELS.filter((c) => this.subscribed.has(c));
  }

  /**
   * The set of users changed: subscribe/unsubscribe the difference on this socket. Before the socket is
   * open and establish() is queued there is nothing to change: establish() reads the users when it runs
   * (a request sent now would hit a socket still CONNECTING and cost a reconnect). After that, the change
   * queues behind establish() and goes out on the authenticated socket.
   */
  sync(): void {
    if (!this.establishing || this.finished || this.failure || this.ctx.signal.aborted) return;
    this.enqueue(() => this.reconcile()).catch((err) => this.fail(err));
  }

  // --- socket events -------------------------------------------------------------------------------

  private readonly handleOpen = (): void => {
    this.ctx.alive();
    this.onOpen();
  };

  private readonly handleAlive = (): void => {
    this.ctx.alive();
  };

  private readonly handleMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    this.ctx.alive();
    // Backpressure: after a burst in one tick, stop reading until the flow had its turn.
    if (this.burst++ === 0) this.releaseHandle = setImmediate(this.release);
    else if (this.burst >= this.host.options.burstFrames && !this.paused) {
      this.paused = true;
      this.ws.pause();
    }
    if (isBinary) {
      this.host.log.warn('binary-frame', 'PrivMX Bridge sent a binary frame; skipped (logged once)');
      return;
    }
    const size = frameSize(data);
    const max = this.host.options.maxFrameBytes;
    if (size > max) {
      this.host.log.warn('oversized', `PrivMX Bridge sent a frame of ${size} bytes (limit ${max}); skipped`);
      return;
    }
    const bytes = frameBytes(data);
    if (!isUtf8Text(bytes)) {
      this.host.log.warn('invalid-utf8', 'PrivMX Bridge sent a text frame that is not valid UTF-8; skipped');
      return;
    }
    this.host.dispatch(bytes.toString('utf8'), this.rpc);
  };

  private readonly release = (): void => {
    this.releaseHandle = undefined;
    this.burst = 0;
    if (this.paused) {
      this.paused = false;
      this.ws.resume();
    }
  };

  private readonly handleError = (err: Error): void => {
    const m = /Unexpected server response: (\d+)/.exec(err.message);
    if (m) {
      const status = Number(m[1]);
      const permanent = status === 401 || status === 403 || status === 404;
      this.fail(
        new ConnectionError(
          `HTTP ${status} from ${this.host.endpoints.display} (WebSocket upgrade refused)`,
          {
            permanent,
            code: permanent ? 'CONFIG' : 'NETWORK',
          },
        ),
      );
      return;
    }
    this.fail(new ConnectionError(err.message || 'WebSocket error', { code: 'NETWORK' }));
  };

  private readonly handleClose = (code: number): void => {
    this.finished = true;
    this.closeWaiter?.();
    if (!this.failure && !this.ctx.signal.aborted) {
      this.failure = new ConnectionError(`connection closed by the Bridge (code ${code})`, {
        code: 'CLOSED',
      });
    }
    this.rpc.close(this.failure ?? new RpcTransportError('connection closed', 'CLOSED'));
    this.clearRefresh();
    if (this.ctx.signal.aborted) this.onEnd();
    else this.onEnd(this.failure);
  };

  private readonly handleAbort = (): void => {
    this.clearRefresh();
    if (this.ctx.stopping) void this.closeGracefully();
    else this.ws.terminate();
  };

  // --- the protocol --------------------------------------------------------------------------------

  private enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.ops.then(() =>
      this.finished || this.failure || this.ctx.signal.aborted ? undefined : op(),
    );
    this.ops = run.catch(() => undefined);
    return run;
  }

  /** auth (refresh token first) → bind → check the solution scope → subscribe the union */
  private async establish(): Promise<void> {
    const host = this.host;
    const desired = host.desiredChannels();
    let tokens: TokenPair | undefined;
    let fresh = false;
    if (this.refreshable()) {
      tokens = await this.tryRefresh();
      // a refreshed pair keeps its old scope: a newly needed channel needs a new credentials auth
      if (tokens?.scope && desired.some((c) => !tokens!.scope!.includes(c))) tokens = undefined;
    }
    if (!tokens) {
      tokens = await this.credentialsAuth(desired);
      fresh = true;
    }
    try {
      await this.bind(tokens);
    } catch (err) {
      if (!(err instanceof JsonRpcError) || err.code !== RpcCode.INVALID_TOKEN) throw err;
      if (fresh)
        throw new ConnectionError('the Bridge rejected a token it has just issued (Bridge error 21)', {
          permanent: true,
          code: 'AUTH',
        });
      // the refreshed token was refused (session evicted?): start over with the credentials
      tokens = await this.credentialsAuth(desired);
      await this.bind(tokens).catch((e: unknown) => {
        throw e instanceof JsonRpcError && e.code === RpcCode.INVALID_TOKEN
          ? new ConnectionError('the Bridge rejected a token it has just issued (Bridge error 21)', {
              permanent: true,
              code: 'AUTH',
            })
          : e;
      });
    }
    this.checkSolutionScope(tokens);
    await this.reconcile();
    this.scheduleRefresh();
  }

  private refreshable(): boolean {
    const t = this.host.tokens;
    return !!t && t.refreshTokenExpiry - this.host.options.refreshSkewMs > this.ctx.clock.now();
  }

  /** refresh_token grant; undefined when the server refused it (then credentials are used) */
  private async tryRefresh(): Promise<TokenPair | undefined> {
    const old = this.host.tokens;
    if (!old) return undefined;
    try {
      const result = await this.rpc.call('manager/auth', {
        grantType: 'refresh_token',
        refreshToken: old.refreshToken,
      });
      const tokens = toTokens(result);
      if (!tokens.scope && old.scope) tokens.scope = old.scope;
      this.host.tokens = tokens;
      return tokens;
    } catch (err) {
      if (err instanceof JsonRpcError) {
        this.host.tokens = undefined;
        return undefined;
      }
      throw err;
    }
  }

  private async credentialsAuth(channels: readonly PrivmxChannel[]): Promise<TokenPair> {
    const { apiKeyId, apiKeySecret, solutionId } = this.host.settings;
    if (!apiKeyId || !apiKeySecret) {
      throw new ConnectionError(MISSING_KEY, { config: true });
    }
    const scope = [...channels, solutionScope(solutionId)];
    this.host.credentialAuths++;
    const result = await this.rpc.call('manager/auth', {
      grantType: 'api_key_credentials',
      apiKeyId,
      apiKeySecret,
      scope,
    });
    const tokens = toTokens(result);
    this.host.tokens = tokens;
    return tokens;
  }

  private async bind(tokens: TokenPair): Promise<void> {
    await this.rpc.call('manager/bindAccessToken', { accessToken: tokens.accessToken });
  }

  private checkSolutionScope(tokens: TokenPair): void {
    if (!tokens.scope) return;
    if (coversSolution(tokens.scope, this.host.settings.solutionId)) return;
    const wanted = solutionScope(this.host.settings.solutionId);
    const message = `the access token has no "${wanted}" scope: the Bridge would deliver no events`;
    this.host.log.warn('no-solution-scope', `PrivMX Bridge: ${message}. Give the API key a solution scope.`);
    throw new ConnectionError(message, { permanent: true, code: 'SCOPE' });
  }

  /** Subscribe what the users need and the socket lacks; unsubscribe what nobody needs any more. */
  private async reconcile(): Promise<void> {
    const desired = this.host.desiredChannels();
    const add = desired.filter((c) => !this.subscribed.has(c));
    const remove = [...this.subscribed].filter((c) => !desired.includes(c));
    if (add.length) {
      const scope = this.host.tokens?.scope;
      if (scope && add.some((c) => !scope.includes(c))) {
        // the token lacks a newly needed channel scope: a new credentials auth asks for it
        const union = CHANNELS.filter((c) => desired.includes(c) || this.subscribed.has(c));
        const tokens = await this.credentialsAuth(union);
        await this.bind(tokens);
        this.scheduleRefresh();
      }
      await this.boundCall('manager/subscribeToChannel', add);
      for (const c of add) this.subscribed.add(c);
    }
    if (remove.length) {
      await this.boundCall('manager/unsubscribeFromChannel', remove);
      for (const c of remove) this.subscribed.delete(c);
    }
  }

  /** A request that needs the bound token: when it expired (24879), refresh + re-bind and retry once. */
  private async boundCall(method: string, channels: PrivmxChannel[]): Promise<void> {
    try {
      await this.rpc.call(method, { channels });
    } catch (err) {
      if (!(err instanceof JsonRpcError) || err.code !== RpcCode.UNAUTHORIZED) throw err;
      await this.refreshAndBind();
      await this.rpc.call(method, { channels });
    }
  }

  private async refreshAndBind(): Promise<void> {
    let tokens = this.refreshable() ? await this.tryRefresh() : undefined;
    if (!tokens) {
      const union = CHANNELS.filter((c) => this.host.desiredChannels().includes(c) || this.subscribed.has(c));
      tokens = await this.credentialsAuth(union);
    }
    await this.bind(tokens);
    this.scheduleRefresh();
  }

  private scheduleRefresh(): void {
    this.clearRefresh();
    const tokens = this.host.tokens;
    if (!tokens || this.finished) return;
    const { clock } = this.ctx;
    const life = tokens.accessTokenExpiry - clock.now();
    const delay = Math.max(
      this.host.options.minRefreshDelayMs,
      Math.floor(life * this.host.options.refreshFraction),
    );
    this.refreshTimer = clock.setTimeout(() => {
      this.refreshTimer = undefined;
      this.enqueue(() => this.refreshAndBind()).catch((err) =>
        this.fail(toConnectionError(err, 'token refresh')),
      );
    }, delay);
  }

  private clearRefresh(): void {
    if (this.refreshTimer !== undefined) {
      this.ctx.clock.clearTimeout(this.refreshTimer);
      this.refreshTimer = undefined;
    }
  }

  // --- ending --------------------------------------------------------------------------------------

  /** First failure wins; it ends the socket and becomes the session's outcome. */
  private fail(err: unknown): void {
    if (this.failure || this.finished || this.ctx.signal.aborted) return;
    this.failure = toConnectionError(err);
    this.clearRefresh();
    this.ws.terminate();
  }

  /** Stopping (redeploy/close): unsubscribe, close with 1000, bounded wait, then terminate. */
  private async closeGracefully(): Promise<void> {
    const ws = this.ws;
    if (ws.readyState !== WS_OPEN) {
      ws.terminate();
      return;
    }
    const budget = this.host.options.closeTimeoutMs;
    if (this.subscribed.size) {
      try {
        await this.rpc.call(
          'manager/unsubscribeFromChannel',
          { channels: [...this.subscribed] },
          Math.ceil(budget / 2),
        );
      } catch {
        // the socket is going away anyway
      }
    }
    if (this.finished) return;
    const closed = new Promise<void>((resolve) => (this.closeWaiter = resolve));
    const timer = this.ctx.clock.setTimeout(() => ws.terminate(), budget);
    ws.close(1000, 'closing');
    await closed;
    this.ctx.clock.clearTimeout(timer);
  }

  private dispose(): void {
    this.clearRefresh();
    if (this.releaseHandle !== undefined) {
      clearImmediate(this.releaseHandle);
      this.releaseHandle = undefined;
    }
    this.rpc.close(new RpcTransportError('session ended', 'CLOSED'));
    this.ws.removeAllListeners();
    // a late error event on a dead socket must not become an uncaught exception
    this.ws.on('error', () => undefined);
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}

/**
 * Token pairs that outlive a connection. A redeploy (or a restart of the config node) creates a new
 * PrivmxConnection; starting it with a credentials auth would open one more server session every time,
 * and once the key has 16 the Bridge evicts the oldest, which may be another client's. So the last pair
 * of each URL + key + secret + solution is kept here and the next connection starts with its refresh
 * token (falling back to the credentials when it no longer works). Keyed by a hash: no secret is kept.
 */
const savedTokens = new Map<string, TokenPair>();

function savedTokensKey(settings: PrivmxSettings): string | undefined {
  if (!settings.apiKeyId || !settings.apiKeySecret) return undefined;
  const parts = [String(settings.url ?? '').trim(), settings.apiKeyId, settings.apiKeySecret];
  parts.push((settings.solutionId ?? '').trim());
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}

/** ManagedConnection for the PrivMX Bridge. One per `privmx-bridge` config node. */
export class PrivmxConnection extends ManagedConnection<PrivmxUser> implements SessionHost {
  readonly options: PrivmxOptions;
  /** credentials auths so far (each opens a server session; there are at most 16) */
  credentialAuths = 0;
  private pair: TokenPair | undefined;
  private readonly tokensKey: string | undefined;
  private session: Session | undefined;
  private endpointsCache: PrivmxEndpoints | undefined;
  private readonly note = new Notification();
  private lastReason: string | undefined;

  constructor(
    readonly settings: PrivmxSettings,
    readonly log: PrivmxLog,
    options: Partial<PrivmxOptions> = {},
  ) {
    const merged: PrivmxOptions = { ...privmxDefaults, ...options };
    super(merged);
    this.options = merged;
    this.tokensKey = savedTokensKey(settings);
    if (this.tokensKey) this.pair = savedTokens.get(this.tokensKey);
  }

  /** the current token pair (kept for the next connection with the same settings) */
  get tokens(): TokenPair | undefined {
    return this.pair;
  }

  set tokens(pair: TokenPair | undefined) {
    this.pair = pair;
    if (!this.tokensKey) return;
    if (pair) savedTokens.set(this.tokensKey, pair);
    else savedTokens.delete(this.tokensKey);
  }

  get endpoints(): PrivmxEndpoints {
    if (!this.endpointsCache) this.endpointsCache = privmxEndpoints(this.settings.url);
    return this.endpointsCache;
  }

  /** The union of every user's channels, in a stable order. */
  desiredChannels(): PrivmxChannel[] {
    const wanted = new Set<PrivmxChannel>();
    for (const user of this.users) for (const c of user.channels) wanted.add(c);
    return CHANNELS.filter((c) => wanted.has(c));
  }

  /** Channels currently subscribed on the socket (for tests and diagnostics). */
  get subscribedChannels(): PrivmxChannel[] {
    return this.session ? this.session.channels : [];
  }

  protected async runSession(ctx: SessionContext): Promise<void> {
    // a bad URL or missing credentials never reach the network
    void this.endpoints;
    if (!this.settings.apiKeyId || !this.settings.apiKeySecret) {
      throw new ConnectionError(MISSING_KEY, { config: true });
    }
    const session = new Session(this, ctx);
    this.session = session;
    try {
      await session.run();
    } finally {
      if (this.session === session) this.session = undefined;
    }
  }

  protected override usersChanged(): void {
    this.session?.sync();
  }

  protected override setState(state: ConnectionState): void {
    super.setState(state);
    if (state.phase === 'subscribed') {
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

  /** Parse a frame once and hand it to the responses or to every user. Never throws. */
  dispatch(text: string, rpc: JsonRpcClient): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.log.warn(
        'invalid-json',
        `PrivMX Bridge sent a frame that is not JSON (${text.length} bytes); skipped`,
      );
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      this.log.warn('not-an-object', 'PrivMX Bridge sent a JSON frame that is not an object; skipped');
      return;
    }
    const frame = parsed as Record<string, unknown>;
    const channel = frame.channel;
    const type = frame.type;
    if (typeof channel === 'string' && typeof type === 'string' && frame.id === undefined) {
      if (!isChannel(channel)) {
        this.log.warn(
          `unknown-channel:${channel.slice(0, 40)}`,
          `PrivMX Bridge: unknown channel "${channel.slice(0, 40)}"; skipped`,
        );
        return;
      }
      const known = isKnownType(channel, type);
      if (!known) {
        this.log.warn(
          `unknown-type:${channel}/${type.slice(0, 60)}`,
          `PrivMX Bridge: unknown event type "${type.slice(0, 60)}" on channel ${channel}; delivered only to nodes that list it`,
        );
      }
      const note = this.note.reset(text, frame, channel, type, known);
      for (const user of this.users) {
        try {
          user.onNotification(note);
        } catch (err) {
          this.log.warn(
            'user-error',
            `privmx in: failed to emit an event: ${(err as Error)?.message ?? err}`,
          );
        }
      }
      return;
    }
    if ('id' in frame || 'jsonrpc' in frame || 'result' in frame || 'error' in frame) {
      const kind = rpc.handle(frame);
      if (kind === 'matched') return;
      const error = frame.error as { code?: unknown; message?: unknown } | undefined;
      const what = error ? ` (error ${String(error.code)}: ${String(error.message).slice(0, 80)})` : '';
      if (kind === 'unknown-id') {
        this.log.warn('rpc-unknown-id', `PrivMX Bridge answered an unknown request id${what}; skipped`);
      } else if (kind === 'no-id-error') {
        this.log.warn(
          `rpc-error-no-id:${String(error?.code)}`,
          `PrivMX Bridge sent an error without a request id${what}`,
        );
      } else {
        this.log.warn('rpc-invalid', 'PrivMX Bridge sent an invalid JSON-RPC frame; skipped');
      }
      return;
    }
    this.log.warn(
      'malformed-frame',
      'PrivMX Bridge sent a frame that is neither a notification nor a response; skipped',
    );
  }
}
