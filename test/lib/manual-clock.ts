import { ManualClock as Clock } from '../clock';

/**
 * Kept for tests written against the earlier async clock: the same ManualClock (test/clock.ts), with
 * `advance` meaning `advanceAsync` and `waiting` meaning `pending`. New tests import test/clock.ts.
 * @deprecated import { ManualClock } from '../clock'
 */
export class ManualClock extends Clock {
  constructor(start = 1_000_000) {
    super(start);
  }

  /** timers waiting to fire */
  get waiting(): number {
    return this.pending;
  }

  override advance(ms: number): Promise<void> {
    return this.advanceAsync(ms);
  }
}
