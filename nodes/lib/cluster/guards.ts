import { SmsError } from '../sms/errors';
import type { Admission, SmsGuards } from '../sms/guards';
import type { ClusterStore } from './store';

export interface ClusterGuardOptions {
  /** the sink node's id: the same on every instance that runs the same flows */
  nodeId: string;
  /** SMS per minute, 0 = off */
  rateLimit: number;
  /** ms, 0 = off */
  dedupeWindowMs: number;
  /** each admission that fell back to this instance's own guards (duplicates possible) */
  onLocal?: () => void;
}

/**
 * A sink's dedupe window and rate limit shared through Redis by every instance running the node:
 * dedupe = SET NX PX on (node id, recipient + text); rate limit = one Lua token bucket per node id.
 * While Redis is down: onError 'local' asks this instance's own guards, 'hold' fails the SMS with
 * SMS_CLUSTER_DOWN.
 */
export class ClusterGuards implements SmsGuards {
  constructor(
    private readonly store: ClusterStore,
    private readonly local: SmsGuards,
    private readonly opts: ClusterGuardOptions,
  ) {}

  private down(key: string): Admission {
    if (this.store.onError === 'hold')
      return {
        error: new SmsError('SMS_CLUSTER_DOWN', 'the cluster store (Redis) is unreachable: SMS not sent'),
      };
    this.opts.onLocal?.();
    return this.local.admit(key) as Admission;
  }

  admit(key: string): Admission | Promise<Admission> {
    if (!this.store.isUp) return this.down(key);
    return this.admitShared(key);
  }

  private async admitShared(key: string): Promise<Admission> {
    const { nodeId, rateLimit, dedupeWindowMs } = this.opts;
    const dedupeKey = this.store.keys.dedupe(nodeId, key);
    if (dedupeWindowMs > 0) {
      const first = await this.store.setOnce(dedupeKey, dedupeWindowMs);
      if (first === undefined) return this.down(key);
      if (!first) return 'duplicate';
    }
    if (rateLimit > 0) {
      const taken = await this.store.bucket(nodeId, rateLimit, 'take');
      if (taken === undefined || !taken) {
        // not sent: the next attempt must not be a duplicate
        if (dedupeWindowMs > 0) this.store.forget(dedupeKey);
        return taken === undefined ? this.down(key) : 'limited';
      }
    }
    return 'send';
  }

  refund(key: string): void {
    this.local.refund(key);
    if (!this.store.isUp) return;
    if (this.opts.dedupeWindowMs > 0) this.store.forget(this.store.keys.dedupe(this.opts.nodeId, key));
    if (this.opts.rateLimit > 0) void this.store.bucket(this.opts.nodeId, this.opts.rateLimit, 'refund');
  }

  forget(key: string): void {
    this.local.forget(key);
    if (this.opts.dedupeWindowMs > 0 && this.store.isUp)
      this.store.forget(this.store.keys.dedupe(this.opts.nodeId, key));
  }

  /** The shared entries stay: they belong to every instance, and survive a redeploy. */
  close(removed: boolean): void {
    this.local.close(removed);
  }
}
