/**
 * A loopback fake of Kandy / Ribbon CPaaS (its published REST and notification-channel API):
 * - `POST /cpaas/auth/v1/token` (form): client_credentials (client_id + client_secret) or password grant
 *   (client_id + username + password), scope openid → `{access_token, id_token, expires_in, …}`, both JWTs
 *   with `iat`/`exp` (lifetime `tokenLifetimeS`, may be fractional) and `preferred_username` = the user id.
 *   A wrong secret → 401 `{"error":"invalid_client"}`; wrong user credentials → 401 `{"error":"invalid_grant"}`.
 * - Every other call needs `Authorization: Bearer <access_token>`: unknown, expired or revoked → 401;
 *   a path for another user id → 403 policyException.
 * - Channels: `POST /cpaas/notificationchannel/v1/{userId}/channels` (channelType Websockets) → 201 with
 *   callbackURL, channelData.channelURL, channelLifetime (capped by maxChannelLifetimeS), resourceURL;
 *   `PUT {resourceURL}` renews, `DELETE` removes it (and its subscriptions, and closes its sockets);
 *   at the end of its lifetime it is gone: 404 on renewal, sockets closed.
 * - The WebSocket at the channelURL, `?access_token=` checked on the upgrade (401; unknown channel 404);
 *   `{"connCheck":{…}}` → `{"connAck":{}}` (unless stalled).
 * - Subscriptions: `POST /cpaas/smsmessaging/v1/{userId}/inbound/subscriptions` (notifyURL = a channel's
 *   callbackURL), `GET` lists, `DELETE {resourceURL}`.
 * - Send: `POST /cpaas/smsmessaging/v1/{userId}/outbound/{sender}/requests`, one address, validation
 *   errors as requestError serviceException SVC0002 with variables; a repeated clientCorrelator is not
 *   sent again (the first answer is repeated); scripted answers (SVC/POL/5xx, delays) via `scriptSend`.
 * Test controls: push each notification type for a destination (delivered only to sockets whose channel
 * has a subscription for it), cancel a subscription (with smsSubscriptionCancellationNotification), lose or
 * expire channels, drop or stall sockets, send garbage, revoke tokens, a server-side connCheck; counters
 * and a record of every request.
 */
import { randomUUID } from 'crypto';
import http from 'http';
import type { AddressInfo } from 'net';
import type { Duplex } from 'stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { CpaasEventType } from '../../nodes/lib/cpaas/envelope';
import { SlowAnswers } from './slow';

export interface FakeCpaasUser {
  email: string;
  password: string;
  userId: string;
}

export interface FakeCpaasOptions {
  clientId?: string;
  clientSecret?: string;
  /** the user id (preferred_username) of a project login */
  projectUserId?: string;
  users?: FakeCpaasUser[];
  /** numbers assigned to the account: subscriptions and senders outside this list are refused (undefined = any) */
  numbers?: string[];
}

export interface FakeCpaasRequest {
  method: string;
  path: string;
  status: number;
  authorization?: string;
  /** parsed JSON body, or the form fields of a token request */
  body?: unknown;
}

/**
 * Where a test can make the fake drop a connection, in protocol order: `token` / `channel` /
 * `subscribe` destroy the HTTP socket of that request before it is processed; `upgrade` destroys the
 * socket before the 101; `open` terminates the notification socket right after the upgrade;
 * `subscribed` terminates the channel's sockets right after a subscription was answered.
 */
export const CPAAS_DROP_PHASES = ['token', 'channel', 'upgrade', 'open', 'subscribe', 'subscribed'] as const;
export type CpaasDropPhase = (typeof CPAAS_DROP_PHASES)[number];

/** Requests a test can make the fake never answer. */
export type CpaasHangRoute = 'token' | 'channel' | 'subscribe';

export interface ScriptedAnswer {
  status: number;
  body?: unknown;
  /** answer this text as the body instead of JSON (e.g. truncated JSON) */
  raw?: string;
  /** never answer (until close) */
  hang?: boolean;
  /** destroy the connection without an answer */
  drop?: boolean;
  headers?: Record<string, string>;
  /** wait this long before answering */
  delayMs?: number;
  /** record the SMS as sent before answering (an answer that may be lost to a client timeout) */
  process?: boolean;
}

export interface FakeChannel {
  id: string;
  userId: string;
  callbackURL: string;
  channelURL: string;
  resourceURL: string;
  lifetimeS: number;
  expiresAt: number;
  timer?: NodeJS.Timeout;
  sockets: Set<WebSocket>;
}

export interface FakeSubscription {
  id: string;
  userId: string;
  destinationAddress: string;
  notifyURL: string;
  resourceURL: string;
}

export interface FakeSentSms {
  userId: string;
  sender: string;
  address: string;
  message: string;
  clientCorrelator?: string;
  messageId: string;
}

interface TokenInfo {
  userId: string;
  expiresAt: number;
  revoked: boolean;
}

export type NotificationType = CpaasEventType;

const E164 = /^\+[1-9]\d{6,14}$/;

/** A body sent as is (not JSON-encoded): for answers that are not valid JSON. */
class RawBody {
  constructor(readonly text: string) {}
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function jwt(claims: Record<string, unknown>): string {
  return `${b64url({ alg: 'RS256', typ: 'JWT', kid: 'fake' })}.${b64url(claims)}.${Buffer.from(randomUUID()).toString('base64url')}`;
}

function requestError(
  kind: 'serviceException' | 'policyException',
  messageId: string,
  text: string,
  variables: string[],
) {
  return { requestError: { [kind]: { messageId, text, variables } } };
}

export class FakeCpaas {
  readonly server: http.Server;
  private readonly wss: WebSocketServer;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly projectUserId: string;
  readonly users: FakeCpaasUser[];
  numbers?: string[];
  /** access token lifetime in seconds (fractions allowed: short lifetimes for tests) */
  tokenLifetimeS = 3600;
  /** the longest channel lifetime granted, seconds */
  maxChannelLifetimeS = 3600;
  /** the sender number used for `default` */
  defaultNumber = '+16135550000';
  /** stop answering connCheck and stop delivering notifications (a silent link) */
  stalled = false;
  /** a slow server: each SMS is sent at once and answered later (see SlowAnswers) */
  readonly slow = new SlowAnswers();
  /** refuse every bearer token, even fresh ones (401 on every call) */
  refuseTokens = false;
  /** answer every HTTP request this much later (a slow server) */
  httpDelayMs = 0;
  /** connections dropped by dropAt(), per phase */
  readonly dropped: Record<CpaasDropPhase, number> = {
    token: 0,
    channel: 0,
    upgrade: 0,
    open: 0,
    subscribe: 0,
    subscribed: 0,
  };
  /** requests left unanswered by hangNext() */
  hung = 0;
  private readonly drops = new Map<CpaasDropPhase, number>();
  /** drops decided but not done yet (the answer goes out first) */
  private dropsUnderway = 0;
  private readonly hangs = new Map<CpaasHangRoute, number>();
  readonly tokens = new Map<string, TokenInfo>();
  readonly channels = new Map<string, FakeChannel>();
  readonly subscriptions = new Map<string, FakeSubscription>();
  readonly sent: FakeSentSms[] = [];
  readonly requests: FakeCpaasRequest[] = [];
  /** frames received from clients over the sockets (parsed) */
  readonly received: unknown[] = [];
  readonly counts = {
    token: 0,
    tokenProject: 0,
    tokenUser: 0,
    tokenRejected: 0,
    channelCreate: 0,
    channelRenew: 0,
    channelRenewGone: 0,
    channelDelete: 0,
    channelExpired: 0,
    subscribe: 0,
    unsubscribe: 0,
    wsUpgrade: 0,
    wsRejected: 0,
    wsClosedByClient1000: 0,
    connCheck: 0,
    connAckFromClient: 0,
    send: 0,
    sendRepeated: 0,
    unauthorized: 0,
  };
  private readonly sendScript: ScriptedAnswer[] = [];
  private readonly answered = new Map<string, unknown>();
  private port = 0;

  constructor(opts: FakeCpaasOptions = {}) {
    this.clientId = opts.clientId ?? 'fake-client-id';
    this.clientSecret = opts.clientSecret ?? 'fake-project-secret';
    this.projectUserId = opts.projectUserId ?? 'project-user-1';
    this.users = opts.users ?? [
      { email: 'alice@example.com', password: 'fake-user-password', userId: 'alice' },
    ];
    this.numbers = opts.numbers;
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** sockets open on any channel */
  get openSockets(): number {
    let n = 0;
    for (const channel of this.channels.values()) n += channel.sockets.size;
    return n + this.orphans.size;
  }

  /** sockets whose channel is already gone but that are not closed yet */
  private readonly orphans = new Set<WebSocket>();

  /** subscriptions, optionally only those for one number */
  subscriptionsFor(destination?: string): FakeSubscription[] {
    return [...this.subscriptions.values()].filter(
      (s) => !destination || s.destinationAddress === destination,
    );
  }

  /** the next sends get these answers instead of the normal processing */
  scriptSend(...answers: ScriptedAnswer[]): void {
    this.sendScript.push(...answers);
  }

  /** The next `count` connections that reach `phase` are dropped there (see CPAAS_DROP_PHASES). */
  dropAt(phase: CpaasDropPhase, count = 1): void {
    this.drops.set(phase, (this.drops.get(phase) ?? 0) + count);
  }

  /** drops armed by dropAt() that have not happened yet */
  get pendingDrops(): number {
    let n = this.dropsUnderway;
    for (const v of this.drops.values()) n += v;
    return n;
  }

  /** the next `count` requests to `route` are never answered */
  hangNext(route: CpaasHangRoute, count = 1): void {
    this.hangs.set(route, (this.hangs.get(route) ?? 0) + count);
  }

  private dropHere(phase: CpaasDropPhase): boolean {
    const left = this.drops.get(phase) ?? 0;
    if (left <= 0) return false;
    this.drops.set(phase, left - 1);
    this.dropped[phase]++;
    return true;
  }

  private hangHere(route: CpaasHangRoute): boolean {
    const left = this.hangs.get(route) ?? 0;
    if (left <= 0) return false;
    this.hangs.set(route, left - 1);
    this.hung++;
    return true;
  }

  /** make every issued token invalid (401 on the next call) */
  revokeTokens(): void {
    for (const info of this.tokens.values()) info.revoked = true;
  }

  /** Push a notification of `type` for `destination` (the subscribed number); returns the sockets reached. */
  push(
    type: NotificationType,
    destination: string,
    { remote = '+16137001234', ...fields }: Record<string, unknown> & { remote?: string } = {},
  ): number {
    const now = Date.now();
    const messageId =
      (fields.messageId as string | undefined) ?? `SM${randomUUID().replace(/-/g, '').slice(0, 24)}`;
    let frame: Record<string, unknown>;
    if (type === 'inboundSMSMessageNotification') {
      frame = {
        inboundSMSMessageNotification: {
          inboundSMSMessage: {
            dateTime: now,
            destinationAddress: destination,
            message: 'hi',
            messageId,
            senderAddress: remote,
            ...fields,
          },
          dateTime: now,
          id: randomUUID(),
        },
      };
    } else if (type === 'outboundSMSMessageNotification') {
      frame = {
        outboundSMSMessageNotification: {
          outboundSMSMessage: {
            dateTime: now,
            destinationAddress: remote,
            message: 'sent from another device',
            messageId,
            senderAddress: destination,
            ...fields,
          },
          dateTime: now,
          id: randomUUID(),
        },
      };
    } else {
      frame = {
        deliveryInfoNotification: {
          // messageId as Kandy's own SDK reads it (handleDeliveryReceipts)
          deliveryInfo: { address: remote, deliveryStatus: 'DeliveredToTerminal', messageId, ...fields },
          link: [
            {
              href: `/cpaas/smsmessaging/v1/x/remoteAddresses/${remote}/messages/${messageId}`,
              rel: 'smsMessage',
            },
          ],
          dateTime: now,
          id: randomUUID(),
        },
      };
    }
    return this.deliver(destination, frame);
  }

  /** Send a raw frame (string, Buffer = binary, or object) to the sockets subscribed for `destination`, or to every socket. */
  pushRaw(frame: unknown, destination?: string): number {
    return this.deliver(destination, frame);
  }

  /** Bytes as a TEXT frame (e.g. invalid UTF-8), to every channel socket. */
  pushRawText(bytes: Buffer): number {
    return this.deliver(undefined, bytes, false);
  }

  /** The server cancels the subscription(s) for `destination` and says so on their channels' sockets. */
  cancelSubscription(destination: string): number {
    let n = 0;
    for (const sub of this.subscriptionsFor(destination)) {
      this.subscriptions.delete(sub.id);
      const channel = this.channelByCallback(sub.notifyURL);
      for (const ws of channel?.sockets ?? []) {
        ws.send(
          JSON.stringify({
            smsSubscriptionCancellationNotification: {
              link: [{ href: sub.resourceURL, rel: 'Subscription' }],
              dateTime: Date.now(),
              id: randomUUID(),
            },
          }),
        );
      }
      n++;
    }
    return n;
  }

  /** Drop every client socket abruptly (no close frame). */
  dropSockets(): void {
    for (const channel of this.channels.values()) for (const ws of channel.sockets) ws.terminate();
  }

  /** The server sends its own connCheck to every socket. */
  serverConnCheck(): void {
    for (const channel of this.channels.values())
      for (const ws of channel.sockets) ws.send(JSON.stringify({ connCheck: { interval: 30 } }));
  }

  /** The channel(s) reach the end of their lifetime now: gone (404 on renewal), sockets closed. */
  expireChannels(): void {
    for (const channel of [...this.channels.values()]) this.removeChannel(channel, true, 'expired');
  }

  /** The channel(s) vanish server-side but their sockets stay open: only the renewal (404) tells. */
  loseChannels(): void {
    for (const channel of [...this.channels.values()]) {
      for (const ws of channel.sockets) this.orphans.add(ws);
      channel.sockets.clear();
      this.removeChannel(channel, false, 'lost');
    }
  }

  async close(): Promise<void> {
    this.slow.clear();
    for (const channel of this.channels.values()) {
      clearTimeout(channel.timer);
      for (const ws of channel.sockets) ws.terminate();
    }
    for (const ws of this.orphans) ws.terminate();
    this.channels.clear();
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- internals ----

  private deliver(destination: string | undefined, frame: unknown, binary?: boolean): number {
    if (this.stalled) return 0;
    // a Buffer goes out as a binary frame (unless binary is false), a string as is, anything else as JSON text
    const data = typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame);
    const channels = new Set<FakeChannel>();
    if (destination === undefined) for (const c of this.channels.values()) channels.add(c);
    else
      for (const sub of this.subscriptionsFor(destination)) {
        const channel = this.channelByCallback(sub.notifyURL);
        if (channel) channels.add(channel);
      }
    let n = 0;
    for (const channel of channels)
      for (const ws of channel.sockets) {
        if (ws.readyState !== WebSocket.OPEN) continue;
        ws.send(data, { binary: binary ?? Buffer.isBuffer(data) });
        n++;
      }
    return n;
  }

  private channelByCallback(callbackURL: string): FakeChannel | undefined {
    for (const channel of this.channels.values()) if (channel.callbackURL === callbackURL) return channel;
    return undefined;
  }

  private removeChannel(channel: FakeChannel, closeSockets: boolean, why: string): void {
    clearTimeout(channel.timer);
    this.channels.delete(channel.id);
    for (const sub of [...this.subscriptions.values()])
      if (sub.notifyURL === channel.callbackURL) this.subscriptions.delete(sub.id);
    if (why === 'expired') this.counts.channelExpired++;
    if (closeSockets) for (const ws of channel.sockets) ws.close(1000, `channel ${why}`);
  }

  private armChannel(channel: FakeChannel): void {
    clearTimeout(channel.timer);
    channel.expiresAt = Date.now() + channel.lifetimeS * 1000;
    channel.timer = setTimeout(() => this.removeChannel(channel, true, 'expired'), channel.lifetimeS * 1000);
    channel.timer.unref();
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.counts.wsUpgrade++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const reject = (status: number) => {
      this.counts.wsRejected++;
      socket.write(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      socket.destroy();
    };
    const channel = [...this.channels.values()].find((c) => c.channelURL === url.pathname);
    if (!channel) return reject(404);
    const token = this.tokenInfo(url.searchParams.get('access_token') ?? '');
    if (!token || token.userId !== channel.userId) return reject(401);
    if (this.dropHere('upgrade')) return void socket.destroy();
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.dropHere('open')) {
        ws.on('error', () => undefined);
        return void ws.terminate();
      }
      channel.sockets.add(ws);
      ws.on('close', (code) => {
        channel.sockets.delete(ws);
        this.orphans.delete(ws);
        if (code === 1000) this.counts.wsClosedByClient1000++;
      });
      ws.on('error', () => undefined);
      ws.on('message', (data) => {
        let frame: unknown;
        try {
          frame = JSON.parse(String(data));
        } catch {
          return;
        }
        this.received.push(frame);
        if (frame && typeof frame === 'object' && 'connCheck' in frame) {
          this.counts.connCheck++;
          if (!this.stalled) ws.send(JSON.stringify({ connAck: {} }));
        } else if (frame && typeof frame === 'object' && 'connAck' in frame) this.counts.connAckFromClient++;
      });
    });
  }

  private tokenInfo(accessToken: string): TokenInfo | undefined {
    const info = this.tokens.get(accessToken);
    if (!info || info.revoked || this.refuseTokens || Date.now() >= info.expiresAt) return undefined;
    return info;
  }

  private issueToken(userId: string, email?: string): Record<string, unknown> {
    const iat = Date.now() / 1000;
    const exp = iat + this.tokenLifetimeS;
    const access = jwt({
      iat,
      exp,
      jti: randomUUID(),
      typ: 'Bearer',
      sub: userId,
      preferred_username: userId,
      scope: 'openid',
    });
    const id = jwt({
      iat,
      exp,
      typ: 'ID',
      sub: userId,
      preferred_username: userId,
      ...(email ? { email } : {}),
    });
    this.tokens.set(access, { userId, expiresAt: exp * 1000, revoked: false });
    return {
      access_token: access,
      id_token: id,
      expires_in: this.tokenLifetimeS,
      refresh_expires_in: this.tokenLifetimeS * 2,
      token_type: 'bearer',
      scope: 'openid',
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const record: FakeCpaasRequest = { method, path, status: 0, authorization: req.headers.authorization };
    this.requests.push(record);
    const answer = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      if (res.destroyed) return;
      if (status < 0) return void res.socket?.destroy();
      if (body === undefined) res.writeHead(status, headers).end();
      else
        res
          .writeHead(status, { 'content-type': 'application/json', ...headers })
          .end(body instanceof RawBody ? body.text : JSON.stringify(body));
    };
    const reply = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      if (this.httpDelayMs <= 0) return answer(status, body, headers);
      setTimeout(() => answer(status, body, headers), this.httpDelayMs).unref();
    };
    const route: CpaasHangRoute | undefined =
      method !== 'POST'
        ? undefined
        : path === '/cpaas/auth/v1/token'
          ? 'token'
          : /\/channels$/.test(path)
            ? 'channel'
            : /\/inbound\/subscriptions$/.test(path)
              ? 'subscribe'
              : undefined;
    if (route && this.dropHere(route)) {
      record.status = -1;
      req.socket.destroy();
      return;
    }
    if (route && this.hangHere(route)) {
      record.status = -1;
      return; // never answered; close() destroys the socket
    }

    if (path === '/cpaas/auth/v1/token' && method === 'POST') {
      const form = Object.fromEntries(new URLSearchParams(raw));
      record.body = form;
      return this.token(form, reply);
    }

    let json: unknown;
    if (raw) {
      try {
        json = JSON.parse(raw);
      } catch {
        return reply(
          400,
          requestError('serviceException', 'SVC0001', 'A service error occurred: %1', ['invalid JSON']),
        );
      }
    }
    record.body = json;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ? this.tokenInfo(bearer) : undefined;
    if (!token) {
      this.counts.unauthorized++;
      return reply(401, { message: 'Unauthorized' });
    }
    const m = /^\/cpaas\/(notificationchannel|smsmessaging)\/v1\/([^/]+)\/(.*)$/.exec(path);
    if (!m) return reply(404, requestError('serviceException', 'SVC0004', 'No resource at %1', [path]));
    const [, api, pathUser, rest] = m;
    const userId = decodeURIComponent(pathUser);
    if (userId !== token.userId)
      return reply(
        403,
        requestError('policyException', 'POL0001', 'A policy error occurred: %1', ['user mismatch']),
      );
    const body = (json ?? {}) as Record<string, Record<string, unknown>>;

    if (api === 'notificationchannel') return this.channelApi(method, userId, rest, body, reply);
    return this.smsApi(method, userId, rest, body, reply, () => res.destroyed || req.socket.destroyed);
  }

  private token(form: Record<string, string>, reply: (status: number, body?: unknown) => void): void {
    this.counts.token++;
    if (form.client_id !== this.clientId) {
      this.counts.tokenRejected++;
      return reply(401, {
        error: 'invalid_client',
        error_description: 'Invalid client or Invalid client credentials',
      });
    }
    if (form.grant_type === 'client_credentials') {
      this.counts.tokenProject++;
      if (form.client_secret !== this.clientSecret) {
        this.counts.tokenRejected++;
        return reply(401, {
          error: 'invalid_client',
          error_description: 'Invalid client or Invalid client credentials',
        });
      }
      return reply(200, this.issueToken(this.projectUserId));
    }
    if (form.grant_type === 'password') {
      this.counts.tokenUser++;
      const user = this.users.find((u) => u.email === form.username && u.password === form.password);
      if (!user) {
        this.counts.tokenRejected++;
        return reply(401, { error: 'invalid_grant', error_description: 'Invalid user credentials' });
      }
      return reply(200, this.issueToken(user.userId, user.email));
    }
    this.counts.tokenRejected++;
    return reply(400, { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' });
  }

  private channelApi(
    method: string,
    userId: string,
    rest: string,
    body: Record<string, Record<string, unknown>>,
    reply: (status: number, body?: unknown) => void,
  ): void {
    if (rest === 'channels' && method === 'POST') {
      const request = body.notificationChannel ?? {};
      if (request.channelType !== 'Websockets')
        return reply(
          400,
          requestError('serviceException', 'SVC0002', 'Invalid input value for message part %1', [
            'channelType',
          ]),
        );
      this.counts.channelCreate++;
      const id = randomUUID();
      const asked = Number(request.channelLifetime) || 3600;
      const channel: FakeChannel = {
        id,
        userId,
        callbackURL: `ws-${id}`,
        channelURL: `/cpaas/notificationchannel/v1/${userId}/channels/${id}/websocket`,
        resourceURL: `/cpaas/notificationchannel/v1/${userId}/channels/${id}`,
        lifetimeS: Math.min(asked, this.maxChannelLifetimeS),
        expiresAt: 0,
        sockets: new Set(),
      };
      this.channels.set(id, channel);
      this.armChannel(channel);
      return reply(201, {
        notificationChannel: {
          callbackURL: channel.callbackURL,
          channelData: { channelURL: channel.channelURL },
          channelLifetime: channel.lifetimeS,
          channelType: 'Websockets',
          clientCorrelator: request.clientCorrelator,
          resourceURL: channel.resourceURL,
        },
      });
    }
    if (rest === 'channels' && method === 'GET') {
      const list = [...this.channels.values()].filter((c) => c.userId === userId);
      return reply(200, {
        notificationChannelList: {
          notificationChannel: list.map((c) => ({ callbackURL: c.callbackURL, resourceURL: c.resourceURL })),
        },
      });
    }
    const m = /^channels\/([^/]+)$/.exec(rest);
    const channel = m ? this.channels.get(decodeURIComponent(m[1])) : undefined;
    const notFound = () =>
      reply(
        404,
        requestError('serviceException', 'SVC0004', 'No valid channel found for %1', [m?.[1] ?? rest]),
      );
    if (m && method === 'PUT') {
      this.counts.channelRenew++;
      if (!channel || channel.userId !== userId) {
        this.counts.channelRenewGone++;
        return notFound();
      }
      const asked = Number(body.notificationChannelLifetime?.channelLifetime) || channel.lifetimeS;
      channel.lifetimeS = Math.min(asked, this.maxChannelLifetimeS);
      this.armChannel(channel);
      return reply(200, { notificationChannelLifetime: { channelLifetime: channel.lifetimeS } });
    }
    if (m && method === 'DELETE') {
      this.counts.channelDelete++;
      if (!channel || channel.userId !== userId) return notFound();
      this.removeChannel(channel, true, 'deleted');
      return reply(204);
    }
    return reply(404, requestError('serviceException', 'SVC0004', 'No resource at %1', [rest]));
  }

  private smsApi(
    method: string,
    userId: string,
    rest: string,
    body: Record<string, Record<string, unknown>>,
    reply: (status: number, body?: unknown, headers?: Record<string, string>) => void,
    clientGone: () => boolean = () => false,
  ): Promise<void> | void {
    if (rest === 'inbound/subscriptions' && method === 'POST') {
      const sub = body.subscription ?? {};
      const destination = typeof sub.destinationAddress === 'string' ? sub.destinationAddress : '';
      const notifyURL = (sub.callbackReference as Record<string, unknown> | undefined)?.notifyURL;
      if (!destination)
        return reply(
          400,
          requestError('serviceException', 'SVC0002', 'Invalid input value for message part %1', [
            'destinationAddress',
          ]),
        );
      const channel = typeof notifyURL === 'string' ? this.channelByCallback(notifyURL) : undefined;
      if (!channel || channel.userId !== userId)
        return reply(
          400,
          requestError('serviceException', 'SVC0002', 'Invalid input value for message part %1', [
            'notifyURL',
          ]),
        );
      if (this.numbers && !this.numbers.includes(destination))
        return reply(
          403,
          requestError(
            'policyException',
            'POL0001',
            'A policy error occurred. %1 is not assigned to the user',
            [destination],
          ),
        );
      this.counts.subscribe++;
      const id = randomUUID();
      const resourceURL = `/cpaas/smsmessaging/v1/${userId}/inbound/subscriptions/${id}`;
      this.subscriptions.set(id, {
        id,
        userId,
        destinationAddress: destination,
        notifyURL: channel.callbackURL,
        resourceURL,
      });
      if (this.dropHere('subscribed')) {
        this.dropsUnderway++;
        setTimeout(() => {
          this.dropsUnderway--;
          for (const ws of channel.sockets) ws.terminate();
        }, this.httpDelayMs + 5).unref();
      }
      return reply(201, {
        subscription: {
          callbackReference: { notifyURL: channel.callbackURL },
          clientCorrelator: sub.clientCorrelator,
          destinationAddress: destination,
          resourceURL,
        },
      });
    }
    if (rest === 'inbound/subscriptions' && method === 'GET') {
      return reply(200, {
        subscriptionList: {
          subscription: this.subscriptionsFor()
            .filter((s) => s.userId === userId)
            .map((s) => ({
              callbackReference: { notifyURL: s.notifyURL },
              destinationAddress: s.destinationAddress,
              resourceURL: s.resourceURL,
            })),
        },
      });
    }
    const sub = /^inbound\/subscriptions\/([^/]+)$/.exec(rest);
    if (sub && method === 'DELETE') {
      this.counts.unsubscribe++;
      const found = this.subscriptions.get(decodeURIComponent(sub[1]));
      if (!found || found.userId !== userId)
        return reply(
          404,
          requestError('serviceException', 'SVC0004', 'No valid subscription found for %1', [sub[1]]),
        );
      this.subscriptions.delete(found.id);
      return reply(204);
    }
    const out = /^outbound\/([^/]+)\/requests$/.exec(rest);
    if (out && method === 'POST')
      return this.send(userId, decodeURIComponent(out[1]), body, reply, clientGone);
    return reply(404, requestError('serviceException', 'SVC0004', 'No resource at %1', [rest]));
  }

  private async send(
    userId: string,
    sender: string,
    body: Record<string, Record<string, unknown>>,
    reply: (status: number, body?: unknown, headers?: Record<string, string>) => void,
    clientGone: () => boolean = () => false,
  ): Promise<void> {
    this.counts.send++;
    const request = body.outboundSMSMessageRequest ?? {};
    const correlator = typeof request.clientCorrelator === 'string' ? request.clientCorrelator : undefined;
    const key = correlator ? `${userId}\n${correlator}` : undefined;
    if (key && this.answered.has(key)) {
      this.counts.sendRepeated++;
      return reply(201, this.answered.get(key));
    }
    const scripted = this.sendScript.shift();
    if (scripted) {
      if (scripted.process) this.accept(userId, sender, request, key);
      if (scripted.hang) return; // never answered; close() destroys the socket
      if (scripted.drop) return reply(-1); // the connection is destroyed, no answer
      if (scripted.delayMs) await new Promise((r) => setTimeout(r, scripted.delayMs));
      if (scripted.raw !== undefined)
        return reply(scripted.status, new RawBody(scripted.raw), scripted.headers);
      return reply(scripted.status, scripted.body, scripted.headers);
    }
    const invalid = (part: string) =>
      reply(
        400,
        requestError('serviceException', 'SVC0002', 'Invalid input value for message part %1', [part]),
      );
    const address = request.address;
    if (
      !Array.isArray(address) ||
      address.length !== 1 ||
      typeof address[0] !== 'string' ||
      !E164.test(address[0])
    )
      return invalid('address');
    const text = (request.outboundSMSTextMessage as Record<string, unknown> | undefined)?.message;
    if (typeof text !== 'string' || text === '') return invalid('message');
    if (sender !== 'default' && (!E164.test(sender) || (this.numbers && !this.numbers.includes(sender))))
      return invalid('senderAddress');
    const answer = this.accept(userId, sender, request, key);
    if (!this.slow.active) return reply(201, answer);
    this.slow.later(clientGone, () => reply(201, answer));
  }

  private accept(userId: string, sender: string, request: Record<string, unknown>, key?: string): unknown {
    const address = Array.isArray(request.address) ? String(request.address[0]) : '';
    const text = String(
      (request.outboundSMSTextMessage as Record<string, unknown> | undefined)?.message ?? '',
    );
    const messageId = `SM${randomUUID().replace(/-/g, '').slice(0, 24).toUpperCase()}`;
    const from = sender === 'default' ? this.defaultNumber : sender;
    this.sent.push({
      userId,
      sender,
      address,
      message: text,
      clientCorrelator: request.clientCorrelator as string,
      messageId,
    });
    const answer = {
      outboundSMSMessageRequest: {
        address: [address],
        clientCorrelator: request.clientCorrelator,
        deliveryInfoList: {
          deliveryInfo: [{ address, deliveryStatus: 'DeliveredToNetwork' }],
          resourceURL: `/cpaas/smsmessaging/v1/${userId}/outbound/${encodeURIComponent(from)}/requests/${messageId}/deliveryInfos`,
        },
        outboundSMSTextMessage: { message: text },
        resourceURL: `/cpaas/smsmessaging/v1/${userId}/remoteAddresses/${encodeURIComponent(address)}/messages/${messageId}`,
        senderAddress: from,
      },
    };
    if (key) this.answered.set(key, answer);
    return answer;
  }
}
