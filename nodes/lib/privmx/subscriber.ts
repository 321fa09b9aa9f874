import type { ConnectionState } from '../connection';
import type { SourceUser } from '../session/fanout';
import type { EventMessage, EventMeta } from '../envelope';
import {
  CHANNELS,
  containerIdOf,
  inboxIdOf,
  isChannel,
  PrivmxChannel,
  privmxMeta,
  privmxTopic,
  TypeSpec,
  typeSpec,
} from './envelope';

/**
 * One parsed notification, shared by every `privmx in` node of a connection. The session parses
 * each frame once and reuses this object for the next frame (dispatch is synchronous), so the hot path
 * allocates only what a node actually emits. `msg.event` is built lazily, once per frame.
 */
export class Notification {
  frame: Record<string, unknown> = {};
  channel: PrivmxChannel = 'thread';
  type = '';
  /** a type this version knows; unknown types go only to nodes that name them */
  known = false;
  /** how to read this type (undefined = unknown type: the generic reading) */
  private spec: TypeSpec | undefined;
  private metaCache: EventMeta | undefined;
  private containerRead = false;
  private inboxRead = false;
  private container: string | undefined;
  private inbox: string | undefined;

  reset(frame: Record<string, unknown>, channel: PrivmxChannel, type: string, known: boolean): this {
    this.frame = frame;
    this.channel = channel;
    this.type = type;
    this.known = known;
    this.spec = known ? typeSpec(channel, type) : undefined;
    this.metaCache = undefined;
    this.containerRead = false;
    this.inboxRead = false;
    return this;
  }

  /** the container id (cheap: no msg.event is built for it) */
  get containerId(): string | undefined {
    if (!this.containerRead) {
      this.containerRead = true;
      const meta = this.metaCache;
      this.container = meta
        ? meta.containerId
        : containerIdOf(this.channel, this.type, this.frame.data, this.spec);
    }
    return this.container;
  }

  /** the inbox id of an inbox entry or inbox event (cheap) */
  get inboxId(): string | undefined {
    if (!this.inboxRead) {
      this.inboxRead = true;
      const meta = this.metaCache;
      this.inbox = meta ? meta.inboxId : inboxIdOf(this.channel, this.type, this.frame.data, this.spec);
    }
    return this.inbox;
  }

  get meta(): EventMeta {
    if (this.metaCache === undefined) {
      this.metaCache = privmxMeta(
        this.channel,
        this.type,
        this.frame.data,
        this.frame.timestamp,
        undefined,
        this.spec,
      );
    }
    return this.metaCache;
  }

  /** The envelope: `payload` is the parsed frame itself (fan-out gives further nodes their own copy). */
  envelope(): EventMessage {
    return { topic: privmxTopic(this.channel, this.type), payload: this.frame, event: this.meta };
  }
}

/** What a `privmx in` node selected in its dialog. */
export interface PrivmxSelection {
  channels: PrivmxChannel[];
  /** empty = every known type */
  types: string[];
  /** thread/store/inbox/stream/kvdb ids; empty = all */
  containerIds: string[];
}

function list(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  const out: string[] = [];
  for (const item of items) {
    const s = typeof item === 'string' ? item.trim() : '';
    if (s && !out.includes(s)) out.push(s);
  }
  return out;
}

/** Read a node's saved properties leniently (arrays, or comma lists from hand-written flows). */
export function parseSelection(config: {
  channels?: unknown;
  types?: unknown;
  containerIds?: unknown;
}): PrivmxSelection {
  const chosen = list(config.channels);
  return {
    channels: CHANNELS.filter((c) => chosen.includes(c)),
    types: list(config.types),
    containerIds: list(config.containerIds),
  };
}

/**
 * The channels to subscribe on the wire. A new inbox entry arrives as a `threadNewMessage` on the
 * inbox's backing thread, so choosing "inbox" also subscribes "thread".
 */
export function wireChannels(channels: readonly PrivmxChannel[]): PrivmxChannel[] {
  const wanted = new Set<PrivmxChannel>(channels);
  if (wanted.has('inbox')) wanted.add('thread');
  return CHANNELS.filter((c) => wanted.has(c));
}

/** The part of a selection the raw pre-filter searches a frame's bytes for (raw-filter.ts). */
export interface TypeAndContainerSelection {
  readonly types: readonly string[];
  readonly containerIds: readonly string[];
}

export interface PrivmxUser extends SourceUser<Notification> {
  /** channels this user needs subscribed (the connection subscribes the union) */
  readonly channels: readonly PrivmxChannel[];
  /**
   * The types and containers `wants` restricts itself to, if it does: frames holding none of them are
   * rejected from their bytes, unparsed. Absent = this user may want any frame.
   */
  readonly selection?: TypeAndContainerSelection;
}

/**
 * A `privmx in` node as the connection sees it: its selection, a cheap filter, and where to send.
 * Channel and type are checked first; `msg.event` is only built for events that pass them.
 */
export class PrivmxSubscriber implements PrivmxUser {
  readonly channels: readonly PrivmxChannel[];
  private readonly selected: ReadonlySet<string>;
  private readonly inboxEntries: boolean;
  private readonly types: ReadonlySet<string> | undefined;
  private readonly containers: ReadonlySet<string> | undefined;

  constructor(
    readonly selection: PrivmxSelection,
    private readonly emit: (msg: EventMessage) => void,
    private readonly stateChanged: (state: ConnectionState) => void,
  ) {
    this.channels = wireChannels(selection.channels);
    this.selected = new Set(selection.channels);
    // "inbox" without "thread": inbox entries from the thread channel, no other thread events
    this.inboxEntries = this.selected.has('inbox') && !this.selected.has('thread');
    this.types = selection.types.length ? new Set(selection.types) : undefined;
    this.containers = selection.containerIds.length ? new Set(selection.containerIds) : undefined;
  }

  onConnectionState(state: ConnectionState): void {
    this.stateChanged(state);
  }

  wants(note: Notification): boolean {
    if (this.types !== undefined) {
      if (!this.types.has(note.type)) return false;
    } else if (!note.known) return false;
    if (!this.selected.has(note.channel)) {
      if (!this.inboxEntries || note.channel !== 'thread' || note.inboxId === undefined) return false;
    }
    if (this.containers !== undefined) {
      const container = note.containerId;
      if (container === undefined || !this.containers.has(container)) {
        const inbox = note.inboxId;
        if (inbox === undefined || !this.containers.has(inbox)) return false;
      }
    }
    return true;
  }

  deliver(msg: EventMessage): void {
    this.emit(msg);
  }
}

export { isChannel };
