/**
 * Delivery statuses from the sources' envelopes (msg.event + msg.payload) → one StatusReport.
 *
 * Final statuses:
 * - `sms-gateway in` sms_status: `sent` → delivered, `failed` → failed (reason: the event's `error`);
 *   `queued`, `sending` are not final.
 * - `cpaas in` deliveryInfoNotification (msg.event.id = deliveryInfo.messageId): `DeliveredToTerminal`
 *   → delivered, `DeliveryImpossible` → failed; `DeliveredToNetwork` is not final.
 * - `esms in` message_status: `delivered` → delivered; `failed`, `undelivered`, `rejected`, `expired`
 *   → failed (inferred: eSMS does not publish its status list).
 */

export type Outcome = 'delivered' | 'failed';

export interface StatusReport {
  /** the provider name a sink puts in msg.sms.provider */
  provider: string;
  /** the provider's message id; absent when the event lacks it (it can match nothing) */
  id?: string;
  /** the recipient, when the event names it */
  to?: string;
  /** the provider's own word for the status */
  providerStatus: string;
  /** set when the status is final */
  outcome?: Outcome;
  /** why it failed, in the provider's words */
  reason?: string;
}

type Rec = Record<string, unknown>;

function isRecord(value: unknown): value is Rec {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

const GATEWAY: Record<string, Outcome> = { sent: 'delivered', failed: 'failed' };
const CPAAS: Record<string, Outcome> = { DeliveredToTerminal: 'delivered', DeliveryImpossible: 'failed' };
const ESMS: Record<string, Outcome> = {
  delivered: 'delivered',
  failed: 'failed',
  undelivered: 'failed',
  rejected: 'failed',
  expired: 'failed',
};

/** The providers whose statuses reach Node-RED through this package's sources. */
export const WATCHABLE_PROVIDERS = ['sms-gateway', 'cpaas', 'esms'] as const;

export function isWatchable(provider: string): boolean {
  return (WATCHABLE_PROVIDERS as readonly string[]).includes(provider);
}

/** A status event → its report; undefined for any other msg (inbound SMS, balance, privmx, …). */
export function statusFromMessage(msg: Rec): StatusReport | undefined {
  const event = msg.event;
  if (!isRecord(event)) return undefined;
  const payload = isRecord(msg.payload) ? msg.payload : {};
  const id = str(event.id);
  const kind = `${String(event.source)}/${String(event.type)}`;
  if (kind === 'sms-gateway/sms_status') {
    const providerStatus = str(payload.status);
    if (!providerStatus) return undefined;
    const outcome = GATEWAY[providerStatus];
    const reason = outcome === 'failed' ? (str(payload.error) ?? providerStatus) : undefined;
    return clean({ provider: 'sms-gateway', id, providerStatus, outcome, reason });
  }
  if (kind === 'cpaas/deliveryInfoNotification') {
    const notification = isRecord(payload.deliveryInfoNotification) ? payload.deliveryInfoNotification : {};
    const info = isRecord(notification.deliveryInfo) ? notification.deliveryInfo : {};
    const providerStatus = str(info.deliveryStatus);
    if (!providerStatus) return undefined;
    const outcome = CPAAS[providerStatus];
    // the rest of deliveryInfo's shape is not public: take a text reason where one is given
    const reason =
      outcome === 'failed'
        ? (str(info.description) ?? str(info.reason) ?? str(info.text) ?? providerStatus)
        : undefined;
    return clean({ provider: 'cpaas', id, to: str(info.address), providerStatus, outcome, reason });
  }
  if (kind === 'esms/message_status') {
    const providerStatus = str(payload.status);
    if (!providerStatus) return undefined;
    const outcome = ESMS[providerStatus.toLowerCase()];
    const reason =
      outcome === 'failed' ? (str(payload.error) ?? str(payload.dlr_status) ?? providerStatus) : undefined;
    return clean({ provider: 'esms', id, providerStatus, outcome, reason });
  }
  return undefined;
}

function clean(report: StatusReport): StatusReport {
  for (const key of Object.keys(report) as (keyof StatusReport)[])
    if (report[key] === undefined) delete report[key];
  return report;
}

/** What a watch needs from msg.sms (a sink's output, or a user's own for eSMS). */
export interface SentSms {
  provider: string;
  ids: string[];
  to: string;
  /** the provider's word in its answer to the send (`queued`, `DeliveredToNetwork`, …) */
  status?: string;
}

/** msg.sms → SentSms, or undefined when msg.sms is absent or names no message id. */
export function sentFromMessage(msg: Rec): SentSms | 'no-id' | undefined {
  const sms = msg.sms;
  if (!isRecord(sms)) return undefined;
  const provider = str(sms.provider);
  const ids = Array.isArray(sms.ids) ? sms.ids.map((i) => (typeof i === 'number' ? String(i) : i)) : [];
  const good = ids.filter((i): i is string => typeof i === 'string' && i !== '');
  if (!provider || good.length === 0 || str(sms.code)) return 'no-id';
  const sent: SentSms = { provider, ids: [...new Set(good)], to: str(sms.to) ?? '' };
  const status = str(sms.status);
  if (status) sent.status = status;
  return sent;
}
