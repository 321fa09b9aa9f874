/**
 * The CPaaS REST calls this package makes, with the bearer token from CpaasAuth. A 401 on any call
 * re-authenticates once and repeats that call once; a second 401 is SMS_AUTH. Non-2xx answers become
 * SmsError through classifyHttpError; fetch failures become SMS_NETWORK / SMS_TIMEOUT (transient).
 */
import { randomUUID } from 'crypto';
import { fromFetchFailure, SmsError } from '../sms/errors';
import { NO_REDIRECTS } from '../safe-url';
import { CpaasAuth } from './auth';
import { classifyHttpError } from './errors';
import { deadline, isRecord, lastSegment, readBody, resolveResource } from './http';

export interface CpaasResponse {
  status: number;
  body: unknown;
  headers: Headers;
  /** the user id the call was made for */
  userId: string;
}

export interface CpaasChannel {
  /** absolute URL to renew (PUT) and delete the channel */
  resourceURL: string;
  /** the notifyURL of subscriptions that should arrive on this channel */
  callbackURL: string;
  /** the path of the channel's WebSocket */
  channelURL: string;
  /** the lifetime the server granted, seconds */
  lifetimeS: number;
}

export interface CpaasSendResult {
  /** message ids: the last segment of the returned resourceURL(s) */
  ids: string[];
  /** deliveryInfoList.deliveryInfo[0].deliveryStatus, when present */
  status?: string;
  senderAddress?: string;
  body: unknown;
}

type Target = string | ((userId: string) => string);

const seg = encodeURIComponent;

export class CpaasApi {
  constructor(
    readonly auth: CpaasAuth,
    private readonly requestTimeoutMs = 15_000,
    private readonly fetchImpl?: typeof fetch,
  ) {}

  /** One call; `accept` lists non-2xx statuses returned instead of thrown (e.g. 404 on delete). */
  async call(
    method: string,
    target: Target,
    body: unknown,
    signal?: AbortSignal,
    accept: number[] = [],
  ): Promise<CpaasResponse> {
    let token = await this.auth.getToken(signal);
    let res = await this.once(method, target, token.userId, token.accessToken, body, signal);
    if (res.status === 401) {
      // token expired or revoked: log in again and repeat this call once
      this.auth.invalidate(token.accessToken);
      token = await this.auth.getToken(signal);
      res = await this.once(method, target, token.userId, token.accessToken, body, signal);
    }
    if ((res.status >= 200 && res.status < 300) || accept.includes(res.status)) return res;
    throw classifyHttpError(res.status, res.body, res.headers);
  }

  async createChannel(lifetimeS: number, signal?: AbortSignal): Promise<CpaasChannel> {
    const res = await this.call(
      'POST',
      (user) => `/cpaas/notificationchannel/v1/${seg(user)}/channels`,
      {
        notificationChannel: {
          channelLifetime: lifetimeS,
          channelType: 'Websockets',
          clientCorrelator: randomUUID(),
        },
      },
      signal,
    );
    const channel =
      isRecord(res.body) && isRecord(res.body.notificationChannel) ? res.body.notificationChannel : {};
    const channelData = isRecord(channel.channelData) ? channel.channelData : {};
    const callbackURL = typeof channel.callbackURL === 'string' ? channel.callbackURL : undefined;
    const channelURL = typeof channelData.channelURL === 'string' ? channelData.channelURL : undefined;
    if (!callbackURL || !channelURL)
      throw new SmsError(
        'SMS_PROVIDER',
        'CPaaS: the notification channel answer has no callbackURL/channelURL',
        {
          status: res.status,
        },
      );
    const resourceURL =
      typeof channel.resourceURL === 'string'
        ? channel.resourceURL
        : `/cpaas/notificationchannel/v1/${seg(res.userId)}/channels/${seg(callbackURL)}`;
    const granted = Number(channel.channelLifetime);
    return {
      resourceURL: resolveResource(this.auth.base, resourceURL),
      callbackURL,
      channelURL,
      lifetimeS: Number.isFinite(granted) && granted > 0 ? granted : lifetimeS,
    };
  }

  /**
   * Extend the channel's lifetime: the lifetime granted (the asked one when the answer does not say),
   * or 'gone' when the server no longer knows the channel (404).
   */
  async renewChannel(resourceURL: string, lifetimeS: number, signal?: AbortSignal): Promise<number | 'gone'> {
    const res = await this.call(
      'PUT',
      resourceURL,
      { notificationChannelLifetime: { channelLifetime: lifetimeS } },
      signal,
      [404, 410],
    );
    if (res.status === 404 || res.status === 410) return 'gone';
    const answer =
      isRecord(res.body) && isRecord(res.body.notificationChannelLifetime)
        ? res.body.notificationChannelLifetime
        : {};
    const granted = Number(answer.channelLifetime);
    return Number.isFinite(granted) && granted > 0 ? granted : lifetimeS;
  }

  /** DELETE a channel or subscription; an unknown one (404) counts as deleted. */
  async deleteResource(resourceURL: string, signal?: AbortSignal): Promise<void> {
    await this.call('DELETE', resourceURL, undefined, signal, [404, 410]);
  }

  /** Subscribe inbound SMS for `destination` onto the channel `notifyURL`; returns the subscription's resourceURL. */
  async subscribeInbound(destination: string, notifyURL: string, signal?: AbortSignal): Promise<string> {
    const res = await this.call(
      'POST',
      (user) => `/cpaas/smsmessaging/v1/${seg(user)}/inbound/subscriptions`,
      {
        subscription: {
          callbackReference: { notifyURL },
          clientCorrelator: randomUUID(),
          destinationAddress: destination,
        },
      },
      signal,
    );
    const sub = isRecord(res.body) && isRecord(res.body.subscription) ? res.body.subscription : {};
    if (typeof sub.resourceURL !== 'string')
      throw new SmsError('SMS_PROVIDER', 'CPaaS: the subscription answer has no resourceURL', {
        status: res.status,
      });
    return resolveResource(this.auth.base, sub.resourceURL);
  }

  /** Send one SMS to one address (the API takes one destination per request). */
  async sendSms(
    sender: string,
    address: string,
    text: string,
    clientCorrelator: string,
    signal?: AbortSignal,
  ): Promise<CpaasSendResult> {
    const res = await this.call(
      'POST',
      (user) => `/cpaas/smsmessaging/v1/${seg(user)}/outbound/${seg(sender)}/requests`,
      {
        outboundSMSMessageRequest: {
          address: [address],
          clientCorrelator,
          outboundSMSTextMessage: { message: text },
        },
      },
      signal,
    );
    const request =
      isRecord(res.body) && isRecord(res.body.outboundSMSMessageRequest)
        ? res.body.outboundSMSMessageRequest
        : isRecord(res.body)
          ? res.body
          : {};
    const list = isRecord(request.deliveryInfoList) ? request.deliveryInfoList.deliveryInfo : undefined;
    const infos = Array.isArray(list) ? list.filter(isRecord) : [];
    const urls = [request.resourceURL, ...infos.map((i) => i.resourceURL)].filter(
      (u): u is string => typeof u === 'string' && u !== '',
    );
    const ids = [...new Set(urls.map(lastSegment).filter(Boolean))];
    const status = infos.find((i) => typeof i.deliveryStatus === 'string')?.deliveryStatus as
      string | undefined;
    return {
      ids,
      status,
      senderAddress: typeof request.senderAddress === 'string' ? request.senderAddress : undefined,
      body: res.body,
    };
  }

  private async once(
    method: string,
    target: Target,
    userId: string,
    accessToken: string,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<CpaasResponse> {
    const url =
      typeof target === 'string' ? resolveResource(this.auth.base, target) : this.auth.base + target(userId);
    const timeout = deadline(this.auth.clock, this.requestTimeoutMs, signal);
    try {
      const res = await (this.fetchImpl ?? fetch)(url, {
        method,
        headers: {
          authorization: `Bearer ${accessToken}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        // the bearer token goes to the configured server only (a 3xx is answered, not followed)
        ...NO_REDIRECTS,
        signal: timeout.signal,
      });
      return { status: res.status, body: await readBody(res), headers: res.headers, userId };
    } catch (err) {
      throw fromFetchFailure(err, 'CPaaS');
    } finally {
      timeout.dispose();
    }
  }
}
