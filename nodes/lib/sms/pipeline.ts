import { randomBytes } from 'node:crypto';
import { SmsError } from './errors';
import { type Admission, BoundedQueue, DedupeWindow, LocalGuards, type SmsGuards } from './guards';
import type { PipelineOptions } from './options';
import {
  failedOutcome,
  type Outcome,
  type PipelineStats,
  type SmsFacts,
  smsInfo,
  type Submission,
} from './outcome';
import type { SmsProvider, SmsSendResult } from './provider';
import { SendOptions, type SmsOptions } from './send-options';
import { hasRecipients, type Recipients, resolveRecipients } from './recipients';
import { cancelledError, withRetry } from './retry';
import { compileTemplate, type Template } from './template';
import { type Encoding, fitText } from './text';

/**
 * The SMS pipeline shared by every sink, without Node-RED:
 *   the provider's prepare step → recipients (at most maxRecipients) → E.164 → provider options
 *   (send-options.ts) → text (template) → segments / max parts → per recipient: dedupe → rate limit
 *   → bounded queue → send with timeout + retries → one outcome per recipient.
 * Closing never aborts a request in flight: it is let finish and its outcome reported; queued SMS
 * fail with SMS_CANCELLED. Its settings: options.ts; what it reports: outcome.ts.
 */

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
  options: SmsOptions;
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
  /** the provider's options: the node's values, msg.sms.options over them (`error`: a bad node value) */
  readonly sendOptions: SendOptions;
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
    this.sendOptions = new SendOptions(provider, opts.properties ?? {});
    // this instance's own guards (the dedupe window kept across a redeploy of the same node id)
    const local = new LocalGuards(opts, opts.clock, opts.id);
    this.guards = opts.guards ? opts.guards(local) : local;
    this.queue = new BoundedQueue<Job>(opts.queueSize, opts.overflow);
    this.idempotent = !!provider.idempotent;
  }

  /** numbers in the node's own list that are not valid, each with why (reported at deploy):
   * "12345: not a valid phone number (too short)" */
  get invalidConfiguredReasons(): string[] {
    return this.configured ? this.configured.invalid.map((i) => i.error.message) : [];
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

    let options: SmsOptions;
    let fitted: ReturnType<typeof fitText>;
    try {
      options = this.sendOptions.forMessage(msg, opts.clock.now(), total);
      fitted = fitText(this.template!.render(msg), opts.maxParts, opts.tooLong);
    } catch (err) {
      return fail(err as SmsError);
    }
    const { text, segments: seg, truncated } = fitted;

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
    const facts = (to: string) => this.facts(to, seg.parts, seg.encoding, truncated);
    const failed = (to: string, error: SmsError): Outcome => failedOutcome(facts(to), error);

    for (const bad of recipients.invalid) {
      this.stats.failed++;
      this.stats.lastError = bad.error.code;
      deliver(failed(bad.raw, bad.error));
    }
    // one recipient's admission (dedupe, rate limit) → an outcome now, or a job in the queue
    const admitted = (to: string, key: string, admission: Admission): Promise<void> | undefined => {
      if (admission === 'duplicate') {
        this.stats.duplicate++;
        deliver({ kind: 'duplicate', to, sms: smsInfo(facts(to), 'duplicate') });
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
          options,
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
            options: job.options,
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
    job.finish(failedOutcome(this.jobFacts(job), result.error, result.attempts));
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
    return failedOutcome(this.jobFacts(job), cancelledError(this.provider.name));
  }

  private jobFacts(job: Job): SmsFacts {
    return this.facts(job.to, job.parts, job.encoding, job.truncated);
  }

  private facts(to: string, parts: number, encoding: Encoding, truncated: boolean): SmsFacts {
    const { name: provider, testMode } = this.provider;
    return { provider, to, from: this.opts.from, parts, encoding, test: !!testMode, truncated };
  }
}

function tooManyError(tooMany: { given: number; max: number }, where: string): SmsError {
  return new SmsError(
    'SMS_TOO_MANY_RECIPIENTS',
    `${where} names ${tooMany.given} recipients; the limit is ${tooMany.max} per message (Max recipients): nothing sent`,
  );
}
