/** The `cpaas in` side of the notification channel: filter by event type, emit envelopes, show status. */
import type { ConnectionState } from '../connection';
import { showState } from '../source-node';
import type { NodeStatus, Translate } from '../status';
import type { CpaasInUser } from './channel';
import { CPAAS_EVENT_TYPES, CpaasEventType, cpaasEnvelope, isCpaasEventType } from './envelope';

export interface CpaasInHost {
  status(status: NodeStatus | Record<string, never>): void;
  send(msg: Record<string, unknown>): void;
}

/** The node's `events` property (array, or a comma list) as a set of known types; empty = all. */
export function parseEvents(value: unknown): Set<CpaasEventType> {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  const chosen = new Set<CpaasEventType>();
  for (const item of list) {
    const type = String(item).trim();
    if (isCpaasEventType(type)) chosen.add(type);
  }
  return chosen.size === CPAAS_EVENT_TYPES.length ? new Set() : chosen;
}

export class CpaasSource implements CpaasInUser {
  private state: ConnectionState = { phase: 'idle' };
  private subscriptionError?: Error;

  constructor(
    private readonly host: CpaasInHost,
    readonly destination: string,
    private readonly events: Set<CpaasEventType>,
    private readonly t: Translate,
    private readonly now: () => number = Date.now,
  ) {}

  onConnectionState(state: ConnectionState): void {
    this.state = state;
    if (state.phase !== 'subscribed') this.subscriptionError = undefined;
    this.show();
  }

  onSubscription(err: Error | undefined): void {
    this.subscriptionError = err;
    this.show();
  }

  onNotification(type: CpaasEventType, frame: Record<string, unknown>): void {
    if (this.events.size > 0 && !this.events.has(type)) return;
    this.host.send(cpaasEnvelope(type, frame, this.now()) as unknown as Record<string, unknown>);
  }

  private show(): void {
    if (this.subscriptionError && this.state.phase === 'subscribed') {
      this.host.status({
        fill: 'red',
        shape: 'ring',
        text: this.t('cpaas-in.status.subscriptionFailed', { reason: this.subscriptionError.message }),
      });
    } else showState(this.host, this.state, this.t);
  }
}
