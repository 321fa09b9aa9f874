import { createHash } from 'crypto';
import type { Clock } from '../clock';
import { realClock } from '../clock';

/**
 * The SMS gateway blocks an IP for 15 minutes after 10 failed authentications in 5 minutes. The
 * reconnect policy (long permanent backoff, stop after a few) already keeps a single connection far
 * below that; this is the belt and braces: every authentication this process makes against one
 * gateway (WebSocket auth, token requests, REST sends, "Test connection") is counted here, and an
 * attempt is refused locally when, should it fail too, the number of failures in the window would
 * reach `refuseAt`. Redeploying a bad key in a loop, or several nodes sharing one bad key, can then
 * never lock the IP out.
 */
export interface AuthWindowOptions {
  /** the sliding window the gateway counts failures in */
  windowMs: number;
  /** refuse an attempt when, counting it as a failure, the window would hold this many */
  refuseAt: number;
  clock: Pick<Clock, 'now'>;
}

export const defaultAuthWindow: AuthWindowOptions = {
  windowMs: 5 * 60_000,
  refuseAt: 5,
  clock: realClock,
};

/** Failed authentications in a sliding window. Pure: only a clock, no timers. */
export class AuthFailureWindow {
  private readonly failures: number[] = [];
  readonly opts: AuthWindowOptions;

  constructor(opts: Partial<AuthWindowOptions> = {}) {
    this.opts = { ...defaultAuthWindow, ...opts };
  }

  private prune(now: number): void {
    const since = now - this.opts.windowMs;
    while (this.failures.length > 0 && this.failures[0] <= since) this.failures.shift();
  }

  /** one more failed authentication, now */
  record(): void {
    const now = this.opts.clock.now();
    this.prune(now);
    this.failures.push(now);
  }

  /** failures inside the window */
  count(): number {
    this.prune(this.opts.clock.now());
    return this.failures.length;
  }

  /** epoch ms of the failures inside the window, oldest first */
  timestamps(): readonly number[] {
    this.prune(this.opts.clock.now());
    return [...this.failures];
  }

  /**
   * May one more attempt be made? `inFlight` attempts whose outcome is not known yet are counted as
   * failures too.
   */
  canAttempt(inFlight = 0): boolean {
    return this.count() + inFlight + 1 < this.opts.refuseAt;
  }

  /** ms until canAttempt(inFlight) holds again (0 = now) */
  retryInMs(inFlight = 0): number {
    const now = this.opts.clock.now();
    this.prune(now);
    const mustLeave = this.failures.length + inFlight + 1 - (this.opts.refuseAt - 1);
    if (mustLeave <= 0) return 0;
    // in-flight attempts settle by themselves; if failures alone are not enough, wait a whole window
    if (mustLeave > this.failures.length) return this.opts.windowMs;
    return Math.max(0, this.failures[mustLeave - 1] + this.opts.windowMs - now);
  }
}

/** An attempt refused locally so that the gateway's IP lockout cannot be reached. */
export class AuthRefusedError extends Error {
  readonly code = 'AUTH_GUARD';
  constructor(
    readonly failures: number,
    readonly retryInMs: number,
    windowMs: number,
  ) {
    super(
      `not attempted: ${failures} failed authentications in the last ${Math.round(windowMs / 60_000)} min ` +
        `(the gateway blocks the IP after 10) — fix the API key`,
    );
    this.name = 'AuthRefusedError';
  }
}

/** Outcome of one guarded attempt. Settle it exactly once; later calls are ignored. */
export interface AuthTicket {
  /** the gateway accepted the credentials */
  succeeded(): void;
  /** the gateway rejected the credentials (counts towards the window) */
  failed(): void;
  /** no verdict on the credentials (network error, 5xx, 429, aborted) */
  settled(): void;
}

/**
 * The per-gateway gate every authentication passes. Keys that worked last time skip the in-flight
 * accounting (so a good key is never slowed down), but nothing passes while the failure window is full.
 * Attempts with a key not known to be good are counted as possible failures while in flight, so a burst
 * of concurrent sends with a bad key cannot overshoot either: they wait for each other's verdict.
 */
export class AuthGuard {
  readonly window: AuthFailureWindow;
  private pending = 0;
  private readonly trusted = new Set<string>();
  private waiters: (() => void)[] = [];

  constructor(opts: Partial<AuthWindowOptions> = {}) {
    this.window = new AuthFailureWindow(opts);
  }

  /** in-flight attempts with a key not known to be good */
  get inFlight(): number {
    return this.pending;
  }

  /**
   * Start an attempt with `key` (only a fingerprint is kept). Resolves with a ticket, waits while
   * in-flight attempts decide, and throws AuthRefusedError when the failures alone forbid it.
   */
  async begin(key: string, signal?: AbortSignal): Promise<AuthTicket> {
    const id = fingerprint(key);
    for (;;) {
      signal?.throwIfAborted();
      if (!this.window.canAttempt(0)) {
        throw new AuthRefusedError(this.window.count(), this.window.retryInMs(0), this.window.opts.windowMs);
      }
      if (this.trusted.has(id)) return this.ticket(id, false);
      if (this.window.canAttempt(this.pending)) {
        this.pending++;
        return this.ticket(id, true);
      }
      await this.nextSettle(signal);
    }
  }

  private ticket(id: string, counted: boolean): AuthTicket {
    let done = false;
    const settle = (outcome: 'ok' | 'fail' | 'none') => {
      if (done) return;
      done = true;
      if (counted) this.pending--;
      if (outcome === 'ok') this.trusted.add(id);
      if (outcome === 'fail') {
        this.trusted.delete(id);
        this.window.record();
      }
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    };
    return { succeeded: () => settle('ok'), failed: () => settle('fail'), settled: () => settle('none') };
  }

  private nextSettle(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal?.reason);
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function fingerprint(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** The gateway counts per IP, so this process keeps one guard per gateway host, across redeploys. */
const guards = new Map<string, AuthGuard>();

export function authGuardFor(url: string, opts: Partial<AuthWindowOptions> = {}): AuthGuard {
  let host: string;
  try {
    host = new URL(url).host.toLowerCase();
  } catch {
    host = url;
  }
  let guard = guards.get(host);
  if (!guard) {
    guard = new AuthGuard(opts);
    guards.set(host, guard);
  }
  return guard;
}

/** tests: forget every guard */
export function resetAuthGuards(): void {
  guards.clear();
}
