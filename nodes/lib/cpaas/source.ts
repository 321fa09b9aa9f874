/** The `cpaas in` side of the notification channel: filter by event type, emit envelopes, show status. */
import type { ConnectionState } from '../connection';
import { showState } from '../source-node';
import type { NodeStatus, Translate } from '../status';
import type { EventMessage } from '../envelope';
import type { CpaasEvent, CpaasInUser } from './channel';
import { CPAAS_EVENT_TYPES, CpaasEventType, isCpaasEventType, normaliseNumber } from './envelope';

export interface CpaasInHost {
  status(status: NodeStatus | Record<string, never>): void;
  send(msg: EventMessage): void;
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
  /** the destination, normalised as the channel reads addresses */
  private readonly number: string;

  constructor(
    private readonly host: CpaasInHost,
    readonly destination: string,
    private readonly events: Set<CpaasEventType>,
    private readonly t: Translate,
  ) {
    this.number = normaliseNumber(destination);
  }

  onConnectionState(state: ConnectionState): void {
    this.state = state;
    if (state.phase !== 'subscribed') this.subscriptionError = undefined;
    this.show();
  }

  onSubscription(err: Error | undefined): void {
    this.subscriptionError = err;
    this.show();
  }

  wants(event: CpaasEvent): boolean {
    if (this.events.size > 0 && !this.events.has(event.type)) return false;
    return event.everyone || event.addresses.includes(this.number);
  }

  deliver(msg: EventMessage): void {
    this.host.send(msg);
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
