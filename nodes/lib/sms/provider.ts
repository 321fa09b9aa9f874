import type { OptionSchema, SmsOptions } from './send-options';

/**
 * The contract between the shared SMS pipeline and a provider adapter. An adapter only knows how to
 * submit ONE SMS to ONE recipient and how to classify its errors (throw SmsError).
 */
export interface SmsSendRequest {
  /** the recipient: E.164 when the provider's recipientKind is 'e164', else as the user typed it */
  to: string;
  /** the final text (rendered, truncated if the node says so) */
  text: string;
  /** sender chosen on the node; undefined = the adapter's (config node's) default */
  from?: string;
  encoding: 'GSM-7' | 'UCS-2';
  parts: number;
  /** the input message, read-only */
  msg: Readonly<Record<string, unknown>>;
  /** the provider's options for this SMS (node properties, msg.sms.options over them), checked against its schema */
  options?: SmsOptions;
  /** 0 for the first try, 1.. for retries */
  attempt: number;
  /** stable id of this one SMS, the same on every attempt (for provider-side deduplication) */
  sendId?: string;
}

export interface SmsSendResult {
  /** the provider's message ids */
  ids: string[];
  /** the provider's status for the submission, e.g. 'QUEUE', 'queued', 'DeliveredToNetwork' */
  status: string;
  /** true when the provider validated but sent nothing (SMSAPI test mode, eSMS test key) */
  test?: boolean;
  /** parts as counted by the provider, when it says */
  parts?: number;
  /** extra facts worth keeping in msg.sms (points, cost, …); never secrets */
  details?: Record<string, unknown>;
}

export interface SmsProvider {
  /** short name put in msg.sms.provider: 'smsapi', 'sms-gateway', 'pbxware', 'cpaas' */
  readonly name: string;
  /** 'e164' (default): the pipeline normalises numbers; 'opaque': pass as typed (PBX extensions) */
  readonly recipientKind?: 'e164' | 'opaque';
  /** validate-only mode is on (shown in msg.sms.test and the status) */
  readonly testMode?: boolean;
  /**
   * Sending the same request again can never deliver it twice (e.g. SMSAPI idx + check_idx), so the
   * pipeline may retry its own timeouts. Unset: a timeout is reported, never retried.
   */
  readonly idempotent?: boolean;
  /** the options this provider takes (node properties and msg.sms.options keys); absent = none */
  readonly optionSchema?: OptionSchema;
  /** a check across options and the message (e.g. one recipient only); throw SMS_BAD_OPTION */
  checkOptions?(options: SmsOptions, recipients: number): void;
  /**
   * The pipeline's first step, before the recipients are read: adjust the input message for this
   * provider (PBXware's voicemail mode takes msg.extension as msg.to). Unset: the message as it is.
   */
  prepare?(msg: Record<string, unknown>): void;
  /** Send one SMS. Throw SmsError (transient or not); honour the signal (timeout/close). */
  send(request: SmsSendRequest, signal: AbortSignal): Promise<SmsSendResult>;
}

/**
 * Builds a sink's provider; a config node hands one to each of its sinks. It may throw SmsError
 * (settings no request could succeed with): the sink then reports it at deploy and fails every input.
 */
export type ProviderFactory = () => SmsProvider;
