import { typeFilter } from '../../nodes/lib/session/fanout';
import assert from 'assert';
import type { ConnectionState } from '../../nodes/lib/connection';
import type { EventMessage } from '../../nodes/lib/envelope';
import {
  EsmsConnection,
  EsmsTimings,
  esmsTiming,
  esmsWebSocketUrl,
  TOKEN_REJECTED,
} from '../../nodes/lib/esms/connection';
import { esmsEnvelope, EsmsEventType, normaliseEvents } from '../../nodes/lib/esms/envelope';
import { probeApiKey, probeWebSocket, testEsmsConnection } from '../../nodes/lib/esms/test-connection';
import { cleanAccessToken, decodeJwtClaims, isTokenExpired, tokenExpiry } from '../../nodes/lib/esms/token';
import { resetTuning, tuning } from '../../nodes/lib/tuning';
import { FakeEsms, makeJwt, startFakeEsms } from '../fakes/esms';
import { ManualClock } from '../clock';
import { tick, waitFor } from '../helpers';

const fast: Partial<EsmsTimings> = {
  pingIntervalMs: 40,
  // long enough that a busy machine never mistakes a late pong for a dead link; the dead-link test
  // sets a short one on virtual time
  deadAfterMs: 5_000,
  stableAfterMs: 10_000,
  handshakeTimeoutMs: 5_000,
  closeTimeoutMs: 5_000, // the clean close: a busy machine must not cut it short
  backoff: {
    initialDelayMs: 10,
    maxDelayMs: 40,
    factor: 2,
    jitter: 0,
    permanentDelayMs: 300,
    maxPermanentDelayMs: 600,
  },
};

function user(events: EsmsEventType[] = []) {
  const states: ConnectionState[] = [];
  const msgs: EventMessage[] = [];
  return {
    wants: typeFilter(events),
    states,
    msgs,
    onConnectionState: (s: ConnectionState) => states.push(s),
    deliver: (m: EventMessage) => msgs.push(m),
  };
}

describe('lib/esms token', () => {
  it('decodes exp without verifying and cleans pasted cookie values', () => {
    const jwt = makeJwt({ sub: 'u', exp: 2_000_000_000 }, 'any-secret');
    assert.strictEqual(decodeJwtClaims(jwt)?.sub, 'u');
    assert.strictEqual(tokenExpiry(jwt), 2_000_000_000_000);
    assert.strictEqual(isTokenExpired(jwt, 1_999_999_999_000), false);
    assert.strictEqual(isTokenExpired(jwt, 2_000_000_000_000), true);
    assert.strictEqual(cleanAccessToken(` esms_access_token=${jwt}; Path=/ `), jwt);
    assert.strictEqual(cleanAccessToken(`"${jwt}"`), jwt);
    assert.strictEqual(decodeJwtClaims('not-a-jwt'), undefined);
    assert.strictEqual(isTokenExpired('opaque-token'), false, 'tokens without exp are left to the server');
  });

  it('derives the WebSocket URL from the base URL', () => {
    assert.strictEqual(esmsWebSocketUrl(undefined), 'wss://sms.esmsafrica.io/ws');
    assert.strictEqual(esmsWebSocketUrl('https://sms.esmsafrica.io/'), 'wss://sms.esmsafrica.io/ws');
    assert.strictEqual(esmsWebSocketUrl('http://127.0.0.1:8080/prefix/'), 'ws://127.0.0.1:8080/prefix/ws');
    assert.throws(() => esmsWebSocketUrl('ftp://x'));
  });

  it('tuned timings default to a 30 s ping and a 65 s dead link, overridable per test', () => {
    assert.strictEqual(esmsTiming().pingIntervalMs, 30_000);
    assert.strictEqual(esmsTiming().deadAfterMs, 65_000);
    tuning.esms = { pingIntervalMs: 7 };
    try {
      assert.strictEqual(esmsTiming().pingIntervalMs, 7);
    } finally {
      resetTuning();
    }
  });
});

describe('lib/esms envelope', () => {
  it('message_status: id = message_id, timestamp = updated_at, payload untouched', () => {
    const frame = {
      type: 'message_status',
      message_id: 'msg-a1',
      status: 'delivered',
      dlr_status: 'DELIVRD',
      updated_at: '2026-05-02T12:00:05Z',
    };
    const env = esmsEnvelope(frame, 5)!;
    assert.strictEqual(env.topic, 'esms/message_status');
    assert.strictEqual(env.payload, frame);
    assert.deepStrictEqual(env.event, {
      source: 'esms',
      type: 'message_status',
      id: 'msg-a1',
      timestamp: Date.parse('2026-05-02T12:00:05Z'),
    });
  });

  it('notification: id = String(id); balance_update: no id, timestamp = now', () => {
    assert.deepStrictEqual(esmsEnvelope({ type: 'notification', id: 42, title: 't' }, 7)!.event, {
      source: 'esms',
      type: 'notification',
      id: '42',
      timestamp: 7,
    });
    const bal = esmsEnvelope({ type: 'balance_update', balance: 1965, currency: 'UGX' }, 9)!;
    assert.deepStrictEqual(bal.event, { source: 'esms', type: 'balance_update', timestamp: 9 });
    assert.ok(!('id' in bal.event));
    assert.strictEqual(esmsEnvelope({ type: 'pong' }), undefined);
    assert.strictEqual(esmsEnvelope({ type: 'other' }), undefined);
  });

  it('normalises the events property', () => {
    assert.deepStrictEqual(normaliseEvents(['balance_update', 'bogus', 'balance_update']), [
      'balance_update',
    ]);
    assert.deepStrictEqual(normaliseEvents(undefined), []);
    assert.deepStrictEqual(normaliseEvents('message_status,notification'), [
      'message_status',
      'notification',
    ]);
  });
});

describe('lib/esms connection against the fake', () => {
  let fake: FakeEsms;
  let conn: EsmsConnection | undefined;
  const warnings: string[] = [];

  beforeEach(async () => {
    fake = await startFakeEsms();
    warnings.length = 0;
  });
  afterEach(async () => {
    await conn?.close();
    conn = undefined;
    await fake.close();
  });

  function connect(token: string, timings: Partial<EsmsTimings> = fast) {
    conn = new EsmsConnection({ url: fake.url, accessToken: token, warn: (m) => warnings.push(m), timings });
    return conn;
  }

  it('sends the cookie, pings, gets pongs and delivers events by type', async () => {
    const token = fake.token();
    const c = connect(token);
    const all = user();
    const balanceOnly = user(['balance_update']);
    c.register(all);
    c.register(balanceOnly);
    await waitFor(() => c.state.phase === 'subscribed' && fake.openSockets === 1);
    assert.strictEqual(fake.upgrades[0].token, token);
    fake.messageStatus({ message_id: 'msg-1' });
    fake.setBalance(10);
    fake.notification({ id: 7 });
    await waitFor(() => all.msgs.length === 3);
    assert.deepStrictEqual(
      all.msgs.map((m) => m.topic),
      ['esms/message_status', 'esms/balance_update', 'esms/notification'],
    );
    assert.strictEqual(all.msgs[0].event.id, 'msg-1');
    assert.strictEqual(all.msgs[2].event.id, '7');
    assert.strictEqual(balanceOnly.msgs.length, 1);
    assert.notStrictEqual(balanceOnly.msgs[0].payload, all.msgs[1].payload, 'each user gets its own copy');
    assert.deepStrictEqual(balanceOnly.msgs[0].payload, all.msgs[1].payload);
    await waitFor(() => fake.pongs >= 2, 2000, 'pongs');
    assert.deepStrictEqual(fake.received[0], { type: 'ping' });
    assert.ok(!all.msgs.some((m) => m.event.type === 'pong'), 'pong is a heartbeat, not a message');
    assert.strictEqual(fake.acceptedUpgrades, 1, 'pongs keep the link alive');
  });

  it('skips garbage, logs each kind once and keeps the link', async () => {
    const c = connect(fake.token());
    const u = user();
    c.register(u);
    await waitFor(() => fake.openSockets === 1);
    fake.garbage();
    fake.garbage();
    fake.setBalance(5);
    await waitFor(() => u.msgs.length === 1);
    assert.strictEqual(u.msgs[0].event.type, 'balance_update');
    assert.strictEqual(warnings.length, 4, warnings.join('\n'));
    assert.ok(warnings.some((w) => /unknown type "mystery_event"/.test(w)));
    assert.strictEqual(fake.acceptedUpgrades, 1);
    assert.strictEqual(c.state.phase, 'subscribed');
  });

  it('reconnects after a dropped socket and sends the cookie again', async () => {
    const token = fake.token();
    const c = connect(token);
    const u = user();
    c.register(u);
    await waitFor(() => fake.openSockets === 1);
    fake.drop();
    await waitFor(() => fake.acceptedUpgrades === 2 && fake.openSockets === 1);
    assert.ok(u.states.some((s) => s.phase === 'backoff'));
    assert.deepStrictEqual(
      fake.upgrades.map((x) => x.token),
      [token, token],
    );
    fake.setBalance(3);
    await waitFor(() => u.msgs.length === 1);
  });

  it('a server that stops answering pings is a dead link: reconnect', async () => {
    // virtual time for pings and the watchdog: a busy machine cannot fake a dead link or skip a ping
    const clock = new ManualClock(Date.now());
    const c = connect(fake.token(), { ...fast, deadAfterMs: 150, clock });
    const u = user();
    c.register(u);
    await waitFor(() => fake.openSockets === 1 && c.state.phase === 'subscribed');
    fake.stall();
    for (let ping = 1; ping <= 3; ping++) {
      clock.advance(40);
      await waitFor(() => fake.pings === ping, 5000, `ping ${ping}`);
    }
    assert.ok(!u.states.some((s) => s.code === 'DEAD_LINK'), 'not dead before deadAfterMs');
    clock.advance(40); // 160 ms of silence > deadAfterMs (150)
    await waitFor(() => u.states.some((s) => s.code === 'DEAD_LINK'), 5000, 'dead link');
    assert.ok(fake.pings >= 2, 'kept pinging while waiting');
    fake.stall(false);
    await waitFor(() => {
      if (c.state.phase === 'backoff') clock.runNext(); // the reconnect delay
      return fake.acceptedUpgrades >= 2 && c.state.phase === 'subscribed';
    });
  });

  it('401 on the upgrade: red with a clear reason, long backoff, no tight loop; stops after the limit', async () => {
    const token = fake.token();
    fake.revoke(token);
    // virtual time for the backoff: what is asserted is the schedule, not how fast this machine is
    const clock = new ManualClock(Date.now());
    const c = connect(token, { ...fast, maxPermanentFailures: 2, clock });
    const u = user();
    c.register(u);
    await waitFor(() => c.state.phase === 'error');
    assert.strictEqual(c.state.permanent, true);
    assert.strictEqual(c.state.code, 'AUTH');
    assert.ok(c.state.reason!.startsWith(TOKEN_REJECTED), c.state.reason);
    assert.ok(!c.state.reason!.includes(token));
    assert.strictEqual(c.state.retryAt! - clock.now(), 300, 'the long backoff');
    clock.advance(299);
    await tick();
    assert.strictEqual(c.state.phase, 'error', 'still waiting');
    assert.strictEqual(fake.rejectedUpgrades, 1, 'no retry before the long backoff');
    clock.advance(1);
    await waitFor(() => c.state.phase === 'error' && c.state.retryAt === undefined, 3000, 'stay red');
    assert.strictEqual(clock.pending, 0, 'nothing scheduled that could try again');
    clock.advance(24 * 3600_000);
    await tick();
    assert.strictEqual(c.state.phase, 'error', 'still stopped');
    assert.strictEqual(fake.rejectedUpgrades, 2, 'stopped after maxPermanentFailures');
  });

  it('an expired token (exp in the past) is reported without connecting', async () => {
    const expired = fake.token({ expiresInSec: -60 });
    const clock = new ManualClock(Date.now());
    const c = connect(expired, { ...fast, clock });
    const u = user();
    c.register(u);
    await waitFor(() => c.state.phase === 'error');
    assert.match(c.state.reason!, /access token expired at \d{4}-/);
    assert.strictEqual(c.state.retryAt, undefined, 'no retry: the token cannot heal');
    assert.strictEqual(clock.pending, 0, 'nothing scheduled that could connect');
    clock.advance(24 * 3600_000);
    await tick();
    assert.strictEqual(c.state.phase, 'error', 'still stopped');
    assert.strictEqual(fake.upgrades.length, 0);
  });

  it('a transient HTTP failure on the upgrade retries with backoff', async () => {
    fake.forceUpgradeStatus = 503;
    const c = connect(fake.token());
    const u = user();
    c.register(u);
    await waitFor(() => fake.rejectedUpgrades >= 2);
    assert.ok(u.states.some((s) => s.phase === 'backoff' && /HTTP 503/.test(s.reason ?? '')));
    fake.forceUpgradeStatus = undefined;
    await waitFor(() => c.state.phase === 'subscribed');
  });

  it('close() ends the socket with 1000 and leaves nothing open', async () => {
    const c = connect(fake.token());
    c.register(user());
    // open on both ends: a socket the client still sees as opening cannot be closed with 1000
    await waitFor(() => fake.openSockets === 1 && c.state.phase === 'subscribed');
    const closed = new Promise<number>((resolve) =>
      [...fake.sockets][0].on('close', (code) => resolve(code)),
    );
    await c.close();
    assert.strictEqual(await closed, 1000);
    assert.strictEqual(c.state.phase, 'closed');
  });
});

describe('lib/esms test-connection', () => {
  let fake: FakeEsms;
  beforeEach(async () => {
    fake = await startFakeEsms();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('reports the upgrade, a rejected token, an expired token and the API key', async () => {
    const signal = AbortSignal.timeout(3000);
    const good = fake.token();
    assert.match(await probeWebSocket(fake.url, good, signal), /upgrade accepted — the token is valid until/);
    const bad = fake.token();
    fake.revoke(bad);
    await assert.rejects(probeWebSocket(fake.url, bad, signal), (e: Error & { code?: string }) => {
      assert.strictEqual(e.code, 'AUTH');
      assert.match(e.message, /access token expired or invalid/);
      return true;
    });
    await assert.rejects(probeWebSocket(fake.url, fake.token({ expiresInSec: -1 }), signal), /expired at/);
    assert.strictEqual(await probeApiKey(fake.url, 'esms_live_FAKEKEY0001', signal), 'REST API key accepted');
    assert.strictEqual(fake.requests[0].status, 422, 'nothing was sent');
    assert.strictEqual(fake.balance, 2000);
    await assert.rejects(
      probeApiKey(fake.url, 'esms_live_WRONG', signal),
      /API key was rejected \(HTTP 401\)/,
    );
    assert.match(
      await testEsmsConnection(
        { url: fake.url },
        { accessToken: good, apiKey: 'esms_test_FAKEKEY0001' },
        signal,
      ),
      /upgrade accepted.*; REST API key accepted/,
    );
    await assert.rejects(testEsmsConnection({ url: fake.url }, {}, signal), /enter an access token/);
  });
});

describe('fake eSMS REST (used by test-connection, the demo and benchmarks)', () => {
  let fake: FakeEsms;
  beforeEach(async () => {
    fake = await startFakeEsms();
  });
  afterEach(async () => {
    await fake.close();
  });

  const send = (key: string, body: unknown) =>
    fetch(`${fake.url}/api/messages/send`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }));

  it('a live send answers the documented shape and pushes balance_update + message_status', async () => {
    const c = new EsmsConnection({ url: fake.url, accessToken: fake.token(), timings: fast });
    const u = user();
    c.register(u);
    try {
      await waitFor(() => fake.openSockets === 1);
      const res = await send('esms_live_FAKEKEY0001', {
        to: '+256712345678',
        text: 'hello',
        sender_id: 'MyApp',
      });
      assert.strictEqual(res.status, 200);
      assert.match(res.body.id, /^msg-/);
      assert.deepStrictEqual(
        [res.body.status, res.body.segments, res.body.cost, res.body.balance_after],
        ['submitted', 1, 1.2, 1998.8],
      );
      await waitFor(() => u.msgs.length === 2);
      assert.deepStrictEqual(u.msgs[0].payload, { type: 'balance_update', balance: 1998.8, currency: 'UGX' });
      assert.strictEqual(u.msgs[1].event.id, res.body.id);
    } finally {
      await c.close();
    }
  });

  it('test keys send nothing; validation, auth and insufficient_balance errors', async () => {
    const test = await send('esms_test_FAKEKEY0001', { to: '+256712345678', text: 'hello' });
    assert.deepStrictEqual([test.status, test.body.status, fake.balance], [200, 'test', 2000]);
    const invalid = await send('esms_live_FAKEKEY0001', { to: '0712', text: '' });
    assert.strictEqual(invalid.status, 422);
    assert.deepStrictEqual(
      invalid.body.detail.map((d: { loc: string[] }) => d.loc.join('.')),
      ['body.to', 'body.text'],
    );
    assert.strictEqual((await send('esms_live_nope', {})).status, 401);
    fake.balance = 0.5;
    const poor = await send('esms_live_FAKEKEY0001', { to: '+256712345678', text: 'hello' });
    assert.strictEqual(poor.status, 402);
    assert.strictEqual(poor.body.detail.code, 'insufficient_balance');
    assert.match(poor.body.detail.message, /Insufficient balance/);
  });
});
