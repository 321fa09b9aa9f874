/**
 * A faithful loopback fake of the SMS gateway (Gravity SMS, as its API documents it): REST
 * send/status/ws-token with the documented errors and limits, the event WebSocket with in-band auth
 * (API key or single-use token), auth_error + close 1008,
 * the 30 s JSON ping, and the IP lockout (10 failed auths in 5 min → every request refused for 15 min).
 *
 * Inferred (not documented, marked [I]): the answer while an IP is locked out (429 with Retry-After,
 * also on the WebSocket upgrade), the 413 for bodies over 100 KB, the `Invalid JSON` 400 on REST, the
 * 404 bodies, and the `Tenant suspended or inactive` auth_error on the WebSocket.
 */
import { randomBytes } from 'crypto';
import http from 'http';
import type { AddressInfo, Socket } from 'net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Clock } from '../../nodes/lib/clock';
import { SlowAnswers } from './slow';

export const GOOD_KEY = 'sgw_0123456789abcdef0123456789abcdef';
export const TENANT = 'tenant_abc123def456abcd';
export const APP = 'app_abc123def456abcd';

export interface FakeKey {
  tenantId?: string;
  appId?: string;
  suspended?: boolean;
}

export interface FakeGatewayOptions {
  /** valid API keys (default: GOOD_KEY on TENANT) */
  keys?: Record<string, FakeKey>;
  /** the server's JSON ping to authenticated sockets; 0 = off (default 30 s) */
  pingIntervalMs?: number;
  /** time for the lockout, rate limit and token expiry (default Date.now) */
  clock?: Pick<Clock, 'now'>;
  /** REST requests per key (default 100 per 60 s) */
  rateLimit?: { max: number; windowMs: number };
  /** the IP lockout rule (default 10 failures in 5 min → 15 min) */
  lockout?: { failures: number; windowMs: number; blockMs: number };
  /** ws token lifetime (default 60 s) */
  tokenTtlMs?: number;
  /** after a send, push sms_status queued → sending → sent|failed at these delays (real ms); false = off */
  statusProgression?: false | { delaysMs: [number, number, number] };
  /** recipients whose SMS end `failed` in the progression */
  failTo?: string[];
}

export interface AuthAttempt {
  at: number;
  ip: string;
  via: 'rest' | 'ws-token' | 'ws-apiKey' | 'ws';
  ok: boolean;
  error?: string;
}

export interface RecordedRequest {
  at: number;
  method: string;
  path: string;
  /** the bearer value sent, if any (tests check the key is sent, never echoed) */
  bearer?: string;
  body?: unknown;
  status: number;
}

export interface SentSms {
  messageId: string;
  to: string;
  from: string;
  body: string;
  userId?: string;
  tenantId: string;
  appId: string;
  status: string;
  at: number;
}

/**
 * Where a test can make the fake drop a connection, in protocol order: `token` destroys the HTTP
 * socket of a POST /v1/ws/token before it is answered; `upgrade` destroys the socket before the 101;
 * `auth` terminates when the auth frame arrives (never answered); `authed` right after auth_ok.
 */
export const GATEWAY_DROP_PHASES = ['token', 'upgrade', 'auth', 'authed'] as const;
export type GatewayDropPhase = (typeof GATEWAY_DROP_PHASES)[number];

interface Peer {
  ws: WebSocket;
  ip: string;
  authed: boolean;
  tenantId?: string;
  stalled: boolean;
}

interface Scripted {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** accept the SMS (it counts as sent), then answer 202 with a body that is not JSON */
  malformed?: boolean;
  /** never answer (until close); accept = the SMS counts as sent (a lost answer) */
  hang?: { accept: boolean };
  /** destroy the connection without an answer; accept = the SMS counts as sent first */
  drop?: { accept: boolean };
}

const MAX_BODY = 100 * 1024;
const E164 = /^\+[1-9]\d{1,14}$/;

export class FakeSmsGateway {
  readonly requests: RecordedRequest[] = [];
  readonly authAttempts: AuthAttempt[] = [];
  readonly lockouts: { ip: string; at: number; until: number }[] = [];
  readonly tokensIssued: string[] = [];
  readonly sent: SentSms[] = [];
  /** a slow gateway: each SMS is accepted at once and answered later (see SlowAnswers) */
  readonly slow = new SlowAnswers();
  /** every frame the fake pushed to clients (auth answers, pings excluded) */
  readonly pushed: unknown[] = [];
  /** WebSocket upgrades accepted */
  upgrades = 0;
  /** JSON pings sent (one per authenticated socket per interval): a test waits for these, not for time */
  pingsSent = 0;
  /** connections dropped by dropAt(), per phase */
  readonly dropped: Record<GatewayDropPhase, number> = { token: 0, upgrade: 0, auth: 0, authed: 0 };
  /** auth frames left unanswered by ignoreAuth() */
  ignoredAuths = 0;
  /** answer auth frames this much later (a slow server) */
  authDelayMs = 0;

  private readonly keys: Map<string, FakeKey>;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly opts: Required<Omit<FakeGatewayOptions, 'keys' | 'clock'>>;
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private readonly peers = new Set<Peer>();
  private readonly rawSockets = new Set<Socket>();
  private readonly tokens = new Map<string, { key: string; expiresAt: number; used: boolean }>();
  private readonly hits = new Map<string, number[]>();
  private readonly failuresByIp = new Map<string, number[]>();
  private readonly lockedUntil = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private scripted: Scripted[] = [];
  private readonly drops = new Map<GatewayDropPhase, number>();
  /** drops decided but not done yet (the answer goes out first) */
  private dropsUnderway = 0;
  private ignoreAuths = 0;
  private pingTimer?: NodeJS.Timeout;
  private seq = 0;
  port = 0;

  constructor(options: FakeGatewayOptions = {}) {
    this.keys = new Map(Object.entries(options.keys ?? { [GOOD_KEY]: { tenantId: TENANT, appId: APP } }));
    this.clock = options.clock ?? { now: () => Date.now() };
    this.opts = {
      pingIntervalMs: options.pingIntervalMs ?? 30_000,
      rateLimit: options.rateLimit ?? { max: 100, windowMs: 60_000 },
      lockout: options.lockout ?? { failures: 10, windowMs: 5 * 60_000, blockMs: 15 * 60_000 },
      tokenTtlMs: options.tokenTtlMs ?? 60_000,
      statusProgression: options.statusProgression ?? false,
      failTo: options.failTo ?? [],
    };
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.rawSockets.add(socket);
      socket.on('close', () => this.rawSockets.delete(socket));
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket as Socket, head));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    if (this.opts.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.ping(), this.opts.pingIntervalMs);
    }
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  // ------------------------------------------------------------------ test controls

  /** authenticated sockets now open */
  get authedSockets(): number {
    return [...this.peers].filter((p) => p.authed && p.ws.readyState === WebSocket.OPEN).length;
  }

  get openSockets(): number {
    return this.peers.size;
  }

  /** failed authentications (every route), with timestamps */
  get authFailures(): AuthAttempt[] {
    return this.authAttempts.filter((a) => !a.ok);
  }

  /** is this IP locked out now? */
  isLocked(ip = '127.0.0.1'): boolean {
    return (this.lockedUntil.get(ip) ?? 0) > this.clock.now();
  }

  addKey(key: string, info: FakeKey = {}): void {
    this.keys.set(key, { tenantId: TENANT, appId: APP, ...info });
  }

  /** suspend (or reactivate) the tenant of a key: REST answers 403 */
  suspend(key: string, suspended = true): void {
    const info = this.keys.get(key);
    if (info) info.suspended = suspended;
  }

  /** the next `count` sends answer this (e.g. 500, or 429 with Retry-After) after auth */
  failNext(
    status: number,
    error = 'Internal server error',
    count = 1,
    headers?: Record<string, string>,
  ): void {
    for (let i = 0; i < count; i++) this.scripted.push({ status, body: { error }, headers });
  }

  /** the next `count` sends are accepted, then answered 202 with malformed JSON */
  acceptMalformed(count = 1): void {
    for (let i = 0; i < count; i++) this.scripted.push({ status: 202, body: undefined, malformed: true });
  }

  /** the next `count` sends are never answered; accept = each counts as sent (its answer is lost) */
  hangSends(count = 1, accept = false): void {
    for (let i = 0; i < count; i++) this.scripted.push({ status: 0, body: undefined, hang: { accept } });
  }

  /** the next `count` sends lose their connection unanswered; accept = each counts as sent first */
  dropSends(count = 1, accept = false): void {
    for (let i = 0; i < count; i++) this.scripted.push({ status: 0, body: undefined, drop: { accept } });
  }

  /** The next `count` connections that reach `phase` are dropped there (see GATEWAY_DROP_PHASES). */
  dropAt(phase: GatewayDropPhase, count = 1): void {
    this.drops.set(phase, (this.drops.get(phase) ?? 0) + count);
  }

  /** drops armed by dropAt() that have not happened yet */
  get pendingDrops(): number {
    let n = this.dropsUnderway;
    for (const v of this.drops.values()) n += v;
    return n;
  }

  /** the next `count` auth frames are never answered (the socket stays open, silent) */
  ignoreAuth(count = 1): void {
    this.ignoreAuths += count;
  }

  private dropHere(phase: GatewayDropPhase): boolean {
    const left = this.drops.get(phase) ?? 0;
    if (left <= 0) return false;
    this.drops.set(phase, left - 1);
    this.dropped[phase]++;
    return true;
  }

  /** push an sms_status to the tenant's authenticated sockets */
  pushStatus(fields: Record<string, unknown> = {}, tenantId = TENANT): Record<string, unknown> {
    const event = {
      type: 'sms_status',
      messageId: `msg_${randomBytes(6).toString('hex')}`,
      appId: APP,
      tenantId,
      status: 'sent',
      rcMessageId: String(10_000_000 + ++this.seq),
      timestamp: new Date(this.clock.now()).toISOString(),
      ...fields,
    };
    this.broadcast(event, tenantId);
    return event;
  }

  /** push an sms_inbound to the tenant's authenticated sockets */
  pushInbound(fields: Record<string, unknown> = {}, tenantId = TENANT): Record<string, unknown> {
    const event = {
      type: 'sms_inbound',
      messageId: `msg_${randomBytes(6).toString('hex')}`,
      from: '+15551234567',
      to: '+15559876543',
      body: 'Hey, is my appointment still on?',
      rcMessageId: String(10_000_000 + ++this.seq),
      tenantId,
      timestamp: new Date(this.clock.now()).toISOString(),
      ...fields,
    };
    this.broadcast(event, tenantId);
    return event;
  }

  /** send raw data (garbage, unknown types, binary) to every authenticated socket */
  pushRaw(data: string | Buffer, binary = false): void {
    for (const p of this.peers) if (p.authed && !p.stalled) p.ws.send(data, { binary });
  }

  /** kill every socket without a close frame (code 1006 on the client) */
  dropSockets(): void {
    for (const p of this.peers) p.ws.terminate();
  }

  /** close every socket with a code */
  closeSockets(code = 1001, reason = 'going away'): void {
    for (const p of this.peers) p.ws.close(code, reason);
  }

  /** the current sockets go silent (no pings, no events) but stay open */
  stall(): void {
    for (const p of this.peers) p.stalled = true;
  }

  /** every token issued so far stops working */
  expireTokens(): void {
    for (const t of this.tokens.values()) t.expiresAt = 0;
  }

  async close(): Promise<void> {
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.slow.clear();
    for (const p of this.peers) p.ws.terminate();
    this.peers.clear();
    this.wss.close();
    for (const s of this.rawSockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------------ the lockout rule

  private locked(ip: string): number {
    const until = this.lockedUntil.get(ip) ?? 0;
    return until > this.clock.now() ? until - this.clock.now() : 0;
  }

  private recordAuth(ip: string, via: AuthAttempt['via'], ok: boolean, error?: string): void {
    const now = this.clock.now();
    this.authAttempts.push({ at: now, ip, via, ok, error });
    if (ok) return;
    const { failures, windowMs, blockMs } = this.opts.lockout;
    const list = (this.failuresByIp.get(ip) ?? []).filter((t) => t > now - windowMs);
    list.push(now);
    this.failuresByIp.set(ip, list);
    if (list.length >= failures) {
      this.lockedUntil.set(ip, now + blockMs);
      this.lockouts.push({ ip, at: now, until: now + blockMs });
    }
  }

  // ------------------------------------------------------------------ REST

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const ip = req.socket.remoteAddress ?? '?';
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization;
    const bearer =
      typeof auth === 'string' && /^Bearer\s+\S+$/i.test(auth) ? auth.split(/\s+/)[1] : undefined;
    const record: RecordedRequest = {
      at: this.clock.now(),
      method: req.method ?? '',
      path: url.pathname,
      bearer,
      status: 0,
    };
    this.requests.push(record);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };

    const lockedMs = this.locked(ip);
    if (lockedMs > 0) {
      req.resume();
      return reply(
        429,
        { error: 'Too many failed authentication attempts. Try again later.' },
        { 'retry-after': String(Math.ceil(lockedMs / 1000)) },
      );
    }

    const raw = await readBody(req, MAX_BODY);
    const route =
      req.method === 'POST' && url.pathname === '/v1/sms/send'
        ? 'send'
        : req.method === 'POST' && url.pathname === '/v1/ws/token'
          ? 'token'
          : req.method === 'GET' && /^\/v1\/sms\/status\/[^/]+$/.test(url.pathname)
            ? 'status'
            : undefined;
    if (!route) return reply(404, { error: 'Not found' });

    // auth
    if (!bearer) {
      this.recordAuth(ip, 'rest', false, 'Missing or invalid API key');
      return reply(401, { error: 'Missing or invalid API key' });
    }
    const key = this.keys.get(bearer);
    if (!key) {
      this.recordAuth(ip, 'rest', false, 'Invalid API key');
      return reply(401, { error: 'Invalid API key' });
    }
    this.recordAuth(ip, 'rest', true);
    if (key.suspended) return reply(403, { error: 'Tenant suspended or inactive' });

    // 100 requests / 60 s per key
    const now = this.clock.now();
    const { max, windowMs } = this.opts.rateLimit;
    const hits = (this.hits.get(bearer) ?? []).filter((t) => t > now - windowMs);
    if (hits.length >= max) {
      this.hits.set(bearer, hits);
      const retry = Math.max(1, Math.ceil((hits[0] + windowMs - now) / 1000));
      return reply(429, { error: 'Too many requests' }, { 'retry-after': String(retry) });
    }
    hits.push(now);
    this.hits.set(bearer, hits);

    if (route === 'token') {
      if (this.dropHere('token')) {
        record.status = -1;
        req.socket.destroy();
        return;
      }
      const token = `wst_${randomBytes(32).toString('hex')}`;
      this.tokens.set(token, { key: bearer, expiresAt: now + this.opts.tokenTtlMs, used: false });
      this.tokensIssued.push(token);
      return reply(200, { token, expiresIn: Math.round(this.opts.tokenTtlMs / 1000) });
    }
    if (route === 'status') {
      const id = decodeURIComponent(url.pathname.split('/').pop() ?? '');
      const sms = this.sent.find((s) => s.messageId === id && s.tenantId === (key.tenantId ?? TENANT));
      if (!sms) return reply(404, { error: 'Message not found' });
      return reply(200, { messageId: sms.messageId, status: sms.status, to: sms.to, from: sms.from });
    }

    // send
    if (raw === undefined) return reply(413, { error: 'Request body too large' });
    const scripted = this.scripted.shift();
    if (scripted && !scripted.malformed && !scripted.hang && !scripted.drop)
      return reply(scripted.status, scripted.body, scripted.headers);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw || '{}');
    } catch {
      return reply(400, { error: 'Invalid JSON' });
    }
    if (scripted?.hang || scripted?.drop) {
      record.status = -1;
      if (scripted.hang?.accept || scripted.drop?.accept) this.acceptSms(body, key, now);
      if (scripted.drop) req.socket.destroy();
      return; // never answered (a hang: close() destroys the socket)
    }
    if (scripted?.malformed) {
      const sms = this.acceptSms(body, key, now);
      record.status = 202;
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(`{"messageId":"${sms.messageId}","status":`);
      return;
    }
    record.body = body;
    const { to, from, body: text } = body;
    if (!to || !from || !text) return reply(400, { error: 'to, from, and body are required' });
    if (typeof to !== 'string' || typeof from !== 'string' || !E164.test(to) || !E164.test(from))
      return reply(400, { error: 'to and from must be valid E.164 phone numbers' });
    if (typeof text !== 'string' || text.length < 1 || text.length > 1600)
      return reply(400, { error: 'body must be 1-1600 characters' });
    const sms = this.acceptSms(body, key, now);
    if (!this.slow.active) return reply(202, { messageId: sms.messageId, status: 'queued' });
    this.slow.later(
      () => res.destroyed || req.socket.destroyed,
      () => reply(202, { messageId: sms.messageId, status: 'queued' }),
    );
  }

  private acceptSms(body: Record<string, unknown>, key: FakeKey, now: number): SentSms {
    const sms: SentSms = {
      messageId: `msg_${randomBytes(6).toString('hex')}`,
      to: String(body.to ?? ''),
      from: String(body.from ?? ''),
      body: String(body.body ?? ''),
      userId: typeof body.userId === 'string' ? body.userId : undefined,
      tenantId: key.tenantId ?? TENANT,
      appId: key.appId ?? APP,
      status: 'queued',
      at: now,
    };
    this.sent.push(sms);
    this.progress(sms);
    return sms;
  }

  /** queued → sending → sent | failed, as sms_status events */
  private progress(sms: SentSms): void {
    const plan = this.opts.statusProgression;
    if (!plan) return;
    const fail = this.opts.failTo.includes(sms.to);
    const steps: [number, Record<string, unknown>][] = [
      [plan.delaysMs[0], { status: 'queued' }],
      [plan.delaysMs[1], { status: 'sending' }],
      [
        plan.delaysMs[2],
        fail
          ? { status: 'failed', error: `Phone number ${sms.to} is not reachable` }
          : { status: 'sent', rcMessageId: String(10_000_000 + ++this.seq) },
      ],
    ];
    // each step schedules the next: independent timers of different durations may fire out of order
    const next = (i: number, previousMs: number) => {
      if (i >= steps.length) return;
      const [ms, fields] = steps[i];
      const t = setTimeout(
        () => {
          this.timers.delete(t);
          sms.status = String(fields.status);
          const event: Record<string, unknown> = {
            type: 'sms_status',
            messageId: sms.messageId,
            appId: sms.appId,
            tenantId: sms.tenantId,
            ...fields,
            timestamp: new Date(this.clock.now()).toISOString(),
          };
          this.broadcast(event, sms.tenantId);
          next(i + 1, ms);
        },
        Math.max(0, ms - previousMs),
      );
      this.timers.add(t);
    };
    next(0, 0);
  }

  // ------------------------------------------------------------------ WebSocket

  private upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const ip = socket.remoteAddress ?? '?';
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const refuse = (status: number, text: string, headers: Record<string, string> = {}) => {
      const body = JSON.stringify({ error: text });
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`,
      );
    };
    if (path !== '/ws') return refuse(404, 'Not found');
    const lockedMs = this.locked(ip);
    if (lockedMs > 0)
      return refuse(429, 'Too many failed authentication attempts. Try again later.', {
        'retry-after': String(Math.ceil(lockedMs / 1000)),
      });
    if (this.dropHere('upgrade')) return void socket.destroy();
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.upgrades++;
      const peer: Peer = { ws, ip, authed: false, stalled: false };
      this.peers.add(peer);
      ws.on('close', () => this.peers.delete(peer));
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => this.onFrame(peer, data.toString(), isBinary));
    });
  }

  private onFrame(peer: Peer, text: string, isBinary: boolean): void {
    if (peer.authed) return; // the gateway processes nothing else from clients
    if (this.dropHere('auth')) return void peer.ws.terminate();
    if (this.ignoreAuths > 0) {
      this.ignoreAuths--;
      this.ignoredAuths++;
      return;
    }
    if (this.authDelayMs > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (peer.ws.readyState === WebSocket.OPEN) this.answerAuth(peer, text, isBinary);
      }, this.authDelayMs);
      this.timers.add(t);
      return;
    }
    this.answerAuth(peer, text, isBinary);
  }

  private answerAuth(peer: Peer, text: string, isBinary: boolean): void {
    const refuse = (via: AuthAttempt['via'], error: string) => {
      this.recordAuth(peer.ip, via, false, error);
      peer.ws.send(JSON.stringify({ type: 'auth_error', error }));
      peer.ws.close(1008, error);
    };
    let frame: Record<string, unknown>;
    try {
      if (isBinary) throw new Error('binary');
      frame = JSON.parse(text);
      if (!frame || typeof frame !== 'object') throw new Error('not an object');
    } catch {
      return refuse('ws', 'Invalid JSON');
    }
    if (frame.type !== 'auth') return refuse('ws', 'Send auth first');
    let key: FakeKey | undefined;
    if (typeof frame.token === 'string') {
      const entry = this.tokens.get(frame.token);
      const now = this.clock.now();
      if (!entry || entry.used || entry.expiresAt <= now)
        return refuse('ws-token', 'Invalid or expired token');
      entry.used = true;
      key = this.keys.get(entry.key);
      if (!key) return refuse('ws-token', 'Invalid or expired token');
      if (key.suspended) return refuse('ws-token', 'Tenant suspended or inactive');
      this.recordAuth(peer.ip, 'ws-token', true);
    } else {
      key = typeof frame.apiKey === 'string' ? this.keys.get(frame.apiKey) : undefined;
      if (!key) return refuse('ws-apiKey', 'Invalid API key');
      if (key.suspended) return refuse('ws-apiKey', 'Tenant suspended or inactive');
      this.recordAuth(peer.ip, 'ws-apiKey', true);
    }
    peer.authed = true;
    peer.tenantId = key.tenantId ?? TENANT;
    peer.ws.send(JSON.stringify({ type: 'auth_ok' }));
    if (this.dropHere('authed')) {
      this.dropsUnderway++;
      setImmediate(() => {
        this.dropsUnderway--;
        peer.ws.terminate();
      });
    }
  }

  private broadcast(event: Record<string, unknown>, tenantId: string): void {
    this.pushed.push(event);
    const text = JSON.stringify(event);
    for (const p of this.peers) {
      if (p.authed && !p.stalled && p.tenantId === tenantId && p.ws.readyState === WebSocket.OPEN)
        p.ws.send(text);
    }
  }

  private ping(): void {
    for (const p of this.peers) {
      if (p.authed && !p.stalled && p.ws.readyState === WebSocket.OPEN) {
        p.ws.send('{"type":"ping"}');
        this.pingsSent++;
      }
    }
  }
}

/** the body as text, or undefined when larger than `max` */
function readBody(req: http.IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) tooBig = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooBig ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

/** the most timestamps inside any window of `windowMs` (the gateway's sliding 5-minute count) */
export function maxInWindow(times: readonly number[], windowMs = 5 * 60_000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}
