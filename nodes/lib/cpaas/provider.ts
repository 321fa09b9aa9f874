/**
 * `cpaas out`'s provider adapter: one SMS to one recipient per request,
 * POST {base}/cpaas/smsmessaging/v1/{userId}/outbound/{sender}/requests. The sender is the node's, else
 * the config node's default number, else `default` (the account's default number).
 */
import { randomUUID } from 'crypto';
import { SmsError } from '../sms/errors';
import type { OptionSchema, SmsOptions } from '../sms/send-options';
import type { SmsProvider, SmsSendRequest, SmsSendResult } from '../sms/provider';
import { CpaasApi } from './api';

/**
 * What `cpaas out` takes in msg.sms.options: `clientCorrelator`, the message's own idempotency key
 * (per message only: one fixed on the node would make every later SMS a repeat). Every attempt carries
 * it, so retries stay safe, and a flow that sends the same message again with the same key (after a
 * restart, say) is answered by CPaaS without a second SMS.
 */
export const CPAAS_OPTIONS: OptionSchema = {
  clientCorrelator: { type: 'string', nodeProperty: false, maxLength: 64, pattern: /^[A-Za-z0-9._:-]+$/ },
};

export class CpaasSmsProvider implements SmsProvider {
  readonly name = 'cpaas';
  readonly recipientKind = 'e164' as const;
  /**
   * Idempotent: every attempt of one SMS carries the same clientCorrelator (the pipeline's send id),
   * which the OMA REST SMS API (CPaaS's base) uses to recognise a repeated request and answer it
   * without sending again. So an ambiguous failure (timeout, reset, 5xx) may be retried.
   */
  readonly idempotent = true;
  readonly optionSchema = CPAAS_OPTIONS;

  /** one correlator names one SMS: with several recipients all but the first would be "repeats" */
  checkOptions(options: SmsOptions, recipients: number): void {
    if (options.clientCorrelator !== undefined && recipients > 1)
      throw new SmsError(
        'SMS_BAD_OPTION',
        `msg.sms.options.clientCorrelator names one SMS, but the message has ${recipients} recipients: send one message per recipient`,
      );
  }

  constructor(
    private readonly api: CpaasApi,
    private readonly defaultFrom?: string,
  ) {}

  async send(request: SmsSendRequest, signal: AbortSignal): Promise<SmsSendResult> {
    const sender = request.from?.trim() || this.defaultFrom?.trim() || 'default';
    const result = await this.api.sendSms(sender, request.to, request.text, correlator(request), signal);
    return {
      ids: result.ids,
      status: result.status ?? 'submitted',
      details: { senderAddress: result.senderAddress ?? sender },
    };
  }
}

const fallback = new WeakMap<object, Map<string, string>>();

/**
 * The clientCorrelator of one SMS: the message's own (msg.sms.options.clientCorrelator), else the
 * pipeline's stable send id; the same for every attempt.
 */
export function correlator(request: SmsSendRequest & { sendId?: string }): string {
  const own = request.options?.clientCorrelator;
  if (typeof own === 'string' && own) return own;
  if (typeof request.sendId === 'string' && request.sendId) return request.sendId;
  // no send id (an older pipeline): stable per message object, recipient and text instead
  let byRecipient = fallback.get(request.msg);
  if (!byRecipient) fallback.set(request.msg, (byRecipient = new Map()));
  const key = `${request.to}\n${request.text}`;
  let id = byRecipient.get(key);
  if (!id) byRecipient.set(key, (id = randomUUID()));
  return id;
}
