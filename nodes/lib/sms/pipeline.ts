import { randomBytes } from 'node:crypto';
import type { BackoffOptions } from '../backoff';
import { type Clock, realClock } from '../clock';
import { tuned } from '../tuning';
import { SmsError } from './errors';
import {
  type Admission,
  BoundedQueue,
  DedupeWindow,
  LocalGuards,
  type OverflowPolicy,
  type SmsGuards,
} from './guards';
import type { SmsProvider, SmsSendResult } from './provider';
import { hasRecipients, type Recipients, resolveRecipients } from './recipients';
import { cancelledError, withRetry } from './retry';
import type { SinkConfig } from './sink-node';
import { compileTemplate, type Template } from './template';
import { countSegments, type Encoding, truncateToParts } from './text';

/**
 * The SMS pipeline shared by every sink, without Node-RED:
 *   recipients (at most maxRecipients) → E.164 → text (template) → segments / max parts → per
 *   recipient: dedupe → rate limit → bounded queue → send with timeout + retries → one outcome per
 *   recipient.
 * Closing never aborts a request in flight: it is let finish and its outcome reported; queued SMS
 * fail with SMS_CANCELLED.
 */

/** What msg.sms holds after a send (and, with `error`, on the msg a Catch node sees). */
export interface SmsInfo {
  provider: string;
  to: string;
  from?: string;
  ids: string[];
  parts: number;
  encoding: Encoding;
  /** provider status ('QUEUE', 'queued', …), or 'duplicate' / 'failed' */
  status: string;
  test: boolean;
  attempts: number;
  /** the text was cut to fit maxParts */
  truncated?: boolean;
  /** provider extras (points, cost, …) */
  details?: Record<string, unknown>;
  /** the error code when the SMS was not sent */
  code?: string;
}

export type Outcome =
  | { kind: 'sent'; to: string; sms: SmsInfo }
  /** suppressed by the dedupe window: nothing sent, not an error */
  | { kind: 'duplicate'; to: string; sms: SmsInfo }
  /** not sent, or not known to be sent (SMS_UNCERTAIN); SMS_CANCELLED when the node closed first */
  | { kind: 'failed'; to: string; error: SmsError; sms: SmsInfo };

export interface Submission {
  /** a message-level failure (no recipient, template, empty, too long): no recipient was tried */
  error?: SmsError;
  /** how many recipients the message had (valid + invalid) */
  recipients: number;
  outcomes: Outcome[];
  /** both the node's `to` and msg.to were set (the node's won) */
  conflict: boolean;
  text?: string;
}

export interface PipelineStats {
  sent: number;
  failed: number;
  limited: number;
  duplicate: number;
  dropped: number;
  /** waiting in the queue + being sent now */
  pending: number;
  /** code of the most recent failure, cleared by the next success */
  lastError?: string;
}

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
  };
}

interface Job {
  /** stable id of this logical SMS, the same for every attempt (an idempotency key for adapters) */
  sendId: string;
  to: string;
  key: string;
  text: string;
  encoding: Encoding;
  parts: number;
  truncated: boolean;
  msg: Readonly<Record<string, unknown>>;
  finish(outcome: Outcome): void;
}

export class SmsPipeline {
  readonly stats: PipelineStats = { sent: 0, failed: 0, limited: 0, duplicate: 0, dropped: 0, pending: 0 };
  /** set when the template does not compile: every message fails with it */
  readonly templateError?: SmsError;
  /** the node's own recipients, normalised once at deploy (undefined = use msg.to) */
  private readonly configured?: Recipients;
  /** the node's own list names more recipients than maxRecipients: every message fails with it */
  readonly configuredError?: SmsError;
  private readonly template?: Template;
  private readonly guards: SmsGuards;
  private readonly queue: BoundedQueue<Job>;
  /** aborted on close: ends backoff waits (never a request in flight) */
  private readonly closer = new AbortController();
  private readonly running = new Set<Promise<void>>();
  /** admissions a shared guard (a cluster's Redis) has not answered yet */
  private readonly admitting = new Set<Promise<void>>();
  private readonly idempotent: boolean;
  private closed = false;
  private closing?: Promise<void>;

  constructor(
    readonly opts: PipelineOptions,
    readonly provider: SmsProvider,
    /** called after every change of the stats (accepted, started, finished) */
    private readonly onChange: () => void = () => {},
  ) {
    try {
      this.template = compileTemplate(opts.template);
    } catch (err) {
      this.templateError = err as SmsError;
    }
    if (opts.to) {
      this.configured = resolveRecipients(opts.to, undefined, {
        defaultCountry: opts.defaultCountry,
        kind: provider.recipientKind,
        max: opts.maxRecipients,
      });
      if (this.configured.tooMany) this.configuredError = tooManyError(this.configured.tooMany, 'To');
    }
    // this instance's own guards (the dedupe window kept across a redeploy of the same node id)
    const local = new LocalGuards(opts, opts.clock, opts.id);
    this.guards = opts.guards ? opts.guards(local) : local;
    this.queue = new BoundedQueue<Job>(opts.queueSize, opts.overflow);
    this.idempotent = !!provider.idempotent;
  }

  /** numbers in the node's own list that are not valid (reported at deploy) */
  get invalidConfigured(): string[] {
    return this.configured ? this.configured.invalid.map((i) => i.raw) : [];
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Take one input message; resolves when every recipient has its outcome (never rejects). */
  submit(
    msg: Record<string, unknown>,
    /** each recipient's outcome as it happens; `recipients` = how many the message has */
    onOutcome: (o: Outcome, recipients: number) => void = () => {},
  ): Promise<Submission> {
    const opts = this.opts;
    this.provider.prepare?.(msg);
    if (this.closed)
      // input after close: its own error, never sent
      return Promise.resolve({
        recipients: 0,
        outcomes: [],
        conflict: false,
        error: cancelledError(this.provider.name),
      });
    let recipients: Recipients;
    try {
      recipients = this.configured
        ? { ...this.configured, conflict: hasRecipients(msg.to) }
        : resolveRecipients(undefined, msg.to, {
            defaultCountry: opts.defaultCountry,
            kind: this.provider.recipientKind,
            max: opts.maxRecipients,
          });
    } catch (err) {
      // msg.to nested too deep (or containing itself)
      recipients = { valid: [], invalid: [], conflict: false };
      return this.failMessage(recipients, err as SmsError);
    }
    const total = recipients.valid.length + recipients.invalid.length;
    const base = { recipients: total, outcomes: [] as Outcome[], conflict: recipients.conflict };
    const fail = (error: SmsError): Promise<Submission> => this.failMessage(recipients, error);
    if (this.configuredError) return fail(this.configuredError);
    if (recipients.tooMany) return fail(tooManyError(recipients.tooMany, 'msg.to'));
    if (total === 0)
      return fail(new SmsError('SMS_NO_RECIPIENT', 'no recipient: set "To" on the node or msg.to'));
    if (this.templateError) return fail(this.templateError);

    let text: string;
    try {
      text = this.template!.render(msg);
    } catch (err) {
      return fail(err as SmsError);
    }
    if (text.trim() === '') return fail(new SmsError('SMS_EMPTY', 'the SMS text is empty'));
    let seg = countSegments(text);
    let truncated = false;
    if (seg.parts > opts.maxParts) {
      if (opts.tooLong === 'refuse')
        return fail(
          new SmsError(
            'SMS_TOO_LONG',
            `the text needs ${seg.parts} SMS parts (${seg.units} ${seg.encoding === 'GSM-7' ? 'GSM-7 characters' : 'UCS-2 characters'}); the limit is ${opts.maxParts}`,
          ),
        );
      text = truncateToParts(text, opts.maxParts).text;
      truncated = true;
      seg = countSegments(text);
    }

    const outcomes: Outcome[] = [];
    const waits: Promise<void>[] = [];
    const deliver = (o: Outcome) => {
      outcomes.push(o);
      try {
        onOutcome(o, total);
      } finally {
        this.onChange();
      }
    };
    const info = (to: string, status: string, extra: Partial<SmsInfo> = {}): SmsInfo => ({
      provider: this.provider.name,
      to,
      ...(opts.from ? { from: opts.from } : {}),
      ids: [],
      parts: seg.parts,
      encoding: seg.encoding,
      status,
      test: !!this.provider.testMode,
      attempts: 0,
      ...(truncated ? { truncated: true } : {}),
      ...extra,
    });
    const failed = (to: string, error: SmsError, attempts = 0): Outcome => ({
      kind: 'failed',
      to,
      error,
      sms: info(to, 'failed', { attempts, code: error.code }),
    });

    for (const bad of recipients.invalid) {
      this.stats.failed++;
      this.stats.lastError = bad.error.code;
      deliver(failed(bad.raw, bad.error));
    }
    // one recipient's admission (dedupe, rate limit) → an outcome now, or a job in the queue
    const admitted = (to: string, key: string, admission: Admission): Promise<void> | undefined => {
      if (admission === 'duplicate') {
        this.stats.duplicate++;
        deliver({ kind: 'duplicate', to, sms: info(to, 'duplicate') });
        return undefined;
      }
      if (admission === 'limited') {
        this.stats.limited++;
        deliver(
          failed(
            to,
            new SmsError(
              'SMS_RATE_LIMITED',
              `rate limit of ${opts.rateLimit} SMS per minute reached: SMS to ${to} not sent`,
            ),
          ),
        );
        return undefined;
      }
      if (admission !== 'send') {
        this.stats.failed++;
        this.stats.lastError = admission.error.code;
        deliver(failed(to, admission.error));
        return undefined;
      }
      if (this.closed) {
        // closed while a shared guard was answering: not sent
        this.guards.refund(key);
        const error = cancelledError(this.provider.name);
        this.stats.failed++;
        this.stats.lastError = error.code;
        deliver(failed(to, error));
        return undefined;
      }
      return new Promise<void>((resolve) => {
        const job: Job = {
          sendId: `nr${randomBytes(12).toString('hex')}`,
          to,
          key,
          text,
          encoding: seg.encoding,
          parts: seg.parts,
          truncated,
          msg,
          finish: (o) => {
            deliver(o);
            resolve();
          },
        };
        this.stats.pending++;
        const dropped = this.queue.push(job);
        if (dropped) {
          this.stats.pending--;
          this.stats.dropped++;
          this.guards.refund(dropped.key);
          dropped.finish(
            failed(
              dropped.to,
              new SmsError(
                'SMS_QUEUE_FULL',
                `queue full (${opts.queueSize} pending, policy ${opts.overflow}): SMS to ${dropped.to} dropped`,
              ),
            ),
          );
        }
      });
    };
    for (const to of recipients.valid) {
      const key = DedupeWindow.key(to, text);
      const admission = this.guards.admit(key);
      if (admission instanceof Promise) {
        // wrapped, so `decided` settles on the answer, not on the SMS it queues
        const decided = admission.then((a) => {
          const wait = admitted(to, key, a);
          this.onChange();
          this.pump();
          return { wait };
        });
        const answered: Promise<void> = decided.then(
          () => void this.admitting.delete(answered),
          () => void this.admitting.delete(answered),
        );
        this.admitting.add(answered);
        waits.push(decided.then((d) => d.wait));
      } else {
        const wait = admitted(to, key, admission);
        if (wait) waits.push(wait);
      }
    }
    this.onChange();
    this.pump();
    return Promise.all(waits).then(() => ({ ...base, outcomes, text }));
  }

  /** a message-level failure: no recipient was tried */
  private failMessage(recipients: Recipients, error: SmsError): Promise<Submission> {
    this.stats.failed++;
    this.stats.lastError = error.code;
    this.onChange();
    const total = recipients.valid.length + recipients.invalid.length;
    return Promise.resolve({ recipients: total, outcomes: [], conflict: recipients.conflict, error });
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.opts.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const run = this.run(job).finally(() => {
        this.running.delete(run);
        this.pump();
      });
      this.running.add(run);
    }
  }

  private async run(job: Job): Promise<void> {
    const opts = this.opts;
    const result = await withRetry<SmsSendResult>(
      (attempt, signal) =>
        this.provider.send(
          {
            sendId: job.sendId,
            to: job.to,
            text: job.text,
            from: opts.from,
            encoding: job.encoding,
            parts: job.parts,
            msg: job.msg,
            attempt,
          },
          signal,
        ),
      {
        retries: opts.retries,
        timeoutMs: opts.timeoutMs,
        backoff: opts.backoff,
        maxRetryAfterMs: opts.maxRetryAfterMs,
        retryTimeouts: this.idempotent,
        provider: this.provider.name,
        clock: opts.clock,
        random: opts.random,
        signal: this.closer.signal,
      },
    );
    this.stats.pending--;
    const base = {
      provider: this.provider.name,
      to: job.to,
      ...(opts.from ? { from: opts.from } : {}),
      encoding: job.encoding,
      attempts: result.attempts,
      ...(job.truncated ? { truncated: true } : {}),
    };
    if (result.ok) {
      const r = result.value;
      this.stats.sent++;
      this.stats.lastError = undefined;
      job.finish({
        kind: 'sent',
        to: job.to,
        sms: {
          ...base,
          ids: Array.isArray(r.ids) ? r.ids.map(String) : [],
          parts: typeof r.parts === 'number' && r.parts > 0 ? r.parts : job.parts,
          status: String(r.status ?? ''),
          test: !!(r.test ?? this.provider.testMode),
          ...(r.details ? { details: r.details } : {}),
        },
      });
      return;
    }
    // not sent (or not known to be): a later message with the same text may try again
    this.guards.forget(job.key);
    this.stats.failed++;
    this.stats.lastError = result.error.code;
    job.finish({
      kind: 'failed',
      to: job.to,
      error: result.error,
      sms: {
        ...base,
        ids: [],
        parts: job.parts,
        status: 'failed',
        test: !!this.provider.testMode,
        code: result.error.code,
      },
    });
  }

  /**
   * Stop accepting; fail each queued SMS with SMS_CANCELLED; end every backoff wait (SMS_CANCELLED, or
   * SMS_UNCERTAIN after an ambiguous attempt); let each request in flight finish (its own timeout
   * bounds it) and report its outcome. Resolves when every SMS has its outcome. `removed`: the node
   * was deleted, so its dedupe window is not kept for a next instance.
   */
  close(removed = false): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.guards.close(removed);
    for (const job of this.queue.drain()) {
      this.stats.pending--;
      this.stats.failed++;
      this.stats.lastError = 'SMS_CANCELLED';
      this.guards.forget(job.key);
      job.finish(this.cancelled(job));
    }
    this.closer.abort();
    // SMS whose shared guard (Redis) is still answering get their outcome too (SMS_CANCELLED)
    this.closing = Promise.allSettled([...this.running, ...this.admitting]).then(() => undefined);
    return this.closing;
  }

  /** SMS being sent now (requests in flight or waiting to retry) */
  get inFlight(): number {
    return this.running.size;
  }

  private cancelled(job: Job): Outcome {
    const error = cancelledError(this.provider.name);
    return {
      kind: 'failed',
      to: job.to,
      error,
      sms: {
        provider: this.provider.name,
        to: job.to,
        ...(this.opts.from ? { from: this.opts.from } : {}),
        ids: [],
        parts: job.parts,
        encoding: job.encoding,
        status: 'failed',
        test: !!this.provider.testMode,
        attempts: 0,
        ...(job.truncated ? { truncated: true } : {}),
        code: error.code,
      },
    };
  }
}

function tooManyError(tooMany: { given: number; max: number }, where: string): SmsError {
  return new SmsError(
    'SMS_TOO_MANY_RECIPIENTS',
    `${where} names ${tooMany.given} recipients; the limit is ${tooMany.max} per message (Max recipients): nothing sent`,
  );
}
