import type { Clock } from '../../nodes/lib/clock';

/**
 * A clock whose time moves only when a test says so: timers fire in order inside advance(), with the
 * promise jobs they start run in between. Nothing here depends on how fast the machine is.
 */
export class ManualClock implements Clock {
  private time = 1_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** timers waiting to fire */
  get waiting(): number {
    return this.timers.size;
  }

  /** Move time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers)
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = target;
    await settle();
  }
}

/** let pending promise jobs and I/O callbacks run */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
