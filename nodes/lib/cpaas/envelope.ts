/**
 * CPaaS notification frames → the package's event envelope (README, "Events"). Frames are bare objects keyed
 * by their type: {"inboundSMSMessageNotification":{"inboundSMSMessage":{…},"dateTime":…,"id":"…"}}.
 */
import { asString, definedOnly, EventMessage, toEpochMs } from '../envelope';
import { isRecord } from './http';

/** The notification types a `cpaas in` node can emit. */
export const CPAAS_EVENT_TYPES = [
  'inboundSMSMessageNotification',
  'outboundSMSMessageNotification',
  'deliveryInfoNotification',
] as const;
export type CpaasEventType = (typeof CPAAS_EVENT_TYPES)[number];

const INNER: Record<CpaasEventType, string> = {
  inboundSMSMessageNotification: 'inboundSMSMessage',
  outboundSMSMessageNotification: 'outboundSMSMessage',
  deliveryInfoNotification: 'deliveryInfo',
};

export function isCpaasEventType(type: string): type is CpaasEventType {
  return (CPAAS_EVENT_TYPES as readonly string[]).includes(type);
}

/** The message object inside a notification (inboundSMSMessage, outboundSMSMessage, deliveryInfo). */
export function innerMessage(
  type: CpaasEventType,
  notification: Record<string, unknown>,
): Record<string, unknown> {
  const inner = notification[INNER[type]];
  return isRecord(inner) ? inner : {};
}

/** A phone number as compared for routing: no `tel:` prefix, spaces, dashes, dots or brackets. */
export function normaliseNumber(value: unknown): string {
  return typeof value === 'string' ? value.replace(/^tel:/i, '').replace(/[\s\-().]/g, '') : '';
}

/**
 * The numbers a notification names, local first: for inbound SMS the destination, for outbound copies the
 * sender (then the destination), for delivery info any address field it has (its full shape is not public).
 */
export function addressesOf(type: CpaasEventType, notification: Record<string, unknown>): string[] {
  const inner = innerMessage(type, notification);
  const fields =
    type === 'inboundSMSMessageNotification'
      ? [inner.destinationAddress]
      : type === 'outboundSMSMessageNotification'
        ? [inner.senderAddress, inner.destinationAddress]
        : [
            inner.senderAddress,
            inner.destinationAddress,
            notification.senderAddress,
            notification.destinationAddress,
            inner.address,
          ];
  return fields.map(normaliseNumber).filter(Boolean);
}

/** The envelope: topic cpaas/<type>, the frame untouched as payload, msg.event from the message's fields. */
export function cpaasEnvelope(
  type: CpaasEventType,
  frame: Record<string, unknown>,
  now: number = Date.now(),
): EventMessage {
  const notification = isRecord(frame[type]) ? (frame[type] as Record<string, unknown>) : {};
  const inner = innerMessage(type, notification);
  const when = inner.dateTime ?? notification.dateTime;
  return {
    topic: `cpaas/${type}`,
    payload: frame,
    event: definedOnly({
      source: 'cpaas' as const,
      type,
      id: asString(inner.messageId),
      author: asString(inner.senderAddress),
      containerId: asString(inner.destinationAddress),
      timestamp: when === undefined ? now : toEpochMs(when, now),
    }),
  };
}
