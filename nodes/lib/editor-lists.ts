/**
 * The runtime's own lists the editor shows: each source's event types, the event filter's operators
 * and the E.164 pattern.
 * The build writes them into resources/lists.js, so adding an event type to a source's envelope
 * adds its checkbox in the dialog too (its label comes from the node's message catalog).
 */
import { CPAAS_EVENT_TYPES } from './cpaas/envelope';
import { ESMS_EVENT_TYPES } from './esms/envelope';
import { FILTER_OPS } from './filter';
import { CHANNELS, typesOf } from './privmx/envelope';
import { E164 } from './sms-gateway/api';
import { GATEWAY_EVENT_TYPES } from './sms-gateway/envelope';

export interface EditorLists {
  events: Record<string, readonly string[] | Record<string, readonly string[]>>;
  /** the event filter's rule operators */
  filterOps: readonly string[];
  /** the source of the E.164 regular expression */
  e164: string;
}

export function editorLists(): EditorLists {
  return {
    events: {
      cpaas: [...CPAAS_EVENT_TYPES],
      esms: [...ESMS_EVENT_TYPES],
      gateway: [...GATEWAY_EVENT_TYPES],
      privmxChannels: [...CHANNELS],
      privmx: Object.fromEntries(CHANNELS.map((c) => [c, typesOf(c)])),
    },
    filterOps: [...FILTER_OPS],
    e164: E164.source,
  };
}
