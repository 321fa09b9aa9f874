/**
 * A loopback HTTP forward proxy, as a company proxy speaks it (RFC 9110 §9.3.6, RFC 9112 §3.2.2):
 *   - absolute-URI requests (`GET http://host:port/path HTTP/1.1`) for plain http targets;
 *   - CONNECT host:port tunnels for https and WebSockets (ws: and wss:);
 *   - Basic proxy authentication (Proxy-Authorization), 407 with Proxy-Authenticate when it is missing
 *     or wrong, or always when `refuse` is set.
 * Host names are resolved ONLY through `hosts` (name → loopback port), so a test target such as
 * `http://bridge.invalid:PORT` is reachable through this proxy and nowhere else. Every request is counted
 * per target `host:port`, with the outcome.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ForwardProxyOptions {
  username: string;
  password: string;
  /** target host names this proxy knows: name → 127.0.0.1 (the port stays the target's) */
  hosts: readonly string[];
}

export interface ProxiedRequest {
  /** host:port asked for */
  target: string;
  kind: 'absolute' | 'connect';
  /** 0 = tunnel opened / forwarded; else the status the proxy answered itself */
  refusedWith: number;
}

export class FakeForwardProxy {
  readonly requests: ProxiedRequest[] = [];
  /** answer every request with 407, whatever the credentials */
  refuse = false;
  private readonly server: http.Server;
  private readonly sockets = new Set<Duplex>();

  private constructor(private readonly opts: ForwardProxyOptions) {
    this.server = http.createServer((req, res) => this.forward(req, res));
    this.server.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.tunnel(req, socket, head),
    );
    this.server.on('connection', (socket: Socket) => this.track(socket));
  }

  static async start(opts: ForwardProxyOptions): Promise<FakeForwardProxy> {
    const proxy = new FakeForwardProxy(opts);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** the proxy's address, without credentials */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** requests forwarded or tunnelled to `host:port` (refused ones not counted) */
  count(target: string): number {
    return this.requests.filter((r) => r.target === target && !r.refusedWith).length;
  }

  refusals(): number {
    return this.requests.filter((r) => r.refusedWith === 407).length;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private authorised(req: http.IncomingMessage): boolean {
    if (this.refuse) return false;
    const expected = Buffer.from(`${this.opts.username}:${this.opts.password}`).toString('base64');
    return req.headers['proxy-authorization'] === `Basic ${expected}`;
  }

  /** host:port → a loopback address, only for the names this proxy knows */
  private resolve(target: string): { host: string; port: number } | undefined {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
    if (!m || !this.opts.hosts.includes(m[1].toLowerCase())) return undefined;
    return { host: '127.0.0.1', port: Number(m[2]) };
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute URI required');
      return;
    }
    const target = `${url.hostname}:${url.port || 80}`;
    const record: ProxiedRequest = { target, kind: 'absolute', refusedWith: 0 };
    this.requests.push(record);
    if (!this.authorised(req)) {
      record.refusedWith = 407;
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="fake proxy"', 'content-length': '0' }).end();
      return;
    }
    const to = url.protocol === 'http:' ? this.resolve(target) : undefined;
    if (!to) {
      record.refusedWith = 502;
      res.writeHead(502).end('unknown host');
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = http.request(
      { host: to.host, port: to.port, method: req.method, path: url.pathname + url.search, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }

  private tunnel(req: http.IncomingMessage, client: Duplex, head: Buffer): void {
    this.track(client);
    const target = req.url ?? '';
    const record: ProxiedRequest = { target, kind: 'connect', refusedWith: 0 };
    this.requests.push(record);
    client.on('error', () => client.destroy());
    if (!this.authorised(req)) {
      record.refusedWith = 407;
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\n' +
          'Proxy-Authenticate: Basic realm="fake proxy"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      );
      return;
    }
    const to = this.resolve(target);
    if (!to) {
      record.refusedWith = 502;
      client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const upstream = net.connect(to.port, to.host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    this.track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}
