/**
 * Backpressure from the whole flow. Node-RED routes every message of every flow through one router:
 * a send is queued for its next node (`preDeliver`) until that node receives it (`onReceive`); a node
 * that takes `done` holds the message until it calls it (`onComplete`: a rate limit, an HTTP request,
 * a timer). Queued plus held is what the runtime has on hand, whatever node is slow and however many
 * hops away. While it is above the high-water mark every source stops reading its socket; below the
 * low-water mark they read again. The socket's buffer (and TCP) hold the rest: bounded memory.
 */
export interface PressureOptions {
  /** queued messages at which sources pause */
  highWater: number;
  /** queued messages at which they read again */
  lowWater: number;
}

export const defaultPressure: PressureOptions = { highWater: 1000, lowWater: 250 };

export class FlowPressure {
  private queued = 0;
  private behindNow = false;
  private readonly listeners = new Set<(behind: boolean) => void>();
  /** the largest backlog seen (for tests and diagnostics) */
  maxQueued = 0;

  /** the runtime hooks feeding this gauge, while armed (see arm()) */
  private hooks: RuntimeHooks | undefined;
  private armed = false;
  private armedAt = 0;

  constructor(public options: PressureOptions = defaultPressure) {}

  /** Where the gauge is fed from (Node-RED's hooks); nothing is counted until a burst arms it. */
  feedFrom(hooks: RuntimeHooks | undefined): void {
    if (hooks && hooks !== this.hooks) {
      this.disarm();
      this.hooks = hooks;
    }
  }

  /**
   * A source reads a burst: count the flow's messages from now on. Counting costs three hook calls
   * per message and hop, so it runs only around bursts: a steady trickle never pays for it. The
   * messages already under way when it starts are not counted (the count is low for a moment).
   */
  arm(now: number = Date.now()): void {
    this.armedAt = now;
    if (this.armed || !this.hooks) return;
    this.armed = addHooks(this.hooks, this);
  }

  /** Stop counting: the backlog is gone and no burst came for a second. */
  private maybeDisarm(): void {
    if (!this.armed || this.behindNow || Date.now() - this.armedAt < 1_000) return;
    this.disarm();
  }

  private disarm(): void {
    if (!this.armed || !this.hooks) return;
    for (const name of HOOK_NAMES) this.hooks.remove?.(name);
    this.armed = false;
    this.queued = 0;
  }

  get behind(): boolean {
    return this.behindNow;
  }

  get backlog(): number {
    return this.queued;
  }

  /** a message was queued for delivery, or taken by a node that will say when it is done */
  queuedOne(): void {
    if (++this.queued > this.maxQueued) this.maxQueued = this.queued;
    if (!this.behindNow && this.queued >= this.options.highWater) this.set(true);
  }

  /** hook events so far: a pause that sees no progress for long is not trusted (see socket) */
  completed = 0;

  /** a queued message was received, or a held one completed */
  completedOne(): void {
    this.completed++;
    if (this.queued > 0) this.queued--;
    if (this.behindNow && this.queued <= this.options.lowWater) this.set(false);
    if (this.queued === 0) this.maybeDisarm();
  }

  /** Call `listener` on every change; returns the way to stop. */
  watch(listener: (behind: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Forget the backlog: nothing completed for a long time while we waited, so what we count is not
   * moving (a node that never calls done, messages to nodes stopped by a deploy). Reading again is the
   * safe side: a stuck count must never stop the sources for good.
   */
  reset(): void {
    this.queued = 0;
    if (this.behindNow) this.set(false);
  }

  private set(behind: boolean): void {
    this.behindNow = behind;
    for (const listener of [...this.listeners]) {
      try {
        listener(behind);
      } catch {
        // a listener must never break message delivery
      }
    }
  }
}

/** The one gauge of this process: Node-RED runs one message router per process. */
export const flowPressure = new FlowPressure();

/** The part of Node-RED's hooks API used here (structural: nodes/lib imports no Node-RED). */
export interface RuntimeHooks {
  add(name: string, handler: (event: unknown) => void): void;
  remove?(name: string): void;
  has?(name: string): boolean;
}

const QUEUED = 'preDeliver.smsNotifyBackpressure';
const RECEIVED = 'onReceive.smsNotifyBackpressure';
const COMPLETED = 'onComplete.smsNotifyBackpressure';
const HOOK_NAMES = [QUEUED, RECEIVED, COMPLETED];

/** Node-RED counts the input handlers that take `done`; only those nodes ever complete a message. */
function takesDone(node: unknown): boolean {
  const count = (node as { _expectedDoneCount?: unknown } | undefined)?._expectedDoneCount;
  return typeof count === 'number' && count > 0;
}

interface ReceiveEvent {
  destination?: { node?: unknown };
}

interface CompleteEvent {
  node?: { node?: unknown };
}

/** Add the three counting hooks; false when they could not be added. */
function addHooks(hooks: RuntimeHooks, pressure: FlowPressure): boolean {
  try {
    for (const name of HOOK_NAMES) if (hooks.has?.(name)) hooks.remove?.(name);
    // one parameter: Node-RED calls a hook of another arity with a callback it then waits for
    hooks.add(QUEUED, (_event: unknown) => pressure.queuedOne());
    hooks.add(RECEIVED, (event: unknown) => {
      pressure.completedOne();
      if (takesDone((event as ReceiveEvent)?.destination?.node)) pressure.queuedOne();
    });
    hooks.add(COMPLETED, (event: unknown) => {
      if (takesDone((event as CompleteEvent)?.node?.node)) pressure.completedOne();
    });
    return true;
  } catch {
    return false;
  }
}

/** Let the gauge count the runtime's messages (from the next burst on). */
export function watchRuntime(hooks: RuntimeHooks | undefined, pressure: FlowPressure = flowPressure): void {
  pressure.feedFrom(hooks);
}
