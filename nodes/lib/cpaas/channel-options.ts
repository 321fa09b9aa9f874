import type { SourceUser } from '../session/fanout';
import { sourceDefaults, SourceTiming } from '../session/timing';
import type { CpaasEventType } from './envelope';

/** One notification as the users see it before its envelope is built. */
export interface CpaasEvent {
  type: CpaasEventType;
  /** the numbers it names (normalised) */
  addresses: readonly string[];
  /** a delivery report naming none of our numbers: every user may take it */
  everyone: boolean;
}

export interface CpaasInUser extends SourceUser<CpaasEvent> {
  /** the number to receive for (E.164) */
  readonly destination: string;
  /** the subscription for this user's number failed (err) or is in place (undefined) */
  onSubscription?(err: Error | undefined): void;
}

export interface CpaasChannelOptions extends SourceTiming {
  /** client connCheck period; no frame for deadAfterMs (two periods + margin) = dead link */
  connCheckIntervalMs: number;
  /** channel lifetime asked for, seconds */
  channelLifetimeS: number;
  /** renew when this share of the lifetime has passed */
  renewAt: number;
  /** never renew or retry a renewal sooner than this */
  minRenewMs: number;
  /** a cancelled subscription is made again, but not sooner than this after the last time */
  resubscribeMinIntervalMs: number;
  /** HTTP request timeout (token, channel, subscriptions) */
  requestTimeoutMs: number;
}

/** closeTimeoutMs is the budget for DELETEs + close(1000) when stopping (and for cleanup after a failure). */
export const CPAAS_TIMING: CpaasChannelOptions = {
  ...sourceDefaults,
  connCheckIntervalMs: 30_000,
  deadAfterMs: 65_000,
  channelLifetimeS: 3600,
  renewAt: 0.5,
  minRenewMs: 5_000,
  resubscribeMinIntervalMs: 5_000,
  requestTimeoutMs: 15_000,
};
