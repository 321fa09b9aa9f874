/**
 * A provider that takes an SMS at once and answers it later: after `delayMs` (real time), or only when
 * the test calls release() while `held`. Counts the answers given and those the client no longer
 * waited for (it aborted the request): a request aborted by its client shows as `abandoned`.
 */
export class SlowAnswers {
  /** answer this much later (ms); 0 = at once */
  delayMs = 0;
  /** hold every answer until release() */
  held = false;
  answered = 0;
  abandoned = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private waiting: (() => void)[] = [];

  get active(): boolean {
    return this.held || this.delayMs > 0;
  }

  /** answers waiting for release() */
  get holding(): number {
    return this.waiting.length;
  }

  /** Answer later; `gone` says whether the client closed the connection meanwhile. */
  later(gone: () => boolean, answer: () => void): void {
    const fire = () => {
      if (gone()) this.abandoned++;
      else {
        this.answered++;
        answer();
      }
    };
    if (this.held) return void this.waiting.push(fire);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fire();
    }, this.delayMs);
    this.timers.add(timer);
  }

  /** give every held answer now (and stop holding) */
  release(): void {
    this.held = false;
    const waiting = this.waiting;
    this.waiting = [];
    for (const fire of waiting) fire();
  }

  /** the fake is closing: forget every pending answer */
  clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.waiting = [];
  }
}
