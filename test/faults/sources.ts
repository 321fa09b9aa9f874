/**
 * One harness per WebSocket source (`privmx in`, `sms-gateway in`, `esms in`, `cpaas in`): its fake
 * server, a flow (config node + source + a helper node collecting the output), the fake's fault
 * controls behind one interface, and the bad frames the source must survive.
 */
import type { NodeAPI } from 'node-red';
import WebSocket from 'ws';
import cpaasNodes from '../../nodes/cpaas';
import esmsNodes from '../../nodes/esms';
import type { ConnectionState } from '../../nodes/lib/connection';
import { resetAuthGuards } from '../../nodes/lib/sms-gateway/auth-guard';
import { tuning } from '../../nodes/lib/tuning';
import privmxNodes from '../../nodes/privmx';
import gatewayNodes from '../../nodes/sms-gateway';
import { type FakeChannel, FakeCpaas } from '../fakes/cpaas';
import { FakeEsms, startFakeEsms } from '../fakes/esms';
import { fakeEvents, FakePrivmxBridge, startFakeBridge } from '../fakes/privmx-bridge';
import { FakeSmsGateway } from '../fakes/sms-gateway';
import { CountingClock, helper, withParams } from './util';

/** The phases; each protocol maps its own steps onto them. */
export type Stage = 'before auth' | 'after auth' | 'after subscribe';

export interface DropPhase {
  /** the fake's name for the step (its dropAt() argument) */
  phase: string;
  stage: Stage;
  /** what happens there, for the report */
  what: string;
}

export interface GarbageKind {
  kind: string;
  /** frames of this kind (strings and TextBytes go out as text frames, Buffers as binary frames) */
  frames: (string | Buffer | TextBytes)[];
}

export interface ConnectionLike {
  readonly state: ConnectionState;
}

export const BACKOFF = {
  initialDelayMs: 5,
  maxDelayMs: 40,
  factor: 2,
  jitter: 0.5,
  permanentDelayMs: 2_000,
  maxPermanentDelayMs: 4_000,
};

/** Short protocol timings for the fault suite (the harnesses and the all-nodes flow), on `clock`. */
export function faultTimings(
  clock: CountingClock,
): Record<'privmx' | 'sms-gateway' | 'esms' | 'cpaas', Record<string, unknown>> {
  const common = { clock, backoff: BACKOFF, deadAfterMs: 1_500, stableAfterMs: 60_000 };
  return {
    privmx: {
      ...common,
      requestTimeoutMs: 1_000,
      handshakeTimeoutMs: 1_000,
      // the clean close (unsubscribe, 1000) must not be cut short on a busy machine
      closeTimeoutMs: 2_000,
      minRefreshDelayMs: 50,
    },
    'sms-gateway': {
      ...common,
      authTimeoutMs: 1_000,
      requestTimeoutMs: 1_000,
      handshakeTimeoutMs: 1_000,
      closeTimeoutMs: 200,
    },
    esms: { ...common, pingIntervalMs: 200, handshakeTimeoutMs: 1_000 },
    cpaas: {
      ...common,
      connCheckIntervalMs: 300,
      minRenewMs: 20,
      minRefreshMs: 20,
      // deleting the subscriptions and the channel must not be cut short on a busy machine
      closeTimeoutMs: 2_000,
      resubscribeMinIntervalMs: 20,
      requestTimeoutMs: 1_000,
      handshakeTimeoutMs: 1_000,
      authFailureCooldownMs: 2_000,
    },
  };
}

/** frames over the tuned 64 KiB limit */
export const MAX_FRAME = 64 * 1024;
const BIG = 'x'.repeat(MAX_FRAME + 16 * 1024);
const BINARY = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x7b]);

/** Bytes sent as a TEXT frame (ws would send a Buffer as binary). */
export class TextBytes {
  constructor(readonly bytes: Buffer) {}
}
/** {"text":"<0xff 0xfe>"}: valid JSON if decoded loosely, but not UTF-8 (ws alone would close with 1007) */
const BAD_UTF8 = new TextBytes(Buffer.from([...Buffer.from('{"text":"'), 0xff, 0xfe, ...Buffer.from('"}')]));
const BAD_UTF8_KIND = { kind: 'text frame with invalid UTF-8', frames: [BAD_UTF8] };

export abstract class SourceHarness {
  abstract readonly type: string;
  abstract readonly phases: readonly DropPhase[];
  abstract readonly garbage: readonly GarbageKind[];
  readonly configId = 'cfg';
  readonly inId = 'in';
  readonly outId = 'h-in';
  readonly clock = new CountingClock();

  abstract start(): Promise<void>;
  abstract close(): Promise<void>;
  /** set tuning for this protocol (before load) */
  abstract tune(over?: Record<string, unknown>): void;
  abstract module(): (RED: NodeAPI) => void;
  /** config node (with `url`), source, helper */
  abstract flow(url?: string): Record<string, unknown>[];
  abstract credentials(): Record<string, Record<string, string>>;
  abstract connection(): ConnectionLike;
  /** server side: exactly one live, subscribed socket / subscription */
  abstract serverReady(): boolean;
  /** push one event the source must emit, with msg.event.id = tag */
  abstract emit(tag: string): void;
  /** kill every socket now (TCP terminate) */
  abstract dropAll(): void;
  abstract arm(phase: string, count: number): void;
  abstract pendingDrops(): number;
  /** connection attempts that reached the server (upgrades; CPaaS: channel requests) */
  abstract connects(): number;
  /** authentication attempts the server has seen (answered or not) */
  abstract authAttempts(): number;
  /** what the timeout that ends an unanswered authentication is called in the tuning */
  abstract readonly authTimeoutKey: string;
  /** send raw frames to the subscribed socket(s) */
  abstract raw(frame: string | Buffer | TextBytes): void;
  /** the server stops talking (no pings, no answers) */
  abstract stall(): void;
  abstract unstall(): void;
  /** the next `count` authentications are never answered */
  abstract ignoreAuth(count: number): void;
  /** every answer comes `ms` late */
  abstract slow(ms: number): void;

  async load(url?: string): Promise<void> {
    await helper.load(withParams(this.module()), this.flow(url), this.credentials());
  }

  /** client side: the connection is subscribed */
  clientReady(): boolean {
    return this.connection().state.phase === 'subscribed';
  }
}

const TAB = { id: 't1', type: 'tab', label: 'faults' };

function sourceFlow(config: Record<string, unknown>, source: Record<string, unknown>) {
  return [
    TAB,
    { id: 'cfg', ...config },
    { id: 'in', z: 't1', wires: [['h-in']], ...source },
    { id: 'h-in', type: 'helper', z: 't1' },
  ];
}

// ------------------------------------------------------------------------------------ PrivMX Bridge

export class PrivmxHarness extends SourceHarness {
  readonly type = 'privmx in';
  readonly phases: readonly DropPhase[] = [
    { phase: 'connect', stage: 'before auth', what: 'right after the upgrade' },
    { phase: 'auth', stage: 'before auth', what: 'manager/auth received, never answered' },
    { phase: 'bind', stage: 'after auth', what: 'auth answered, manager/bindAccessToken received' },
    { phase: 'subscribe', stage: 'after auth', what: 'manager/subscribeToChannel received, never answered' },
    { phase: 'subscribed', stage: 'after subscribe', what: 'right after subscribeToChannel answered OK' },
  ];
  readonly garbage: readonly GarbageKind[] = [
    { kind: 'invalid JSON', frames: ['this is {not json', '{"channel":"thread",', '\u0000\u0001'] },
    { kind: 'JSON, not an object', frames: ['[1,2,3]', '42', 'null', '"text"'] },
    {
      kind: 'object of the wrong shape',
      frames: ['{"hello":"world"}', '{"channel":7,"type":true}', '{"type":"threadNewMessage"}'],
    },
    {
      kind: 'unknown event type',
      frames: [JSON.stringify({ channel: 'thread', type: 'threadExploded', data: {}, timestamp: 1 })],
    },
    {
      kind: 'unknown channel',
      frames: [JSON.stringify({ channel: 'mailbox', type: 'mailboxNewLetter', data: {}, timestamp: 1 })],
    },
    { kind: 'binary frame', frames: [BINARY] },
    BAD_UTF8_KIND,
    {
      kind: `frame over the size limit (${MAX_FRAME} bytes)`,
      frames: [
        JSON.stringify({ ...fakeEvents.threadNewMessage({ publicMeta: { blob: BIG } }), timestamp: 1 }),
      ],
    },
    {
      kind: 'JSON-RPC error for an unknown id',
      frames: [
        JSON.stringify({
          jsonrpc: '2.0',
          id: 987654,
          error: { code: -32603, message: 'Internal error', data: null },
        }),
      ],
    },
    {
      kind: 'JSON-RPC error without an id',
      frames: [
        JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error', data: null } }),
      ],
    },
  ];
  fake!: FakePrivmxBridge;
  keyId = '';
  secret = '';

  async start(): Promise<void> {
    ({
      fake: this.fake,
      keyId: this.keyId,
      secret: this.secret,
    } = await startFakeBridge({
      pingIntervalMs: 200,
    }));
  }
  async close(): Promise<void> {
    await this.fake?.close();
  }
  tune(over: Record<string, unknown> = {}): void {
    tuning.privmx = { ...faultTimings(this.clock).privmx, maxFrameBytes: MAX_FRAME, ...over };
  }
  module() {
    return privmxNodes;
  }
  flow(url = this.fake.url) {
    return sourceFlow(
      { type: 'privmx-bridge', name: 'bridge', url, solutionId: '' },
      { type: 'privmx in', bridge: 'cfg', channels: ['thread'], types: [], containerIds: '' },
    );
  }
  credentials() {
    return { cfg: { apiKeyId: this.keyId, apiKeySecret: this.secret } };
  }
  connection(): ConnectionLike {
    return helper.getNode('cfg').connection;
  }
  serverReady(): boolean {
    const subs = this.fake.subscriptions();
    return subs.length === 1 && subs[0].join() === 'thread';
  }
  emit(tag: string): void {
    this.fake.emit(fakeEvents.threadNewMessage({ id: tag }));
  }
  dropAll(): void {
    this.fake.dropAll();
  }
  arm(phase: string, count: number): void {
    this.fake.dropAt(phase as Parameters<FakePrivmxBridge['dropAt']>[0], count);
  }
  pendingDrops(): number {
    return this.fake.pendingDrops;
  }
  connects(): number {
    return this.fake.stats.connections;
  }
  readonly authTimeoutKey = 'requestTimeoutMs';
  authAttempts(): number {
    return this.fake.requests.filter((r) => r.method === 'manager/auth').length;
  }
  raw(frame: string | Buffer | TextBytes): void {
    if (frame instanceof TextBytes) this.fake.sendRaw(frame.bytes, { binary: false });
    else this.fake.sendRaw(frame);
  }
  stall(): void {
    this.fake.stall();
  }
  unstall(): void {
    // stall() only silences the sockets open at the time: new ones answer
  }
  ignoreAuth(count: number): void {
    this.fake.ignoreNext('manager/auth', count);
  }
  slow(ms: number): void {
    this.fake.responseDelayMs = ms;
  }
}

// ------------------------------------------------------------------------------------- SMS gateway

export const GATEWAY_KEY = 'sgw_fa017fa017fa017fa017fa017fa017fa0';

export class GatewayHarness extends SourceHarness {
  readonly type = 'sms-gateway in';
  readonly phases: readonly DropPhase[] = [
    { phase: 'token', stage: 'before auth', what: 'POST /v1/ws/token received, socket destroyed' },
    { phase: 'upgrade', stage: 'before auth', what: 'upgrade request received, no 101' },
    { phase: 'auth', stage: 'before auth', what: 'auth frame received, never answered' },
    {
      phase: 'authed',
      stage: 'after subscribe',
      what: 'right after auth_ok (events flow from here: auth = subscribe)',
    },
  ];
  readonly garbage: readonly GarbageKind[] = [
    { kind: 'invalid JSON', frames: ['this is {not json', '{"type":"sms_inbound",'] },
    { kind: 'JSON, not an object', frames: ['[1,2,3]', '42', 'null'] },
    { kind: 'object of the wrong shape', frames: ['{"hello":"world"}', '{"messageId":"m1"}'] },
    { kind: 'unknown event type', frames: ['{"type":"sms_exploded","messageId":"m1"}'] },
    { kind: 'binary frame', frames: [BINARY] },
    BAD_UTF8_KIND,
    {
      kind: `frame over the size limit (${MAX_FRAME} bytes)`,
      frames: [JSON.stringify({ type: 'sms_inbound', messageId: 'big', body: BIG })],
    },
  ];
  fake!: FakeSmsGateway;

  async start(): Promise<void> {
    this.fake = await new FakeSmsGateway({
      pingIntervalMs: 200,
      // many reconnects, each with a fresh token: keep the per-key REST limit out of the way
      rateLimit: { max: 100_000, windowMs: 60_000 },
    }).start();
    this.fake.addKey(GATEWAY_KEY);
  }
  async close(): Promise<void> {
    await this.fake?.close();
    resetAuthGuards();
  }
  tune(over: Record<string, unknown> = {}): void {
    tuning['sms-gateway'] = { ...faultTimings(this.clock)['sms-gateway'], maxFrameBytes: MAX_FRAME, ...over };
  }
  module() {
    return gatewayNodes;
  }
  flow(url = this.fake.url) {
    return sourceFlow(
      { type: 'sms-gateway', name: 'gateway', url, from: '+15559876543', wsAuth: 'token' },
      { type: 'sms-gateway in', gateway: 'cfg', events: [] },
    );
  }
  credentials() {
    return { cfg: { apiKey: GATEWAY_KEY } };
  }
  connection(): ConnectionLike {
    return helper.getNode('cfg').connection;
  }
  serverReady(): boolean {
    return this.fake.authedSockets === 1;
  }
  emit(tag: string): void {
    this.fake.pushInbound({ messageId: tag });
  }
  dropAll(): void {
    this.fake.dropSockets();
  }
  arm(phase: string, count: number): void {
    this.fake.dropAt(phase as Parameters<FakeSmsGateway['dropAt']>[0], count);
  }
  pendingDrops(): number {
    return this.fake.pendingDrops;
  }
  connects(): number {
    return this.fake.upgrades;
  }
  readonly authTimeoutKey = 'authTimeoutMs';
  authAttempts(): number {
    return this.fake.upgrades;
  }
  raw(frame: string | Buffer | TextBytes): void {
    if (frame instanceof TextBytes) this.fake.pushRaw(frame.bytes, false);
    else this.fake.pushRaw(frame, Buffer.isBuffer(frame));
  }
  stall(): void {
    this.fake.stall();
  }
  unstall(): void {
    // stall() only silences the sockets open at the time
  }
  ignoreAuth(count: number): void {
    this.fake.ignoreAuth(count);
  }
  slow(ms: number): void {
    this.fake.authDelayMs = ms;
  }
}

// -------------------------------------------------------------------------------------- eSMS Africa

export const ESMS_API_KEY = 'esms_live_FAULTSUITE0001';

export class EsmsHarness extends SourceHarness {
  readonly type = 'esms in';
  readonly phases: readonly DropPhase[] = [
    { phase: 'upgrade', stage: 'before auth', what: 'upgrade with the cookie received, no 101' },
    {
      phase: 'open',
      stage: 'after auth',
      what: 'right after the 101 (the cookie was accepted; events flow from here)',
    },
    { phase: 'ping', stage: 'after subscribe', what: 'the client ping received, never answered' },
  ];
  readonly garbage: readonly GarbageKind[] = [
    { kind: 'invalid JSON', frames: ['this is {not json', '{"type":"balance_update",'] },
    { kind: 'JSON, not an object', frames: ['[1,2,3]', '42', 'null'] },
    { kind: 'object of the wrong shape', frames: ['{"hello":"world"}', '{"balance":12}'] },
    { kind: 'unknown event type', frames: ['{"type":"mystery_event","x":1}'] },
    { kind: 'binary frame', frames: [BINARY] },
    BAD_UTF8_KIND,
    {
      kind: `frame over the size limit (${MAX_FRAME} bytes)`,
      frames: [JSON.stringify({ type: 'notification', id: 1, title: 'big', body: BIG })],
    },
  ];
  fake!: FakeEsms;
  token = '';

  async start(): Promise<void> {
    this.fake = await startFakeEsms();
    this.fake.apiKeys.add(ESMS_API_KEY);
    this.token = this.fake.token();
  }
  async close(): Promise<void> {
    await this.fake?.close();
  }
  tune(over: Record<string, unknown> = {}): void {
    tuning.esms = { ...faultTimings(this.clock).esms, maxFrameBytes: MAX_FRAME, ...over };
  }
  module() {
    return esmsNodes;
  }
  flow(url = this.fake.url) {
    return sourceFlow(
      { type: 'esms-africa', name: 'esms', url },
      { type: 'esms in', esms: 'cfg', events: [] },
    );
  }
  credentials() {
    return { cfg: { accessToken: this.token, apiKey: ESMS_API_KEY } };
  }
  connection(): ConnectionLike {
    return helper.getNode('cfg').connection;
  }
  serverReady(): boolean {
    return this.fake.openSockets === 1;
  }
  emit(tag: string): void {
    this.fake.messageStatus({ message_id: tag });
  }
  dropAll(): void {
    this.fake.drop();
  }
  arm(phase: string, count: number): void {
    this.fake.dropAt(phase as Parameters<FakeEsms['dropAt']>[0], count);
  }
  pendingDrops(): number {
    return this.fake.pendingDrops;
  }
  connects(): number {
    return this.fake.upgrades.length + this.fake.dropped.upgrade + this.fake.ignoredUpgrades;
  }
  /** the cookie is the authentication: checked on the upgrade */
  readonly authTimeoutKey = 'handshakeTimeoutMs';
  authAttempts(): number {
    return this.connects();
  }
  raw(frame: string | Buffer | TextBytes): void {
    if (frame instanceof TextBytes) this.fake.pushRaw(frame.bytes, false);
    else this.fake.pushRaw(frame);
  }
  stall(): void {
    this.fake.stall(true);
  }
  unstall(): void {
    this.fake.stall(false);
  }
  ignoreAuth(count: number): void {
    this.fake.ignoreUpgrades(count);
  }
  slow(ms: number): void {
    this.fake.upgradeDelayMs = ms;
    this.fake.pongDelayMs = ms;
  }
}

// ---------------------------------------------------------------------------------- Kandy CPaaS

export const CPAAS_SECRET = 'cpaas-Pr0ject-S3cret-f4u1t5';
export const CPAAS_FROM = '+16135550100';
export const CPAAS_NUMBER = '+16135550101';

export class CpaasHarness extends SourceHarness {
  readonly type = 'cpaas in';
  readonly phases: readonly DropPhase[] = [
    {
      phase: 'token',
      stage: 'before auth',
      what: 'token revoked; each new POST /cpaas/auth/v1/token (session or teardown) has its socket destroyed',
    },
    {
      phase: 'channel',
      stage: 'after auth',
      what: 'token issued, POST …/channels received, socket destroyed',
    },
    { phase: 'upgrade', stage: 'after auth', what: 'channel created, socket upgrade received, no 101' },
    { phase: 'open', stage: 'after auth', what: 'right after the 101, before subscribing' },
    {
      phase: 'subscribe',
      stage: 'after auth',
      what: 'POST …/inbound/subscriptions received, socket destroyed',
    },
    { phase: 'subscribed', stage: 'after subscribe', what: 'right after the subscription was answered 201' },
  ];
  readonly garbage: readonly GarbageKind[] = [
    { kind: 'invalid JSON', frames: ['this is {not json', '{"connAck":'] },
    { kind: 'JSON, not an object', frames: ['[1,2,3]', '42', 'null', '{}'] },
    {
      kind: 'object of the wrong shape',
      frames: ['{"inboundSMSMessageNotification":"not an object"}', '{"inboundSMSMessageNotification":[1]}'],
    },
    { kind: 'unknown notification type', frames: ['{"mysteryNotification":{"x":1}}'] },
    {
      kind: 'cancellation of an unknown subscription',
      frames: [
        JSON.stringify({
          smsSubscriptionCancellationNotification: {
            link: [{ href: '/cpaas/smsmessaging/v1/x/inbound/subscriptions/nope', rel: 'Subscription' }],
          },
        }),
      ],
    },
    { kind: 'binary frame', frames: [BINARY] },
    BAD_UTF8_KIND,
    {
      kind: `frame over the size limit (${MAX_FRAME} bytes)`,
      frames: [
        JSON.stringify({
          inboundSMSMessageNotification: {
            inboundSMSMessage: { destinationAddress: CPAAS_NUMBER, message: BIG, messageId: 'big' },
          },
        }),
      ],
    },
  ];
  fake!: FakeCpaas;

  async start(): Promise<void> {
    this.fake = await new FakeCpaas({
      clientSecret: CPAAS_SECRET,
      numbers: [CPAAS_FROM, CPAAS_NUMBER],
    }).start();
  }
  async close(): Promise<void> {
    await this.fake?.close();
  }
  tune(over: Record<string, unknown> = {}): void {
    tuning.cpaas = { ...faultTimings(this.clock).cpaas, maxFrameBytes: MAX_FRAME, ...over };
  }
  module() {
    return cpaasNodes;
  }
  flow(url = this.fake.url) {
    return sourceFlow(
      {
        type: 'kandy-cpaas',
        name: 'cpaas',
        url,
        clientId: this.fake.clientId,
        auth: 'project',
        from: CPAAS_FROM,
      },
      { type: 'cpaas in', cpaas: 'cfg', destination: CPAAS_NUMBER, events: [] },
    );
  }
  credentials() {
    return { cfg: { clientSecret: CPAAS_SECRET } };
  }
  connection(): ConnectionLike {
    return helper.getNode('cfg').account.connection;
  }
  /** channels with an open notification socket */
  liveChannels(): FakeChannel[] {
    return [...this.fake.channels.values()].filter((c) =>
      [...c.sockets].some((ws) => ws.readyState === WebSocket.OPEN),
    );
  }
  /**
   * One live channel with one subscription for the number. A channel the client could not delete
   * (its teardown failed too, e.g. the token was revoked and the re-login dropped) is left for the
   * server to expire: it has no socket, so it delivers nothing.
   */
  serverReady(): boolean {
    const live = this.liveChannels();
    if (live.length !== 1 || this.fake.openSockets !== 1) return false;
    const subs = this.fake.subscriptionsFor(CPAAS_NUMBER).filter((s) => s.notifyURL === live[0].callbackURL);
    return subs.length === 1;
  }
  /** channels left on the server without a socket (to expire there) */
  orphanChannels(): number {
    return this.fake.channels.size - this.liveChannels().length;
  }
  emit(tag: string): void {
    this.fake.push('inboundSMSMessageNotification', CPAAS_NUMBER, { messageId: tag });
  }
  dropAll(): void {
    this.fake.dropSockets();
  }
  arm(phase: string, count: number): void {
    // the token is cached across sessions: revoked, it must be fetched again (and that is dropped)
    if (phase === 'token') this.fake.revokeTokens();
    this.fake.dropAt(phase as Parameters<FakeCpaas['dropAt']>[0], count);
  }
  pendingDrops(): number {
    return this.fake.pendingDrops;
  }
  connects(): number {
    // sessions that got a token and asked for a channel (the token itself is cached across sessions)
    return this.fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/channels')).length;
  }
  readonly authTimeoutKey = 'requestTimeoutMs';
  authAttempts(): number {
    return this.fake.requests.filter((r) => r.path === '/cpaas/auth/v1/token').length;
  }
  raw(frame: string | Buffer | TextBytes): void {
    if (frame instanceof TextBytes) this.fake.pushRawText(frame.bytes);
    else this.fake.pushRaw(frame);
  }
  stall(): void {
    this.fake.stalled = true;
  }
  unstall(): void {
    this.fake.stalled = false;
  }
  ignoreAuth(count: number): void {
    this.fake.hangNext('token', count);
  }
  slow(ms: number): void {
    this.fake.httpDelayMs = ms;
  }
}

export function harnesses(): SourceHarness[] {
  return [new PrivmxHarness(), new GatewayHarness(), new EsmsHarness(), new CpaasHarness()];
}
