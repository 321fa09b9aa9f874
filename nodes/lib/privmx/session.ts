import { ConnectionError, SessionContext } from '../connection';
import { fanOut } from '../session/fanout';
import { Frame, FrameParser } from '../session/frame-parser';
import { SourceSocket } from '../session/socket';
import { defaultNetwork } from '../proxy';
import { CHANNELS, isChannel, isKnownType, PrivmxChannel } from './envelope';
import { coversSolution, PrivmxEndpoints, solutionScope, toConnectionError } from './endpoints';
import { JsonRpcClient, JsonRpcError, RpcCode, RpcTransportError } from './jsonrpc';
import type { PrivmxLog, PrivmxOptions, PrivmxSettings } from './connection';
import { RawFilter } from './raw-filter';
import { Notification, PrivmxUser } from './subscriber';
import { TokenPair, TokenStore, toTokens } from './tokens';

export const MISSING_KEY = 'API key id and secret are not set';

/** What a session reads; it owns nothing of its connection and calls nothing back up. */
export interface PrivmxSessionDeps {
  readonly settings: PrivmxSettings;
  readonly options: PrivmxOptions;
  readonly endpoints: PrivmxEndpoints;
  readonly log: PrivmxLog;
  readonly tokens: TokenStore;
  /** the registered `privmx in` nodes (the connection's live set) */
  readonly users: ReadonlySet<PrivmxUser>;
}

/** The union of every user's channels, in a stable order. */
export function desiredChannels(users: ReadonlySet<PrivmxUser>): PrivmxChannel[] {
  const wanted = new Set<PrivmxChannel>();
  for (const user of users) for (const c of user.channels) wanted.add(c);
  return CHANNELS.filter((c) => wanted.has(c));
}

const TOKEN_REFUSED = 'the Bridge rejected a token it has just issued (Bridge error 21)';

/**
 * One socket's life on a Bridge: `manager/auth` (refresh token while valid, else credentials),
 * `manager/bindAccessToken`, subscribe the union of the users' channels, refresh before expiry, route
 * each frame to its JSON-RPC request or to the users, and on stop unsubscribe and close with 1000.
 */
export class PrivmxSession {
  private readonly socket: SourceSocket;
  private readonly rpc: JsonRpcClient;
  private readonly subscribed = new Set<PrivmxChannel>();
  private readonly note = new Notification();
  /** rejects, from their bytes, the frames no registered node could want */
  private readonly raw: RawFilter;
  private readonly parser: FrameParser;
  private ops: Promise<void> = Promise.resolve();
  /** establish() is queued: from now on a change of the users is a request queued behind it */
  private establishing = false;
  private refreshTimer: unknown;

  constructor(
    private readonly deps: PrivmxSessionDeps,
    private readonly ctx: SessionContext,
  ) {
    const { options, endpoints, log } = deps;
    this.raw = new RawFilter(deps.users);
    this.parser = new FrameParser(
      () => 'PrivMX Bridge',
      options.maxFrameBytes,
      (kind, m) => log.warn(kind, m),
      // every frame is parsed during the handshake and while an answer is awaited
      (bytes) => !this.ctx.subscribed || this.rpc.pendingCount > 0 || this.raw.mightWant(bytes),
    );
    this.socket = new SourceSocket(
      {
        url: endpoints.wsUrl,
        network: deps.settings.network ?? defaultNetwork,
        timing: options,
        parser: this.parser,
        refused: (status) => {
          const permanent = status === 401 || status === 403 || status === 404;
          return new ConnectionError(`HTTP ${status} from ${endpoints.display} (WebSocket upgrade refused)`, {
            permanent,
            code: permanent ? 'CONFIG' : 'NETWORK',
          });
        },
        failed: (err) => new ConnectionError(err.message || 'WebSocket error', { code: 'NETWORK' }),
        closed: (code) =>
          new ConnectionError(`connection closed by the Bridge (code ${code})`, { code: 'CLOSED' }),
        onFrame: (frame) => this.dispatch(frame),
        // an answer behind frames we do not read yet is not late: a request's time stops meanwhile
        onFlowPause: (paused) => (paused ? this.rpc.holdTimeouts() : this.rpc.resumeTimeouts()),
      },
      ctx,
    );
    this.rpc = new JsonRpcClient((text) => this.socket.ws.send(text), {
      timeoutMs: options.requestTimeoutMs,
      clock: ctx.clock,
    });
  }

  /** Resolves when the socket closed after an abort; rejects with the reason it failed otherwise. */
  async run(): Promise<void> {
    const signal = this.ctx.signal;
    if (signal.aborted) this.handleAbort();
    else signal.addEventListener('abort', this.handleAbort, { once: true });
    try {
      await this.socket.opened;
      this.ctx.setPhase('authenticating');
      this.establishing = true;
      await Promise.race([this.enqueue(() => this.establish()), this.socket.ended]);
      if (!this.over) this.ctx.setPhase('subscribed');
    } catch (err) {
      this.fail(err);
    }
    try {
      await this.socket.ended;
    } finally {
      signal.removeEventListener('abort', this.handleAbort);
      this.clearRefresh();
      this.rpc.close(this.socket.failed ?? new RpcTransportError('session ended', 'CLOSED'));
      this.socket.dispose();
    }
  }

  get channels(): PrivmxChannel[] {
    return CHANNELS.filter((c) => this.subscribed.has(c));
  }

  /** frames rejected from their bytes, unparsed: no registered node could want them */
  get rejectedFrames(): number {
    return this.parser.rejected;
  }

  /**
   * The set of users changed: subscribe/unsubscribe the difference on this socket. Before the socket is
   * open and establish() is queued there is nothing to change: establish() reads the users when it runs
   * (a request sent now would hit a socket still CONNECTING and cost a reconnect). After that, the change
   * queues behind establish() and goes out on the authenticated socket.
   */
  sync(): void {
    this.raw.changed(); // the raw pre-filter follows the new set at once
    if (!this.establishing || this.over) return;
    this.enqueue(() => this.reconcile()).catch((err) => this.fail(err));
  }

  private get over(): boolean {
    return !!this.socket.failed || this.ctx.signal.aborted;
  }

  private readonly handleAbort = (): void => {
    this.clearRefresh();
    if (this.ctx.stopping) void this.closeGracefully();
    else this.socket.terminate();
  };

  /** Route one parsed frame: a notification to the users, anything with an id to its request. */
  private dispatch(frame: Frame): void {
    const { log, users } = this.deps;
    const channel = frame.channel;
    const type = frame.type;
    if (typeof channel === 'string' && typeof type === 'string' && frame.id === undefined) {
      if (!isChannel(channel)) {
        const name = channel.slice(0, 40);
        log.warn(`unknown-channel:${name}`, `PrivMX Bridge: unknown channel "${name}"; skipped`);
        return;
      }
      const known = isKnownType(channel, type);
      if (!known) {
        const name = type.slice(0, 60);
        log.warn(
          `unknown-type:${channel}/${name}`,
          `PrivMX Bridge: unknown event type "${name}" on channel ${channel}; delivered only to nodes that list it`,
        );
      }
      const note = this.note.reset(frame, channel, type, known);
      fanOut(
        users,
        note,
        (n) => n.envelope(),
        (err) =>
          log.warn('user-error', `privmx in: failed to emit an event: ${(err as Error)?.message ?? err}`),
      );
      return;
    }
    if ('id' in frame || 'jsonrpc' in frame || 'result' in frame || 'error' in frame) {
      const kind = this.rpc.handle(frame);
      if (kind === 'matched') return;
      const error = frame.error as { code?: unknown; message?: unknown } | undefined;
      const what = error ? ` (error ${String(error.code)}: ${String(error.message).slice(0, 80)})` : '';
      if (kind === 'unknown-id') {
        log.warn('rpc-unknown-id', `PrivMX Bridge answered an unknown request id${what}; skipped`);
      } else if (kind === 'no-id-error') {
        log.warn(
          `rpc-error-no-id:${String(error?.code)}`,
          `PrivMX Bridge sent an error without a request id${what}`,
        );
      } else {
        log.warn('rpc-invalid', 'PrivMX Bridge sent an invalid JSON-RPC frame; skipped');
      }
      return;
    }
    log.warn(
      'malformed-frame',
      'PrivMX Bridge sent a frame that is neither a notification nor a response; skipped',
    );
  }

  // --- the protocol --------------------------------------------------------------------------------

  private enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.ops.then(() => (this.over ? undefined : op()));
    this.ops = run.catch(() => undefined);
    return run;
  }

  private desired(): PrivmxChannel[] {
    return desiredChannels(this.deps.users);
  }

  /** auth (refresh token first) → bind → check the solution scope → subscribe the union */
  private async establish(): Promise<void> {
    const desired = this.desired();
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
      if (fresh) throw new ConnectionError(TOKEN_REFUSED, { permanent: true, code: 'AUTH' });
      // the refreshed token was refused (session evicted?): start over with the credentials
      tokens = await this.credentialsAuth(desired);
      await this.bind(tokens).catch((e: unknown) => {
        throw e instanceof JsonRpcError && e.code === RpcCode.INVALID_TOKEN
          ? new ConnectionError(TOKEN_REFUSED, { permanent: true, code: 'AUTH' })
          : e;
      });
    }
    this.checkSolutionScope(tokens);
    await this.reconcile();
    this.scheduleRefresh();
  }

  private refreshable(): boolean {
    return this.deps.tokens.refreshable(this.ctx.clock.now(), this.deps.options.refreshSkewMs);
  }

  /** refresh_token grant; undefined when the server refused it (then credentials are used) */
  private async tryRefresh(): Promise<TokenPair | undefined> {
    const store = this.deps.tokens;
    const old = store.current;
    if (!old) return undefined;
    try {
      const result = await this.rpc.call('manager/auth', {
        grantType: 'refresh_token',
        refreshToken: old.refreshToken,
      });
      const tokens = toTokens(result);
      if (!tokens.scope && old.scope) tokens.scope = old.scope;
      store.current = tokens;
      return tokens;
    } catch (err) {
      if (err instanceof JsonRpcError) {
        store.current = undefined;
        return undefined;
      }
      throw err;
    }
  }

  private async credentialsAuth(channels: readonly PrivmxChannel[]): Promise<TokenPair> {
    const { settings, tokens: store } = this.deps;
    const { apiKeyId, apiKeySecret, solutionId } = settings;
    if (!apiKeyId || !apiKeySecret) throw new ConnectionError(MISSING_KEY, { config: true });
    const scope = [...channels, solutionScope(solutionId)];
    store.credentialAuths++;
    const result = await this.rpc.call('manager/auth', {
      grantType: 'api_key_credentials',
      apiKeyId,
      apiKeySecret,
      scope,
    });
    const tokens = toTokens(result);
    store.current = tokens;
    return tokens;
  }

  private async bind(tokens: TokenPair): Promise<void> {
    await this.rpc.call('manager/bindAccessToken', { accessToken: tokens.accessToken });
  }

  private checkSolutionScope(tokens: TokenPair): void {
    const { settings, log } = this.deps;
    if (!tokens.scope || coversSolution(tokens.scope, settings.solutionId)) return;
    const wanted = solutionScope(settings.solutionId);
    const message = `the access token has no "${wanted}" scope: the Bridge would deliver no events`;
    log.warn('no-solution-scope', `PrivMX Bridge: ${message}. Give the API key a solution scope.`);
    throw new ConnectionError(message, { permanent: true, code: 'SCOPE' });
  }

  /** the channels wanted now plus those still subscribed (a new token must keep both) */
  private union(desired: readonly PrivmxChannel[]): PrivmxChannel[] {
    return CHANNELS.filter((c) => desired.includes(c) || this.subscribed.has(c));
  }

  /** Subscribe what the users need and the socket lacks; unsubscribe what nobody needs any more. */
  private async reconcile(): Promise<void> {
    const desired = this.desired();
    const add = desired.filter((c) => !this.subscribed.has(c));
    const remove = [...this.subscribed].filter((c) => !desired.includes(c));
    if (add.length) {
      const scope = this.deps.tokens.current?.scope;
      if (scope && add.some((c) => !scope.includes(c))) {
        // the token lacks a newly needed channel scope: a new credentials auth asks for it
        await this.bind(await this.credentialsAuth(this.union(desired)));
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
    if (!tokens) tokens = await this.credentialsAuth(this.union(this.desired()));
    await this.bind(tokens);
    this.scheduleRefresh();
  }

  private scheduleRefresh(): void {
    this.clearRefresh();
    const tokens = this.deps.tokens.current;
    if (!tokens || this.over) return;
    const { clock } = this.ctx;
    const { minRefreshDelayMs, refreshFraction } = this.deps.options;
    const life = tokens.accessTokenExpiry - clock.now();
    const delay = Math.max(minRefreshDelayMs, Math.floor(life * refreshFraction));
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
    if (this.over) return;
    this.clearRefresh();
    this.socket.fail(toConnectionError(err));
  }

  /** Stopping (redeploy/close): unsubscribe, close with 1000, bounded wait, then terminate. */
  private async closeGracefully(): Promise<void> {
    if (!this.socket.isOpen) return this.socket.terminate();
    this.rpc.resumeTimeouts(); // stopping: the goodbye is bounded even while paused
    const budget = this.deps.options.closeTimeoutMs;
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
    await this.socket.closeGracefully(budget);
  }
}
