import type { ConnectionUser } from '../connection';
import type { EventMessage } from '../envelope';

/**
 * The one contract between a source connection and the nodes registered with it: the connection
 * asks each user whether it wants an event, builds the envelope once, and delivers it.
 */
export interface SourceUser<E> extends ConnectionUser {
  wants(event: E): boolean;
  deliver(msg: EventMessage): void;
}

/**
 * Hand one event to every user that wants it. The envelope is built once, only when someone wants
 * it; the first taker gets it as built, every further one its own structured clone made before any
 * delivery, so one flow mutating a payload never changes another's. A user's handler never breaks
 * the connection. Returns how many users took the event.
 */
export function fanOut<E>(
  users: Iterable<SourceUser<E>>,
  event: E,
  envelope: (event: E) => EventMessage,
  onError?: (err: unknown) => void,
): number {
  let first: SourceUser<E> | undefined;
  let more: SourceUser<E>[] | undefined;
  for (const user of users) {
    if (!user.wants(event)) continue;
    if (first === undefined) first = user;
    else (more ??= []).push(user);
  }
  if (first === undefined) return 0;
  const msg = envelope(event);
  const copies = more?.map(() => structuredClone(msg));
  deliver(first, msg, onError);
  if (more && copies) for (let i = 0; i < more.length; i++) deliver(more[i], copies[i], onError);
  return 1 + (more?.length ?? 0);
}

function deliver<E>(user: SourceUser<E>, msg: EventMessage, onError?: (err: unknown) => void): void {
  try {
    user.deliver(msg);
  } catch (err) {
    onError?.(err);
  }
}

/** A user's event-type choice as a predicate: an empty list wants every type. */
export function typeFilter<T>(types: readonly T[] | ReadonlySet<T>): (type: T) => boolean {
  const chosen = new Set(types);
  return chosen.size === 0 ? () => true : (type) => chosen.has(type);
}
