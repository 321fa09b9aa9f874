import { Clock, realClock } from '../clock';
import { ConnectionError } from '../connection';
import { isRedirect, NO_REDIRECTS, redactUrl, redirectRefused } from '../safe-url';

/**
 * JSON-RPC 2.0 as the PrivMX Bridge speaks it. Over a WebSocket the server answers requests
 * concurrently, so responses are matched by id, never by order; every request has its own timeout.
 */

/** Bridge error codes (the Bridge's JSON-RPC API). */
export const RpcCode = {
  PARSE_ERROR: -32700,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  INVALID_TOKEN: 21,
  INVALID_SIGNATURE: 8,
  API_KEY_DOES_NOT_EXIST: 24875,
  INVALID_CREDENTIALS: 24876,
  INSUFFICIENT_SCOPE: 24878,
  UNAUTHORIZED: 24879,
  METHOD_CALLABLE_WITH_WEBSOCKET_ONLY: 24886,
} as const;

/** An error answer from the server: `{code, message, data}`. */
export class JsonRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'JsonRpcError';
  }
}

/** No answer in time (or the link went away before the answer). */
export class RpcTransportError extends Error {
  constructor(
    message: string,
    readonly code: 'TIMEOUT' | 'CLOSED' | 'HTTP' | 'NETWORK' | 'PROTOCOL',
  ) {
    super(message);
    this.name = 'RpcTransportError';
  }
}

interface Pending {
  method: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: unknown;
  /** the request's whole timeout, for its message */
  timeoutMs: number;
  /** when it times out (clock ms); while timeouts are held: how long it has left */
  deadline: number;
}

export type ResponseKind = 'matched' | 'unknown-id' | 'no-id-error' | 'invalid';

export interface JsonRpcClientOptions {
  timeoutMs: number;
  clock?: Clock;
}

/** Concurrent JSON-RPC over any text transport (a WebSocket here). */
export class JsonRpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedWith?: Error;
  private readonly clock: Clock;
  /** while true the timeouts do not run (see holdTimeouts) */
  private held = false;

  constructor(
    private readonly send: (text: string) => void,
    private readonly opts: JsonRpcClientOptions,
  ) {
    this.clock = opts.clock ?? realClock;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  call<T = unknown>(method: string, params: object, timeoutMs = this.opts.timeoutMs): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = {
        method,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: undefined,
        timeoutMs,
        deadline: this.held ? timeoutMs : this.clock.now() + timeoutMs,
      };
      this.pending.set(id, entry);
      if (!this.held) this.startTimer(id, entry, timeoutMs);
      try {
        this.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
      } catch (err) {
        this.pending.delete(id);
        this.clock.clearTimeout(entry.timer);
        reject(new RpcTransportError(`${method}: ${(err as Error)?.message ?? String(err)}`, 'CLOSED'));
      }
    });
  }

  /**
   * Stop the clock of every request: its answer waits, unread, behind frames we do not read now (the
   * source paused for a flow that is behind). A token refresh or a subscription change must not
   * time out, and cost a reconnect, because of our own pause. resumeTimeouts() gives each request the
   * time it had left.
   */
  holdTimeouts(): void {
    if (this.held) return;
    this.held = true;
    const now = this.clock.now();
    for (const entry of this.pending.values()) {
      this.clock.clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.deadline = Math.max(0, entry.deadline - now);
    }
  }

  resumeTimeouts(): void {
    if (!this.held) return;
    this.held = false;
    const now = this.clock.now();
    for (const [id, entry] of this.pending) {
      const left = entry.deadline;
      entry.deadline = now + left;
      this.startTimer(id, entry, left);
    }
  }

  private startTimer(id: number, entry: Pending, ms: number): void {
    entry.timer = this.clock.setTimeout(() => {
      if (this.pending.delete(id)) {
        entry.reject(
          new RpcTransportError(`${entry.method}: no answer within ${entry.timeoutMs} ms`, 'TIMEOUT'),
        );
      }
    }, ms);
  }

  /**
   * Feed a parsed frame that looks like a response (has `id`, `result` or `error`).
   * Returns how it was handled; the caller logs the odd ones once.
   */
  handle(frame: Record<string, unknown>): ResponseKind {
    const id = frame.id;
    if (id === undefined || id === null) return frame.error !== undefined ? 'no-id-error' : 'invalid';
    const entry = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!entry) return 'unknown-id';
    this.pending.delete(id as number);
    this.clock.clearTimeout(entry.timer);
    const error = frame.error;
    if (error !== undefined && error !== null) entry.reject(toRpcError(error));
    else if ('result' in frame) entry.resolve(frame.result);
    else entry.reject(new RpcTransportError(`${entry.method}: response without result or error`, 'PROTOCOL'));
    return 'matched';
  }

  /** The link is gone: reject everything pending, and every later call. */
  close(err: Error): void {
    if (!this.closedWith) this.closedWith = err;
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      this.clock.clearTimeout(entry.timer);
      entry.reject(err);
    }
  }
}

export function toRpcError(error: unknown): JsonRpcError {
  if (error && typeof error === 'object') {
    const e = error as { code?: unknown; message?: unknown; data?: unknown };
    const code = typeof e.code === 'number' ? e.code : RpcCode.INTERNAL_ERROR;
    const message = typeof e.message === 'string' && e.message ? e.message : `error ${code}`;
    return new JsonRpcError(code, message, e.data);
  }
  return new JsonRpcError(RpcCode.INTERNAL_ERROR, String(error));
}

/** One JSON-RPC call over HTTP POST (used by "Test connection"). */
export async function httpRpc<T = unknown>(
  url: string,
  method: string,
  params: object,
  signal?: AbortSignal,
  fetchImpl: typeof fetch = fetch,
): Promise<T> {
  let res: Response;
  const shown = redactUrl(url);
  try {
    // the params may carry the API key secret: never re-sent to wherever a redirect points
    res = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      ...NO_REDIRECTS,
      signal,
    });
  } catch (err) {
    if (err instanceof ConnectionError) throw err; // the proxy refused (407) or is misconfigured
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
      throw new RpcTransportError(`no answer from ${shown}`, 'TIMEOUT');
    const detail = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
    throw new RpcTransportError(redactUrl(`cannot reach ${shown}: ${detail}`), 'NETWORK');
  }
  if (isRedirect(res.status)) {
    await res.body?.cancel();
    throw new RpcTransportError(redirectRefused(shown, res.status, res.headers.get('location')), 'HTTP');
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RpcTransportError(
      res.ok ? `${shown} did not answer JSON-RPC (not a PrivMX Bridge?)` : `HTTP ${res.status} from ${shown}`,
      res.ok ? 'PROTOCOL' : 'HTTP',
    );
  }
  if (!body || typeof body !== 'object')
    throw new RpcTransportError(`${shown} did not answer JSON-RPC`, 'PROTOCOL');
  const frame = body as Record<string, unknown>;
  if (frame.error !== undefined && frame.error !== null) throw toRpcError(frame.error);
  if (!('result' in frame)) {
    throw new RpcTransportError(
      res.ok ? `${shown} did not answer JSON-RPC (not a PrivMX Bridge?)` : `HTTP ${res.status} from ${shown}`,
      res.ok ? 'PROTOCOL' : 'HTTP',
    );
  }
  return frame.result as T;
}
