/**
 * The CPaaS notification channel, owned by a `kandy-cpaas` config node while at least one `cpaas in`
 * uses it. One session = get a token, create a Websockets channel, open its socket, subscribe inbound
 * SMS for the union of the users' numbers, then keep it all alive:
 *  - connCheck every interval; connAck (or any frame) feeds the dead-link watchdog (two intervals);
 *  - the token is re-fetched at half-life; the channel is renewed at half its lifetime, and a 404 on
 *    renewal (channel lost) ends the session as a failure: after the usual backoff a new session makes a
 *    new channel, a new socket and every subscription again;
 *  - users coming and going add/remove subscriptions live; a server-side cancellation subscribes again.
 * On stop: DELETE each subscription, then the channel, close the socket with 1000, clear every timer.
 * The access token travels in the socket URL: nothing shown to a user may contain it (redact()).
 */
import { ConnectionError, ManagedConnection, SessionContext } from '../connection';
import { OnceLogger } from '../log-once';
import { fanOut } from '../session/fanout';
import { Frame, FrameParser } from '../session/frame-parser';
import { SourceSocket } from '../session/socket';
import { SmsError } from '../sms/errors';
import { CpaasApi, CpaasChannel } from './api';
import { CPAAS_TIMING, CpaasChannelOptions, CpaasInUser } from './channel-options';
import { addressesOf, cpaasEnvelope, isCpaasEventType, normaliseNumber } from './envelope';
import { channelSocketUrl, deadline, isRecord, lastSegment, raced, redact } from './http';

export { CPAAS_TIMING } from './channel-options';
export type { CpaasChannelOptions, CpaasEvent, CpaasInUser } from './channel-options';

/** One session's resources: everything here is released when the session ends. */
interface Session {
  ctx: SessionContext;
  /** aborts when the session must end (ctx.signal, socket closed, token lost for good) */
  end: AbortController;
  /**
   * subscription requests: not aborted by the end of the session but by the teardown's time budget, so
   * a subscription made as the session ends is still known, and deleted
   */
  ops: AbortController;
  channel?: CpaasChannel;
  socket?: SourceSocket;
  /** normalised number → subscription resourceURL */
  subs: Map<string, string>;
  /** normalised number → permanent subscription failure (not retried in this session) */
  failed: Map<string, Error>;
  lastSubscribed: Map<string, number>;
  /** serialises subscription changes */
  chain: Promise<void>;
  timers: Set<unknown>;
  /** the server no longer knows the channel: it is not deleted */
  lost: boolean;
  ready: boolean;
}

export class CpaasChannelConnection extends ManagedConnection<CpaasInUser> {
  private session?: Session;
  /** settles when the running session (if any) has released everything */
  private released: Promise<void> = Promise.resolve();
  private readonly cfg: CpaasChannelOptions;
  private readonly parser: FrameParser;

  constructor(
    private readonly api: CpaasApi,
    opts: Partial<CpaasChannelOptions> = {},
    log: (message: string) => void = () => {},
  ) {
    const cfg = { ...CPAAS_TIMING, ...opts };
    super(cfg);
    this.cfg = cfg;
    const badFrames = new OnceLogger(log);
    this.parser = new FrameParser(
      () => 'CPaaS',
      cfg.maxFrameBytes,
      (kind, m) => badFrames.warn(kind, m),
    );
  }

  /**
   * Stop for good. Waits for a session that is still releasing (a stop begun by the last `cpaas in`
   * leaving may be in progress), so the token manager is not closed under its DELETEs.
   */
  override async close(): Promise<void> {
    await super.close();
    await this.released;
  }

  protected override usersChanged(): void {
    const s = this.session;
    if (s?.ready) this.sync(s).catch((err: unknown) => this.fail(s, err));
  }

  protected async runSession(ctx: SessionContext): Promise<void> {
    // a missing secret or a URL without a scheme cannot heal by waiting: no request, no retry
    const invalid = this.api.auth.configProblem();
    if (invalid) throw new ConnectionError(redact(invalid.message, this.api.auth.secrets), { config: true });
    const s: Session = {
      ctx,
      end: new AbortController(),
      ops: new AbortController(),
      subs: new Map(),
      failed: new Map(),
      lastSubscribed: new Map(),
      chain: Promise.resolve(),
      timers: new Set(),
      lost: false,
      ready: false,
    };
    const onStop = () => s.end.abort(ctx.signal.reason);
    if (ctx.signal.aborted) onStop();
    else ctx.signal.addEventListener('abort', onStop, { once: true });
    this.session = s;
    let release!: () => void;
    this.released = new Promise<void>((resolve) => (release = resolve));
    try {
      ctx.setPhase('authenticating');
      const token = await this.api.auth.getToken(s.end.signal);
      s.channel = await this.api.createChannel(this.cfg.channelLifetimeS, s.end.signal);
      ctx.alive();
      await this.openSocket(s, token.accessToken);
      this.send(s, { connCheck: { interval: Math.max(1, Math.round(this.cfg.connCheckIntervalMs / 1000)) } });
      s.ready = true;
      await raced(this.sync(s), s.end.signal);
      ctx.setPhase('subscribed');
      this.scheduleConnCheck(s);
      this.scheduleRenewal(s, s.channel.lifetimeS);
      this.api.auth.keepFresh(s.end.signal).catch((err: unknown) => this.fail(s, err));
      await new Promise<void>((resolve) => {
        if (s.end.signal.aborted) resolve();
        else s.end.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      if (!ctx.signal.aborted) throw s.end.signal.reason;
    } catch (err) {
      if (!ctx.signal.aborted) throw this.toConnectionError(s.end.signal.aborted ? s.end.signal.reason : err);
    } finally {
      ctx.signal.removeEventListener('abort', onStop);
      if (!s.end.signal.aborted) s.end.abort(new Error('session ended'));
      if (this.session === s) this.session = undefined;
      for (const timer of s.timers) ctx.clock.clearTimeout(timer);
      s.timers.clear();
      await this.teardown(s).finally(release);
    }
  }

  /** End the session with `err` (socket closed, permanent token failure, failed live subscription). */
  private fail(s: Session, err: unknown): void {
    if (!s.end.signal.aborted) s.end.abort(this.toConnectionError(err));
  }

  private toConnectionError(err: unknown): ConnectionError {
    const secrets = this.api.auth.secrets;
    if (err instanceof ConnectionError) return err;
    if (err instanceof SmsError) {
      return new ConnectionError(redact(err.message, secrets), {
        permanent: !err.transient,
        code: err.code.replace(/^SMS_/, ''),
        retryAfterMs: err.retryAfterMs,
      });
    }
    const message = err instanceof Error ? err.message || err.name : String(err);
    return new ConnectionError(redact(message, secrets), { code: 'NETWORK' });
  }

  private async openSocket(s: Session, accessToken: string): Promise<void> {
    const channel = s.channel as CpaasChannel;
    const url = channelSocketUrl(this.api.auth.base, channel.channelURL, accessToken);
    const socket = new SourceSocket(
      {
        url,
        network: this.api.network,
        timing: this.cfg,
        parser: this.parser,
        refused: (status) => {
          // a refused token: take a new one next time (a bad secret then fails at login, permanently)
          if (status === 401 || status === 403) this.api.auth.invalidate(accessToken);
          return new ConnectionError(this.socketReason(`Unexpected server response: ${status}`), {
            code: status === 404 ? 'CHANNEL_LOST' : 'NETWORK',
          });
        },
        failed: (err) => new ConnectionError(this.socketReason(err.message || err.name), { code: 'NETWORK' }),
        closed: (code) => new ConnectionError(`notification socket closed (${code})`, { code: 'CLOSED' }),
        onFrame: (frame) => this.onFrame(s, frame),
      },
      s.ctx,
    );
    s.socket = socket;
    socket.ended.catch((err: unknown) => this.fail(s, err));
    await raced(socket.opened, s.end.signal);
  }

  private socketReason(message: string): string {
    return redact(`notification socket: ${message}`, this.api.auth.secrets);
  }

  private send(s: Session, frame: unknown): void {
    s.socket?.send(JSON.stringify(frame));
  }

  private timer(s: Session, ms: number, fn: () => void): void {
    const clock = s.ctx.clock;
    const handle = clock.setTimeout(() => {
      s.timers.delete(handle);
      if (!s.end.signal.aborted) fn();
    }, ms);
    s.timers.add(handle);
  }

  private scheduleConnCheck(s: Session): void {
    const interval = Math.max(1, Math.round(this.cfg.connCheckIntervalMs / 1000));
    this.timer(s, this.cfg.connCheckIntervalMs, () => {
      this.send(s, { connCheck: { interval } });
      this.scheduleConnCheck(s);
    });
  }

  /** Renew at `renewAt` of the lifetime; a lost channel ends the session (see channelLost). */
  private scheduleRenewal(s: Session, lifetimeS: number, delayMs?: number): void {
    const lifetimeMs = lifetimeS * 1000;
    const wait = delayMs ?? Math.max(this.cfg.minRenewMs, lifetimeMs * this.cfg.renewAt);
    const renewedAt = s.ctx.clock.now();
    this.timer(s, wait, () => {
      const channel = s.channel as CpaasChannel;
      this.api.renewChannel(channel.resourceURL, this.cfg.channelLifetimeS, s.end.signal).then(
        (granted) => {
          if (granted === 'gone') return this.channelLost(s, 'the server no longer knows it');
          s.ctx.alive();
          this.scheduleRenewal(s, granted);
        },
        (err: unknown) => {
          if (s.end.signal.aborted) return;
          if (err instanceof SmsError && err.transient) {
            // try again while the channel still lives; past its end it is lost
            const left = renewedAt + lifetimeMs - s.ctx.clock.now();
            if (left <= this.cfg.minRenewMs) return this.channelLost(s, 'not renewed in time');
            return this.scheduleRenewal(s, lifetimeS, Math.max(this.cfg.minRenewMs, left / 4));
          }
          this.fail(s, err);
        },
      );
    });
  }

  /**
   * The server no longer knows the channel. That ends the session as a failure like any other: a server
   * that keeps losing channels gets its new ones at growing intervals, not every renewal period forever.
   */
  private channelLost(s: Session, why: string): void {
    if (s.end.signal.aborted) return;
    s.lost = true;
    this.fail(s, new ConnectionError(`notification channel lost (${why})`, { code: 'CHANNEL_LOST' }));
  }

  /** Bring the subscriptions in line with the users' numbers (serialised). */
  private sync(s: Session): Promise<void> {
    const run = async () => {
      const channel = s.channel;
      const ended = s.end.signal;
      const signal = s.ops.signal;
      if (!channel || ended.aborted) return;
      const desired = new Map<string, string>();
      for (const user of this.users) {
        const n = normaliseNumber(user.destination);
        if (n && !desired.has(n)) desired.set(n, user.destination.trim());
      }
      for (const [n, url] of [...s.subs]) {
        if (desired.has(n)) continue;
        s.subs.delete(n);
        await this.api.deleteResource(url, signal).catch(() => undefined);
      }
      for (const n of [...s.failed.keys()]) if (!desired.has(n)) s.failed.delete(n);
      for (const [n, raw] of desired) {
        if (s.subs.has(n) || s.failed.has(n)) continue;
        if (ended.aborted) return;
        try {
          const url = await this.api.subscribeInbound(raw, channel.callbackURL, signal);
          s.subs.set(n, url);
          if (ended.aborted) return;
          s.ctx.alive();
          s.lastSubscribed.set(n, s.ctx.clock.now());
          this.tellUsers(n, undefined);
        } catch (err) {
          if (ended.aborted) return;
          // a number the server refuses (not ours, invalid): tell its nodes, keep the others
          if (err instanceof SmsError && !err.transient && err.code !== 'SMS_AUTH') {
            const reason = this.toConnectionError(err);
            s.failed.set(n, reason);
            this.tellUsers(n, reason);
            continue;
          }
          throw err;
        }
      }
    };
    const next = s.chain.then(run);
    s.chain = next.catch(() => undefined);
    return next;
  }

  private tellUsers(n: string, err: Error | undefined): void {
    for (const user of this.users) {
      if (normaliseNumber(user.destination) !== n) continue;
      try {
        user.onSubscription?.(err);
      } catch {
        // a user's handler must never break the connection
      }
    }
  }

  private onFrame(s: Session, frame: Frame): void {
    const type = Object.keys(frame)[0];
    if (type === undefined) {
      this.parser.skipped('not-an-object', 'skipped a JSON frame that is not an object'); // nothing in it
      return;
    }
    const body = frame[type];
    switch (type) {
      case 'connAck':
        return;
      case 'connCheck':
        this.send(s, { connAck: {} });
        return;
      case 'smsSubscriptionCancellationNotification':
        this.onCancelled(s, isRecord(body) ? body : {});
        return;
      case 'smsEventNotification':
        return; // message deleted/read events: not offered by `cpaas in`
    }
    if (!isCpaasEventType(type) || !isRecord(body)) {
      const name = type.slice(0, 60);
      this.parser.skipped(`unknown-type:${name}`, `skipped an unknown notification "${name}"`);
      return;
    }
    const addresses = addressesOf(type, body);
    // delivery info need not name the local number (its shape is not public): the channel only carries ours
    const everyone =
      type === 'deliveryInfoNotification' &&
      !addresses.some((a) => s.subs.has(a)) &&
      ![...this.users].some((u) => addresses.includes(normaliseNumber(u.destination)));
    const now = s.ctx.clock.now();
    fanOut(this.users, { type, addresses, everyone }, () => cpaasEnvelope(type, frame, now));
  }

  /** The server cancelled a subscription (number unassigned, …): make it again, at most every resubscribeMinIntervalMs. */
  private onCancelled(s: Session, body: Record<string, unknown>): void {
    const links = Array.isArray(body.link) ? body.link : [];
    const ids = new Set(
      links
        .map((l) => (isRecord(l) && typeof l.href === 'string' ? lastSegment(l.href) : ''))
        .filter(Boolean),
    );
    const byNumber = normaliseNumber(body.destinationAddress);
    const cancelled = [...s.subs]
      .filter(([n, url]) => ids.has(lastSegment(url)) || n === byNumber)
      .map(([n]) => n);
    if (cancelled.length === 0) {
      this.parser.skipped(
        'unknown-cancellation',
        'a subscription cancellation named no subscription of ours',
      );
      return;
    }
    for (const n of cancelled) s.subs.delete(n);
    const now = s.ctx.clock.now();
    const last = Math.max(...cancelled.map((n) => s.lastSubscribed.get(n) ?? 0));
    const wait = Math.max(0, last + this.cfg.resubscribeMinIntervalMs - now);
    this.timer(s, wait, () => {
      this.sync(s).catch((err: unknown) => this.fail(s, err));
    });
  }

  /** Release the session: delete subscriptions then the channel, close the socket, within a bounded time. */
  private async teardown(s: Session): Promise<void> {
    const clock = s.ctx.clock;
    const socket = s.socket;
    const graceful = s.ctx.stopping;
    if (socket && !graceful) socket.terminate();
    const budget = deadline(clock, this.cfg.closeTimeoutMs);
    const stopOps = () => s.ops.abort(budget.signal.reason);
    budget.signal.addEventListener('abort', stopOps, { once: true });
    try {
      await s.chain;
      const subs = [...s.subs.values()];
      s.subs.clear();
      await Promise.allSettled(subs.map((url) => this.api.deleteResource(url, budget.signal)));
      if (s.channel && !s.lost)
        await this.api.deleteResource(s.channel.resourceURL, budget.signal).catch(() => undefined);
      if (socket && graceful) await raced(socket.closeGracefully(), budget.signal).catch(() => undefined);
    } finally {
      budget.signal.removeEventListener('abort', stopOps);
      budget.dispose();
      if (!s.ops.signal.aborted) s.ops.abort(new Error('session ended'));
      socket?.dispose();
    }
  }
}
