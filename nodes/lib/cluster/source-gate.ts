import { type ClaimableEvent, eventIdentity } from './keys';
import type { ClusterStore } from './store';

export interface GateCounts {
  /** events this instance won and emitted */
  won: number;
  /** events another instance claimed first */
  lost: number;
  /** emitted without a claim while Redis was down (onError 'local'): duplicates possible */
  unclaimed: number;
  /** not emitted while Redis was down (onError 'hold') */
  held: number;
}

interface Pending<M> {
  msg: M;
  verdict?: boolean | undefined;
  decided: boolean;
}

/**
 * A source's emit with a cluster: each event is claimed in Redis (SET NX PX) and only the instance
 * that wins emits it. Claims go out as they arrive (node-redis writes the commands of one tick in
 * one go); the answers come back in order, and emits keep the arrival order even so.
 */
export class ClaimGate<M extends ClaimableEvent> {
  readonly counts: GateCounts = { won: 0, lost: 0, unclaimed: 0, held: 0 };
  private readonly queue: Pending<M>[] = [];
  private closed = false;

  constructor(
    private readonly store: ClusterStore,
    /** the source node's id (the same on every instance) */
    private readonly nodeId: string,
    /** the config node's identity: configIdentity(url, account) */
    private readonly config: string,
    private readonly emit: (msg: M) => void,
    /** called after a change of the counts that the status shows (unclaimed, held) */
    private readonly onChange: () => void = () => {},
  ) {}

  offer(msg: M): void {
    if (this.closed) return;
    const entry: Pending<M> = { msg, decided: false };
    this.queue.push(entry);
    const key = this.store.keys.claim(this.nodeId, this.config, eventIdentity(msg));
    void this.store.claim(key).then((verdict) => {
      entry.verdict = verdict;
      entry.decided = true;
      this.flush();
    });
  }

  private flush(): void {
    let changed = false;
    while (this.queue.length > 0 && this.queue[0].decided && !this.closed) {
      const { msg, verdict } = this.queue.shift()!;
      if (verdict === true) {
        this.counts.won++;
        this.emit(msg);
      } else if (verdict === false) {
        this.counts.lost++;
      } else if (this.store.onError === 'local') {
        this.counts.unclaimed++;
        changed = true;
        this.emit(msg);
      } else {
        this.counts.held++;
        changed = true;
      }
    }
    if (changed) this.onChange();
  }

  /** Events waiting for their claim are dropped (the node is closing). */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }
}
