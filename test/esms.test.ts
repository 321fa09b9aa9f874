import assert from 'assert';
import esmsNodes from '../nodes/esms';
import type { EsmsConnection } from '../nodes/lib/esms/connection';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { FakeEsms, startFakeEsms } from './fakes/esms';
import { ManualClock } from './clock';
import { helper, lastStatus, statuses, tick, waitFor, withParams } from './helpers';

/** Distinctive REST key: every status, log, error and msg is scanned for it (and for the token). */
const API_KEY = 'esms_live_FAKEKEY0001';

/** The node module with a RED._ that shows its parameters, so statuses carry the reason. */
const nodesWithParams = withParams(esmsNodes);

function connection(id = 'acct'): EsmsConnection {
  return helper.getNode(id).connection as EsmsConnection;
}

/** Every log line Node-RED wrote (warn/error/log of all nodes). */
function logText(): string {
  const spy = helper.log() as { args: unknown[][] };
  return JSON.stringify(spy.args.map((a) => a.map((x) => (x instanceof Error ? x.message : x))));
}

const TAB = { id: 't1', type: 'tab', label: 'esms' };

function flow(fake: FakeEsms, ins: { id: string; events?: string[] }[] = [{ id: 'in' }]) {
  return [
    TAB,
    { id: 'acct', type: 'esms-africa', name: 'eSMS test', url: fake.url },
    ...ins.flatMap((n) => [
      { id: n.id, type: 'esms in', z: 't1', esms: 'acct', events: n.events ?? [], wires: [[`h-${n.id}`]] },
      { id: `h-${n.id}`, type: 'helper', z: 't1' },
    ]),
  ];
}

function collect(id: string): Record<string, unknown>[] {
  const msgs: Record<string, unknown>[] = [];
  helper.getNode(`h-${id}`).on('input', (msg: Record<string, unknown>) => msgs.push(msg));
  return msgs;
}

const FAST = {
  pingIntervalMs: 40,
  // long enough that a busy machine never mistakes a late pong for a dead link; the heartbeat test
  // sets a short one on virtual time
  deadAfterMs: 5_000,
  handshakeTimeoutMs: 5_000,
  closeTimeoutMs: 5_000, // the clean close: a busy machine must not cut it short
  backoff: {
    initialDelayMs: 10,
    maxDelayMs: 50,
    factor: 2,
    jitter: 0,
    permanentDelayMs: 400,
    maxPermanentDelayMs: 800,
  },
};

describe('esms nodes (through Node-RED)', function () {
  let fake: FakeEsms;
  let token: string;

  beforeEach(async () => {
    tuning.esms = { ...FAST };
    fake = await startFakeEsms();
    token = fake.token();
  });

  afterEach(async () => {
    await helper.unload();
    await helper.stopServer().catch(() => {});
    await fake.close();
    resetTuning();
  });

  it('emits message_status, balance_update and notification envelopes; green when subscribed; pongs never', async () => {
    await helper.load(esmsNodes, flow(fake), { acct: { accessToken: token, apiKey: API_KEY } });
    const msgs = collect('in');
    await waitFor(() => lastStatus('in').text === 'common.status.subscribed');
    assert.deepStrictEqual(lastStatus('in'), {
      fill: 'green',
      shape: 'dot',
      text: 'common.status.subscribed',
    });
    assert.strictEqual(fake.upgrades[0].token, token, 'the cookie carries the token');
    await waitFor(() => fake.pongs >= 2, 2000, 'pongs');
    const status = fake.messageStatus({ message_id: 'msg-a1b2', updated_at: '2026-05-02T12:00:05Z' });
    const balance = fake.setBalance(1965);
    const note = fake.notification();
    await waitFor(() => msgs.length === 3);
    assert.deepStrictEqual(
      msgs.map((m) => [m.topic, m.payload]),
      [
        ['esms/message_status', status],
        ['esms/balance_update', balance],
        ['esms/notification', note],
      ],
    );
    assert.deepStrictEqual(msgs[0].event, {
      source: 'esms',
      type: 'message_status',
      id: 'msg-a1b2',
      timestamp: Date.parse('2026-05-02T12:00:05Z'),
    });
    assert.deepStrictEqual(Object.keys(msgs[1].event as object).sort(), ['source', 'timestamp', 'type']);
    assert.strictEqual((msgs[2].event as { id: string }).id, '42');
    // two more ping/pong rounds, then a marker event: had a pong become a message, it came before it
    const pongs = fake.pongs;
    await waitFor(() => fake.pongs >= pongs + 2, 5000, 'two more pongs');
    const marker = fake.setBalance(7);
    await waitFor(() => msgs.length >= 4, 5000, 'the marker event');
    assert.deepStrictEqual(msgs[3].payload, marker);
    assert.strictEqual(msgs.length, 4, 'heartbeats are not messages');
  });

  it('filters by the events property; two nodes share ONE socket', async () => {
    await helper.load(esmsNodes, flow(fake, [{ id: 'all' }, { id: 'bal', events: ['balance_update'] }]), {
      acct: { accessToken: token },
    });
    const all = collect('all');
    const bal = collect('bal');
    await waitFor(() => fake.openSockets === 1 && lastStatus('bal').text === 'common.status.subscribed');
    fake.messageStatus();
    fake.notification();
    fake.setBalance(100);
    await waitFor(() => all.length === 3 && bal.length === 1);
    assert.strictEqual(bal[0].topic, 'esms/balance_update');
    assert.strictEqual(fake.acceptedUpgrades, 1);
  });

  it('skips garbage frames (logged once per kind) and keeps the link', async () => {
    await helper.load(esmsNodes, flow(fake), { acct: { accessToken: token } });
    const msgs = collect('in');
    await waitFor(() => fake.openSockets === 1);
    fake.garbage();
    fake.garbage();
    fake.setBalance(7);
    await waitFor(() => msgs.length === 1);
    const warns = (helper.log() as { args: { level: number; msg: string }[][] }).args
      .map((a) => a[0])
      .filter((e) => e && e.level === 30 && /eSMS: skipped/.test(String(e.msg)));
    assert.strictEqual(warns.length, 4, JSON.stringify(warns));
    assert.strictEqual(fake.acceptedUpgrades, 1);
    assert.strictEqual(lastStatus('in').text, 'common.status.subscribed');
  });

  it('reconnects after a dropped socket with the cookie sent again', async () => {
    await helper.load(nodesWithParams, flow(fake), { acct: { accessToken: token } });
    const msgs = collect('in');
    await waitFor(() => fake.openSockets === 1);
    fake.drop();
    await waitFor(() => fake.acceptedUpgrades === 2 && fake.openSockets === 1);
    assert.deepStrictEqual(
      fake.upgrades.map((u) => u.token),
      [token, token],
    );
    assert.ok(statuses('in').some((s) => s.fill === 'yellow' && /status\.reconnecting/.test(s.text ?? '')));
    await waitFor(() => lastStatus('in').fill === 'green');
    fake.setBalance(1);
    await waitFor(() => msgs.length === 1);
  });

  it('heartbeat timeout: the server stops answering pings → dead link → reconnect', async () => {
    // virtual time for pings and the watchdog: a busy machine cannot fake a dead link or skip a ping
    const clock = new ManualClock(Date.now());
    tuning.esms = { ...FAST, deadAfterMs: 150, clock };
    await helper.load(nodesWithParams, flow(fake), { acct: { accessToken: token } });
    await waitFor(() => fake.openSockets === 1 && lastStatus('in').fill === 'green');
    fake.stall();
    for (let ping = 1; ping <= 3; ping++) {
      clock.advance(40);
      await waitFor(() => fake.pings === ping, 5000, `ping ${ping}`);
    }
    clock.advance(40); // 160 ms of silence > deadAfterMs (150)
    await waitFor(
      () => statuses('in').some((s) => /no heartbeat/.test(s.text ?? '')),
      5000,
      'dead-link status',
    );
    assert.ok(fake.pings >= 2, 'pinged while waiting');
    fake.stall(false);
    await waitFor(() => {
      if (connection().state.phase === 'backoff') clock.runNext(); // the reconnect delay
      return fake.acceptedUpgrades >= 2 && lastStatus('in').fill === 'green';
    });
  });

  it('401 on the upgrade: red status with a clear message, long backoff, no tight loop', async () => {
    // virtual time for the backoff: what is asserted is the schedule, not how fast this machine is
    const clock = new ManualClock(Date.now());
    tuning.esms = { ...FAST, clock };
    fake.revoke(token);
    await helper.load(nodesWithParams, flow(fake), { acct: { accessToken: token } });
    await waitFor(() => lastStatus('in').fill === 'red');
    const red = lastStatus('in');
    assert.strictEqual(red.shape, 'ring');
    assert.match(red.text!, /access token expired or invalid — paste a fresh esms_access_token \(HTTP 401\)/);
    assert.strictEqual(connection().state.code, 'AUTH');
    assert.strictEqual(connection().state.retryAt! - clock.now(), 400, 'a long wait');
    clock.advance(399);
    await tick();
    assert.strictEqual(connection().state.phase, 'error', 'still waiting');
    assert.strictEqual(fake.upgrades.length, 1, 'one attempt, then a long wait');
    clock.advance(1);
    await waitFor(
      () => fake.upgrades.length === 2 && connection().state.retryAt! - clock.now() > 0,
      5000,
      'the second attempt refused',
    );
    assert.strictEqual(connection().state.retryAt! - clock.now(), 800, 'the wait grows');
    clock.advance(799);
    await tick();
    assert.strictEqual(connection().state.phase, 'error', 'still waiting');
    assert.strictEqual(fake.upgrades.length, 2, 'the wait grows: no loop');
    assert.ok(!JSON.stringify(statuses('in')).includes(token));
  });

  it('a token whose exp is past is reported red without connecting', async () => {
    const expired = fake.token({ expiresInSec: -3600 });
    const clock = new ManualClock(Date.now());
    tuning.esms = { ...FAST, clock };
    await helper.load(nodesWithParams, flow(fake), { acct: { accessToken: expired } });
    await waitFor(() => lastStatus('in').fill === 'red');
    assert.match(
      lastStatus('in').text!,
      /access token expired at \d{4}-\d\d-\d\dT.*paste a fresh esms_access_token/,
    );
    assert.strictEqual(clock.pending, 0, 'nothing scheduled that could connect');
    clock.advance(24 * 3600_000);
    await tick();
    assert.strictEqual(connection().state.phase, 'error', 'still stopped');
    assert.strictEqual(fake.upgrades.length, 0);
  });

  it('no config node → red status', async () => {
    await helper.load(esmsNodes, [
      TAB,
      { id: 'in', type: 'esms in', z: 't1', esms: '', events: [], wires: [[]] },
    ]);
    assert.deepStrictEqual(lastStatus('in'), { fill: 'red', shape: 'ring', text: 'common.status.noConfig' });
  });

  it('redeploy closes the socket with 1000; nothing survives unload', async () => {
    await helper.load(esmsNodes, flow(fake), { acct: { accessToken: token } });
    // open on both ends: a socket the client still sees as opening cannot be closed with 1000
    await waitFor(() => fake.openSockets === 1 && connection().state.phase === 'subscribed');
    const conn = connection();
    const closed = new Promise<number>((resolve) =>
      [...fake.sockets][0].on('close', (code) => resolve(code)),
    );
    await helper.unload();
    assert.strictEqual(await closed, 1000);
    const upgrades = fake.upgrades.length;
    // closed = its reconnect loop has ended: nothing is left that could connect again
    assert.strictEqual(conn.state.phase, 'closed');
    assert.strictEqual(fake.upgrades.length, upgrades, 'no reconnect after close');
    assert.strictEqual(fake.openSockets, 0);
  });

  it('test-connection endpoint: stored credentials (__PWRD__), a rejected token, and a bad API key', async () => {
    await helper.startServer();
    await helper.load(esmsNodes, flow(fake), { acct: { accessToken: token, apiKey: API_KEY } });
    const ok = await helper
      .request()
      .post('/sms-notify/test/esms-africa')
      .send({
        id: 'acct',
        config: { url: fake.url },
        credentials: { accessToken: '__PWRD__', apiKey: '__PWRD__' },
      })
      .expect(200);
    assert.strictEqual(ok.body.ok, true, JSON.stringify(ok.body));
    assert.match(ok.body.message, /WebSocket upgrade accepted.*REST API key accepted/);
    const revoked = fake.token();
    fake.revoke(revoked);
    const bad = await helper
      .request()
      .post('/sms-notify/test/esms-africa')
      .send({ id: 'acct', config: { url: fake.url }, credentials: { accessToken: revoked } })
      .expect(200);
    assert.strictEqual(bad.body.ok, false);
    assert.strictEqual(bad.body.code, 'AUTH');
    assert.match(bad.body.error, /access token expired or invalid/);
    const badKey = await helper
      .request()
      .post('/sms-notify/test/esms-africa')
      .send({ config: { url: fake.url }, credentials: { apiKey: 'esms_live_NOTAKEY99' } })
      .expect(200);
    assert.strictEqual(badKey.body.ok, false);
    assert.match(badKey.body.error, /API key was rejected \(HTTP 401\)/);
    for (const body of [ok.body, bad.body, badKey.body]) {
      const text = JSON.stringify(body);
      assert.ok(
        !text.includes(token) &&
          !text.includes(revoked) &&
          !text.includes(API_KEY) &&
          !text.includes('NOTAKEY'),
      );
    }
  });

  it('no secret in any status, log or msg', async () => {
    await helper.load(nodesWithParams, flow(fake), { acct: { accessToken: token, apiKey: API_KEY } });
    const msgs = collect('in');
    await waitFor(() => fake.openSockets === 1);
    fake.setBalance(10);
    fake.garbage();
    fake.drop();
    await waitFor(() => fake.acceptedUpgrades === 2 && fake.openSockets === 1);
    fake.messageStatus();
    await waitFor(() => msgs.length === 2);
    fake.revoke(token);
    fake.drop();
    await waitFor(() => lastStatus('in').fill === 'red');
    const everything = JSON.stringify(statuses('in')) + logText() + JSON.stringify(msgs);
    assert.ok(everything.includes('access token expired or invalid'), 'the scan saw the error');
    for (const secret of [token, API_KEY, token.split('.')[2]])
      assert.ok(!everything.includes(secret), 'secret leaked');
  });
});
