/**
 * CONTRACT (implemented by the SMS pipeline work): the glue every sink node file calls.
 *
 *   attachSink(node, config, provider, RED._)
 *
 * registers the node's 'input' and 'close' handlers and runs each input message through the shared
 * pipeline (recipients → E.164, template → text, segments/max parts, dedupe, rate limit, bounded
 * queue, retries) using `provider` to submit each SMS. A node file stays thin: it resolves its config
 * node, builds the provider, and calls this.
 */
import type { NodeStatus, Translate } from '../status';
import type { SmsProvider } from './provider';

/** The sink node properties shared by every sink (DESIGN.md property table). Strings as the editor saves them. */
export interface SinkConfig {
  /** comma list of recipients; empty = msg.to */
  to?: string;
  /** mustache template over msg; empty = msg.payload */
  message?: string;
  /** sender on the node; empty = the config node's default */
  from?: string;
  /** SMS per minute per node, 0 = off */
  rateLimit?: number | string;
  /** seconds, 0 = off */
  dedupeWindow?: number | string;
  /** max segments per SMS */
  maxParts?: number | string;
  /** beyond maxParts: 'refuse' (error SMS_TOO_LONG) or 'truncate' */
  tooLong?: 'refuse' | 'truncate';
  /** ISO country for national numbers, e.g. 'PL' */
  defaultCountry?: string;
  /** bounded queue size */
  queueSize?: number | string;
  /** when the queue is full: 'drop-new' or 'drop-old' */
  overflow?: 'drop-new' | 'drop-old';
  /** max retries for transient failures */
  retries?: number | string;
  /** per-request timeout in seconds */
  timeout?: number | string;
}

export type InputHandler = (
  msg: Record<string, unknown>,
  send: (msg: Record<string, unknown> | Record<string, unknown>[]) => void,
  done: (err?: Error) => void,
) => void;

/** The part of a Node-RED node a sink needs. */
export interface SinkHost {
  id: string;
  status(status: NodeStatus | Record<string, never>): void;
  warn(message: unknown): void;
  error(err: unknown, msg?: unknown): void;
  on(event: 'input', handler: InputHandler): void;
  on(event: 'close', handler: (removed: boolean, done: () => void) => void): void;
}

export declare function attachSink(
  host: SinkHost,
  config: SinkConfig,
  provider: SmsProvider | undefined,
  t: Translate,
): void;
