import type { BackoffOptions } from '../backoff';
import { type Clock, realClock } from '../clock';
import { tuned } from '../tuning';
import type { OverflowPolicy, SmsGuards } from './guards';
import type { SinkConfig } from './sink-node';

/** The pipeline's settings: a sink's properties (as the editor saves them) with defaults and bounds. */

export interface PipelineOptions {
  /** the node id: its dedupe window survives a redeploy of the same node (undefined = not kept) */
  id?: string;
  to: string;
  template: string;
  from?: string;
  rateLimit: number;
  dedupeWindowMs: number;
  maxParts: number;
  /** more distinct recipients in one message = one SMS_TOO_MANY_RECIPIENTS, nothing sent */
  maxRecipients: number;
  tooLong: 'refuse' | 'truncate';
  defaultCountry?: string;
  queueSize: number;
  overflow: OverflowPolicy;
  retries: number;
  timeoutMs: number;
  concurrency: number;
  backoff: Pick<BackoffOptions, 'initialDelayMs' | 'maxDelayMs' | 'factor' | 'jitter'>;
  maxRetryAfterMs: number;
  clock: Clock;
  random?: () => number;
  /** shared guards (a cluster) wrapping this instance's own; absent = the local guards alone */
  guards?: (local: SmsGuards) => SmsGuards;
  /** the node's properties: the provider's options (its optionSchema) are read from them */
  properties?: Readonly<Record<string, unknown>>;
}

/** Timings tests may shorten with `tuning.sink = {...}`. */
export const sinkDefaults = {
  retryBackoff: { initialDelayMs: 1_000, maxDelayMs: 30_000, factor: 2, jitter: 0.5 },
  maxRetryAfterMs: 120_000,
  concurrency: 1,
  clock: realClock as Clock,
};

function num(value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

/** SMS per minute per node when a flow does not say */
export const DEFAULT_RATE_LIMIT = 10;
/** seconds within which the same text to the same number is sent once, when a flow does not say */
export const DEFAULT_DEDUPE_SECONDS = 60;
/** recipients one message may name, when a flow does not say */
export const DEFAULT_MAX_RECIPIENTS = 20;

/** Node properties (strings as the editor saves them) → options, with defaults and bounds. */
export function pipelineOptions(
  config: SinkConfig & { concurrency?: number | string },
  id?: string,
): PipelineOptions {
  const t = tuned('sink', sinkDefaults);
  return {
    id,
    to: String(config.to ?? '').trim(),
    template: String(config.message ?? ''),
    from: config.from ? String(config.from).trim() || undefined : undefined,
    // missing = the editor's safe defaults (a hand-written flow is guarded too); an explicit 0 = off
    rateLimit: Math.floor(num(config.rateLimit, DEFAULT_RATE_LIMIT, 0, 1e6)),
    dedupeWindowMs: num(config.dedupeWindow, DEFAULT_DEDUPE_SECONDS, 0, 7 * 86_400) * 1000,
    maxParts: Math.floor(num(config.maxParts, 3, 1, 255)),
    maxRecipients: Math.floor(num(config.maxRecipients, DEFAULT_MAX_RECIPIENTS, 1, 10_000)),
    tooLong: config.tooLong === 'truncate' ? 'truncate' : 'refuse',
    defaultCountry: config.defaultCountry ? String(config.defaultCountry).trim().toUpperCase() : undefined,
    queueSize: Math.floor(num(config.queueSize, 100, 1, 100_000)),
    overflow: config.overflow === 'drop-old' ? 'drop-old' : 'drop-new',
    retries: Math.floor(num(config.retries, 3, 0, 10)),
    timeoutMs: num(config.timeout, 15, 0.01, 600) * 1000,
    concurrency: Math.floor(num(config.concurrency, t.concurrency, 1, 16)),
    backoff: t.retryBackoff,
    maxRetryAfterMs: t.maxRetryAfterMs,
    clock: t.clock,
    properties: { ...config },
  };
}
