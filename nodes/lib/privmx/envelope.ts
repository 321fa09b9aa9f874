import { EventMessage, EventMeta, toEpochMs } from '../envelope';

/**
 * PrivMX Bridge notifications → the event envelope (README, "Events"). Pure functions, no Node-RED.
 *
 * A notification frame is `{channel, type, data, timestamp}`. `msg.payload` is that frame exactly as
 * parsed; `msg.event` normalises the ids filters and templates need. Fields a frame lacks are absent.
 */

export const CHANNELS = ['thread', 'store', 'inbox', 'stream', 'kvdb'] as const;
export type PrivmxChannel = (typeof CHANNELS)[number];

export function isChannel(value: unknown): value is PrivmxChannel {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}

/**
 * How to read each known event type: which data field holds the item id, the container id and the
 * author. Lists are tried in order; the first string wins.
 */
export interface TypeSpec {
  id?: readonly string[];
  container: readonly string[];
  author?: readonly string[];
  /** inbox channel events: the container is the inbox itself */
  inbox?: boolean;
}

const CONTAINER_SELF: TypeSpec = { container: ['id'], author: ['creator'] };

export const EVENT_TYPES: Readonly<Record<PrivmxChannel, Readonly<Record<string, TypeSpec>>>> = {
  thread: {
    threadCreated: CONTAINER_SELF,
    threadUpdated: { container: ['id'], author: ['lastModifier', 'creator'] },
    threadDeleted: { container: ['threadId'] },
    threadStats: { container: ['threadId'] },
    threadNewMessage: { id: ['id'], container: ['threadId'], author: ['author'] },
    threadUpdatedMessage: { id: ['id'], container: ['threadId'], author: ['lastModifier', 'author'] },
    threadDeletedMessage: { id: ['messageId', 'id'], container: ['threadId'] },
  },
  store: {
    storeCreated: CONTAINER_SELF,
    storeUpdated: { container: ['id'], author: ['lastModifier', 'creator'] },
    storeDeleted: { container: ['storeId'] },
    storeStatsChanged: { container: ['id', 'storeId'] },
    storeFileCreated: { id: ['id'], container: ['storeId'], author: ['creator'] },
    storeFileUpdated: { id: ['id'], container: ['storeId'], author: ['lastModifier', 'creator'] },
    storeFileDeleted: { id: ['id', 'fileId'], container: ['storeId'] },
  },
  inbox: {
    inboxCreated: { container: ['id'], author: ['creator'], inbox: true },
    inboxUpdated: { container: ['id'], author: ['lastModifier', 'creator'], inbox: true },
    inboxDeleted: { container: ['inboxId'], inbox: true },
  },
  stream: {
    streamRoomCreated: CONTAINER_SELF,
    streamRoomUpdated: { container: ['id'], author: ['lastModifier', 'creator'] },
    streamRoomDeleted: { container: ['streamRoomId'] },
  },
  kvdb: {
    kvdbCreated: CONTAINER_SELF,
    kvdbUpdated: { container: ['id'], author: ['lastModifier', 'creator'] },
    kvdbDeleted: { container: ['kvdbId'] },
    kvdbStats: { container: ['kvdbId'] },
    kvdbNewEntry: { id: ['kvdbEntryKey', 'entryKey'], container: ['kvdbId'], author: ['author'] },
    kvdbUpdatedEntry: {
      id: ['kvdbEntryKey', 'entryKey'],
      container: ['kvdbId'],
      author: ['lastModifier', 'author'],
    },
    kvdbDeletedEntry: { id: ['kvdbEntryKey', 'entryKey'], container: ['kvdbId'] },
  },
};

/** For types this version does not know (delivered only to nodes that ask for them by name). */
const UNKNOWN_SPEC: TypeSpec = { container: ['threadId', 'storeId', 'inboxId', 'streamRoomId', 'kvdbId'] };

/** EVENT_TYPES as Maps: one lookup per frame on the hot path (a Map beats hasOwnProperty on a dictionary). */
const SPECS = Object.fromEntries(
  CHANNELS.map((c) => [c, new Map(Object.entries(EVENT_TYPES[c]))]),
) as unknown as Readonly<Record<PrivmxChannel, ReadonlyMap<string, TypeSpec>>>;

export function isKnownType(channel: PrivmxChannel, type: string): boolean {
  return SPECS[channel].has(type);
}

/** How to read a known type (undefined for an unknown one). */
export function typeSpec(channel: PrivmxChannel, type: string): TypeSpec | undefined {
  return SPECS[channel].get(type);
}

/** Every known type of a channel (the editor's quick-filter list). */
export function typesOf(channel: PrivmxChannel): string[] {
  return Object.keys(EVENT_TYPES[channel]);
}

const INBOX_PREFIX = '<inbox-';

/**
 * An inbox entry is a thread message (its files: store files) whose keyId is `<inbox-INBOXID>`.
 * Returns the inbox id, else undefined.
 */
export function inboxIdFromKeyId(keyId: unknown): string | undefined {
  if (typeof keyId !== 'string' || !keyId.startsWith(INBOX_PREFIX) || !keyId.endsWith('>')) return undefined;
  const id = keyId.slice(INBOX_PREFIX.length, -1);
  return id || undefined;
}

function pick(data: Record<string, unknown>, fields: readonly string[] | undefined): string | undefined {
  if (!fields) return undefined;
  for (let i = 0; i < fields.length; i++) {
    const v = data[fields[i]];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

function specOf(channel: string, type: string): TypeSpec {
  return (isChannel(channel) && SPECS[channel].get(type)) || UNKNOWN_SPEC;
}

/** The container (thread/store/inbox/stream room/kvdb) an event belongs to, without building msg.event. */
export function containerIdOf(
  channel: string,
  type: string,
  data: unknown,
  spec: TypeSpec = specOf(channel, type),
): string | undefined {
  if (!data || typeof data !== 'object') return undefined;
  return pick(data as Record<string, unknown>, spec.container);
}

/** The inbox an event concerns (an inbox entry's keyId, or an inbox channel event), without building msg.event. */
export function inboxIdOf(
  channel: string,
  type: string,
  data: unknown,
  spec: TypeSpec = specOf(channel, type),
): string | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const d = data as Record<string, unknown>;
  return spec.inbox ? pick(d, spec.container) : inboxIdFromKeyId(d.keyId);
}

/**
 * `msg.event` for one notification. Only present fields are set (never undefined-valued keys), so
 * the object needs no clean-up pass.
 */
export function privmxMeta(
  channel: string,
  type: string,
  data: unknown,
  timestamp: unknown,
  /** the arrival time, used when the frame has no usable timestamp (default: now) */
  now?: number,
  spec?: TypeSpec,
): EventMeta {
  // timestamp is set last so it prints last in the debug sidebar
  const meta = { source: 'privmx', channel, type } as EventMeta;
  if (!data || typeof data !== 'object') {
    meta.timestamp = toEpochMs(timestamp, now);
    return meta;
  }
  const d = data as Record<string, unknown>;
  if (spec === undefined) spec = specOf(channel, type);
  const id = pick(d, spec.id);
  if (id !== undefined) meta.id = id;
  const containerId = pick(d, spec.container);
  if (containerId !== undefined) meta.containerId = containerId;
  const contextId = d.contextId;
  if (typeof contextId === 'string' && contextId !== '') meta.contextId = contextId;
  const author = pick(d, spec.author);
  if (author !== undefined) meta.author = author;
  const inboxId = spec.inbox ? containerId : inboxIdFromKeyId(d.keyId);
  if (inboxId !== undefined) meta.inboxId = inboxId;
  meta.timestamp = toEpochMs(timestamp, now);
  return meta;
}

const topics = new Map<string, Map<string, string>>();

/** `privmx/<channel>/<type>`, cached per channel and type so the hot path builds no string. */
export function privmxTopic(channel: string, type: string): string {
  let byType = topics.get(channel);
  if (byType === undefined) {
    byType = new Map();
    if (topics.size < 32) topics.set(channel, byType);
  }
  let topic = byType.get(type);
  if (topic === undefined) {
    topic = 'privmx/' + channel + '/' + type;
    if (byType.size < 256) byType.set(type, topic);
  }
  return topic;
}

/** The whole envelope for one frame (tests and callers that do not need the shared dispatch). */
export function privmxEnvelope(frame: Record<string, unknown>, now: number = Date.now()): EventMessage {
  const channel = String(frame.channel);
  const type = String(frame.type);
  return {
    topic: privmxTopic(channel, type),
    payload: frame,
    event: privmxMeta(channel, type, frame.data, frame.timestamp, now),
  };
}
