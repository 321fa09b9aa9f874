/**
 * A loopback server for the benchmarks. It speaks the PrivMX Bridge protocol (JSON-RPC `manager/auth`
 * over HTTP POST /api and over WebSocket /api, `manager/bindAccessToken`, `manager/subscribeToChannel`,
 * protocol pings every 10 s) so the real `privmx in` node runs unchanged, and it also accepts plain
 * sockets on /raw for the core-node flow and the bare `ws` client. Notifications are pushed as
 * pre-encoded frames written straight to the TCP socket, respecting backpressure: a write that
 * fills the socket buffer waits for 'drain', and an optional in-flight window waits for the
 * consumer's acknowledgements.
 */
import http from 'http';
import type net from 'net';
import { randomBytes } from 'crypto';
import { WebSocket, WebSocketServer } from 'ws';
import { FramePool } from './events';

export const BENCH_KEY_ID = 'bench-key-id';
export const BENCH_KEY_SECRET = 'bench-key-secret';

export interface Consumer {
  kind: 'bridge' | 'raw';
  ws: WebSocket;
  socket: net.Socket;
  channels: Set<string>;
  bound: boolean;
  /** no protocol pings to this consumer (a half-open link: the client's dead-link watchdog must fire) */
  silent: boolean;
}

interface RpcRequest {
  jsonrpc?: string;
  id?: number | string;
  method?: string;
  params?: Record<string, unknown>;
}

export class BenchServer {
  readonly stats = { connections: 0, auths: 0, refreshes: 0, binds: 0, subscribes: 0, drops: 0 };
  readonly consumers = new Set<Consumer>();
  /** called when a consumer is ready for events (bridge: subscribed to `thread`; raw: connected) */
  onReady?: (consumer: Consumer) => void;
  private readonly accessTokens = new Set<string>();
  private readonly refreshTokens = new Set<string>();
  private readonly server: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private pingTimer?: NodeJS.Timeout;
  private readyWaiters: ((consumer: Consumer) => void)[] = [];
  port = 0;

  constructor(
    private readonly pingIntervalMs = 10_000,
    /** lifetime of issued access tokens (the Bridge: 15 minutes) */
    private readonly tokenLifeMs = 15 * 60_000,
  ) {
    this.server = http.createServer((req, res) => this.handleHttp(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const url = req.url ?? '';
      const kind = url === '/raw' ? 'raw' : /\/api$/.test(url) ? 'bridge' : undefined;
      if (!kind) {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(kind, ws, socket));
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    this.pingTimer = setInterval(() => {
      for (const c of this.consumers) if (!c.silent && c.ws.readyState === WebSocket.OPEN) c.ws.ping();
    }, this.pingIntervalMs);
    return this.port;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** the next consumer that becomes ready */
  nextReady(timeoutMs = 30_000): Promise<Consumer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no consumer became ready')), timeoutMs);
      this.readyWaiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  /** cut every connection without a close frame (what a crashing server or a dead NAT does) */
  dropAll(): void {
    for (const c of this.consumers) {
      this.stats.drops++;
      c.socket.destroy();
    }
  }

  /** close every connection with a close frame (a Bridge restart: 1012 service restart) */
  closeAll(code = 1012): void {
    for (const c of this.consumers) {
      this.stats.drops++;
      c.ws.close(code, 'restarting');
    }
  }

  /** stop pinging every current consumer and send it nothing: a half-open link */
  silenceAll(): void {
    for (const c of this.consumers) {
      this.stats.drops++;
      c.silent = true;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    for (const c of this.consumers) c.socket.destroy();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(kind: 'bridge' | 'raw', ws: WebSocket, socket: net.Socket): void {
    this.stats.connections++;
    const consumer: Consumer = { kind, ws, socket, channels: new Set(), bound: false, silent: false };
    this.consumers.add(consumer);
    ws.on('close', () => this.consumers.delete(consumer));
    ws.on('error', () => this.consumers.delete(consumer));
    if (kind === 'raw') {
      this.ready(consumer);
      return;
    }
    ws.on('message', (data, isBinary) => {
      if (isBinary) return; // the Bridge drops text on binary sockets and vice versa; ignore here
      let request: RpcRequest;
      try {
        request = JSON.parse(data.toString());
      } catch {
        ws.send(
          JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error', data: null } }),
        );
        return;
      }
      const reply = this.rpc(request, consumer);
      ws.send(JSON.stringify(reply));
      if (
        request.method === 'manager/subscribeToChannel' &&
        'result' in reply &&
        consumer.channels.has('thread')
      )
        this.ready(consumer);
    });
  }

  private ready(consumer: Consumer): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w(consumer);
    this.onReady?.(consumer);
  }

  private issueTokens(): Record<string, unknown> {
    const accessToken = randomBytes(16).toString('hex');
    const refreshToken = randomBytes(16).toString('hex');
    this.accessTokens.add(accessToken);
    this.refreshTokens.add(refreshToken);
    const now = Date.now();
    return {
      accessToken,
      accessTokenExpiry: now + this.tokenLifeMs,
      tokenType: 'Bearer',
      refreshToken,
      refreshTokenExpiry: now + 7 * 24 * 3600_000,
      scope: ['apiKey', 'solution', 'context', 'solution:*', 'thread', 'store', 'inbox', 'stream', 'kvdb'],
    };
  }

  private rpc(req: RpcRequest, consumer?: Consumer): Record<string, unknown> {
    const id = req.id;
    const error = (code: number, message: string, data: unknown = null) => ({
      jsonrpc: '2.0',
      id,
      error: { code, message, data },
    });
    if (!req.params || typeof req.params !== 'object')
      return { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error', data: null } };
    const p = req.params;
    switch (req.method) {
      case 'manager/auth':
        if (p.grantType === 'api_key_credentials') {
          if (p.apiKeyId !== BENCH_KEY_ID) return error(24875, 'Api key does not exist');
          if (p.apiKeySecret !== BENCH_KEY_SECRET) return error(24876, 'Invalid credentials');
          this.stats.auths++;
          return { jsonrpc: '2.0', id, result: this.issueTokens() };
        }
        if (p.grantType === 'refresh_token') {
          const token = String(p.refreshToken);
          if (!this.refreshTokens.delete(token)) return error(21, 'Invalid token');
          this.stats.refreshes++;
          return { jsonrpc: '2.0', id, result: this.issueTokens() };
        }
        return error(-32602, 'Invalid params', 'grantType -> Expected value to be one of enums');
      case 'manager/bindAccessToken':
        if (!consumer) return error(24886, 'Method callable with websocket only');
        if (!this.accessTokens.has(String(p.accessToken))) return error(21, 'Invalid token');
        consumer.bound = true;
        this.stats.binds++;
        return { jsonrpc: '2.0', id, result: 'OK' };
      case 'manager/subscribeToChannel':
      case 'manager/unsubscribeFromChannel': {
        if (!consumer) return error(24886, 'Method callable with websocket only');
        if (!consumer.bound) return error(24879, 'Unauthorized');
        const channels = Array.isArray(p.channels) ? (p.channels as unknown[]) : [];
        for (const ch of channels) {
          if (typeof ch !== 'string' || !['thread', 'store', 'stream', 'inbox', 'kvdb'].includes(ch))
            return error(-32602, 'Invalid params', 'channels -> 0 -> Expected value to be one of enums');
        }
        for (const ch of channels as string[]) {
          if (req.method === 'manager/subscribeToChannel') consumer.channels.add(ch);
          else consumer.channels.delete(ch);
        }
        if (req.method === 'manager/subscribeToChannel') this.stats.subscribes++;
        return { jsonrpc: '2.0', id, result: 'OK' };
      }
      default:
        return error(-32601, 'Method not found');
    }
  }

  private handleHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'POST' || !/\/api$/.test(req.url ?? '')) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: RpcRequest;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        body = {};
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.rpc(body)));
    });
  }
}

export interface PushOptions {
  /** max events sent but not yet acknowledged (undefined = TCP backpressure only) */
  window?: number;
  /** events the consumer has finished with (stream position + 1 of the last acknowledged one) */
  processed?: () => number;
  /** resolves when `processed` may have moved */
  waitAck?: () => Promise<void>;
  /** frames per write() */
  batch?: number;
  /** stream position of the first event (default 0) */
  from?: number;
}

/**
 * Write `total` events of `pool` to `socket` as fast as the socket (and the window) allow. Returns
 * when the last byte is handed to the kernel.
 */
export async function pushFrames(
  socket: net.Socket,
  pool: FramePool,
  total: number,
  opts: PushOptions = {},
): Promise<void> {
  const batch = opts.batch ?? 64;
  let sent = 0;
  while (sent < total) {
    if (socket.destroyed) throw new Error('consumer disconnected');
    let end = Math.min(total, sent + batch);
    if (opts.window !== undefined && opts.processed) {
      end = Math.min(end, opts.processed() + opts.window);
      if (end <= sent) {
        await opts.waitAck!();
        continue;
      }
    }
    // [sent, end) as contiguous slices of the pool (split where the pool wraps)
    let ok = true;
    let p = sent + (opts.from ?? 0);
    const stop = end + (opts.from ?? 0);
    while (p < stop) {
      const first = p % pool.size;
      const count = Math.min(stop - p, pool.size - first);
      if (!socket.write(pool.buffer.subarray(pool.offsets[first], pool.offsets[first + count]))) ok = false;
      p += count;
    }
    sent = end;
    if (!ok) await waitDrain(socket);
  }
}

function waitDrain(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      socket.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      socket.off('drain', onDrain);
      reject(new Error('consumer disconnected'));
    };
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}
