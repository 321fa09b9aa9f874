import type { SmsError } from './errors';
import type { Encoding } from './text';

/** What the pipeline reports: one outcome per recipient, the message's submission, the counters. */

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

/** What every msg.sms of one SMS to one recipient says, whatever its outcome. */
export interface SmsFacts {
  provider: string;
  to: string;
  from?: string;
  parts: number;
  encoding: Encoding;
  test: boolean;
  truncated: boolean;
}

/** msg.sms for an SMS not (yet) answered by the provider: no ids, no attempt unless said. */
export function smsInfo(facts: SmsFacts, status: string, extra: Partial<SmsInfo> = {}): SmsInfo {
  return {
    provider: facts.provider,
    to: facts.to,
    ...(facts.from ? { from: facts.from } : {}),
    ids: [],
    parts: facts.parts,
    encoding: facts.encoding,
    status,
    test: facts.test,
    attempts: 0,
    ...(facts.truncated ? { truncated: true } : {}),
    ...extra,
  };
}

/** The outcome of an SMS that was not sent (or is not known to be: SMS_UNCERTAIN). */
export function failedOutcome(facts: SmsFacts, error: SmsError, attempts = 0): Outcome {
  return {
    kind: 'failed',
    to: facts.to,
    error,
    sms: smsInfo(facts, 'failed', { attempts, code: error.code }),
  };
}
