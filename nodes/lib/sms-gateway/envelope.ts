import { asString, definedOnly, EventMessage, EventMeta, toEpochMs } from '../envelope';

/** The event types `sms-gateway in` can emit. `ping` is a heartbeat, never a message. */
export const GATEWAY_EVENT_TYPES = ['sms_status', 'sms_inbound'] as const;
export type GatewayEventType = (typeof GATEWAY_EVENT_TYPES)[number];

export function isGatewayEventType(type: unknown): type is GatewayEventType {
  return (GATEWAY_EVENT_TYPES as readonly unknown[]).includes(type);
}

/** The node's `events` property → the set it wants; empty (or nothing valid) = every type. */
export function eventSelection(events: unknown): Set<GatewayEventType> {
  const list = Array.isArray(events) ? events : typeof events === 'string' && events ? events.split(',') : [];
  const chosen = new Set<GatewayEventType>();
  for (const e of list) {
    const type = String(e).trim();
    if (isGatewayEventType(type)) chosen.add(type);
  }
  return chosen.size === 0 ? new Set(GATEWAY_EVENT_TYPES) : chosen;
}

/**
 * The envelope for one gateway event (README, "Events"):
 * - topic `sms-gateway/<type>`, payload the event untouched;
 * - event.id = messageId;
 * - sms_inbound: event.author = `from` (the sender), event.containerId = `to` (the gateway number that
 *   received it, so one flow can tell its numbers apart);
 * - sms_status carries neither (the gateway does not say), so both are absent;
 * - event.timestamp = the event's `timestamp` (ISO), else the arrival time.
 */
export function gatewayEnvelope(
  event: Record<string, unknown>,
  type: GatewayEventType,
  now: number = Date.now(),
): EventMessage {
  const inbound = type === 'sms_inbound';
  const meta: EventMeta = definedOnly({
    source: 'sms-gateway',
    type,
    id: asString(event.messageId),
    containerId: inbound ? asString(event.to) : undefined,
    author: inbound ? asString(event.from) : undefined,
    timestamp: toEpochMs(event.timestamp, now),
  } as EventMeta);
  return { topic: `sms-gateway/${type}`, payload: event, event: meta };
}
