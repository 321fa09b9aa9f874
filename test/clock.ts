/**
 * Every clock the tests hand to the package (through tuning or an options object), in one place:
 * - ManualClock: time moves only when the test says so (the default for anything that waits);
 * - CountingClock: real time, with a count of our timers still pending (leak checks);
 * - scaledClock: real timers shortened, with every requested delay recorded.
 */
import type { Clock } from '../nodes/lib/clock';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock the test moves by hand: now() is virtual and timers fire only when advanced past their
 * time, in order (ties in the order they were set). Give it to a connection
 * (`tuning['sms-gateway'] = { clock }`), a fake (`{ clock }`) or a pipeline part.
 *
 * - `advance(ms)` fires every due timer at once, synchronously: for code whose timers only start
 *   more timers or push frames.
 * - `advanceAsync(ms)` lets the promise jobs and I/O callbacks a timer starts run before the next
 *   timer is looked at: for code that awaits between timers (retries, backoff loops).
 */
export class ManualClock implements Clock {
  private timers: Timer[] = [];
  private nextId = 1;

  constructor(private t: number = Date.now()) {}

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  /** timers waiting to fire */
  get pending(): number {
    return this.timers.length;
  }

  /** when the next timer is due */
  nextAt(): number | undefined {
    return this.timers[0]?.at;
  }

  /** Move time forward by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    this.fireUntil(this.t + ms);
  }

  /** Move time forward by `ms` like advance(), settling the event loop before and after each timer. */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await settle();
      const next = this.dueBy(target);
      if (!next) break;
      next.fn();
    }
    this.t = target;
    await settle();
  }

  /** Jump to the next timer and run it; false when none. */
  runNext(): boolean {
    const at = this.nextAt();
    if (at === undefined) return false;
    this.fireUntil(Math.max(this.t, at));
    return true;
  }

  private fireUntil(target: number): void {
    for (;;) {
      const next = this.dueBy(target);
      if (!next) break;
      next.fn();
    }
    this.t = target;
  }

  /** Take the first timer due by `target` off the list and move time to it. */
  private dueBy(target: number): Timer | undefined {
    const next = this.timers[0];
    if (!next || next.at > target) return undefined;
    this.timers.shift();
    this.t = Math.max(this.t, next.at);
    return next;
  }
}

/** Let pending promise jobs and I/O callbacks run (one turn of the event loop). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The package's clock with a count of the timers still pending: given to every protocol through
 * tuning, it shows any timer of ours that outlives a redeploy.
 */
export class CountingClock implements Clock {
  readonly pending = new Set<NodeJS.Timeout>();
  created = 0;
  now(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.created++;
    const handle = setTimeout(() => {
      this.pending.delete(handle);
      fn();
    }, ms);
    handle.unref();
    this.pending.add(handle);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
    this.pending.delete(handle as NodeJS.Timeout);
  }
}

/** Real timers, scaled down by `scale`, with every requested delay recorded. */
export function scaledClock(scale = 0.01): Clock & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    now: () => Date.now(),
    setTimeout: (fn, ms) => {
      delays.push(ms);
      return setTimeout(fn, ms * scale);
    },
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };
}
