/** The envelope every source node emits (README, "Events: what every source emits"). */
export type EventSource = 'privmx' | 'sms-gateway' | 'esms' | 'cpaas';

export interface EventMeta {
  source: EventSource;
  channel?: string;
  type: string;
  id?: string;
  containerId?: string;
  contextId?: string;
  author?: string;
  inboxId?: string;
  /** epoch ms: the server's timestamp when the event has one, else the time it arrived */
  timestamp: number;
}

export interface EventMessage {
  topic: string;
  /** the event exactly as the server sent it (parsed JSON, untouched) */
  payload: unknown;
  event: EventMeta;
}

/** Copy only the fields that are present: an envelope never invents values. */
export function definedOnly<T extends object>(meta: T): T {
  for (const key of Object.keys(meta) as (keyof T)[]) {
    if (meta[key] === undefined || meta[key] === null) delete meta[key];
  }
  return meta;
}

export function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** epoch ms from a number (ms or s) or an ISO string; else `now` (default: the current time) */
export function toEpochMs(value: unknown, now?: number): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e12 ? value * 1000 : value;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    if (!Number.isNaN(parsed)) return parsed;
  }
  // read the clock only when the event has no time of its own
  return now ?? Date.now();
}

/**
 * A shallow copy of `msg` with `extra` on top, for a node's output, by Object.assign rather than object spread: on
 * Node 20 (V8 11) an object made by spread gets a hidden class of its own each time a property is
 * added to it later, as Node-RED does with `_msgid` and a function node with anything. That is a new
 * map and descriptor array per message in the old generation: under a burst of events it promoted
 * ~400 bytes a message and doubled the process's memory growth.
 */
export function copyWith<T extends object, E extends object>(msg: T, extra: E): T & E {
  return Object.assign({}, msg, extra);
}
