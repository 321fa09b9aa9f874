/**
 * A loopback fake of eSMS Africa (its published API):
 * - WebSocket `/ws`, authenticated ONLY by the `esms_access_token` cookie on the upgrade (a JWT). No,
 *   a bad, a revoked or an expired token → HTTP 401 on the upgrade (the socket never opens).
 * - The client sends `{"type":"ping"}`, the server answers `{"type":"pong"}`.
 * - Events `message_status`, `balance_update`, `notification` pushed to every open socket.
 * - REST `POST /api/messages/send` with `Authorization: Bearer esms_live_…|esms_test_…`: 200 with
 *   `{id,status,segments,cost,balance_after}`, 401 for a bad key, 422 validation
 *   `{"detail":[{"loc":["body","to"],"msg":"…"}]}`, 402 `{"detail":{"code":"insufficient_balance",…}}`.
 *   A live send is followed by `message_status` and `balance_update` events; a test key sends nothing.
 * Test controls: issue/expire/revoke tokens, push events, drop sockets, stall (stop answering pings),
 * send garbage, force upgrade failures; counts of upgrades, pings, sockets; every request recorded.
 */
import { createHmac, randomUUID } from 'crypto';
import http from 'http';
import type { AddressInfo } from 'net';
import type { Duplex } from 'stream';
import WebSocket, { WebSocketServer } from 'ws';

export interface EsmsFakeRequest {
  method: string;
  path: string;
  authorization?: string;
  body?: unknown;
  status: number;
}

export interface UpgradeRecord {
  /** the cookie token sent, if any */
  token?: string;
  status: number;
  at: number;
}

const SECRET = 'fake-esms-signing-secret';

/**
 * Where a test can make the fake drop a connection, in protocol order: `upgrade` destroys the socket
 * before the 101 (the cookie is being checked); `open` terminates right after the upgrade; `ping`
 * terminates when the client's ping arrives (never answered).
 */
export const ESMS_DROP_PHASES = ['upgrade', 'open', 'ping'] as const;
export type EsmsDropPhase = (typeof ESMS_DROP_PHASES)[number];

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** A JWT like the portal's (HS256 with the fake's secret). */
export function makeJwt(claims: Record<string, unknown>, secret = SECRET): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = b64url(createHmac('sha256', secret).update(`${head}.${body}`).digest());
  return `${head}.${body}.${sig}`;
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

export class FakeEsms {
  readonly server: http.Server;
  private readonly wss: WebSocketServer;
  readonly sockets = new Set<WebSocket>();
  readonly upgrades: UpgradeRecord[] = [];
  readonly requests: EsmsFakeRequest[] = [];
  /** frames received from clients (parsed) */
  readonly received: unknown[] = [];
  private readonly revoked = new Set<string>();
  pings = 0;
  pongs = 0;
  /** stop answering pings (a half-dead link) */
  stalled = false;
  /** answer every upgrade with this HTTP status instead of checking the cookie */
  forceUpgradeStatus?: number;
  /** REST keys that work; esms_test_… keys validate but send nothing */
  apiKeys = new Set<string>(['esms_live_FAKEKEY0001', 'esms_test_FAKEKEY0001']);
  balance = 2000;
  currency = 'UGX';
  costPerSegment = 1.2;
  /** connections dropped by dropAt(), per phase */
  readonly dropped: Record<EsmsDropPhase, number> = { upgrade: 0, open: 0, ping: 0 };
  /** upgrades held open without an answer by ignoreUpgrades() */
  ignoredUpgrades = 0;
  /** answer upgrades / pings this much later (a slow server) */
  upgradeDelayMs = 0;
  pongDelayMs = 0;
  private readonly drops = new Map<EsmsDropPhase, number>();
  private ignoreUpgradeCount = 0;
  private readonly held = new Set<Duplex>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private port = 0;

  constructor() {
    this.server = http.createServer((req, res) => this.onRequest(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A valid portal token (7 days by default, like the real one). */
  token(opts: { expiresInSec?: number; sub?: string } = {}): string {
    const now = Math.floor(Date.now() / 1000);
    return makeJwt({
      sub: opts.sub ?? 'user-1',
      iat: now,
      exp: now + (opts.expiresInSec ?? 7 * 86400),
      type: 'access',
      jti: randomUUID(),
    });
  }

  /** The server stops accepting this token (logout / rotation). */
  revoke(token: string): void {
    this.revoked.add(token);
  }

  get openSockets(): number {
    let n = 0;
    for (const ws of this.sockets) if (ws.readyState === WebSocket.OPEN) n++;
    return n;
  }

  get acceptedUpgrades(): number {
    return this.upgrades.filter((u) => u.status === 101).length;
  }

  get rejectedUpgrades(): number {
    return this.upgrades.filter((u) => u.status !== 101).length;
  }

  /** Push one event (object or raw text) to every open socket. */
  push(event: unknown): void {
    const text = typeof event === 'string' ? event : JSON.stringify(event);
    for (const ws of this.sockets) if (ws.readyState === WebSocket.OPEN) ws.send(text);
  }

  messageStatus(fields: Partial<Record<string, unknown>> = {}): Record<string, unknown> {
    const event = {
      type: 'message_status',
      message_id: `msg-${randomUUID()}`,
      status: 'delivered',
      dlr_status: 'DELIVRD',
      updated_at: new Date().toISOString(),
      ...fields,
    };
    this.push(event);
    return event;
  }

  /** Set the balance and push a balance_update. */
  setBalance(balance: number): Record<string, unknown> {
    this.balance = balance;
    const event = { type: 'balance_update', balance, currency: this.currency };
    this.push(event);
    return event;
  }

  notification(fields: Partial<Record<string, unknown>> = {}): Record<string, unknown> {
    const event = {
      type: 'notification',
      id: 42,
      notification_type: 'sender_approved',
      title: 'Sender ID approved',
      body: 'MyApp has been approved for Uganda and Kenya.',
      link: '/sender-ids',
      ...fields,
    };
    this.push(event);
    return event;
  }

  /** Invalid JSON, a non-object, an unknown type and a binary frame. */
  garbage(): void {
    for (const ws of this.sockets) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      ws.send('this is {not json');
      ws.send('[1,2,3]');
      ws.send(JSON.stringify({ type: 'mystery_event', x: 1 }));
      ws.send(Buffer.from([1, 2, 3]), { binary: true });
    }
  }

  /** Send raw data (text or binary) to every open socket. */
  pushRaw(data: string | Buffer, binary = Buffer.isBuffer(data)): void {
    for (const ws of this.sockets) if (ws.readyState === WebSocket.OPEN) ws.send(data, { binary });
  }

  /** The next `count` connections that reach `phase` are dropped there (see ESMS_DROP_PHASES). */
  dropAt(phase: EsmsDropPhase, count = 1): void {
    this.drops.set(phase, (this.drops.get(phase) ?? 0) + count);
  }

  /** drops armed by dropAt() that have not happened yet */
  get pendingDrops(): number {
    let n = 0;
    for (const v of this.drops.values()) n += v;
    return n;
  }

  /** the next `count` upgrade requests are never answered (the TCP socket stays open, silent) */
  ignoreUpgrades(count = 1): void {
    this.ignoreUpgradeCount += count;
  }

  /** upgrade requests held unanswered now */
  get heldUpgrades(): number {
    return this.held.size;
  }

  private dropHere(phase: EsmsDropPhase): boolean {
    const left = this.drops.get(phase) ?? 0;
    if (left <= 0) return false;
    this.drops.set(phase, left - 1);
    this.dropped[phase]++;
    return true;
  }

  private later(ms: number, fn: () => void): void {
    if (ms <= 0) return fn();
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** Kill every socket without a close frame (a dropped link). */
  drop(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  stall(on = true): void {
    this.stalled = on;
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.ignoreUpgradeCount > 0) {
      this.ignoreUpgradeCount--;
      this.ignoredUpgrades++;
      this.held.add(socket);
      socket.on('close', () => this.held.delete(socket));
      socket.on('error', () => undefined);
      return;
    }
    if (this.dropHere('upgrade')) return void socket.destroy();
    if (this.upgradeDelayMs > 0) {
      socket.on('error', () => undefined);
      return this.later(this.upgradeDelayMs, () => {
        if (!socket.destroyed) this.answerUpgrade(req, socket, head);
      });
    }
    this.answerUpgrade(req, socket, head);
  }

  private answerUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    const token = parseCookies(req.headers.cookie).esms_access_token;
    const reject = (status: number, detail: string) => {
      this.upgrades.push({ token, status, at: Date.now() });
      const body = JSON.stringify({ detail });
      socket.write(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\n` +
          'Content-Type: application/json\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          'Connection: close\r\n\r\n' +
          body,
      );
      socket.destroy();
    };
    if (path !== '/ws') return reject(404, 'Not Found');
    if (this.forceUpgradeStatus) return reject(this.forceUpgradeStatus, 'forced');
    if (!token) return reject(401, 'Not authenticated');
    if (!this.tokenValid(token)) return reject(401, 'Could not validate credentials');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.upgrades.push({ token, status: 101, at: Date.now() });
      this.sockets.add(ws);
      ws.on('close', () => this.sockets.delete(ws));
      ws.on('error', () => {});
      if (this.dropHere('open')) return void ws.terminate();
      ws.on('message', (data) => {
        let frame: unknown;
        try {
          frame = JSON.parse(data.toString());
        } catch {
          return;
        }
        this.received.push(frame);
        if ((frame as { type?: unknown })?.type === 'ping') {
          this.pings++;
          if (this.dropHere('ping')) return void ws.terminate();
          if (!this.stalled)
            this.later(this.pongDelayMs, () => {
              if (this.stalled || ws.readyState !== WebSocket.OPEN) return;
              this.pongs++;
              ws.send(JSON.stringify({ type: 'pong' }));
            });
        }
      });
    });
  }

  private tokenValid(token: string): boolean {
    if (this.revoked.has(token)) return false;
    const parts = token.split('.');
    if (parts.length !== 3) return false;
    const sig = b64url(createHmac('sha256', SECRET).update(`${parts[0]}.${parts[1]}`).digest());
    if (sig !== parts[2]) return false;
    try {
      const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: number };
      return typeof claims.exp === 'number' && claims.exp * 1000 > Date.now();
    } catch {
      return false;
    }
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const reply = (status: number, payload: unknown) => {
        this.requests.push({
          method: req.method ?? '',
          path,
          authorization: req.headers.authorization,
          body,
          status,
        });
        const text = JSON.stringify(payload);
        res.writeHead(status, {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(text),
        });
        res.end(text);
      };
      if (path !== '/api/messages/send') return reply(404, { detail: 'Not Found' });
      if (req.method !== 'POST') return reply(405, { detail: 'Method Not Allowed' });
      const auth = req.headers.authorization ?? '';
      const key = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (!key) return reply(401, { detail: 'Not authenticated' });
      if (!this.apiKeys.has(key)) return reply(401, { detail: 'Invalid API key' });
      const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
      const problems: { loc: string[]; msg: string; type: string }[] = [];
      if (typeof b.to !== 'string')
        problems.push({ loc: ['body', 'to'], msg: 'Field required', type: 'missing' });
      else if (!/^\+[1-9]\d{6,14}$/.test(b.to))
        problems.push({ loc: ['body', 'to'], msg: 'Invalid phone number', type: 'value_error' });
      if (typeof b.text !== 'string' || !b.text)
        problems.push({ loc: ['body', 'text'], msg: 'Field required', type: 'missing' });
      if (problems.length) return reply(422, { detail: problems });
      const segments = Math.max(1, Math.ceil((b.text as string).length / 160));
      const cost = Math.round(segments * this.costPerSegment * 100) / 100;
      const test = key.startsWith('esms_test_');
      if (!test && cost > this.balance)
        return reply(402, {
          detail: {
            code: 'insufficient_balance',
            message: `Insufficient balance: ${this.balance.toFixed(2)} ${this.currency} available, ${cost.toFixed(2)} needed`,
          },
        });
      const id = `msg-${randomUUID()}`;
      if (!test) this.balance = Math.round((this.balance - cost) * 100) / 100;
      reply(200, {
        id,
        status: test ? 'test' : 'submitted',
        to: b.to,
        sender_id: b.sender_id ?? null,
        segments,
        cost,
        balance_after: this.balance,
        currency: this.currency,
      });
      if (!test) {
        setImmediate(() => {
          this.push({ type: 'balance_update', balance: this.balance, currency: this.currency });
          this.push({
            type: 'message_status',
            message_id: id,
            status: 'delivered',
            dlr_status: 'DELIVRD',
            updated_at: new Date().toISOString(),
          });
        });
      }
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const socket of this.held) socket.destroy();
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export async function startFakeEsms(): Promise<FakeEsms> {
  const fake = new FakeEsms();
  await fake.start();
  return fake;
}
