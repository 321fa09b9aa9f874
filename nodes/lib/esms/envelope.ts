import { asString, definedOnly, EventMessage, toEpochMs } from '../envelope';

/** The event types eSMS Africa pushes over its WebSocket. */
export const ESMS_EVENT_TYPES = ['message_status', 'balance_update', 'notification'] as const;
export type EsmsEventType = (typeof ESMS_EVENT_TYPES)[number];

export function isEsmsEventType(type: unknown): type is EsmsEventType {
  return typeof type === 'string' && (ESMS_EVENT_TYPES as readonly string[]).includes(type);
}

/** Keep only known event types from a node's `events` property; empty (or nothing valid) = all. */
export function normaliseEvents(events: unknown): EsmsEventType[] {
  const list = Array.isArray(events) ? events : typeof events === 'string' && events ? events.split(',') : [];
  const out: EsmsEventType[] = [];
  for (const raw of list) {
    const type = typeof raw === 'string' ? raw.trim() : raw;
    if (isEsmsEventType(type) && !out.includes(type)) out.push(type);
  }
  return out;
}

/**
 * The envelope for one eSMS event (README, "Events"): topic `esms/<type>`, the payload
 * exactly as sent, and msg.event with `id` = message_id (message_status) or the notification id.
 * Fields the event lacks are absent.
 */
export function esmsEnvelope(
  frame: Record<string, unknown>,
  now: number = Date.now(),
): EventMessage | undefined {
  const type = frame.type;
  if (!isEsmsEventType(type)) return undefined;
  let id: string | undefined;
  if (type === 'message_status') id = asString(frame.message_id);
  else if (type === 'notification') id = asString(frame.id);
  const when = frame.updated_at ?? frame.created_at ?? frame.timestamp;
  return {
    topic: `esms/${type}`,
    payload: frame,
    event: definedOnly({ source: 'esms', type, id, timestamp: toEpochMs(when, now) }),
  };
}
