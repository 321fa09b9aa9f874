import type { Clock } from '../clock';
import type { SmsError } from './errors';

/**
 * Storm guards, all O(1) per SMS and timer-free (nothing to leak): a token bucket for SMS per
 * minute, a duplicate window keyed by recipient + text, and a bounded FIFO with an overflow policy.
 */

/** `perMinute` tokens, refilled continuously; a burst may use the whole bucket at once. 0 = off. */
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    readonly perMinute: number,
    private readonly clock: Pick<Clock, 'now'>,
  ) {
    this.tokens = perMinute;
    this.last = clock.now();
  }

  get enabled(): boolean {
    return this.perMinute > 0;
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.perMinute, this.tokens + (elapsed * this.perMinute) / 60_000);
      this.last = now;
    }
  }

  /** take one token; false = over the limit */
  tryTake(): boolean {
    if (!this.enabled) return true;
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** give a token back (the SMS it paid for was dropped before sending) */
  refund(): void {
    if (this.enabled) this.tokens = Math.min(this.perMinute, this.tokens + 1);
  }
}

/** Same recipient + same text within `windowMs` = duplicate. 0 = off. Bounded in size. */
export class DedupeWindow {
  /** key → expiry; insertion order = expiry order (the window is constant) */
  private readonly seen = new Map<string, number>();

  constructor(
    readonly windowMs: number,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly maxEntries = 10_000,
  ) {}

  get enabled(): boolean {
    return this.windowMs > 0;
  }

  static key(to: string, text: string): string {
    return `${to}\u0000${text}`;
  }

  private prune(now: number): void {
    for (const [key, expires] of this.seen) {
      if (expires > now) break;
      this.seen.delete(key);
    }
  }

  /** true when this key was seen inside the window (and does not extend the window) */
  isDuplicate(key: string): boolean {
    if (!this.enabled) return false;
    const now = this.clock.now();
    this.prune(now);
    const expires = this.seen.get(key);
    return expires !== undefined && expires > now;
  }

  remember(key: string): void {
    if (!this.enabled) return;
    this.seen.delete(key);
    this.seen.set(key, this.clock.now() + this.windowMs);
    if (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }

  /** the SMS was not sent after all: a new attempt must not count as a duplicate */
  forget(key: string): void {
    this.seen.delete(key);
  }

  get size(): number {
    return this.seen.size;
  }

  clear(): void {
    this.seen.clear();
  }

  /** take over the live entries of another window (the same node, redeployed with another length) */
  inherit(other: DedupeWindow | undefined): this {
    if (!other || !this.enabled) return this;
    const now = this.clock.now();
    for (const [key, expires] of other.seen)
      if (expires > now) this.seen.set(key, Math.min(expires, now + this.windowMs));
    return this;
  }
}

export type OverflowPolicy = 'drop-new' | 'drop-old';

/** A bounded FIFO. push() returns what was dropped: the new item (drop-new) or the oldest (drop-old). */
export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;

  constructor(
    readonly capacity: number,
    readonly policy: OverflowPolicy = 'drop-new',
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** enqueue; returns the dropped item, if any */
  push(item: T): T | undefined {
    if (this.length < this.capacity) {
      this.items.push(item);
      return undefined;
    }
    if (this.policy === 'drop-new' || this.capacity <= 0) return item;
    const dropped = this.shift();
    this.items.push(item);
    return dropped;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** remove and return everything */
  drain(): T[] {
    const out = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return out;
  }
}

/**
 * The dedupe windows of sink nodes by node id, so a redeploy of the same node (same id) keeps its
 * window: a redeploy in the middle of an event storm must not let the duplicates through. A window is
 * held while its node runs; once the node closes it is kept only until every entry in it has expired,
 * and dropped at once when the node was removed from the flows. Bounded: at most one window per node
 * id closed within the last window length.
 */
export class DedupeRegistry {
  private readonly windows = new Map<string, { window: DedupeWindow; until: number }>();

  /** The window for node `id`: the one its previous instance left, or a new one. */
  acquire(id: string, windowMs: number, clock: Pick<Clock, 'now'>): DedupeWindow {
    const now = clock.now();
    this.prune(now);
    const entry = this.windows.get(id);
    // a window still held by a running instance is never shared (only a closed one is handed on)
    const previous = entry && entry.until !== Infinity ? entry.window : undefined;
    const window =
      previous && previous.windowMs === windowMs
        ? previous
        : new DedupeWindow(windowMs, clock).inherit(previous);
    this.windows.set(id, { window, until: Infinity });
    return window;
  }

  /** Node `id` closed: keep its window until it has expired, or drop it when the node was removed. */
  release(id: string, window: DedupeWindow, removed: boolean, clock: Pick<Clock, 'now'>): void {
    const entry = this.windows.get(id);
    if (!entry || entry.window !== window) return;
    // nothing to hand on (off, or empty: keys are only added while the node runs)
    if (removed || !window.enabled || window.size === 0) this.windows.delete(id);
    else entry.until = clock.now() + window.windowMs;
    this.prune(clock.now());
  }

  private prune(now: number): void {
    for (const [id, entry] of this.windows) if (entry.until <= now) this.windows.delete(id);
  }

  /** windows held (running nodes + recently closed ones) */
  get size(): number {
    return this.windows.size;
  }

  has(id: string): boolean {
    return this.windows.has(id);
  }

  /** forget every window (tests that load the same flow again in one process start clean) */
  clear(): void {
    this.windows.clear();
  }
}

/** One registry for the process: every sink node instance of this package. */
export const dedupeRegistry = new DedupeRegistry();

/**
 * The dedupe window and rate limit as the pipeline sees them, per recipient. The local guards answer
 * at once; a cluster's answer from Redis (nodes/lib/cluster/guards.ts) comes as a promise.
 */
export type Admission = 'send' | 'duplicate' | 'limited' | { error: SmsError };

export interface SmsGuards {
  /** may an SMS with this dedupe key be sent now? 'send' takes a token and remembers the key */
  admit(key: string): Admission | Promise<Admission>;
  /** dropped before sending: give the token back and forget the key */
  refund(key: string): void;
  /** not sent after all: a new attempt must not count as a duplicate */
  forget(key: string): void;
  /** the pipeline closed; `removed`: its node was deleted from the flows (not redeployed) */
  close(removed: boolean): void;
}

/**
 * This instance's own guards: the in-memory RateLimiter and DedupeWindow. With a node id the window
 * comes from the process's dedupe registry, so a redeploy of the same node keeps it (a cluster's
 * shared window survives in Redis anyway; this one is its fallback while Redis is down).
 */
export class LocalGuards implements SmsGuards {
  readonly limiter: RateLimiter;
  readonly dedupe: DedupeWindow;

  constructor(
    opts: { rateLimit: number; dedupeWindowMs: number },
    private readonly clock: Pick<Clock, 'now'>,
    /** the node id (undefined = the window is not kept across a redeploy) */
    private readonly id?: string,
  ) {
    this.limiter = new RateLimiter(opts.rateLimit, clock);
    this.dedupe =
      id !== undefined
        ? dedupeRegistry.acquire(id, opts.dedupeWindowMs, clock)
        : new DedupeWindow(opts.dedupeWindowMs, clock);
  }

  admit(key: string): Admission {
    if (this.dedupe.isDuplicate(key)) return 'duplicate';
    if (!this.limiter.tryTake()) return 'limited';
    this.dedupe.remember(key);
    return 'send';
  }

  refund(key: string): void {
    this.limiter.refund();
    this.dedupe.forget(key);
  }

  forget(key: string): void {
    this.dedupe.forget(key);
  }

  close(removed: boolean): void {
    if (this.id !== undefined) dedupeRegistry.release(this.id, this.dedupe, removed, this.clock);
  }
}
