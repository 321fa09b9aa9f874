import { Backoff, BackoffOptions, defaultBackoff } from './backoff';
import { Clock, realClock, sleep } from './clock';

/**
 * One state machine per server connection, shared by every source protocol:
 *   idle → connecting → authenticating → subscribed → (backoff) → connecting …
 * A config node owns one ManagedConnection; source nodes register with it. It connects when the
 * first user registers and disconnects when the last one leaves.
 */
export type Phase = 'idle' | 'connecting' | 'authenticating' | 'subscribed' | 'backoff' | 'error' | 'closed';

export interface ConnectionState {
  phase: Phase;
  /** why we are in backoff/error: safe to show (never contains a secret) */
  reason?: string;
  /** stable machine-readable code for the reason, e.g. 'AUTH', 'SCOPE', 'NETWORK', 'DEAD_LINK' */
  code?: string;
  /** epoch ms of the next attempt (backoff, and error with a retry) */
  retryAt?: number;
  /** the failure will not go away by itself (credentials, scope): show red */
  permanent?: boolean;
  /**
   * the configuration itself is wrong (no URL scheme, a missing key): nothing is retried until the user
   * fixes it and deploys
   */
  config?: boolean;
  /** number of consecutive failures so far */
  failures?: number;
  /** subscribed, but not reading: the flow downstream is behind (see session/pressure.ts) */
  paused?: boolean;
}

export interface ConnectionUser {
  onConnectionState(state: ConnectionState): void;
}

export interface ConnectionErrorOptions {
  /** auth/scope/config problem: long backoff, red status */
  permanent?: boolean;
  /** do not retry at all until redeploy (e.g. the gateway's IP lockout is near) */
  fatal?: boolean;
  /**
   * the configuration is wrong and waiting cannot heal it (a URL without a scheme, a missing secret):
   * no retry, the status asks to fix the configuration and deploy. Implies fatal; code defaults to CONFIG.
   */
  config?: boolean;
  code?: string;
  /** server asked us to wait at least this long */
  retryAfterMs?: number;
}

/** A session failure with a reason that is safe to show in a status or log. */
export class ConnectionError extends Error {
  readonly permanent: boolean;
  readonly fatal: boolean;
  readonly config: boolean;
  readonly code: string;
  readonly retryAfterMs?: number;
  constructor(message: string, opts: ConnectionErrorOptions = {}) {
    super(message);
    this.name = 'ConnectionError';
    this.config = !!opts.config;
    this.fatal = !!opts.fatal || this.config;
    this.permanent = !!opts.permanent || this.fatal;
    this.code = opts.code ?? (this.config ? 'CONFIG' : this.permanent ? 'AUTH' : 'NETWORK');
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export interface ReconnectOptions {
  backoff: BackoffOptions;
  /** a session subscribed this long resets the backoff */
  stableAfterMs: number;
  /** no frame/ping from the server for this long = dead link (0 = no watchdog) */
  deadAfterMs: number;
  /** after this many consecutive permanent failures stop retrying until redeploy (0 = never stop) */
  maxPermanentFailures: number;
  clock: Clock;
  random?: () => number;
}

export const defaultReconnect: ReconnectOptions = {
  backoff: defaultBackoff,
  stableAfterMs: 60_000,
  deadAfterMs: 30_000,
  maxPermanentFailures: 0,
  clock: realClock,
};

/** What a running session may use. */
export interface SessionContext {
  /** aborted when the session must end: closing, dead link, or restart */
  readonly signal: AbortSignal;
  /** true when the manager is shutting down (unsubscribe and close with 1000, quickly) */
  readonly stopping: boolean;
  setPhase(phase: 'authenticating' | 'subscribed'): void;
  /** call on every frame/ping from the server: feeds the dead-link watchdog */
  alive(): void;
  /**
   * We stopped (or started again) reading the socket because the flow is behind. A paused socket
   * reads no pings: the watchdog is suspended meanwhile, and starts afresh on resume.
   */
  flowPaused(paused: boolean): void;
  /** the session reached 'subscribed' (a handshake is never paused: its answers must be read) */
  readonly subscribed: boolean;
  readonly clock: Clock;
}

const RESTART = 'RESTART';

export abstract class ManagedConnection<U extends ConnectionUser = ConnectionUser> {
  protected readonly users = new Set<U>();
  private current: ConnectionState = { phase: 'idle' };
  private running = false;
  private stopController?: AbortController;
  private sessionController?: AbortController;
  private loopDone?: Promise<void>;
  private stoppingNow = false;
  protected readonly backoff: Backoff;
  protected readonly opts: ReconnectOptions;
  /** how often and how long the sessions stopped reading because the flow was behind */
  readonly flowPauses = { count: 0, totalMs: 0 };

  constructor(opts: Partial<ReconnectOptions> = {}) {
    this.opts = { ...defaultReconnect, ...opts };
    this.backoff = new Backoff(this.opts.backoff, this.opts.random);
  }

  get state(): ConnectionState {
    return this.current;
  }

  get userCount(): number {
    return this.users.size;
  }

  /** Run one session: connect, authenticate, subscribe, then resolve or throw when it ends. */
  protected abstract runSession(ctx: SessionContext): Promise<void>;

  /** The set of users changed while connected (subscriptions may need to change). */
  protected usersChanged(): void {}

  register(user: U): void {
    if (this.users.has(user)) return;
    this.users.add(user);
    user.onConnectionState(this.current);
    if (!this.running) this.start();
    else this.usersChanged();
  }

  async deregister(user: U): Promise<void> {
    if (!this.users.delete(user)) return;
    if (this.users.size === 0) await this.stop();
    else this.usersChanged();
  }

  /** End the current session and connect again (e.g. after settings changed). */
  restart(): void {
    this.sessionController?.abort(new ConnectionError('restarting', { code: RESTART }));
  }

  /** Stop for good: used by the config node's close handler. */
  async close(): Promise<void> {
    this.users.clear();
    await this.stop();
    this.setState({ phase: 'closed' });
  }

  protected setState(state: ConnectionState): void {
    this.current = state;
    for (const user of this.users) {
      try {
        user.onConnectionState(state);
      } catch {
        // a user's status handler must never break the connection
      }
    }
  }

  private start(): void {
    this.running = true;
    this.stoppingNow = false;
    this.stopController = new AbortController();
    this.loopDone = this.loop(this.stopController.signal);
  }

  private async stop(): Promise<void> {
    // a stop already under way (the last user leaving) must finish before close() returns
    if (!this.running) return this.loopDone;
    this.running = false;
    this.stoppingNow = true;
    this.stopController?.abort();
    this.sessionController?.abort(new Error('closing'));
    await this.loopDone;
    this.stoppingNow = false;
    if (this.current.phase !== 'closed') this.current = { phase: 'idle' };
  }

  private async loop(stopSignal: AbortSignal): Promise<void> {
    const clock = this.opts.clock;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    while (this.running) {
      const controller = new AbortController();
      this.sessionController = controller;
      let subscribedAt: number | undefined;
      let lastSeen = clock.now();
      let watchdog: unknown;
      let pausedAt: number | undefined;
      const armWatchdog = (ms: number) => {
        watchdog = clock.setTimeout(() => {
          // our own pause is not a dead server
          if (pausedAt !== undefined) return armWatchdog(this.opts.deadAfterMs);
          const idle = clock.now() - lastSeen;
          if (idle >= this.opts.deadAfterMs)
            controller.abort(new ConnectionError('no heartbeat', { code: 'DEAD_LINK' }));
          else armWatchdog(this.opts.deadAfterMs - idle);
        }, ms);
      };
      if (this.opts.deadAfterMs > 0) armWatchdog(this.opts.deadAfterMs);
      const ctx: SessionContext = {
        signal: controller.signal,
        get stopping() {
          return self.stoppingNow;
        },
        get subscribed() {
          return subscribedAt !== undefined && !controller.signal.aborted;
        },
        setPhase: (phase) => {
          if (controller.signal.aborted) return;
          if (phase === 'subscribed') subscribedAt = clock.now();
          this.setState({ phase });
        },
        alive: () => {
          lastSeen = clock.now();
        },
        flowPaused: (paused) => {
          if (controller.signal.aborted || paused === (pausedAt !== undefined)) return;
          const now = clock.now();
          if (paused) {
            pausedAt = now;
            this.flowPauses.count++;
          } else {
            this.flowPauses.totalMs += now - (pausedAt ?? now);
            pausedAt = undefined;
            lastSeen = now;
          }
          if (this.current.phase === 'subscribed')
            this.setState({ phase: 'subscribed', paused: paused || undefined });
        },
        clock,
      };
      this.setState({ phase: 'connecting' });
      let failure: ConnectionError;
      try {
        await this.runSession(ctx);
        const reason = controller.signal.reason;
        failure =
          reason instanceof ConnectionError
            ? reason
            : new ConnectionError('connection closed', { code: 'CLOSED' });
      } catch (err) {
        const reason = controller.signal.reason;
        failure =
          reason instanceof ConnectionError
            ? reason
            : err instanceof ConnectionError
              ? err
              : new ConnectionError(describe(err), { code: 'NETWORK' });
      } finally {
        clock.clearTimeout(watchdog);
        if (pausedAt !== undefined) this.flowPauses.totalMs += clock.now() - pausedAt;
        if (!controller.signal.aborted) controller.abort(new Error('session ended'));
      }
      if (!this.running) break;

      if (subscribedAt !== undefined) {
        // we got in, so the credentials are good; only a stable session forgives transient failures
        this.backoff.resetPermanent();
        if (clock.now() - subscribedAt >= this.opts.stableAfterMs) this.backoff.reset();
      }
      if (failure.code === RESTART) continue;

      if (failure.config) {
        // Waiting cannot fix a wrong configuration: no countdown, no timer, red until a deploy.
        this.setState({
          phase: 'error',
          reason: failure.message,
          code: failure.code,
          permanent: true,
          config: true,
        });
        await untilAborted(stopSignal);
        break;
      }
      let delay = this.backoff.next(failure.permanent);
      if (failure.retryAfterMs !== undefined) delay = Math.max(delay, failure.retryAfterMs);
      const failures = failure.permanent ? this.backoff.permanentCount : undefined;
      const max = this.opts.maxPermanentFailures;
      if (failure.fatal || (failure.permanent && max > 0 && this.backoff.permanentCount >= max)) {
        this.setState({
          phase: 'error',
          reason: failure.message,
          code: failure.code,
          permanent: true,
          failures,
        });
        // Stay red until redeploy: wait for stop, never retry.
        await untilAborted(stopSignal);
        break;
      }
      this.setState({
        phase: failure.permanent ? 'error' : 'backoff',
        reason: failure.message,
        code: failure.code,
        retryAt: clock.now() + delay,
        permanent: failure.permanent,
        failures,
      });
      await sleep(clock, delay, stopSignal);
    }
    this.sessionController = undefined;
  }
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
