/**
 * The watch table of `delivery watch`, without Node-RED: one watch per sent SMS (per recipient), found
 * by (provider, message id); provider statuses end or update it; no final status within the timeout
 * ends it as `timeout`, exactly once.
 *
 * One timer for everything: every watch has the same timeout, so deadlines grow with insertion order
 * and an insertion-ordered Set is already sorted by deadline (O(1) add and remove); the statuses held
 * for a send that has not arrived yet work the same way with their own fixed hold time. A single clock
 * timer is armed for the earliest of the two heads.
 */
import type { Clock } from '../clock';
import type { SentSms, StatusReport } from './status';

export type DeliveryStatus = 'delivered' | 'failed' | 'timeout' | 'cancelled';

/** msg.delivery on every output msg */
export interface DeliveryInfo {
  provider: string;
  id: string;
  to: string;
  status: DeliveryStatus;
  /** the provider's own word for the last status seen, else the one its answer to the send gave */
  providerStatus?: string;
  reason?: string;
  /** epoch ms: when the watch started (the send's msg arrived) */
  sentAt: number;
  /** epoch ms: when it ended */
  doneAt: number;
}

export interface WatchStats {
  watching: number;
  delivered: number;
  failed: number;
  /** ended without a final status within the timeout */
  late: number;
  /** statuses that matched no watch (held, then dropped) */
  unknown: number;
  /** statuses waiting for their send's msg */
  held: number;
}

export interface WatchTableOptions<M> {
  timeoutMs: number;
  maxWatches: number;
  /** how long a status waits for its send's msg */
  holdMs: number;
  /** the most statuses waiting at once (the oldest is dropped beyond) */
  maxHeld: number;
  clock: Clock;
  /** a watch ended: emit `msg` with `delivery` */
  onDone: (msg: M, delivery: DeliveryInfo) => void;
  /** the counters changed */
  onChange?: () => void;
}

interface Watch<M> {
  provider: string;
  keys: string[];
  /** the first message id (what msg.delivery.id names) */
  id: string;
  to: string;
  msg: M;
  sentAt: number;
  deadline: number;
  providerStatus?: string;
}

interface Held {
  report: StatusReport;
  expires: number;
}

export type WatchResult =
  /** watching; a held status may have updated it */
  | 'watching'
  /** a held final status ended it at once (onDone was called) */
  | 'done'
  /** the same (provider, id) is watched already: nothing new */
  | 'duplicate'
  /** maxWatches reached: not watched */
  | 'full';

export type StatusResult = 'ended' | 'updated' | 'held' | 'unknown';

const key = (provider: string, id: string) => `${provider}\u0000${id}`;

export class WatchTable<M> {
  private opts: WatchTableOptions<M>;
  private readonly byKey = new Map<string, Watch<M>>();
  /** every open watch, in deadline order */
  private readonly order = new Set<Watch<M>>();
  /** statuses that came before their send, in expiry order */
  private readonly held = new Map<string, Held>();
  private lastDeadline = -Infinity;
  private timer: unknown;
  private timerAt = Infinity;
  private suspended = false;
  readonly stats: WatchStats = { watching: 0, delivered: 0, failed: 0, late: 0, unknown: 0, held: 0 };

  constructor(opts: WatchTableOptions<M>) {
    this.opts = opts;
  }

  get size(): number {
    return this.order.size;
  }

  /** The provider's last word on an open watch (undefined when not watched). */
  providerStatusOf(provider: string, id: string): string | undefined {
    return this.byKey.get(key(provider, id))?.providerStatus;
  }

  /** Start watching a sent SMS. */
  watch(sms: SentSms, msg: M): WatchResult {
    const keys = sms.ids.map((id) => key(sms.provider, id));
    if (keys.some((k) => this.byKey.has(k))) return 'duplicate';
    if (this.order.size >= this.opts.maxWatches) return 'full';
    const now = this.opts.clock.now();
    const w: Watch<M> = {
      provider: sms.provider,
      keys,
      id: sms.ids[0],
      to: sms.to,
      msg,
      sentAt: now,
      deadline: this.nextDeadline(now),
      providerStatus: sms.status,
    };
    for (const k of keys) this.byKey.set(k, w);
    this.order.add(w);
    // statuses that beat the send's msg here: the final one (if any) ends it, else the latest updates it
    let final: StatusReport | undefined;
    for (const k of keys) {
      const h = this.held.get(k);
      if (!h) continue;
      this.held.delete(k);
      if (h.report.outcome) final ??= h.report;
      else w.providerStatus = h.report.providerStatus;
    }
    this.stats.held = this.held.size;
    if (final) {
      this.end(w, final.outcome === 'delivered' ? 'delivered' : 'failed', final);
      this.disarmIfIdle();
      this.changed();
      return 'done';
    }
    this.stats.watching = this.order.size;
    this.armAt(w.deadline);
    this.changed();
    return 'watching';
  }

  /** A provider status: ends (final) or updates its watch, or waits briefly for the send. */
  status(report: StatusReport): StatusResult {
    if (report.id === undefined) {
      this.stats.unknown++;
      this.changed();
      return 'unknown';
    }
    const k = key(report.provider, report.id);
    const w = this.byKey.get(k);
    if (w) {
      if (report.outcome) {
        this.end(w, report.outcome, report);
        this.disarmIfIdle();
        this.changed();
        return 'ended';
      }
      w.providerStatus = report.providerStatus;
      return 'updated';
    }
    const h = this.held.get(k);
    if (h) {
      // keep the final one: a late "sending" must not hide a "failed" that came first
      if (report.outcome || !h.report.outcome) h.report = report;
      return 'held';
    }
    if (this.held.size >= this.opts.maxHeld) {
      const oldest = this.held.keys().next().value as string;
      this.held.delete(oldest);
      this.stats.unknown++;
    }
    const expires = this.opts.clock.now() + this.opts.holdMs;
    this.held.set(k, { report, expires });
    this.stats.held = this.held.size;
    this.armAt(expires);
    this.changed();
    return 'held';
  }

  /**
   * Stop the timer and forget the callbacks: the table waits, untouched, for a new node with the same
   * id to adopt it (a redeploy).
   */
  suspend(): void {
    this.suspended = true;
    this.disarm();
  }

  /** Continue after suspend() with the new node's settings; watches already late end on the next tick. */
  adopt(opts: WatchTableOptions<M>): void {
    const timeoutChanged = opts.timeoutMs !== this.opts.timeoutMs;
    this.opts = opts;
    this.suspended = false;
    if (timeoutChanged) {
      // the new timeout counts from each send; sends are in order, so deadlines stay in order
      this.lastDeadline = -Infinity;
      for (const w of this.order) w.deadline = this.nextDeadline(w.sentAt);
    }
    this.arm();
  }

  /** Drop everything (the node was removed); returns how many watches were open. */
  clear(): number {
    const open = this.order.size;
    this.disarm();
    this.order.clear();
    this.byKey.clear();
    this.held.clear();
    this.stats.watching = 0;
    this.stats.held = 0;
    return open;
  }

  private nextDeadline(from: number): number {
    // never earlier than the one before (a clock step back must not break the order)
    this.lastDeadline = Math.max(from + this.opts.timeoutMs, this.lastDeadline);
    return this.lastDeadline;
  }

  private end(w: Watch<M>, status: DeliveryStatus, report?: StatusReport): void {
    this.order.delete(w);
    for (const k of w.keys) this.byKey.delete(k);
    this.stats.watching = this.order.size;
    if (status === 'delivered') this.stats.delivered++;
    else if (status === 'failed') this.stats.failed++;
    else if (status === 'timeout') this.stats.late++;
    const delivery: DeliveryInfo = {
      provider: w.provider,
      id: report?.id ?? w.id,
      to: w.to,
      status,
      sentAt: w.sentAt,
      doneAt: this.opts.clock.now(),
    };
    const providerStatus = report?.providerStatus ?? w.providerStatus;
    if (providerStatus !== undefined) delivery.providerStatus = providerStatus;
    if (report?.reason !== undefined) delivery.reason = report.reason;
    try {
      this.opts.onDone(w.msg, delivery);
    } catch {
      // a failing output must not stop the other watches
    }
  }

  private head(): number {
    const w = this.order.values().next().value as Watch<M> | undefined;
    const h = this.held.values().next().value as Held | undefined;
    return Math.min(w?.deadline ?? Infinity, h?.expires ?? Infinity);
  }

  /**
   * The timer is always due at or before the earliest deadline or expiry (or absent when there is none):
   * a new entry only moves it earlier, a removed one never needs it moved (it may wake once for nothing).
   * So the heads of the two lists are read only here, on a tick, and on adopt — not per status: reading
   * the first entry of a Set whose front entries were deleted costs a skip over each of them.
   */
  private arm(): void {
    const at = this.head();
    if (at === Infinity) return this.disarm();
    this.armAt(at);
  }

  private armAt(at: number): void {
    if (this.suspended) return;
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.disarm();
    this.timerAt = at;
    this.timer = this.opts.clock.setTimeout(() => this.tick(), Math.max(0, at - this.opts.clock.now()));
  }

  /** no timer left behind when nothing is watched or held */
  private disarmIfIdle(): void {
    if (this.order.size === 0 && this.held.size === 0) this.disarm();
  }

  private disarm(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.suspended) return;
    const now = this.opts.clock.now();
    let changed = false;
    for (const [k, h] of this.held) {
      if (h.expires > now) break;
      this.held.delete(k);
      this.stats.unknown++;
      changed = true;
    }
    this.stats.held = this.held.size;
    for (const w of this.order) {
      if (w.deadline > now) break;
      this.end(w, 'timeout');
      changed = true;
    }
    this.arm();
    if (changed) this.changed();
  }

  private changed(): void {
    try {
      this.opts.onChange?.();
    } catch {
      // a status redraw never breaks the table
    }
  }
}
