import { createHash } from 'node:crypto';

/**
 * Redis key names. Every part that comes from a user or a server is hashed: keys stay short and
 * bounded, and nothing secret or personal (a phone number, a text) is readable in Redis.
 */

export const DEFAULT_PREFIX = 'sms-notify:';

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/**
 * Who the events come from: the config node's server URL and account (key id, client id…), never a
 * secret. Credentials inside the URL (user:password@) are dropped before hashing.
 */
export function configIdentity(url: string, account = ''): string {
  let base = url.trim();
  try {
    const u = new URL(base);
    u.username = '';
    u.password = '';
    base = u.toString();
  } catch {
    // not a URL: hash it as it is
  }
  return digest(`${base}\u0000${account}`);
}

/** The part of an event message the claim key is built from (the envelope every source emits). */
export interface ClaimableEvent {
  payload?: unknown;
  event?: { type?: string; id?: string; containerId?: string };
}

/**
 * An event's identity, the same on every instance that receives it: its type, id and container, and
 * a hash of what the server sent (two status updates of one message share an id but are two events).
 */
export function eventIdentity(msg: ClaimableEvent): string {
  const e = msg.event ?? {};
  let content: string;
  try {
    content = JSON.stringify(msg.payload) ?? '';
  } catch {
    content = String(msg.payload);
  }
  return digest(`${e.type ?? ''}\u0000${e.id ?? ''}\u0000${e.containerId ?? ''}\u0000${content}`);
}

export interface KeyRing {
  claim(nodeId: string, config: string, event: string): string;
  dedupe(nodeId: string, dedupeKey: string): string;
  bucket(nodeId: string): string;
  instances(): string;
}

export function keyRing(prefix: string): KeyRing {
  return {
    claim: (nodeId, config, event) => `${prefix}claim:${nodeId}:${config}:${event}`,
    dedupe: (nodeId, dedupeKey) => `${prefix}dedupe:${nodeId}:${digest(dedupeKey)}`,
    bucket: (nodeId) => `${prefix}bucket:${nodeId}`,
    instances: () => `${prefix}instances`,
  };
}
