import WebSocket from 'ws';
import { ConnectionError, SessionContext } from '../connection';
import type { Network } from '../proxy';
import { Frame, FrameParser } from './frame-parser';
import { FlowPressure, flowPressure } from './pressure';
import type { SourceTiming } from './timing';

/** What a protocol tells the shared socket: where, how, and its words for the ways a link ends. */
export interface SocketSpec {
  url: string;
  network: Network;
  timing: Pick<
    SourceTiming,
    'handshakeTimeoutMs' | 'closeTimeoutMs' | 'maxFrameBytes' | 'burstFrames' | 'flowStallMs'
  >;
  parser: FrameParser;
  headers?: Record<string, string>;
  rejectUnauthorized?: boolean;
  followRedirects?: boolean;
  /** the server answered the upgrade with HTTP `status` (Retry-After already in ms) */
  refused(status: number, retryAfterMs: number | undefined): ConnectionError;
  /** a socket error that is not the proxy's own ConnectionError */
  failed(err: Error): ConnectionError;
  /** the server closed the link (not during our own close) */
  closed(code: number, reason: string): ConnectionError;
  /** the socket is open (before any frame is read) */
  onOpen?(): void;
  /** every parsed JSON object from the server, in order */
  onFrame(frame: Frame): void;
  /** the socket stopped (true) or started (false) reading for the flow: answers wait meanwhile */
  onFlowPause?(paused: boolean): void;
  /** the flow's backlog gauge; default: the process's (fed by the runtime's message hooks) */
  pressure?: FlowPressure;
}

/**
 * One WebSocket to an event source, the part every protocol shares: open it through the node's
 * network (proxy or direct), skip UTF-8 validation in ws (one bad frame must never close the link:
 * the parser checks each frame), map an upgrade refusal, feed the dead-link watchdog with every frame,
 * ping and pong, parse frames, close gracefully, release everything. The first failure wins.
 */
export class SourceSocket {
  readonly ws: WebSocket;
  /** resolves when the socket is open; rejects when it ended before */
  readonly opened: Promise<void>;
  /** resolves when the socket closed after the session was aborted; rejects with the failure otherwise */
  readonly ended: Promise<void>;
  private failure: ConnectionError | undefined;
  private finished = false;
  private settle!: (err?: ConnectionError) => void;
  private open!: () => void;
  private notOpen!: (err: unknown) => void;
  private closeWaiter: (() => void) | undefined;
  /** frames read in this tick; after burstFrames the socket pauses until the flow had its turn */
  private burst = 0;
  private burstPaused = false;
  /** frames ws emitted while we were paused, not parsed yet (at most what it had read) */
  private held: ({ data: WebSocket.RawData; isBinary: boolean } | undefined)[] = [];
  private heldFrom = 0;
  private releaseHandle: NodeJS.Immediate | undefined;
  /** not reading because the flow downstream is behind */
  private flowPaused = false;
  private readonly unwatch: () => void;
  private readonly pressure: FlowPressure;
  private stallTimer: unknown;

  constructor(
    private readonly spec: SocketSpec,
    private readonly ctx: SessionContext,
  ) {
    this.ended = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err ? reject(err) : resolve());
    });
    this.opened = new Promise<void>((resolve, reject) => {
      this.open = resolve;
      this.notOpen = reject;
    });
    this.ended.then(
      () => this.notOpen(ctx.signal.reason),
      (err: unknown) => this.notOpen(err),
    );
    this.opened.catch(() => undefined);
    this.ended.catch(() => undefined);
    const { timing } = spec;
    this.ws = new WebSocket(spec.url, {
      agent: spec.network.wsAgent(spec.url),
      headers: spec.headers,
      handshakeTimeout: timing.handshakeTimeoutMs,
      // far above the frame limit: a big frame is skipped by the parser instead of closing the link (1009)
      maxPayload: Math.max(timing.maxFrameBytes * 4, 100 << 20),
      perMessageDeflate: false,
      followRedirects: spec.followRedirects ?? false,
      rejectUnauthorized: spec.rejectUnauthorized,
      skipUTF8Validation: true,
    });
    this.ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      const retryAfterMs = retryAfter(res.headers['retry-after']);
      res.resume();
      this.fail(spec.refused(status, retryAfterMs));
    });
    this.ws.on('open', () => {
      ctx.alive();
      spec.onOpen?.();
      this.open();
    });
    const pressure = spec.pressure ?? flowPressure;
    this.pressure = pressure;
    this.unwatch = pressure.watch(this.followFlow);
    this.ws.on('message', this.handleMessage);
    this.ws.on('ping', this.handleAlive);
    this.ws.on('pong', this.handleAlive);
    this.ws.on('error', (err: Error) =>
      // a ConnectionError comes from the proxy (407, configuration)
      this.fail(err instanceof ConnectionError ? err : spec.failed(err)),
    );
    this.ws.on('close', (code: number, reason: Buffer) => {
      this.flushHeld();
      this.finished = true;
      this.closeWaiter?.();
      if (ctx.signal.aborted) return this.settle();
      this.failure ??= spec.closed(code, reason.toString('utf8').slice(0, 200));
      this.settle(this.failure);
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** the session's failure so far (undefined while it is fine) */
  get failed(): ConnectionError | undefined {
    return this.failure;
  }

  send(text: string): void {
    if (this.isOpen) this.ws.send(text, () => undefined);
  }

  /** End the link with `err` (first failure wins; ignored once the session is aborted or closed). */
  fail(err: ConnectionError): void {
    if (this.failure || this.finished || this.ctx.signal.aborted) return;
    this.failure = err;
    this.ws.terminate();
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** close(1000) and wait for the server's close frame, at most closeTimeoutMs; then terminate. */
  async closeGracefully(budgetMs = this.spec.timing.closeTimeoutMs): Promise<void> {
    const ws = this.ws;
    if (this.finished) return;
    if (ws.readyState !== WebSocket.OPEN) {
      ws.terminate();
      return;
    }
    const closed = new Promise<void>((resolve) => (this.closeWaiter = resolve));
    const timer = this.ctx.clock.setTimeout(() => ws.terminate(), budgetMs);
    ws.close(1000, 'closing');
    await closed;
    this.ctx.clock.clearTimeout(timer);
  }

  /** Release the socket: no listener left, no late error becomes an uncaught exception. */
  dispose(): void {
    this.unwatch();
    this.ctx.clock.clearTimeout(this.stallTimer);
    if (this.releaseHandle !== undefined) clearImmediate(this.releaseHandle);
    this.releaseHandle = undefined;
    this.held = [];
    this.heldFrom = 0;
    this.ws.removeAllListeners();
    this.ws.on('error', () => undefined);
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }

  private readonly handleAlive = (): void => {
    this.ctx.alive();
  };

  private readonly handleMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    if (this.finished) return;
    this.ctx.alive();
    // ws goes on emitting the rest of the chunk it has read after a pause: hold those frames unparsed
    if (this.burstPaused || this.flowPaused || this.held.length > this.heldFrom) {
      this.held.push({ data, isBinary });
      return;
    }
    this.take(data, isBinary);
  };

  /** Parse one frame and hand it on; after burstFrames in one tick, stop until the flow had its turn. */
  private take(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.burst++ === 0) this.releaseHandle = setImmediate(this.release);
    else if (this.burst >= this.spec.timing.burstFrames && !this.burstPaused) {
      this.burstPaused = true;
      this.ws.pause();
      // a burst: from now on the flow's backlog is counted (see pressure.ts)
      this.pressure.arm();
    }
    // the flow fell behind before we were subscribed: pause now
    if (this.pressure.behind && !this.flowPaused) this.followFlow(true);
    this.parse(data, isBinary);
  }

  private parse(data: WebSocket.RawData, isBinary: boolean): void {
    const frame = this.spec.parser.parse(data, isBinary);
    if (frame !== undefined) this.spec.onFrame(frame);
  }

  /** The link ended: the frames it delivered before are read now, whatever the flow's backlog. */
  private flushHeld(): void {
    const held = this.held;
    const from = this.heldFrom;
    this.held = [];
    this.heldFrom = 0;
    for (let i = from; i < held.length; i++) this.parse(held[i]!.data, held[i]!.isBinary);
  }

  private readonly release = (): void => {
    this.releaseHandle = undefined;
    this.burst = 0;
    this.burstPaused = false;
    this.readOn();
  };

  /** Take the held frames (in order, a burst at a time), then read the socket again. */
  private readOn(): void {
    while (this.held.length > this.heldFrom && !this.burstPaused && !this.flowPaused && !this.finished) {
      const next = this.held[this.heldFrom];
      this.held[this.heldFrom++] = undefined;
      this.take(next!.data, next!.isBinary);
    }
    if (this.heldFrom === this.held.length) {
      this.held.length = 0;
      this.heldFrom = 0;
      if (!this.burstPaused && !this.flowPaused && !this.finished) this.ws.resume();
    }
  }

  /**
   * Stop reading while the flow is behind, read again when it caught up. Nothing is lost or
   * reordered: unread frames wait in the socket (and TCP); a server that gives up on a slow reader
   * closes the link, which is an ordinary drop and reconnect.
   */
  private readonly followFlow = (behind: boolean): void => {
    if (behind === this.flowPaused || this.finished) return;
    if (behind && !(this.isOpen && this.ctx.subscribed)) return;
    this.flowPaused = behind;
    this.ctx.clock.clearTimeout(this.stallTimer);
    if (behind) {
      this.ws.pause();
      this.watchStall(this.pressure.completed);
    }
    this.ctx.flowPaused(behind);
    this.spec.onFlowPause?.(behind);
    if (!behind && !this.burstPaused) this.readOn();
  };

  private watchStall(completedBefore: number): void {
    this.stallTimer = this.ctx.clock.setTimeout(() => {
      if (!this.flowPaused) return;
      const completed = this.pressure.completed;
      if (completed === completedBefore) this.pressure.reset();
      else this.watchStall(completed);
    }, this.spec.timing.flowStallMs);
  }
}

/** Retry-After in seconds (the only form servers here send) → ms; absent or odd = undefined. */
function retryAfter(value: string | string[] | undefined): number | undefined {
  const seconds = Number(Array.isArray(value) ? value[0] : value);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}
