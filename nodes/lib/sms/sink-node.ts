/**
 * The glue every sink node file calls:
 *
 *   attachSink(node, config, factory, t, sinkOptions(RED), () => clusterSink(node, store, t))
 *
 * (the last argument only with an `sms-cluster`: dedupe and rate limit shared through Redis)
 * builds the provider with the config node's `factory`, registers the node's 'input' and 'close'
 * handlers and runs each input message through the shared pipeline (the provider's prepare step,
 * recipients → E.164, template → text, segments/max parts, dedupe, rate limit, bounded queue,
 * retries) using the provider to submit each SMS. A node file stays thin: it resolves its config
 * node and calls this with the factory that config node offers.
 *
 * Outcomes (one per recipient per input message):
 * - sent: a shallow copy of msg with `msg.sms = {provider, to, ids, parts, encoding, status, test,
 *   attempts, truncated?, details?}` is sent on the output (one copy per recipient).
 * - failed: a Catch-able error whose `err.code` is an SmsErrorCode. With ONE recipient the node calls
 *   `done(err)` (msg.sms carries `{to, status:'failed', code, …}`); with several, `node.error(err, copy)`
 *   for each failed recipient (the copy carries that recipient's msg.sms) and `done()` at the end.
 *   Message-level failures (no recipient, too many recipients, bad template, empty or too-long text)
 *   are one `done(err)`. SMS_UNCERTAIN: the SMS may have been sent (an ambiguous failure, not retried).
 *   Rate-limited (SMS_RATE_LIMITED) and queue-overflow (SMS_QUEUE_FULL) SMS are failures too.
 * - duplicate (same recipient + text inside dedupeWindow): nothing sent, no error, counted in the status
 *   (green: not trouble); one warning per window with a count, not one per SMS.
 *
 * Close (redeploy, shutdown): input is refused (SMS_CANCELLED); each queued SMS fails with
 * SMS_CANCELLED on its own message; each request in flight is let finish (never aborted) and its
 * outcome reported as above. The close handler calls done() when the last outcome is known, or just
 * before Node-RED's close timeout (nodeCloseTimeout, 15 s): a request still in flight then keeps
 * running to its own timeout and its outcome is still sent / raised; a warning says how many were left.
 * A success that arrives while closing is also logged (after a full deploy its output goes nowhere).
 */
import { copyWith } from '../envelope';
import type { SinkShared } from '../cluster/nodes';
import { COMMON, type NodeStatus, type Translate } from '../status';
import { SmsError } from './errors';
import { pipelineOptions } from './options';
import type { Outcome, PipelineStats } from './outcome';
import { SmsPipeline } from './pipeline';
import type { ProviderFactory, SmsProvider } from './provider';

/** The sink node properties shared by every sink (the README's sink table). Strings as the editor saves them. */
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
  /** max segments per SMS (default 3) */
  maxParts?: number | string;
  /** max distinct recipients per message (default 20): more = SMS_TOO_MANY_RECIPIENTS, nothing sent */
  maxRecipients?: number | string;
  /** beyond maxParts: 'refuse' (error SMS_TOO_LONG, default) or 'truncate' */
  tooLong?: 'refuse' | 'truncate';
  /** ISO country for national numbers, e.g. 'PL' */
  defaultCountry?: string;
  /** bounded queue size (default 100) */
  queueSize?: number | string;
  /** when the queue is full: 'drop-new' (default) or 'drop-old' */
  overflow?: 'drop-new' | 'drop-old';
  /** max retries for transient failures (default 3) */
  retries?: number | string;
  /** per-request timeout in seconds (default 15) */
  timeout?: number | string;
  /** SMS sent at the same time (default 1: in order) */
  concurrency?: number | string;
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

export interface SinkOptions {
  /** Node-RED's `nodeCloseTimeout` (ms, default 15 000): close must call done() before it */
  nodeCloseTimeout?: unknown;
}

/** The sink options a node file reads from RED (structural: no Node-RED import here). */
export function sinkOptions(RED: { settings?: unknown }): SinkOptions {
  const settings = (RED.settings ?? {}) as { nodeCloseTimeout?: unknown };
  return { nodeCloseTimeout: settings.nodeCloseTimeout };
}

/** How long close waits for requests in flight: just under Node-RED's close timeout. */
export function closeWaitMs(nodeCloseTimeout: unknown): number {
  const n = Number(nodeCloseTimeout);
  const limit = Number.isFinite(n) && n > 0 ? n : 15_000;
  return Math.max(0, limit - Math.min(1_000, limit / 10));
}

/** What attachSink gives back (for tests and the node file; nodes need not keep it). */
export interface SinkHandle {
  readonly pipeline?: SmsPipeline;
}

const SINK = COMMON + 'sink.';

/**
 * The status text: "sent 10 · limited 190 · test mode"; colour by the worst recent thing. Skipped
 * duplicates are counted but keep the dot green: nothing is wrong.
 */
export function sinkStatus(
  stats: PipelineStats,
  testMode: boolean,
  t: Translate,
): NodeStatus | Record<string, never> {
  const parts: string[] = [];
  if (stats.pending > 0) parts.push(t(SINK + 'pending', { count: stats.pending }));
  if (stats.sent > 0) parts.push(t(COMMON + 'status.sent', { count: stats.sent }));
  const failing =
    !!stats.lastError && stats.lastError !== 'SMS_RATE_LIMITED' && stats.lastError !== 'SMS_QUEUE_FULL';
  if (stats.failed > 0)
    parts.push(
      failing
        ? t(SINK + 'failedCode', { count: stats.failed, code: stats.lastError })
        : t(SINK + 'failed', { count: stats.failed }),
    );
  if (stats.limited > 0) parts.push(t(SINK + 'limited', { count: stats.limited }));
  if (stats.duplicate > 0) parts.push(t(SINK + 'duplicate', { count: stats.duplicate }));
  if (stats.dropped > 0) parts.push(t(SINK + 'dropped', { count: stats.dropped }));
  if (testMode) parts.push(t(COMMON + 'status.test'));
  if (parts.length === 0) return {};
  const text = parts.join(' · ');
  if (stats.pending > 0) return { fill: 'blue', shape: 'dot', text };
  if (failing) return { fill: 'red', shape: 'ring', text };
  // yellow is for trouble (limited, dropped) and test mode; a skipped duplicate is the guard working
  if (stats.limited > 0 || stats.dropped > 0 || testMode) return { fill: 'yellow', shape: 'dot', text };
  return { fill: 'green', shape: 'dot', text };
}

/** where a status text's count goes while its template is translated (never in a catalog) */
const COUNT_MARK = '\u0000count\u0000';

/**
 * `t` for the status, which is redrawn on every change of the counters (2 per SMS). Node-RED's
 * i18next costs 25-40 µs a call (it resolves the language chain, and builds plural rules for every
 * count), which was the largest cost of a sink after the SMS request itself. Status texts are count
 * labels ("sent 41"), not sentences with plural forms, so each key (with its other parameters) is
 * translated once with a marker for the count, and the count is put in its place after.
 */
export function memoTranslate(t: Translate): Translate {
  const templates = new Map<string, string>();
  return (key, params) => {
    let sig = key;
    let count: string | undefined;
    if (params)
      for (const k in params) {
        if (k === 'count') count = String(params[k]);
        else sig += '\u0000' + k + '\u0000' + String(params[k]);
      }
    let template = templates.get(sig);
    if (template === undefined) {
      template = t(key, count === undefined ? params : { ...params, count: COUNT_MARK });
      // bounded: other parameters (an error code) change rarely, but never let them pile up
      if (templates.size >= 64) templates.clear();
      templates.set(sig, template);
    }
    return count === undefined ? template : template.split(COUNT_MARK).join(count);
  };
}

/** How long one duplicate warning covers at most (a week-long dedupe window still warns hourly). */
const MAX_WARN_PERIOD_MS = 3_600_000;

/**
 * One warning per window for skipped duplicates, not one per SMS: the first skip warns at once (so a
 * new user learns why nothing was sent); further skips in the next window are only counted, and the
 * first skip after it warns again with that count.
 */
export function duplicateWarnings(
  host: Pick<SinkHost, 'warn'>,
  t: Translate,
  windowMs: number,
  clock: { now(): number },
): { skipped(to: string): void } {
  const periodMs = Math.min(Math.max(windowMs, 1_000), MAX_WARN_PERIOD_MS);
  const seconds = Math.round(windowMs / 1000);
  let quietUntil = -Infinity;
  let unwarned = 0;
  return {
    skipped(to) {
      const now = clock.now();
      if (now < quietUntil) {
        unwarned++;
        return;
      }
      quietUntil = now + periodMs;
      const quiet = Math.round(periodMs / 1000);
      host.warn(
        unwarned === 0
          ? t(SINK + 'duplicateWarn', { to, seconds, quiet })
          : t(SINK + 'duplicateWarnCount', { to, seconds, quiet, count: unwarned + 1 }),
      );
      unwarned = 0;
    },
  };
}

/** The provider the factory builds, or the SmsError it throws (reported once, at deploy). */
function build(factory: ProviderFactory): SmsProvider | SmsError {
  try {
    return factory();
  } catch (err) {
    return err instanceof SmsError ? err : new SmsError('SMS_CONFIG', String((err as Error)?.message ?? err));
  }
}

export function attachSink(
  host: SinkHost,
  config: SinkConfig,
  /** the config node's provider factory; undefined = no config node chosen (or not deployed) */
  factory: ProviderFactory | undefined,
  t: Translate,
  options: SinkOptions = {},
  /** a cluster's shared guards and status (clusterSink); absent = this instance alone */
  cluster?: () => SinkShared | undefined,
): SinkHandle {
  const provider = factory ? build(factory) : undefined;
  if (provider instanceof SmsError) {
    // settings no SMS could be sent with: said once at deploy, and every input fails with it
    host.error(provider.message);
    host.status({ fill: 'red', shape: 'ring', text: provider.code });
    host.on('input', (_msg, _send, done) => done(provider));
    return {};
  }
  const shared = cluster?.();
  if (!provider) {
    host.status({ fill: 'red', shape: 'ring', text: t(COMMON + 'status.noConfig') });
    host.on('input', (_msg, _send, done) => {
      done(new SmsError('SMS_CONFIG', t(SINK + 'noAccount')));
    });
    if (shared) host.on('close', (_removed, done) => void shared.close().then(done, done));
    return {};
  }
  const testMode = !!provider.testMode;
  const statusT = memoTranslate(t);
  const show = (s: NodeStatus | Record<string, never>) => host.status(shared ? shared.status(s) : s);
  const opts = pipelineOptions(config, host.id);
  if (shared) opts.guards = (local) => shared.guards(local, opts);
  // every change of the counters shows at once (the pipeline never calls this while constructing)
  const p: SmsPipeline = new SmsPipeline(opts, provider, () => {
    if (!p.isClosed) show(sinkStatus(p.stats, testMode, statusT));
  });
  const deployError = p.templateError ?? p.configuredError ?? p.sendOptions.error;
  if (deployError) {
    host.error(deployError);
    host.status({ fill: 'red', shape: 'ring', text: deployError.code });
  } else if (p.invalidConfiguredReasons.length > 0) {
    const numbers = p.invalidConfiguredReasons.join('; ');
    host.error(new SmsError('SMS_INVALID_NUMBER', t(SINK + 'invalidTo', { numbers })));
    host.status({ fill: 'red', shape: 'ring', text: 'SMS_INVALID_NUMBER' });
  } else {
    show(testMode ? { fill: 'yellow', shape: 'ring', text: t(COMMON + 'status.test') } : {});
    shared?.watch(() => {
      if (!p.isClosed) show(sinkStatus(p.stats, testMode, statusT));
    });
  }

  let conflictWarned = false;
  const duplicates = duplicateWarnings(host, t, p.opts.dedupeWindowMs, p.opts.clock);

  host.on('input', (msg, send, done) => {
    let many = false;
    const onOutcome = (o: Outcome, recipients: number) => {
      many = recipients > 1;
      switch (o.kind) {
        case 'sent':
          // while closing, the flow's wires may already be gone (full deploy): leave a trace in the log
          if (p.isClosed) host.warn(t(SINK + 'sentAfterClose', { to: o.to, ids: o.sms.ids.join(', ') }));
          send(copyWith(msg, { sms: o.sms }));
          break;
        case 'duplicate':
          duplicates.skipped(o.to);
          break;
        case 'failed':
          if (many) host.error(o.error, copyWith(msg, { sms: o.sms }));
          break;
      }
    };
    p.submit(msg, onOutcome).then(
      (sub) => {
        if (sub.conflict && !conflictWarned) {
          conflictWarned = true;
          host.warn(t(SINK + 'toConflict'));
        }
        if (sub.error) return done(sub.error);
        many = sub.recipients > 1;
        if (!many) {
          const only = sub.outcomes[0];
          if (only && only.kind === 'failed') {
            msg.sms = only.sms;
            return done(only.error);
          }
        }
        done();
      },
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
    );
  });

  host.on('close', (removed, done) => {
    const clock = p.opts.clock;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clock.clearTimeout(timer);
      // the last user of a cluster closes its client (a request still in flight then skips Redis)
      if (shared) void shared.close().then(done, done);
      else done();
    };
    const timer = clock.setTimeout(() => {
      // never abort: the requests keep running to their own timeout and still report their outcome
      host.warn(t(SINK + 'stillSending', { count: p.inFlight }));
      finish();
    }, closeWaitMs(options.nodeCloseTimeout));
    p.close(removed).then(finish, finish);
  });
  return { pipeline: p };
}
