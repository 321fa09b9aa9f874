import assert from 'assert';
import type { ConnectionState } from '../../nodes/lib/connection';
import type { EventMessage } from '../../nodes/lib/envelope';
import { resetAuthGuards } from '../../nodes/lib/sms-gateway/auth-guard';
import {
  GATEWAY_TIMING,
  GatewayConnection,
  GatewayConnectionOptions,
  GatewayTiming,
  GatewayUser,
} from '../../nodes/lib/sms-gateway/connection';
import { eventSelection, GatewayEventType } from '../../nodes/lib/sms-gateway/envelope';
import { gatewayStatus } from '../../nodes/lib/sms-gateway/status';
import { waitFor } from '../helpers';
import { FakeSmsGateway, GOOD_KEY, maxInWindow } from '../fakes/sms-gateway';
import { CountingClock, ManualClock } from '../clock';

const FAST: GatewayTiming = {
  ...GATEWAY_TIMING,
  backoff: {
    initialDelayMs: 5,
    maxDelayMs: 20,
    factor: 2,
    jitter: 0,
    permanentDelayMs: 30,
    maxPermanentDelayMs: 60,
  },
  deadAfterMs: 0,
  // limits a busy machine never reaches by accident (a late answer must not look like a failure)
  authTimeoutMs: 5_000,
  requestTimeoutMs: 5_000,
  handshakeTimeoutMs: 5_000,
  closeTimeoutMs: 200,
};

function user(events: GatewayEventType[] = []) {
  const selection = eventSelection(events);
  const states: ConnectionState[] = [];
  const msgs: EventMessage[] = [];
  const u: GatewayUser & { states: ConnectionState[]; msgs: EventMessage[] } = {
    states,
    msgs,
    wants: (type) => selection.has(type),
    deliver: (msg) => msgs.push(msg),
    onConnectionState: (s) => states.push(s),
  };
  return u;
}

describe('lib/sms-gateway GatewayConnection', () => {
  let fake: FakeSmsGateway;
  const conns: GatewayConnection[] = [];
  const logs: string[] = [];

  function connect(opts: Partial<GatewayConnectionOptions> = {}, timing: Partial<GatewayTiming> = {}) {
    const conn = new GatewayConnection({
      url: fake.url,
      apiKey: GOOD_KEY,
      log: (m) => logs.push(m),
      timing: { ...FAST, ...timing },
      ...opts,
    });
    conns.push(conn);
    return conn;
  }

  beforeEach(async () => {
    logs.length = 0;
    fake = await new FakeSmsGateway({ pingIntervalMs: 0 }).start();
  });

  afterEach(async () => {
    for (const c of conns.splice(0)) await c.close();
    await fake.close();
    resetAuthGuards();
  });

  it('token mode: fetches a token, authenticates with it, goes green, delivers events by type', async () => {
    const conn = connect();
    const all = user();
    const inboundOnly = user(['sms_inbound']);
    conn.register(all);
    conn.register(inboundOnly);
    await waitFor(() => conn.state.phase === 'subscribed');
    assert.strictEqual(fake.tokensIssued.length, 1);
    assert.deepStrictEqual(
      fake.authAttempts.map((a) => [a.via, a.ok]),
      [
        ['rest', true],
        ['ws-token', true],
      ],
    );
    assert.deepStrictEqual(
      all.states.map((s) => s.phase),
      ['idle', 'connecting', 'authenticating', 'subscribed'],
    );

    const status = fake.pushStatus({ messageId: 'msg_a1b2c3d4e5f6', timestamp: '2026-03-01T10:00:02.000Z' });
    const inbound = fake.pushInbound({
      messageId: 'msg_f6e5d4c3b2a1',
      timestamp: '2026-03-01T14:30:00.000Z',
    });
    await waitFor(() => all.msgs.length === 2 && inboundOnly.msgs.length === 1);
    assert.deepStrictEqual(all.msgs[0], {
      topic: 'sms-gateway/sms_status',
      payload: status,
      event: {
        source: 'sms-gateway',
        type: 'sms_status',
        id: 'msg_a1b2c3d4e5f6',
        timestamp: Date.parse('2026-03-01T10:00:02.000Z'),
      },
    });
    assert.deepStrictEqual(all.msgs[1].event, {
      source: 'sms-gateway',
      type: 'sms_inbound',
      id: 'msg_f6e5d4c3b2a1',
      author: '+15551234567',
      containerId: '+15559876543',
      timestamp: Date.parse('2026-03-01T14:30:00.000Z'),
    });
    assert.deepStrictEqual(inboundOnly.msgs[0].payload, inbound);
    assert.notStrictEqual(inboundOnly.msgs[0].payload, all.msgs[1].payload, 'each user gets its own payload');
  });

  it('apiKey mode: sends the key in the auth frame, no token request', async () => {
    const conn = connect({ wsAuth: 'apiKey' });
    conn.register(user());
    await waitFor(() => conn.state.phase === 'subscribed');
    assert.strictEqual(fake.tokensIssued.length, 0);
    assert.deepStrictEqual(
      fake.authAttempts.map((a) => a.via),
      ['ws-apiKey'],
    );
  });

  it('pings are heartbeats, never messages, and keep the link alive', async () => {
    await fake.close();
    fake = await new FakeSmsGateway({ pingIntervalMs: 20 }).start();
    // virtual time for the watchdog: a busy machine cannot fake a dead link
    const clock = new ManualClock(Date.now());
    const conn = connect({}, { deadAfterMs: 300, clock });
    const u = user();
    conn.register(u);
    await waitFor(() => conn.state.phase === 'subscribed');
    // 100 virtual ms per ping, 500 ms in all: beyond deadAfterMs
    for (let i = 0; i < 5; i++) {
      const pings = fake.pingsSent;
      await waitFor(() => fake.pingsSent > pings, 5000, 'a ping');
      clock.advance(100);
    }
    // a marker event: a ping turned into a message would have come before it
    const marker = fake.pushStatus();
    await waitFor(() => u.msgs.length >= 1, 5000, 'the marker event');
    assert.deepStrictEqual(u.msgs[0].payload, marker);
    assert.strictEqual(u.msgs.length, 1, 'no ping became a message');
    assert.strictEqual(conn.stats.connects, 1, 'no reconnect');
    assert.ok(!u.states.some((s) => s.code === 'DEAD_LINK'));
  });

  it('a stalled server is a dead link: reconnects with a NEW token and delivers again', async () => {
    await fake.close();
    fake = await new FakeSmsGateway({ pingIntervalMs: 20 }).start();
    const conn = connect({}, { deadAfterMs: 300 });
    const u = user();
    conn.register(u);
    await waitFor(() => conn.state.phase === 'subscribed');
    fake.stall();
    await waitFor(() => u.states.some((s) => s.code === 'DEAD_LINK'), 3000, 'dead link');
    await waitFor(() => conn.state.phase === 'subscribed' && conn.stats.connects === 2);
    assert.strictEqual(fake.tokensIssued.length, 2);
    assert.notStrictEqual(fake.tokensIssued[0], fake.tokensIssued[1]);
    fake.pushInbound();
    await waitFor(() => u.msgs.length === 1);
  });

  it('reconnects after a dropped socket with auth restored (a fresh token per connect)', async () => {
    const conn = connect();
    const u = user();
    conn.register(u);
    await waitFor(() => conn.state.phase === 'subscribed');
    fake.dropSockets();
    await waitFor(() => u.states.some((s) => s.phase === 'backoff'));
    await waitFor(() => conn.state.phase === 'subscribed' && fake.authedSockets === 1);
    assert.strictEqual(fake.tokensIssued.length, 2);
    assert.strictEqual(new Set(fake.tokensIssued).size, 2);
    fake.pushStatus();
    await waitFor(() => u.msgs.length === 1);
  });

  it('bad input is logged once per kind and skipped; the link stays', async () => {
    const conn = connect();
    const u = user();
    conn.register(u);
    await waitFor(() => conn.state.phase === 'subscribed');
    fake.pushRaw('{not json');
    fake.pushRaw('{not json either');
    fake.pushRaw(Buffer.from([1, 2, 3]), true);
    fake.pushRaw('{"type":"sms_whatever","x":1}');
    fake.pushRaw('[1,2]');
    fake.pushRaw('{"type":"ping"}');
    fake.pushInbound({ body: 'after garbage' });
    await waitFor(() => u.msgs.length === 1);
    assert.strictEqual((u.msgs[0].payload as { body: string }).body, 'after garbage');
    assert.strictEqual(conn.stats.skipped, 5);
    assert.strictEqual(logs.length, 4, logs.join('\n'));
    assert.ok(logs.some((l) => l.includes('not JSON')));
    assert.ok(logs.some((l) => l.includes('binary')));
    assert.ok(logs.some((l) => l.includes('sms_whatever')));
    assert.strictEqual(conn.stats.connects, 1);
    assert.strictEqual(conn.state.phase, 'subscribed');
  });

  it('a rejected key (token endpoint 401): red with the server reason, long backoff, stops after the limit', async () => {
    const clock = new CountingClock();
    const conn = connect(
      { apiKey: 'sgw_ffffffffffffffffffffffffffffffff' },
      { maxPermanentFailures: 2, clock },
    );
    const u = user();
    conn.register(u);
    await waitFor(() => conn.state.phase === 'error' && conn.state.retryAt === undefined, 3000);
    assert.strictEqual(conn.state.reason, 'Invalid API key');
    assert.strictEqual(conn.state.code, 'AUTH');
    assert.strictEqual(conn.state.failures, 2);
    const retrying = u.states.find((s) => s.phase === 'error' && s.retryAt !== undefined);
    assert.ok(retrying, 'red with a retry time first');
    assert.strictEqual(fake.authFailures.length, 2);
    assert.strictEqual(fake.upgrades, 0, 'no WebSocket with a key the token endpoint refused');
    const status = gatewayStatus(conn.state, (k, p) => `${k} ${JSON.stringify(p)}`);
    assert.strictEqual(status.fill, 'red');
    assert.ok(status.text?.startsWith('sms-gateway.status.stopped'));
    assert.ok(status.text?.includes('Invalid API key'));
    // stopped: no timer is left that could start another attempt
    await waitFor(() => clock.pending.size === 0, 5000, 'no timer left');
    assert.strictEqual(fake.authFailures.length, 2, 'stopped: no more attempts');
  });

  it('a rejected key in apiKey mode: auth_error + 1008 → the server reason', async () => {
    const conn = connect({ apiKey: 'sgw_bad', wsAuth: 'apiKey' }, { maxPermanentFailures: 1 });
    conn.register(user());
    await waitFor(() => conn.state.phase === 'error', 3000);
    assert.strictEqual(conn.state.reason, 'Invalid API key');
    assert.strictEqual(conn.state.permanent, true);
    assert.deepStrictEqual(
      fake.authFailures.map((a) => [a.via, a.error]),
      [['ws-apiKey', 'Invalid API key']],
    );
  });

  it('an expired token: "Invalid or expired token" is a permanent auth failure', async () => {
    await fake.close();
    fake = await new FakeSmsGateway({ pingIntervalMs: 0, tokenTtlMs: 0 }).start();
    const conn = connect({}, { maxPermanentFailures: 1 });
    conn.register(user());
    await waitFor(() => conn.state.phase === 'error', 3000);
    assert.strictEqual(conn.state.reason, 'Invalid or expired token');
  });

  it('no API key or a bad URL: red at once, nothing sent', async () => {
    const a = connect({ apiKey: '' });
    a.register(user());
    await waitFor(() => a.state.phase === 'error');
    assert.strictEqual(a.state.reason, 'no API key configured');
    const b = connect({ url: 'ftp://example.com' });
    b.register(user());
    await waitFor(() => b.state.phase === 'error');
    assert.match(b.state.reason ?? '', /http/);
    assert.strictEqual(fake.requests.length, 0);
  });

  it('close() ends the socket politely and leaves nothing open', async () => {
    const conn = connect();
    conn.register(user());
    await waitFor(() => conn.state.phase === 'subscribed');
    await conn.close();
    await waitFor(() => fake.openSockets === 0);
    assert.strictEqual(conn.state.phase, 'closed');
  });

  it('while the IP is locked out, the upgrade answers 429 and the connection waits as told', async () => {
    await fake.close();
    fake = await new FakeSmsGateway({
      pingIntervalMs: 0,
      lockout: { failures: 1, windowMs: 60_000, blockMs: 60_000 },
    }).start();
    await fetch(`${fake.url}/v1/ws/token`, { method: 'POST', headers: { authorization: 'Bearer nope' } });
    assert.ok(fake.isLocked());
    const conn = connect({ wsAuth: 'apiKey' });
    const u = user();
    conn.register(u);
    await waitFor(() => conn.state.phase === 'backoff');
    assert.strictEqual(conn.state.code, 'RATE_LIMITED');
    assert.ok(conn.state.retryAt! - Date.now() > 50_000, 'Retry-After honoured');
  });

  it('LOCKOUT PROOF: 15 consecutive auth failures (never giving up) → fewer than 10 attempts in any 5 min', async () => {
    const clock = new ManualClock(Date.now());
    await fake.close();
    fake = await new FakeSmsGateway({ pingIntervalMs: 0, clock }).start();
    for (const wsAuth of ['apiKey', 'token'] as const) {
      resetAuthGuards();
      const before = fake.authFailures.length;
      const conn = connect(
        { apiKey: 'sgw_00000000000000000000000000000bad', wsAuth },
        {
          backoff: GATEWAY_TIMING.backoff,
          maxPermanentFailures: 0,
          clock,
          deadAfterMs: GATEWAY_TIMING.deadAfterMs,
        },
      );
      conn.register(user());
      while (fake.authFailures.length - before < 15) {
        await waitFor(
          () => conn.state.phase === 'error' && clock.pending > 0,
          3000,
          'waiting for the backoff',
        );
        clock.runNext();
      }
      await conn.close();
      const times = fake.authFailures.slice(before).map((a) => a.at);
      assert.strictEqual(times.length, 15);
      const worst = maxInWindow(times);
      assert.ok(worst < 10, `${wsAuth}: ${worst} in one window`);
      assert.ok(worst <= 2, `${wsAuth}: minutes apart, ${worst} in one window`);
      for (let i = 1; i < times.length; i++)
        assert.ok(times[i] - times[i - 1] >= 120_000, 'at least 2 min apart');
    }
    assert.strictEqual(fake.lockouts.length, 0, 'the IP was never locked out');
  });
});
