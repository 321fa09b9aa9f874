/**
 * The one place that decides how a config node reaches its server: directly, or through an HTTP proxy.
 *
 * - With a Node-RED `http proxy` config node chosen: its URL, its credentials and its `noproxy` list.
 * - Without one: HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY (either case, lowercase first), read on
 *   every new connection with the rules of Node-RED's core nodes (and of the `proxy-from-env` package).
 * - A WebSocket takes the proxy of the matching http(s) URL (`ws:` like `http:`, `wss:` like `https:`).
 *
 * Everything goes through `undici` (npm, pinned), the HTTP client Node's own fetch is built on:
 * - HTTP requests: undici's own `fetch` with a per-request ProxyAgent dispatcher. The npm undici's
 *   dispatcher is never handed to Node's built-in fetch (their internals differ across major versions).
 *   Plain http targets are sent as absolute-URI requests, https targets through a CONNECT tunnel.
 * - WebSockets: an `agent` for `ws` whose connections are CONNECT tunnels opened by undici's
 *   `Client.connect`; for `wss:` TLS then runs inside the tunnel with ws's own TLS options.
 * TLS is always verified end to end with the server. Nothing here touches process-wide state: no global
 * dispatcher, no global agent.
 *
 * A 407 from the proxy becomes ProxyAuthError: permanent, like a rejected key. The proxy's password is
 * a secret: it only ever travels in the Proxy-Authorization header to the proxy, and any proxy URL
 * shown anywhere is without credentials.
 */
import { Agent as HttpAgent, type ClientRequestArgs } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type * as Undici from 'undici';
import { ConnectionError } from './connection';
import { isLean, leanFetch } from './lean-fetch';
import { redactUrl } from './safe-url';

let loaded: typeof Undici | undefined;

/**
 * undici, loaded with the first request through a proxy: nothing of it is in memory for flows that
 * use none. Loading it installs its Agent as the process's fetch dispatcher when none is set yet,
 * which would move every other package's `fetch` onto it; reading `Response` first makes Node's
 * own fetch set its own default (as it would on its first use), so loading undici changes nothing
 * outside this package.
 */
function undici(): typeof Undici {
  if (!loaded) {
    void globalThis.Response;
    // a require on first use (an import would load it with this file)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('undici') as typeof Undici;
  }
  return loaded;
}

export const PROXY_AUTH = 'PROXY_AUTH';

/** What a Node-RED `http proxy` config node holds (see core 06-httpproxy). */
export interface ProxySettings {
  url: string;
  /** host names (`example.com`, `.example.com`, `*.example.com`, `host:port`) reached directly */
  noproxy?: readonly string[];
  username?: string;
  password?: string;
}

/** The parts of a deployed Node-RED `http proxy` node this package reads (no Node-RED import). */
export interface ProxyNodeLike {
  type?: string;
  url?: unknown;
  noproxy?: unknown;
  credentials?: { username?: unknown; password?: unknown };
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The settings of a deployed `http proxy` node; undefined for anything else. */
export function proxySettingsOf(node: unknown): ProxySettings | undefined {
  const n = node as ProxyNodeLike | null | undefined;
  if (!n || n.type !== 'http proxy' || !text(n.url).trim()) return undefined;
  return {
    url: text(n.url).trim(),
    noproxy: Array.isArray(n.noproxy) ? n.noproxy.map(text).filter(Boolean) : [],
    username: text(n.credentials?.username) || undefined,
    password: text(n.credentials?.password) || undefined,
  };
}

/** How a config node finds its proxy node: none chosen, or a lookup by id at each new connection. */
export type ProxyChoice =
  { kind: 'env' } | { kind: 'node'; id: string; lookup: (id: string) => ProxySettings | undefined };

/** The proxy property of a config node: '' or the editor's `_ADD_` mean "none" (environment). */
export function proxyChoice(id: unknown, getNode: (id: string) => unknown): ProxyChoice {
  const value = typeof id === 'string' ? id.trim() : '';
  if (!value || value === '_ADD_') return { kind: 'env' };
  return { kind: 'node', id: value, lookup: (key) => proxySettingsOf(getNode(key)) };
}

/** The proxy answered 407: its credentials are missing or wrong. Permanent, like a rejected key. */
export class ProxyAuthError extends ConnectionError {
  constructor(proxy: string) {
    super(`the proxy ${proxy} refused the credentials (HTTP 407 Proxy Authentication Required)`, {
      permanent: true,
      code: PROXY_AUTH,
    });
    this.name = 'ProxyAuthError';
  }
}

export function isProxyAuthError(err: unknown): err is ProxyAuthError {
  return (err as { code?: unknown })?.code === PROXY_AUTH;
}

/** A chosen proxy: the URL without credentials, and the Proxy-Authorization header, if any. */
interface Route {
  /** scheme://host:port of the proxy, no credentials */
  uri: string;
  /** safe to show */
  display: string;
  authorization?: string;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** `ws:` → `http:`, `wss:` → `https:`: a WebSocket is proxied like its http(s) URL. */
function asHttpUrl(target: string): URL | undefined {
  try {
    const url = new URL(target);
    if (url.protocol === 'ws:') url.protocol = 'http:';
    else if (url.protocol === 'wss:') url.protocol = 'https:';
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `noproxy` of a proxy node, with the NO_PROXY rules Node-RED core and proxy-from-env apply: `*` = all,
 * `host` exact, `.host`/`*.host` = suffix, `host:port` = that port only.
 */
export function bypassesProxy(url: URL, noproxy: readonly string[]): boolean {
  const hostname = url.hostname.toLowerCase();
  const port = Number(url.port) || DEFAULT_PORTS[url.protocol] || 0;
  for (const raw of noproxy.join(',').toLowerCase().split(/[,\s]/)) {
    if (!raw) continue;
    if (raw === '*') return true;
    const withPort = raw.match(/^(.+):(\d+)$/);
    let host = withPort ? withPort[1] : raw;
    if (withPort && Number(withPort[2]) !== port) continue;
    if (!/^[.*]/.test(host)) {
      if (hostname === host) return true;
      continue;
    }
    if (host.startsWith('*')) host = host.slice(1);
    if (hostname.endsWith(host)) return true;
  }
  return false;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** Split a proxy URL into its address and credentials (node credentials win over URL user:pass). */
function routeOf(proxyUrl: string, targetProtocol: string, username?: string, password?: string): Route {
  const withScheme = proxyUrl.includes('://') ? proxyUrl : `${targetProtocol}//${proxyUrl}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConnectionError(`invalid proxy URL "${redactUrl(proxyUrl)}"`, { config: true });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConnectionError(`unsupported proxy URL scheme "${url.protocol}" (use http:// or https://)`, {
      config: true,
    });
  const user = username ?? decodeURIComponent(url.username);
  const pass = password ?? decodeURIComponent(url.password);
  const uri = `${url.protocol}//${url.host}`;
  return { uri, display: uri, authorization: user || pass ? basic(user, pass) : undefined };
}

/** An environment variable, lowercase first (as Node-RED core and proxy-from-env read them). */
function env(name: string): string {
  return process.env[name.toLowerCase()] || process.env[name.toUpperCase()] || '';
}

/** HTTP_PROXY / HTTPS_PROXY / ALL_PROXY for a target, unless NO_PROXY lists it; '' = direct. */
export function proxyFromEnv(url: URL): string {
  if (bypassesProxy(url, [env('no_proxy')])) return '';
  return env(`${url.protocol.slice(0, -1)}_proxy`) || env('all_proxy');
}

/** undici's "fetch failed" keeps the proxy's refusal in its cause chain. */
function refusedByProxy(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const message = (e as { message?: unknown }).message;
    if (
      typeof message === 'string' &&
      /Proxy response \(407\)|Proxy Authentication Required \(407\)/.test(message)
    )
      return true;
  }
  return false;
}

/**
 * The `agent` of one WebSocket: its connection is a CONNECT tunnel through the proxy (undici speaks
 * CONNECT), with TLS inside it for `wss:`, verified with ws's TLS options (ca, servername, …).
 */
class TunnelAgent extends HttpAgent {
  constructor(
    private readonly route: Route,
    private readonly secure: boolean,
  ) {
    super({ keepAlive: false });
    // https.request (wss:) accepts only an agent that says it speaks https
    Object.assign(this, { protocol: secure ? 'https:' : 'http:', defaultPort: secure ? 443 : 80 });
  }

  override createConnection(
    options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const done = callback ?? (() => undefined);
    this.tunnel(options).then(
      (socket) => done(null, socket),
      (err: Error) => done(err, undefined as unknown as Duplex),
    );
    return undefined;
  }

  private async tunnel(options: ClientRequestArgs): Promise<Duplex> {
    const host = options.hostname ?? options.host ?? 'localhost';
    const port = Number(options.port) || (this.secure ? 443 : 80);
    const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
    // ws's handshakeTimeout arrives as `timeout`: a proxy that never answers is given up as soon
    const wait = Number(options.timeout) || 30_000;
    const client = new (undici().Client)(this.route.uri, { connectTimeout: wait, headersTimeout: wait });
    try {
      const { statusCode, socket } = await client.connect({
        path: authority,
        headers: {
          host: authority,
          ...(this.route.authorization ? { 'proxy-authorization': this.route.authorization } : {}),
        },
      });
      if (statusCode === 407) {
        socket.destroy();
        throw new ProxyAuthError(this.route.display);
      }
      if (statusCode !== 200) {
        socket.destroy();
        throw new ConnectionError(`the proxy ${this.route.display} refused the tunnel (HTTP ${statusCode})`, {
          code: 'NETWORK',
        });
      }
      if (!this.secure) return socket;
      // ws's TLS options (ca, cert, rejectUnauthorized, …) apply inside the tunnel, as without a proxy
      const {
        host: _h,
        hostname: _n,
        port: _p,
        path: _path,
        agent: _a,
        ...tlsOptions
      } = options as ClientRequestArgs & tls.ConnectionOptions;
      return tls.connect({
        ...tlsOptions,
        socket,
        servername: (options as tls.ConnectionOptions).servername ?? (isIP(host) ? undefined : host),
      });
    } finally {
      // the tunnel's socket is ours now: the client only closes its own (none left)
      void client.close().catch(() => undefined);
    }
  }
}

/**
 * The network of one config node (or one Test connection): `fetch` and `wsAgent` route each target by
 * the proxy choice. close() releases the proxy connections it keeps alive.
 */
export class Network {
  private readonly dispatchers = new Map<string, Undici.ProxyAgent>();
  /** keep-alive connections of the direct requests (created with the first one) */
  private direct: Undici.Agent | undefined;

  constructor(private readonly choice: ProxyChoice = { kind: 'env' }) {}

  /** The proxy for a target URL (http, https, ws, wss), or undefined for a direct connection. */
  routeFor(target: string): Route | undefined {
    const url = asHttpUrl(target);
    if (!url) return undefined;
    if (this.choice.kind === 'env') {
      const proxy = proxyFromEnv(url);
      return proxy ? routeOf(proxy, url.protocol) : undefined;
    }
    const settings = this.choice.lookup(this.choice.id);
    if (!settings)
      throw new ConnectionError('the chosen http proxy node is not deployed: deploy it or choose none', {
        config: true,
      });
    if (bypassesProxy(url, settings.noproxy ?? [])) return undefined;
    return routeOf(settings.url, url.protocol, settings.username, settings.password);
  }

  /**
   * `fetch` with the proxy of each request's URL. Without one: simple requests (all of this package's
   * own, see lean-fetch.ts) on this network's own connection pool, anything else on the global fetch.
   */
  readonly fetch: typeof fetch = async (input, init) => {
    const target = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const route = this.routeFor(target);
    if (!route) {
      if (!isLean(input, init)) return fetch(input, init);
      this.direct ??= new (undici().Agent)();
      return leanFetch(undici().request, this.direct, target, init);
    }
    const tunnel = asHttpUrl(target)?.protocol === 'https:' || route.uri.startsWith('https:');
    try {
      const res = await undici().fetch(target, {
        ...(init as Parameters<typeof Undici.fetch>[1]),
        dispatcher: this.dispatcher(route, tunnel),
      });
      return res as unknown as Response;
    } catch (err) {
      if (refusedByProxy(err)) throw new ProxyAuthError(route.display);
      throw err;
    }
  };

  /** The `agent` option for `new WebSocket(url, …)`: a CONNECT tunnel, or undefined for direct. */
  wsAgent(wsUrl: string): HttpAgent | undefined {
    const route = this.routeFor(wsUrl);
    if (!route) return undefined;
    return new TunnelAgent(route, asHttpUrl(wsUrl)?.protocol === 'https:');
  }

  /** "" or " (through proxy http://host:port)" for messages that say how a target was reached. */
  describe(target: string): string {
    try {
      const route = this.routeFor(target);
      return route ? ` (through proxy ${route.display})` : '';
    } catch {
      return '';
    }
  }

  async close(): Promise<void> {
    const all: Undici.Dispatcher[] = [...this.dispatchers.values()];
    if (this.direct) all.push(this.direct);
    this.direct = undefined;
    this.dispatchers.clear();
    await Promise.all(all.map((d) => d.close().catch(() => undefined)));
  }

  private dispatcher(route: Route, tunnel: boolean): Undici.ProxyAgent {
    const key = `${route.uri}|${route.authorization ?? ''}|${tunnel}`;
    let agent = this.dispatchers.get(key);
    if (!agent) {
      agent = new (undici().ProxyAgent)({
        uri: route.uri,
        token: route.authorization,
        // plain http targets as absolute-URI requests (as core http request sends them)
        proxyTunnel: tunnel,
      });
      this.dispatchers.set(key, agent);
    }
    return agent;
  }
}

/** Direct or by the proxy environment variables: for callers given no Network. */
export const defaultNetwork = new Network();
