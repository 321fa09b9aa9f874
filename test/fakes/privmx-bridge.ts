/**
 * A loopback PrivMX Bridge that speaks the real server-side notification protocol
 * (as the Bridge documents it): JSON-RPC 2.0 over HTTP POST /api and over a WebSocket at
 * /api, the three `manager/auth` grants, token expiry and refresh revocation, scope checks, the
 * 16-session cap, protocol pings, per-socket subscriptions, notifications for every channel, and the
 * real error codes. Tests, the demo (`npm start`) and benchmarks drive it through the controls below.
 */
import crypto from 'crypto';
import http from 'http';
import type { AddressInfo } from 'net';
import type { Duplex } from 'stream';
import { WebSocket, WebSocketServer } from 'ws';
// protocol constants only: the fake never runs the client code it is there to check
import { CHANNELS, type PrivmxChannel } from '../../nodes/lib/privmx/envelope';
import { RpcCode } from '../../nodes/lib/privmx/jsonrpc';

export { CHANNELS };
export type Channel = PrivmxChannel;

/** What a default API key has (the real Bridge's default). */
export const DEFAULT_KEY_SCOPES = [
  'context',
  'apiKey',
  'solution',
  'solution:*',
  'inbox',
  'store',
  'thread',
  'stream',
  'kvdb',
];

/** The Bridge's own message for each code. */
const MESSAGES: Record<number, string> = {
  [RpcCode.PARSE_ERROR]: 'Parse error',
  [RpcCode.METHOD_NOT_FOUND]: 'Method not found',
  [RpcCode.INVALID_PARAMS]: 'Invalid params',
  [RpcCode.INTERNAL_ERROR]: 'Internal error',
  [RpcCode.INVALID_TOKEN]: 'Invalid token',
  [RpcCode.INVALID_SIGNATURE]: 'Invalid signature',
  [RpcCode.API_KEY_DOES_NOT_EXIST]: 'Api key does not exist',
  [RpcCode.INVALID_CREDENTIALS]: 'Invalid credentials',
  [RpcCode.INSUFFICIENT_SCOPE]: 'Insufficient scope',
  [RpcCode.UNAUTHORIZED]: 'Unauthorized',
  [RpcCode.METHOD_CALLABLE_WITH_WEBSOCKET_ONLY]: 'Method callable with websocket only',
};

class RpcFailure extends Error {
  constructor(
    readonly code: number,
    readonly data: unknown = null,
  ) {
    super(MESSAGES[code] ?? `Error ${code}`);
  }
}

export interface FakeApiKey {
  id: string;
  secret: string;
  scopes: string[];
  enabled: boolean;
}

interface TokenSession {
  id: number;
  apiKeyId: string;
  created: number;
  scopes: string[];
  accessToken: string;
  accessTokenExpiry: number;
  refreshToken: string;
  refreshTokenExpiry: number;
}

interface Client {
  id: number;
  ws: WebSocket;
  /** a socket opened with a query string is a binary end-user socket: text frames are dropped */
  endUser: boolean;
  boundToken?: string;
  channels: Set<Channel>;
  /** solution scopes of the token bound when it subscribed: without one nothing is delivered */
  solutions: string[];
  answeredSincePing: boolean;
  stalled: boolean;
}

export interface FakeBridgeOptions {
  host?: string;
  port?: number;
  /** server protocol ping period (real: 10 s) */
  pingIntervalMs?: number;
  accessTokenLifetimeMs?: number;
  refreshTokenLifetimeMs?: number;
  maxSessions?: number;
  /** the solution every pushed event belongs to */
  solutionId?: string;
  apiKeys?: Array<{ id: string; secret: string; scopes?: string[] }>;
  /** emit a realistic event every `demoIntervalMs` */
  demo?: boolean;
  demoIntervalMs?: number;
  /** answer WebSocket requests after a random delay up to this, so answers come out of order */
  responseJitterMs?: number;
  /** answer every WebSocket request this much later (a slow server) */
  responseDelayMs?: number;
}

/**
 * Where a test can make the fake drop a socket (terminate, no close frame), in protocol order:
 * `connect` right after the upgrade; `auth` when manager/auth arrives (never answered); `bind` when
 * manager/bindAccessToken arrives (auth answered, nothing bound); `subscribe` when
 * manager/subscribeToChannel arrives (never answered); `subscribed` right after answering it.
 */
export const BRIDGE_DROP_PHASES = ['connect', 'auth', 'bind', 'subscribe', 'subscribed'] as const;
export type BridgeDropPhase = (typeof BRIDGE_DROP_PHASES)[number];

export interface FakeBridgeStats {
  authCalls: { api_key_credentials: number; refresh_token: number; api_key_signature: number };
  authFailures: number;
  bindCalls: number;
  subscribeCalls: number;
  unsubscribeCalls: number;
  httpRequests: number;
  wsRequests: number;
  /** WebSocket sessions accepted (upgrade completed) */
  connections: number;
  /** WebSocket upgrade requests that reached the server (accepted, held or refused) */
  upgradeRequests: number;
  /** TCP connections the server accepted (every attempt that reached it, upgraded or not) */
  tcpConnections: number;
  pingsSent: number;
  terminatedForSilence: number;
  delivered: number;
  closeCodes: number[];
  /** sockets dropped by dropAt(), per phase */
  dropped: Record<BridgeDropPhase, number>;
  /** requests left unanswered by ignoreNext() */
  ignored: number;
}

export interface RecordedRequest {
  transport: 'http' | 'ws';
  method: string;
  /** params with secrets and tokens replaced by '***' */
  params: Record<string, unknown>;
  at: number;
}

export function objectId(): string {
  return crypto.randomBytes(12).toString('hex');
}

const REDACT = new Set(['apiKeySecret', 'accessToken', 'refreshToken', 'signature']);

/** The demo's threads: on-call alerts (the demo flow texts about these) and the team's chat. */
export const DEMO_THREADS = {
  alerts: '66715bd6ef3efd9ecfe7a1cc',
  team: '66715bd6ef3efd9ecfe7a1d2',
} as const;
const DEMO_PEOPLE = ['janek', 'ola', 'marta', 'piotr', 'kasia'] as const;
const DEMO_ALERTS = [
  'Pump 3 pressure high',
  'Backup of db-2 failed',
  'Disk 91% full on files-1',
  'Door B2 open after hours',
  'UPS on battery in room 4',
  'Certificate for shop.example expires in 5 days',
  'Fridge 2 at 9 °C',
] as const;
const DEMO_CHAT = [
  'Who has the keys to the lab?',
  'Deploy done, all green',
  'Lunch at 12:30?',
  'I will be late, train delayed',
  'Updated the on-call rota',
  'Can someone review my change?',
] as const;
const DEMO_FILES = [
  { name: 'report-q3.pdf', size: 284_113 },
  { name: 'rota-december.xlsx', size: 18_402 },
  { name: 'site-photo.jpg', size: 1_204_551 },
  { name: 'contract-draft.docx', size: 64_090 },
] as const;

/** Realistic notification bodies (shapes from the Bridge's management converters). */
export const fakeEvents = {
  contextId: '662115304034ea5684acac8b',
  threadNewMessage(o: Partial<Record<string, unknown>> = {}) {
    const now = Date.now();
    return {
      channel: 'thread' as const,
      type: 'threadNewMessage',
      data: {
        id: objectId(),
        contextId: fakeEvents.contextId,
        threadId: '66715bd6ef3efd9ecfe7a1cc',
        createDate: now,
        author: 'janek',
        keyId: 'my-key',
        publicMeta: { kind: 'alert' },
        ...o,
      },
    };
  },
  threadStats(threadId = '66715bd6ef3efd9ecfe7a1cc', messages = 1) {
    return {
      channel: 'thread' as const,
      type: 'threadStats',
      data: { threadId, lastMsgDate: Date.now(), messages },
    };
  },
  threadCreated(o: Partial<Record<string, unknown>> = {}) {
    const now = Date.now();
    return {
      channel: 'thread' as const,
      type: 'threadCreated',
      data: {
        id: objectId(),
        contextId: fakeEvents.contextId,
        createDate: now,
        creator: 'janek',
        lastModificationDate: now,
        lastModifier: 'janek',
        keyId: 'my-key',
        users: ['janek', 'ola'],
        managers: ['janek'],
        version: 1,
        lastMsgDate: 0,
        messages: 0,
        publicMeta: null,
        ...o,
      },
    };
  },
  threadDeleted(threadId = '66715bd6ef3efd9ecfe7a1cc') {
    return { channel: 'thread' as const, type: 'threadDeleted', data: { threadId } };
  },
  threadDeletedMessage(messageId = objectId(), threadId = '66715bd6ef3efd9ecfe7a1cc') {
    return { channel: 'thread' as const, type: 'threadDeletedMessage', data: { messageId, threadId } };
  },
  /** a new inbox entry: a threadNewMessage on the inbox's backing thread */
  inboxEntry(inboxId = '6718ca647117eb03ed335dd0', threadId = '6718ca647117eb03ed335dcf') {
    return fakeEvents.threadNewMessage({
      threadId,
      author: '<anonymous>',
      keyId: `<inbox-${inboxId}>`,
      publicMeta: null,
    });
  },
  storeFileCreated(o: Partial<Record<string, unknown>> = {}) {
    const now = Date.now();
    return {
      channel: 'store' as const,
      type: 'storeFileCreated',
      data: {
        id: objectId(),
        version: 1,
        storeId: '6718ca61234548e1928939bf',
        contextId: fakeEvents.contextId,
        created: now,
        creator: 'janek',
        lastModifier: 'janek',
        lastModificationDate: now,
        size: 1024,
        keyId: 'my-key',
        publicMeta: null,
        ...o,
      },
    };
  },
  storeStatsChanged(id = '6718ca61234548e1928939bf', files = 1) {
    return {
      channel: 'store' as const,
      type: 'storeStatsChanged',
      data: { id, contextId: fakeEvents.contextId, lastFileDate: Date.now(), files },
    };
  },
  storeDeleted(storeId = '6718ca61234548e1928939bf') {
    return { channel: 'store' as const, type: 'storeDeleted', data: { storeId } };
  },
  inboxCreated(o: Partial<Record<string, unknown>> = {}) {
    const now = Date.now();
    return {
      channel: 'inbox' as const,
      type: 'inboxCreated',
      data: {
        id: '6718ca647117eb03ed335dd0',
        contextId: fakeEvents.contextId,
        createDate: now,
        creator: 'janek',
        lastModificationDate: now,
        lastModifier: 'janek',
        keyId: 'my-key',
        users: ['janek'],
        managers: ['janek'],
        version: 1,
        publicMeta: null,
        ...o,
      },
    };
  },
  inboxDeleted(inboxId = '6718ca647117eb03ed335dd0') {
    return { channel: 'inbox' as const, type: 'inboxDeleted', data: { inboxId } };
  },
  streamRoomCreated(o: Partial<Record<string, unknown>> = {}) {
    const now = Date.now();
    return {
      channel: 'stream' as const,
      type: 'streamRoomCreated',
      data: {
        id: '6718cb0a7117eb03ed335e01',
        contextId: fakeEvents.contextId,
        createDate: now,
        creator: 'janek',
        lastModificationDate: now,
        lastModifier: 'janek',
        keyId: 'my-key',
        users: ['janek'],
        managers: ['janek'],
        version: 1,
        publicMeta: null,
        ...o,
      },
    };
  },
  streamRoomDeleted(streamRoomId = '6718cb0a7117eb03ed335e01') {
    return { channel: 'stream' as const, type: 'streamRoomDeleted', data: { streamRoomId } };
  },
  kvdbNewEntry(o: Partial<Record<string, unknown>> = {}) {
    const now = Date.now();
    return {
      channel: 'kvdb' as const,
      type: 'kvdbNewEntry',
      data: {
        kvdbEntryKey: 'sensor/42',
        version: 1,
        contextId: fakeEvents.contextId,
        kvdbId: '6718cb1f7117eb03ed335e10',
        createDate: now,
        author: 'janek',
        keyId: 'my-key',
        lastModificationDate: now,
        lastModifier: 'janek',
        publicMeta: null,
        ...o,
      },
    };
  },
  kvdbDeletedEntry(entryKey = 'sensor/42', kvdbId = '6718cb1f7117eb03ed335e10') {
    return { channel: 'kvdb' as const, type: 'kvdbDeletedEntry', data: { entryKey, kvdbId } };
  },
};

export type FakeEvent = { channel: Channel; type: string; data: unknown };

export class FakePrivmxBridge {
  readonly solutionId: string;
  readonly stats: FakeBridgeStats = {
    authCalls: { api_key_credentials: 0, refresh_token: 0, api_key_signature: 0 },
    authFailures: 0,
    bindCalls: 0,
    subscribeCalls: 0,
    unsubscribeCalls: 0,
    httpRequests: 0,
    wsRequests: 0,
    connections: 0,
    upgradeRequests: 0,
    tcpConnections: 0,
    pingsSent: 0,
    terminatedForSilence: 0,
    delivered: 0,
    closeCodes: [],
    dropped: { connect: 0, auth: 0, bind: 0, subscribe: 0, subscribed: 0 },
    ignored: 0,
  };
  readonly requests: RecordedRequest[] = [];
  accessTokenLifetimeMs: number;
  refreshTokenLifetimeMs: number;
  responseJitterMs: number;
  responseDelayMs: number;
  readonly maxSessions: number;

  private readonly apiKeys = new Map<string, FakeApiKey>();
  private readonly sessions: TokenSession[] = [];
  private readonly clients = new Set<Client>();
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private pingTimer: NodeJS.Timeout | undefined;
  private demoTimer: NodeJS.Timeout | undefined;
  private demoStep = 0;
  private nextSessionId = 1;
  private nextClientId = 1;
  private readonly failures = new Map<string, RpcFailure[]>();
  private readonly drops = new Map<BridgeDropPhase, number>();
  /** drops decided but not done yet (the answer goes out first) */
  private dropsUnderway = 0;
  private readonly ignores = new Map<string, number>();
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private closed = false;
  private holding = false;
  private readonly held: Array<() => void> = [];
  private readonly heldSockets = new Set<Duplex>();
  private port = 0;
  private readonly host: string;

  private constructor(private readonly opts: FakeBridgeOptions) {
    this.host = opts.host ?? '127.0.0.1';
    this.solutionId = opts.solutionId ?? 'f0c9a1b2-0000-4000-8000-000000000001';
    this.accessTokenLifetimeMs = opts.accessTokenLifetimeMs ?? 15 * 60_000;
    this.refreshTokenLifetimeMs = opts.refreshTokenLifetimeMs ?? 7 * 24 * 3_600_000;
    this.maxSessions = opts.maxSessions ?? 16;
    this.responseJitterMs = opts.responseJitterMs ?? 0;
    this.responseDelayMs = opts.responseDelayMs ?? 0;
    for (const key of opts.apiKeys ?? []) this.addApiKey(key.id, key.secret, key.scopes);
    this.server = http.createServer((req, res) => this.handleHttp(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('connection', () => this.stats.tcpConnections++);
    this.server.on('upgrade', (req, socket, head) => {
      this.stats.upgradeRequests++;
      if (this.holding) {
        // a slow server: the upgrade is answered when the test calls releaseUpgrades()
        this.heldSockets.add(socket);
        socket.on('close', () => this.heldSockets.delete(socket));
        this.held.push(() => {
          this.heldSockets.delete(socket);
          if (!socket.destroyed) this.upgrade(req, socket, head);
        });
        return;
      }
      this.upgrade(req, socket, head);
    });
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.endsWith('/api')) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, url.search !== ''));
  }

  /** Start on 127.0.0.1 (port 0 = ephemeral unless `port` is given). */
  static async start(opts: FakeBridgeOptions = {}): Promise<FakePrivmxBridge> {
    const fake = new FakePrivmxBridge(opts);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(opts.port ?? 0, fake.host, () => {
        fake.server.off('error', reject);
        resolve();
      });
    });
    fake.port = (fake.server.address() as AddressInfo).port;
    fake.startPings(opts.pingIntervalMs ?? 10_000);
    if (opts.demo) fake.startDemo(opts.demoIntervalMs);
    return fake;
  }

  /** http://127.0.0.1:PORT — what a user types into the config node */
  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://${this.host}:${this.port}/api`;
  }

  // --- test controls -------------------------------------------------------------------------------

  addApiKey(id: string, secret: string, scopes: string[] = DEFAULT_KEY_SCOPES): FakeApiKey {
    const key = { id, secret, scopes: [...scopes], enabled: true };
    this.apiKeys.set(id, key);
    return key;
  }

  /** open sockets */
  get socketCount(): number {
    let n = 0;
    for (const c of this.clients) if (c.ws.readyState === WebSocket.OPEN) n++;
    return n;
  }

  /** the channel set of every open socket */
  subscriptions(): Channel[][] {
    return [...this.clients]
      .filter((c) => c.ws.readyState === WebSocket.OPEN)
      .map((c) => CHANNELS.filter((ch) => c.channels.has(ch)));
  }

  /** live server-side sessions of an API key (the cap is 16) */
  sessionCount(apiKeyId?: string): number {
    return this.sessions.filter((s) => !apiKeyId || s.apiKeyId === apiKeyId).length;
  }

  get authCount(): number {
    const a = this.stats.authCalls;
    return a.api_key_credentials + a.refresh_token + a.api_key_signature;
  }

  /** Send a notification to every socket subscribed to `channel` (with a solution scope). */
  push(channel: Channel, type: string, data: unknown, timestamp = Date.now()): number {
    const text = JSON.stringify({ channel, type, data, timestamp });
    let n = 0;
    for (const c of this.clients) {
      if (c.stalled || c.ws.readyState !== WebSocket.OPEN || !c.channels.has(channel)) continue;
      if (!c.solutions.some((s) => s === 'solution:*' || s === `solution:${this.solutionId}`)) continue;
      c.ws.send(text);
      n++;
    }
    this.stats.delivered += n;
    return n;
  }

  emit(event: FakeEvent, timestamp?: number): number {
    return this.push(event.channel, event.type, event.data, timestamp);
  }

  /** Send anything to every open socket (garbage, odd JSON-RPC, binary). */
  sendRaw(data: string | Buffer, opts: { binary?: boolean } = {}): number {
    let n = 0;
    for (const c of this.clients) {
      if (c.stalled || c.ws.readyState !== WebSocket.OPEN) continue;
      c.ws.send(data, { binary: opts.binary ?? Buffer.isBuffer(data) });
      n++;
    }
    return n;
  }

  /** Every access and refresh token expires now. */
  expireTokens(which: 'access' | 'both' = 'both'): void {
    const past = Date.now() - 1;
    for (const s of this.sessions) {
      s.accessTokenExpiry = past;
      if (which === 'both') s.refreshTokenExpiry = past;
    }
  }

  /** Kill every socket abruptly (like a crashed server or a cut cable). */
  dropAll(): void {
    for (const c of this.clients) c.ws.terminate();
  }

  /** Close every socket cleanly with `code`. */
  closeAll(code = 1001, reason = 'going away'): void {
    for (const c of this.clients) c.ws.close(code, reason);
  }

  /** The current sockets go silent: no pings, no answers, no events; they are not terminated either. */
  stall(): void {
    for (const c of this.clients) c.stalled = true;
  }

  /** The next `method` request fails with `code` (once per call of failNext). */
  failNext(method: string, code: number, data: unknown = null): void {
    const list = this.failures.get(method) ?? [];
    list.push(new RpcFailure(code, data));
    this.failures.set(method, list);
  }

  /** The next `count` sockets that reach `phase` are dropped there (see BRIDGE_DROP_PHASES). */
  dropAt(phase: BridgeDropPhase, count = 1): void {
    this.drops.set(phase, (this.drops.get(phase) ?? 0) + count);
  }

  /** consume one armed drop at `phase`: true = drop this socket now */
  private dropHere(phase: BridgeDropPhase): boolean {
    const left = this.drops.get(phase) ?? 0;
    if (left <= 0) return false;
    this.drops.set(phase, left - 1);
    this.stats.dropped[phase]++;
    return true;
  }

  /** drops armed by dropAt() that have not happened yet */
  get pendingDrops(): number {
    let n = this.dropsUnderway;
    for (const v of this.drops.values()) n += v;
    return n;
  }

  /** Leave WebSocket upgrades unanswered (clients stay CONNECTING) until releaseUpgrades(). */
  holdUpgrades(): void {
    this.holding = true;
  }

  /** upgrade requests waiting for releaseUpgrades() */
  get heldUpgrades(): number {
    return this.held.length;
  }

  /** Answer the held upgrades (in arrival order) and stop holding new ones. */
  releaseUpgrades(): void {
    this.holding = false;
    for (const answer of this.held.splice(0)) answer();
  }

  /** The next `count` `method` requests are never answered (the socket stays open and keeps pinging). */
  ignoreNext(method: string, count = 1): void {
    this.ignores.set(method, (this.ignores.get(method) ?? 0) + count);
  }

  /** Forget every server-side session (their tokens stop working). */
  revokeAllSessions(): void {
    this.sessions.length = 0;
  }

  /**
   * Emit a realistic event every `intervalMs`, in a fixed rotation of six (deterministic, no random):
   * an alert in the on-call thread (DEMO_THREADS.alerts: the one the demo texts about), a new file in
   * the store, chat in the team thread, an inbox entry, more chat, the store's stats. Alerts come from
   * different people with different texts; every fourth alert is re-posted as it was (a monitoring
   * system repeating itself), which the sinks' duplicate guard is there for.
   */
  startDemo(intervalMs = 3_000): void {
    this.stopDemo();
    this.demoTimer = setInterval(() => this.demoTick(), intervalMs);
    this.demoTimer.unref();
  }

  stopDemo(): void {
    if (this.demoTimer) clearInterval(this.demoTimer);
    this.demoTimer = undefined;
  }

  demoTick(): void {
    const tick = this.demoStep++;
    const round = Math.floor(tick / 6);
    const pick = <T>(list: readonly T[], i: number): T => list[i % list.length];
    switch (tick % 6) {
      case 0: {
        // every fourth alert repeats the one before it, word for word
        const n = round % 4 === 3 ? round - 1 : round;
        this.emit(
          fakeEvents.threadNewMessage({
            threadId: DEMO_THREADS.alerts,
            author: pick(DEMO_PEOPLE, n),
            publicMeta: { kind: 'alert', title: pick(DEMO_ALERTS, n) },
          }),
        );
        this.emit(fakeEvents.threadStats(DEMO_THREADS.alerts, round + 1));
        break;
      }
      case 1: {
        const file = pick(DEMO_FILES, round);
        this.emit(
          fakeEvents.storeFileCreated({
            creator: pick(DEMO_PEOPLE, round + 2),
            lastModifier: pick(DEMO_PEOPLE, round + 2),
            size: file.size + round * 137,
            publicMeta: { name: file.name },
          }),
        );
        break;
      }
      case 2:
      case 4: {
        const n = round * 2 + (tick % 6 === 4 ? 1 : 0);
        this.emit(
          fakeEvents.threadNewMessage({
            threadId: DEMO_THREADS.team,
            author: pick(DEMO_PEOPLE, n + 1),
            publicMeta: { kind: 'chat', title: pick(DEMO_CHAT, n) },
          }),
        );
        break;
      }
      case 3:
        this.emit(fakeEvents.inboxEntry());
        break;
      default:
        this.emit(fakeEvents.storeStatsChanged('6718ca61234548e1928939bf', round + 1));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopDemo();
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const t of this.pendingTimers) clearTimeout(t);
    this.pendingTimers.clear();
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    this.held.length = 0;
    for (const socket of this.heldSockets) socket.destroy();
    this.heldSockets.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- transport -----------------------------------------------------------------------------------

  private startPings(intervalMs: number): void {
    this.pingTimer = setInterval(() => {
      for (const c of this.clients) {
        if (c.stalled || c.ws.readyState !== WebSocket.OPEN) continue;
        if (!c.answeredSincePing) {
          this.stats.terminatedForSilence++;
          c.ws.terminate();
          continue;
        }
        c.answeredSincePing = false;
        c.ws.ping();
        this.stats.pingsSent++;
      }
    }, intervalMs);
    this.pingTimer.unref();
  }

  private accept(ws: WebSocket, endUser: boolean): void {
    this.stats.connections++;
    const client: Client = {
      id: this.nextClientId++,
      ws,
      endUser,
      channels: new Set(),
      solutions: [],
      answeredSincePing: true,
      stalled: false,
    };
    this.clients.add(client);
    ws.on('pong', () => {
      client.answeredSincePing = true;
    });
    ws.on('message', (data, isBinary) => {
      client.answeredSincePing = true;
      if (client.stalled) return;
      // a socket with a query string is an end-user (binary) socket: text frames are dropped
      if (client.endUser || isBinary) return;
      this.handleWsText(client, data.toString());
    });
    ws.on('close', (code) => {
      this.stats.closeCodes.push(code);
      this.clients.delete(client);
    });
    ws.on('error', () => undefined);
    if (this.dropHere('connect')) ws.terminate();
  }

  private handleWsText(client: Client, text: string): void {
    let dropAfterReply = false;
    const reply = (body: unknown) => {
      const send = () => {
        if (client.ws.readyState === WebSocket.OPEN && !client.stalled) client.ws.send(JSON.stringify(body));
        // the answer is on its way; the socket dies right after it
        if (dropAfterReply)
          setImmediate(() => {
            this.dropsUnderway--;
            client.ws.terminate();
          });
      };
      const delay = this.responseDelayMs + Math.random() * this.responseJitterMs;
      if (delay > 0) {
        const t = setTimeout(() => {
          this.pendingTimers.delete(t);
          send();
        }, delay);
        this.pendingTimers.add(t);
      } else send();
    };
    const request = this.parseRequest(text);
    if ('error' in request) return reply(request.error);
    this.stats.wsRequests++;
    const { id, method, params } = request;
    this.record('ws', method, params);
    const phase =
      method === 'manager/auth'
        ? 'auth'
        : method === 'manager/bindAccessToken'
          ? 'bind'
          : method === 'manager/subscribeToChannel'
            ? 'subscribe'
            : undefined;
    if (phase && this.dropHere(phase)) {
      client.ws.terminate();
      return;
    }
    const ignoring = this.ignores.get(method) ?? 0;
    if (ignoring > 0) {
      this.ignores.set(method, ignoring - 1);
      this.stats.ignored++;
      return;
    }
    if (method === 'manager/subscribeToChannel' && this.dropHere('subscribed')) {
      dropAfterReply = true;
      this.dropsUnderway++;
    }
    try {
      this.injected(method);
      let result: unknown;
      switch (method) {
        case 'manager/auth':
          result = this.auth(params);
          break;
        case 'manager/bindAccessToken':
          result = this.bind(client, params);
          break;
        case 'manager/subscribeToChannel':
          result = this.subscribe(client, params, true);
          break;
        case 'manager/unsubscribeFromChannel':
          result = this.subscribe(client, params, false);
          break;
        default:
          throw new RpcFailure(RpcCode.METHOD_NOT_FOUND, method);
      }
      reply({ jsonrpc: '2.0', id, result });
    } catch (err) {
      reply(this.errorBody(id, err));
    }
  }

  private handleHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.endsWith('/api')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('Method not allowed');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 1_000_000) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.writableEnded) return;
      const send = (body: unknown) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const request = this.parseRequest(Buffer.concat(chunks).toString('utf8'));
      if ('error' in request) return send(request.error);
      this.stats.httpRequests++;
      const { id, method, params } = request;
      this.record('http', method, params);
      try {
        this.injected(method);
        if (method === 'manager/auth') return send({ jsonrpc: '2.0', id, result: this.auth(params) });
        if (
          method === 'manager/bindAccessToken' ||
          method === 'manager/subscribeToChannel' ||
          method === 'manager/unsubscribeFromChannel'
        ) {
          throw new RpcFailure(RpcCode.METHOD_CALLABLE_WITH_WEBSOCKET_ONLY);
        }
        throw new RpcFailure(RpcCode.METHOD_NOT_FOUND, method);
      } catch (err) {
        send(this.errorBody(id, err));
      }
    });
  }

  private parseRequest(
    text: string,
  ): { id: number | string; method: string; params: Record<string, unknown> } | { error: unknown } {
    const parseError = {
      error: {
        jsonrpc: '2.0',
        error: { code: RpcCode.PARSE_ERROR, message: MESSAGES[RpcCode.PARSE_ERROR], data: null },
      },
    };
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return parseError;
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) return parseError;
    const b = body as Record<string, unknown>;
    const params = b.params;
    if (
      b.jsonrpc !== '2.0' ||
      typeof b.method !== 'string' ||
      (typeof b.id !== 'number' && typeof b.id !== 'string') ||
      !params ||
      typeof params !== 'object' ||
      Array.isArray(params)
    ) {
      return parseError;
    }
    return { id: b.id, method: b.method, params: params as Record<string, unknown> };
  }

  private errorBody(id: number | string, err: unknown) {
    const e = err instanceof RpcFailure ? err : new RpcFailure(RpcCode.INTERNAL_ERROR, String(err));
    return { jsonrpc: '2.0', id, error: { code: e.code, message: e.message, data: e.data } };
  }

  private injected(method: string): void {
    const list = this.failures.get(method);
    const next = list?.shift();
    if (next) throw next;
  }

  private record(transport: 'http' | 'ws', method: string, params: Record<string, unknown>): void {
    const safe: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(params)) safe[k] = REDACT.has(k) ? '***' : v;
    this.requests.push({ transport, method, params: safe, at: Date.now() });
    if (this.requests.length > 2000) this.requests.splice(0, this.requests.length - 1000);
  }

  // --- manager API ---------------------------------------------------------------------------------

  private auth(params: Record<string, unknown>) {
    const grant = params.grantType;
    if (grant === 'api_key_credentials' || grant === 'refresh_token' || grant === 'api_key_signature') {
      this.stats.authCalls[grant]++;
    }
    try {
      if (grant === 'api_key_credentials') return this.authCredentials(params);
      if (grant === 'refresh_token') return this.authRefresh(params);
      if (grant === 'api_key_signature') return this.authSignature(params);
      throw new RpcFailure(RpcCode.INVALID_PARAMS, 'grantType -> Expected value to be one of enums');
    } catch (err) {
      this.stats.authFailures++;
      throw err;
    }
  }

  private requestedScope(key: FakeApiKey, scope: unknown): string[] {
    if (scope === undefined) return key.scopes.filter((s) => !s.startsWith('expiresIn:'));
    if (!Array.isArray(scope) || scope.some((s) => typeof s !== 'string')) {
      throw new RpcFailure(RpcCode.INVALID_PARAMS, 'scope -> Expected array of strings');
    }
    const granted: string[] = [];
    for (const s of scope as string[]) {
      const [name, value] = s.split(':');
      if (name === 'session' || name === 'ipAddr' || name === 'connection' || name === 'expiresIn') continue;
      if (name === 'solution' && value !== undefined) {
        if (!key.scopes.includes(s) && !key.scopes.includes('solution:*')) {
          throw new RpcFailure(RpcCode.INSUFFICIENT_SCOPE, `Cannot use solution=${value}`);
        }
      } else if (!key.scopes.includes(s)) {
        throw new RpcFailure(RpcCode.INSUFFICIENT_SCOPE, `Cannot use ${s}`);
      }
      if (!granted.includes(s)) granted.push(s);
    }
    return granted;
  }

  private lookupKey(id: unknown): FakeApiKey {
    const key = typeof id === 'string' ? this.apiKeys.get(id) : undefined;
    if (!key || !key.enabled) throw new RpcFailure(RpcCode.API_KEY_DOES_NOT_EXIST);
    return key;
  }

  private authCredentials(params: Record<string, unknown>) {
    if (typeof params.apiKeyId !== 'string')
      throw new RpcFailure(RpcCode.INVALID_PARAMS, 'apiKeyId -> Expected string');
    if (typeof params.apiKeySecret !== 'string') {
      throw new RpcFailure(RpcCode.INVALID_PARAMS, 'apiKeySecret -> Expected string');
    }
    const key = this.lookupKey(params.apiKeyId);
    if (key.secret !== params.apiKeySecret) throw new RpcFailure(RpcCode.INVALID_CREDENTIALS);
    return this.newSession(key, this.requestedScope(key, params.scope));
  }

  private authSignature(params: Record<string, unknown>) {
    const { apiKeyId, signature, timestamp, nonce } = params;
    if (typeof apiKeyId !== 'string')
      throw new RpcFailure(RpcCode.INVALID_PARAMS, 'apiKeyId -> Expected string');
    if (typeof signature !== 'string')
      throw new RpcFailure(RpcCode.INVALID_PARAMS, 'signature -> Expected string');
    if (typeof timestamp !== 'number')
      throw new RpcFailure(RpcCode.INVALID_PARAMS, 'timestamp -> Expected number');
    if (typeof nonce !== 'string' || nonce.length < 32 || nonce.length > 64) {
      throw new RpcFailure(RpcCode.INVALID_PARAMS, 'nonce -> Expected string with length 32-64');
    }
    this.lookupKey(apiKeyId);
    // The real Bridge verifies an EdDSA/HMAC signature over the request; the fake cannot.
    throw new RpcFailure(RpcCode.INVALID_SIGNATURE, 'api_key_signature is not supported by the fake Bridge');
  }

  private authRefresh(params: Record<string, unknown>) {
    if (typeof params.refreshToken !== 'string') {
      throw new RpcFailure(RpcCode.INVALID_PARAMS, 'refreshToken -> Expected string');
    }
    const now = Date.now();
    const session = this.sessions.find((s) => s.refreshToken === params.refreshToken);
    if (!session || session.refreshTokenExpiry < now) throw new RpcFailure(RpcCode.INVALID_TOKEN);
    const key = this.apiKeys.get(session.apiKeyId);
    if (!key || !key.enabled) throw new RpcFailure(RpcCode.INVALID_TOKEN);
    // a refresh revokes the old pair at once
    this.issue(session, now);
    return this.result(session);
  }

  private newSession(key: FakeApiKey, scopes: string[]) {
    const now = Date.now();
    const mine = this.sessions.filter((s) => s.apiKeyId === key.id);
    if (mine.length >= this.maxSessions) {
      // the oldest session dies with its tokens
      this.sessions.splice(this.sessions.indexOf(mine[0]), 1);
    }
    const session: TokenSession = {
      id: this.nextSessionId++,
      apiKeyId: key.id,
      created: now,
      scopes,
      accessToken: '',
      accessTokenExpiry: 0,
      refreshToken: '',
      refreshTokenExpiry: 0,
    };
    this.issue(session, now);
    this.sessions.push(session);
    return this.result(session);
  }

  private issue(session: TokenSession, now: number): void {
    session.accessToken = 'at.' + crypto.randomBytes(24).toString('base64url');
    session.refreshToken = 'rt.' + crypto.randomBytes(24).toString('base64url');
    session.accessTokenExpiry = now + this.accessTokenLifetimeMs;
    session.refreshTokenExpiry = now + this.refreshTokenLifetimeMs;
  }

  private result(session: TokenSession) {
    return {
      accessToken: session.accessToken,
      accessTokenExpiry: session.accessTokenExpiry,
      tokenType: 'Bearer',
      refreshToken: session.refreshToken,
      refreshTokenExpiry: session.refreshTokenExpiry,
      scope: [...session.scopes],
    };
  }

  /** the live session of an access token, if the token is current and unexpired */
  private sessionOf(accessToken: string | undefined): TokenSession | undefined {
    if (!accessToken) return undefined;
    const s = this.sessions.find((x) => x.accessToken === accessToken);
    return s && s.accessTokenExpiry > Date.now() ? s : undefined;
  }

  private bind(client: Client, params: Record<string, unknown>) {
    this.stats.bindCalls++;
    if (typeof params.accessToken !== 'string') {
      throw new RpcFailure(RpcCode.INVALID_PARAMS, 'accessToken -> Expected string');
    }
    const session = this.sessionOf(params.accessToken);
    if (!session) throw new RpcFailure(RpcCode.INVALID_TOKEN);
    client.boundToken = params.accessToken;
    client.solutions = session.scopes.filter((s) => s.startsWith('solution:'));
    return 'OK';
  }

  private subscribe(client: Client, params: Record<string, unknown>, on: boolean) {
    if (on) this.stats.subscribeCalls++;
    else this.stats.unsubscribeCalls++;
    const channels = params.channels;
    if (!Array.isArray(channels)) throw new RpcFailure(RpcCode.INVALID_PARAMS, 'channels -> Expected array');
    if (channels.length > 16) {
      throw new RpcFailure(RpcCode.INVALID_PARAMS, 'channels -> Expected array with max 16 elements');
    }
    channels.forEach((c, i) => {
      if (!(CHANNELS as readonly unknown[]).includes(c)) {
        throw new RpcFailure(RpcCode.INVALID_PARAMS, `channels -> ${i} -> Expected value to be one of enums`);
      }
    });
    // requests on a socket whose bound token expired (or was revoked) fail; subscriptions keep working
    const session = this.sessionOf(client.boundToken);
    if (!session) throw new RpcFailure(RpcCode.UNAUTHORIZED);
    for (const c of channels as Channel[]) {
      if (on && !session.scopes.includes(c)) throw new RpcFailure(RpcCode.INSUFFICIENT_SCOPE, c);
    }
    for (const c of channels as Channel[]) {
      if (on) client.channels.add(c);
      else client.channels.delete(c);
    }
    if (on) client.solutions = session.scopes.filter((s) => s.startsWith('solution:'));
    return 'OK';
  }
}

/** Start a fake with one API key; the usual test setup. */
export async function startFakeBridge(
  opts: FakeBridgeOptions = {},
): Promise<{ fake: FakePrivmxBridge; keyId: string; secret: string }> {
  const keyId = 'node-red-test-key';
  const secret = 'sEcReT-' + crypto.randomBytes(8).toString('hex');
  const fake = await FakePrivmxBridge.start({
    ...opts,
    apiKeys: [{ id: keyId, secret }, ...(opts.apiKeys ?? [])],
  });
  return { fake, keyId, secret };
}
