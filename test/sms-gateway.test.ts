import assert from 'assert';
import fs from 'fs';
import path from 'path';
import gatewayNodes from '../nodes/sms-gateway';
import { GATEWAY_TIMING } from '../nodes/lib/sms-gateway/connection';
import { resetAuthGuards } from '../nodes/lib/sms-gateway/auth-guard';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { delay, helper, lastStatus, statuses, tick, waitFor, withParams } from './helpers';
import { FakeSmsGateway, maxInWindow } from './fakes/sms-gateway';
import { CountingClock, ManualClock } from './clock';

/** A distinctive key: the tests scan every log, status, error and msg for it. */
const KEY = 'sgw_5ecre75ecre75ecre75ecre75ecre7aa';
const BAD_KEY = 'sgw_baadbaadbaadbaadbaadbaadbaad00';
const FROM = '+15559876543';

/**
 * The node module with a RED._ that shows its parameters (the helper's returns the key alone), so
 * statuses can be checked for the server's reason — and scanned for secrets.
 */
const nodesWithParams = withParams(gatewayNodes);

function connectionOf(id = 'gw') {
  return helper.getNode(id).connection as import('../nodes/lib/sms-gateway/connection').GatewayConnection;
}

const TAB = { id: 't1', type: 'tab', label: 'gateway' };

function gwNode(fake: FakeSmsGateway, over: Record<string, unknown> = {}) {
  return {
    id: 'gw',
    type: 'sms-gateway',
    name: 'gateway',
    url: fake.url,
    from: FROM,
    wsAuth: 'token',
    ...over,
  };
}

function inFlow(fake: FakeSmsGateway, events: string[] = [], gw: Record<string, unknown> = {}) {
  return [
    TAB,
    gwNode(fake, gw),
    { id: 'in', type: 'sms-gateway in', z: 't1', gateway: 'gw', events, wires: [['h']] },
    { id: 'h', type: 'helper', z: 't1' },
  ];
}

function outFlow(fake: FakeSmsGateway, out: Record<string, unknown> = {}) {
  return [
    TAB,
    gwNode(fake),
    {
      id: 'out',
      type: 'sms-gateway out',
      z: 't1',
      gateway: 'gw',
      to: '',
      from: '',
      message: '',
      wires: [['h']],
      ...out,
    },
    { id: 'h', type: 'helper', z: 't1' },
    { id: 'c', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['hc']] },
    { id: 'hc', type: 'helper', z: 't1' },
  ];
}

const FAST = {
  backoff: {
    initialDelayMs: 10,
    maxDelayMs: 50,
    factor: 2,
    jitter: 0,
    permanentDelayMs: 100,
    maxPermanentDelayMs: 400,
  },
  // limits a busy machine never reaches by accident (a late answer must not look like a failure)
  authTimeoutMs: 5_000,
  requestTimeoutMs: 5_000,
  handshakeTimeoutMs: 5_000,
  closeTimeoutMs: 200,
};

describe('sms-gateway nodes (through Node-RED)', function () {
  let fake: FakeSmsGateway;

  beforeEach(async () => {
    tuning['sms-gateway'] = { ...FAST };
    const retry = { initialDelayMs: 5, maxDelayMs: 20, factor: 2, jitter: 0 };
    tuning.sink = { retryBackoff: retry, maxRetryAfterMs: 5_000 };
    fake = await new FakeSmsGateway({ pingIntervalMs: 50 }).start();
    fake.addKey(KEY);
  });

  afterEach(async () => {
    await helper.unload();
    await helper.stopServer().catch(() => {});
    await fake.close();
    resetTuning();
    resetAuthGuards();
  });

  describe('sms-gateway in', () => {
    it('emits sms_status and sms_inbound as envelopes, pings never; green when subscribed', async () => {
      await helper.load(gatewayNodes, inFlow(fake), { gw: { apiKey: KEY } });
      const received: Record<string, unknown>[] = [];
      helper.getNode('h').on('input', (msg: Record<string, unknown>) => received.push(msg));
      await waitFor(() => fake.authedSockets === 1);
      await waitFor(() => lastStatus('in').text === 'common.status.subscribed');
      assert.deepStrictEqual(lastStatus('in'), {
        fill: 'green',
        shape: 'dot',
        text: 'common.status.subscribed',
      });
      const pings = fake.pingsSent;
      await waitFor(() => fake.pingsSent >= pings + 2, 5000, 'a couple of pings');
      const status = fake.pushStatus({
        messageId: 'msg_a1b2c3d4e5f6',
        status: 'sent',
        timestamp: '2026-03-01T10:00:02.000Z',
      });
      const inbound = fake.pushInbound({
        messageId: 'msg_f6e5d4c3b2a1',
        timestamp: '2026-03-01T14:30:00.000Z',
      });
      await waitFor(() => received.length === 2);
      assert.strictEqual(received[0].topic, 'sms-gateway/sms_status');
      assert.deepStrictEqual(received[0].payload, status);
      assert.deepStrictEqual(received[0].event, {
        source: 'sms-gateway',
        type: 'sms_status',
        id: 'msg_a1b2c3d4e5f6',
        timestamp: Date.parse('2026-03-01T10:00:02.000Z'),
      });
      assert.strictEqual(received[1].topic, 'sms-gateway/sms_inbound');
      assert.deepStrictEqual(received[1].payload, inbound);
      assert.deepStrictEqual(received[1].event, {
        source: 'sms-gateway',
        type: 'sms_inbound',
        id: 'msg_f6e5d4c3b2a1',
        author: '+15551234567',
        containerId: '+15559876543',
        timestamp: Date.parse('2026-03-01T14:30:00.000Z'),
      });
      // two more pings, then a marker event: a ping turned into a message would come before it
      const later = fake.pingsSent;
      await waitFor(() => fake.pingsSent >= later + 2, 5000, 'two more pings');
      const marker = fake.pushStatus();
      await waitFor(() => received.length >= 3, 5000, 'the marker event');
      assert.deepStrictEqual(received[2].payload, marker);
      assert.strictEqual(received.length, 3, 'no ping became a message');
    });

    it('filters by event type; two nodes share ONE socket', async () => {
      const flow = [
        ...inFlow(fake, ['sms_inbound']),
        {
          id: 'in2',
          type: 'sms-gateway in',
          z: 't1',
          gateway: 'gw',
          events: ['sms_status'],
          wires: [['h2']],
        },
        { id: 'h2', type: 'helper', z: 't1' },
      ];
      await helper.load(gatewayNodes, flow, { gw: { apiKey: KEY } });
      const a: Record<string, unknown>[] = [];
      const b: Record<string, unknown>[] = [];
      helper.getNode('h').on('input', (msg: Record<string, unknown>) => a.push(msg));
      helper.getNode('h2').on('input', (msg: Record<string, unknown>) => b.push(msg));
      await waitFor(() => fake.authedSockets === 1 && connectionOf().state.phase === 'subscribed');
      fake.pushStatus();
      fake.pushInbound();
      fake.pushStatus();
      await waitFor(() => a.length === 1 && b.length === 2);
      assert.strictEqual((a[0].event as { type: string }).type, 'sms_inbound');
      assert.strictEqual(fake.upgrades, 1);
    });

    it('garbage, binary and unknown types are skipped and logged once; the link stays', async () => {
      await helper.load(gatewayNodes, inFlow(fake), { gw: { apiKey: KEY } });
      const received: Record<string, unknown>[] = [];
      helper.getNode('h').on('input', (msg: Record<string, unknown>) => received.push(msg));
      await waitFor(() => fake.authedSockets === 1 && connectionOf().state.phase === 'subscribed');
      for (let i = 0; i < 3; i++) {
        fake.pushRaw('{oops');
        fake.pushRaw(Buffer.from('x'), true);
        fake.pushRaw('{"type":"sms_new_kind"}');
      }
      fake.pushInbound();
      await waitFor(() => received.length === 1);
      const warnings = helper
        .log()
        .args.filter((a: { level: number }[]) => a[0].level === helper.log().WARN)
        .map((a: { msg: string }[]) => String(a[0].msg));
      assert.strictEqual(warnings.filter((w: string) => w.includes('not JSON')).length, 1);
      assert.strictEqual(warnings.filter((w: string) => w.includes('binary')).length, 1);
      assert.strictEqual(warnings.filter((w: string) => w.includes('sms_new_kind')).length, 1);
      assert.strictEqual(fake.upgrades, 1);
    });

    it('reconnects after a dropped socket with auth restored — a NEW token per connect', async () => {
      await helper.load(gatewayNodes, inFlow(fake), { gw: { apiKey: KEY } });
      const received: Record<string, unknown>[] = [];
      helper.getNode('h').on('input', (msg: Record<string, unknown>) => received.push(msg));
      await waitFor(() => fake.authedSockets === 1);
      fake.dropSockets();
      await waitFor(() => statuses('in').some((s) => s.text === 'common.status.reconnecting'));
      await waitFor(() => fake.authedSockets === 1 && fake.tokensIssued.length === 2);
      assert.notStrictEqual(fake.tokensIssued[0], fake.tokensIssued[1]);
      assert.deepStrictEqual(
        fake.authAttempts.map((a) => [a.via, a.ok]),
        [
          ['rest', true],
          ['ws-token', true],
          ['rest', true],
          ['ws-token', true],
        ],
      );
      await waitFor(() => lastStatus('in').text === 'common.status.subscribed');
      fake.pushInbound();
      await waitFor(() => received.length === 1);
    });

    it('apiKey mode reconnects with the key in the auth frame', async () => {
      await helper.load(gatewayNodes, inFlow(fake, [], { wsAuth: 'apiKey' }), { gw: { apiKey: KEY } });
      await waitFor(() => fake.authedSockets === 1);
      fake.closeSockets(1011, 'server restart');
      await waitFor(() => fake.authAttempts.length === 2 && fake.authedSockets === 1);
      assert.deepStrictEqual(
        fake.authAttempts.map((a) => a.via),
        ['ws-apiKey', 'ws-apiKey'],
      );
      assert.strictEqual(fake.tokensIssued.length, 0);
    });

    it('heartbeat timeout: a silent server is a dead link, then a reconnect', async () => {
      // virtual time for the watchdog: a busy machine cannot fake a dead link
      const clock = new ManualClock(Date.now());
      tuning['sms-gateway'] = { ...FAST, deadAfterMs: 500, clock };
      await helper.load(gatewayNodes, inFlow(fake), { gw: { apiKey: KEY } });
      await waitFor(() => fake.authedSockets === 1 && connectionOf().state.phase === 'subscribed');
      // 100 virtual ms per ping, 700 ms in all: beyond deadAfterMs
      for (let i = 0; i < 7; i++) {
        const pings = fake.pingsSent;
        await waitFor(() => fake.pingsSent > pings, 5000, 'a ping');
        clock.advance(100);
      }
      assert.strictEqual(fake.upgrades, 1, 'pings keep it alive');
      fake.stall();
      clock.advance(500);
      await waitFor(
        () => {
          if (connectionOf().state.phase === 'backoff') clock.runNext(); // the reconnect delay
          return fake.upgrades === 2 && connectionOf().state.phase === 'subscribed';
        },
        5000,
        'reconnected',
      );
      assert.strictEqual(fake.tokensIssued.length, 2);
    });

    it('auth_error + 1008 → red status with the server reason', async () => {
      const clock = new ManualClock(Date.now());
      tuning['sms-gateway'] = {
        ...FAST,
        backoff: { ...FAST.backoff, permanentDelayMs: 60_000, maxPermanentDelayMs: 60_000 },
        clock,
      };
      await helper.load(nodesWithParams, inFlow(fake, [], { wsAuth: 'apiKey' }), { gw: { apiKey: BAD_KEY } });
      await waitFor(() => lastStatus('in').fill === 'red');
      const s = lastStatus('in');
      assert.strictEqual(s.shape, 'ring');
      assert.ok(s.text?.startsWith('common.status.errorRetry'), s.text);
      assert.ok(s.text?.includes('Invalid API key'), s.text);
      assert.deepStrictEqual(
        fake.authFailures.map((a) => a.error),
        ['Invalid API key'],
      );
      // virtual time: the whole backoff but its last millisecond goes by
      assert.strictEqual(connectionOf().state.retryAt! - clock.now(), 60_000);
      clock.advance(59_999);
      await tick();
      assert.strictEqual(connectionOf().state.phase, 'error', 'still waiting');
      assert.strictEqual(fake.authFailures.length, 1, 'waits minutes, not milliseconds');
    });

    it('after maxPermanentFailures: red "stopped … fix the key and redeploy", no more attempts', async () => {
      const clock = new CountingClock();
      tuning['sms-gateway'] = { ...FAST, maxPermanentFailures: 3, clock };
      await helper.load(nodesWithParams, inFlow(fake), { gw: { apiKey: BAD_KEY } });
      await waitFor(() => (lastStatus('in').text ?? '').startsWith('sms-gateway.status.stopped'), 3000);
      assert.ok(lastStatus('in').text?.includes('"count":3'));
      assert.ok(lastStatus('in').text?.includes('Invalid API key'));
      assert.strictEqual(lastStatus('in').fill, 'red');
      // no timer left that could start another attempt
      await waitFor(() => clock.pending.size === 0, 5000, 'no timer left');
      assert.strictEqual(fake.authFailures.length, 3);
    });

    it('no config node → red status', async () => {
      await helper.load(gatewayNodes, [
        TAB,
        { id: 'in', type: 'sms-gateway in', z: 't1', gateway: '', wires: [] },
      ]);
      assert.deepStrictEqual(lastStatus('in'), {
        fill: 'red',
        shape: 'ring',
        text: 'common.status.noConfig',
      });
    });

    it('the connection is lazy: a config node with only an out node opens no socket; redeploy closes it', async () => {
      await helper.load(gatewayNodes, outFlow(fake), { gw: { apiKey: KEY } });
      // the socket opens only when an in node registers: none did, so none can open later
      assert.strictEqual(connectionOf().userCount, 0);
      assert.strictEqual(fake.upgrades, 0);
      await helper.unload();
      await helper.load(gatewayNodes, inFlow(fake), { gw: { apiKey: KEY } });
      await waitFor(() => fake.authedSockets === 1);
      await helper.unload();
      await waitFor(() => fake.openSockets === 0);
    });
  });

  describe('sms-gateway out', () => {
    async function send(out: Record<string, unknown>, msg: Record<string, unknown>, creds = { apiKey: KEY }) {
      await helper.load(gatewayNodes, outFlow(fake, out), { gw: creds });
      const ok: Record<string, unknown>[] = [];
      const caught: Record<string, unknown>[] = [];
      helper.getNode('h').on('input', (m: Record<string, unknown>) => ok.push(m));
      helper.getNode('hc').on('input', (m: Record<string, unknown>) => caught.push(m));
      helper.getNode('out').receive(msg);
      await waitFor(() => ok.length + caught.length > 0, 15000, 'an outcome');
      return { ok, caught };
    }

    it('sends one SMS: msg.sms.ids = [messageId], status queued', async () => {
      const { ok } = await send(
        { to: '+14155552671', message: 'Hi {{payload.name}}' },
        { payload: { name: 'Ann' } },
      );
      assert.strictEqual(fake.sent.length, 1);
      assert.deepStrictEqual(
        { to: fake.sent[0].to, from: fake.sent[0].from, body: fake.sent[0].body },
        { to: '+14155552671', from: FROM, body: 'Hi Ann' },
      );
      const sms = ok[0].sms as Record<string, unknown>;
      assert.strictEqual(sms.provider, 'sms-gateway');
      assert.deepStrictEqual(sms.ids, [fake.sent[0].messageId]);
      assert.strictEqual(sms.status, 'queued');
      assert.strictEqual(sms.to, '+14155552671');
    });

    it("msg.to and the node's own sender", async () => {
      await send({ from: '+15550000001' }, { to: '+12025550123', payload: 'text' });
      assert.strictEqual(fake.sent[0].to, '+12025550123');
      assert.strictEqual(fake.sent[0].from, '+15550000001');
    });

    const errors: [string, () => void, Record<string, unknown>, string, string?][] = [
      [
        '400 E.164',
        () => fake.failNext(400, 'to and from must be valid E.164 phone numbers'),
        {},
        'SMS_INVALID_NUMBER',
      ],
      [
        '400 body length',
        () => {},
        { maxParts: 20, payload: 'x'.repeat(1601) },
        'SMS_TOO_LONG',
        'body must be 1-1600 characters',
      ],
      ['400 required', () => fake.failNext(400, 'to, from, and body are required'), {}, 'SMS_PROVIDER'],
      ['401', () => {}, { key: BAD_KEY }, 'SMS_AUTH', 'Invalid API key'],
      ['403', () => fake.suspend(KEY), {}, 'SMS_AUTH', 'Tenant suspended or inactive'],
      [
        '429 beyond the retries',
        () => fake.failNext(429, 'Too many requests', 4, { 'retry-after': '0' }),
        {},
        'SMS_RATE_LIMITED',
      ],
      // a 5xx may come after the gateway queued the SMS: never sent again
      ['a 502 from a proxy', () => fake.failNext(502, 'Bad gateway', 4), {}, 'SMS_UNCERTAIN'],
    ];
    for (const [name, arrange, opts, code, text] of errors) {
      it(`${name} reaches Catch with ${code}`, async () => {
        arrange();
        const { key, maxParts, payload } = opts as { key?: string; maxParts?: number; payload?: string };
        const { ok, caught } = await send(
          { to: '+14155552671', ...(maxParts ? { maxParts } : {}) },
          { payload: payload ?? 'hello' },
          { apiKey: key ?? KEY },
        );
        assert.strictEqual(ok.length, 0);
        const error = caught[0].error as { code: string; message: string };
        assert.strictEqual(error.code, code);
        // Node-RED puts err.toString() in msg.error.message: "SmsError: SMS gateway: …"
        if (text) assert.ok(error.message.endsWith(`SMS gateway: ${text}`), error.message);
        assert.strictEqual(fake.sent.length, 0);
      });
    }

    it('no answer (gateway down) → SMS_NETWORK at Catch after the retries', async () => {
      await fake.close();
      const { caught } = await send({ to: '+14155552671' }, { payload: 'hello' });
      const error = caught[0].error as { code: string; message: string };
      assert.strictEqual(error.code, 'SMS_NETWORK');
      assert.strictEqual((caught[0].sms as { attempts: number }).attempts, 4);
    });

    it('a sender that is not E.164 → SMS_BAD_SENDER at Catch, nothing sent', async () => {
      const { caught } = await send({ to: '+14155552671', from: 'MyShop' }, { payload: 'x' });
      assert.strictEqual((caught[0].error as { code: string }).code, 'SMS_BAD_SENDER');
      assert.strictEqual(fake.requests.length, 0);
    });

    it('429 honours Retry-After, then sends exactly once', async () => {
      fake.failNext(429, 'Too many requests', 1, { 'retry-after': '1' });
      const started = Date.now();
      const { ok } = await send({ to: '+14155552671' }, { payload: 'hello' });
      const sendRequests = fake.requests.filter((r) => r.path === '/v1/sms/send');
      assert.strictEqual(sendRequests.length, 2);
      assert.ok(
        sendRequests[1].at - sendRequests[0].at >= 950,
        `waited ${sendRequests[1].at - sendRequests[0].at} ms`,
      );
      assert.ok(Date.now() - started >= 950);
      assert.strictEqual(fake.sent.length, 1);
      assert.strictEqual((ok[0].sms as { attempts: number }).attempts, 2);
    });

    it('429 retries (Retry-After honoured), then sends exactly once', async () => {
      fake.failNext(429, 'Too many requests', 2, { 'retry-after': '0' });
      const { ok } = await send({ to: '+14155552671' }, { payload: 'hello' });
      assert.strictEqual(fake.sent.length, 1);
      assert.strictEqual((ok[0].sms as { attempts: number }).attempts, 3);
    });

    it('a 500 is SMS_UNCERTAIN after exactly one request (the gateway may have queued it)', async () => {
      fake.failNext(500, 'Internal server error', 2);
      const { caught } = await send({ to: '+14155552671' }, { payload: 'hello' });
      assert.strictEqual((caught[0].error as { code: string }).code, 'SMS_UNCERTAIN');
      assert.strictEqual(fake.requests.filter((r) => r.path === '/v1/sms/send').length, 1);
    });

    it('no config node → SMS_CONFIG at Catch', async () => {
      const flow = outFlow(fake, { gateway: '' }).filter((n) => n.id !== 'gw');
      await helper.load(gatewayNodes, flow);
      const caught: Record<string, unknown>[] = [];
      helper.getNode('hc').on('input', (m: Record<string, unknown>) => caught.push(m));
      helper.getNode('out').receive({ payload: 'x', to: '+14155552671' });
      await waitFor(() => caught.length === 1);
      assert.strictEqual((caught[0].error as { code: string }).code, 'SMS_CONFIG');
    });
  });

  describe('Test connection endpoint', () => {
    it('POST /sms-notify/test/sms-gateway: OK with the stored key, the server error with a bad one', async () => {
      await helper.startServer();
      await helper.load(gatewayNodes, [gwNode(fake)], { gw: { apiKey: KEY } });
      const ok = await helper
        .request()
        .post('/sms-notify/test/sms-gateway')
        .send({ id: 'gw', config: { url: fake.url }, credentials: { apiKey: '__PWRD__' } })
        .expect(200);
      assert.strictEqual(ok.body.ok, true, JSON.stringify(ok.body));
      assert.match(ok.body.message, /accepted/);
      assert.strictEqual(fake.requests.at(-1)?.bearer, KEY, 'the stored key was used');
      const bad = await helper
        .request()
        .post('/sms-notify/test/sms-gateway')
        .send({ id: 'gw', config: { url: fake.url }, credentials: { apiKey: BAD_KEY } })
        .expect(200);
      assert.deepStrictEqual(bad.body, { ok: false, error: 'Invalid API key (HTTP 401)', code: 'AUTH' });
      assert.ok(!JSON.stringify(ok.body).includes(KEY) && !JSON.stringify(bad.body).includes(BAD_KEY));
      assert.strictEqual(fake.sent.length, 0, 'nothing sent');
    });
  });

  describe('secrets', () => {
    it('no API key or token in any status, log, error or msg', async () => {
      const flow = [
        ...inFlow(fake),
        ...outFlow(fake, { to: '+14155552671' }).filter((n) => !['t1', 'gw', 'h'].includes(n.id)),
        { id: 'gw2', type: 'sms-gateway', url: fake.url, from: FROM, wsAuth: 'apiKey' },
        { id: 'in2', type: 'sms-gateway in', z: 't1', gateway: 'gw2', wires: [] },
        { id: 'out2', type: 'sms-gateway out', z: 't1', gateway: 'gw2', to: '+14155552671', wires: [['h']] },
      ];
      (flow.find((n) => n.id === 'out') as { wires: string[][] }).wires = [['h']];
      tuning['sms-gateway'] = { ...FAST, maxPermanentFailures: 2 };
      await helper.load(nodesWithParams, flow, { gw: { apiKey: KEY }, gw2: { apiKey: BAD_KEY } });
      const seen: unknown[] = [];
      helper.getNode('h').on('input', (m: unknown) => seen.push(m));
      helper.getNode('hc').on('input', (m: unknown) => seen.push(m));
      await waitFor(() => fake.authedSockets === 1);
      fake.pushInbound();
      helper.getNode('out').receive({ payload: 'good' });
      helper.getNode('out2').receive({ payload: 'bad' });
      fake.failNext(500, 'boom', 1);
      helper.getNode('out').receive({ payload: 'retry' });
      await waitFor(() => (lastStatus('in2').text ?? '').startsWith('sms-gateway.status.stopped'), 3000);
      await waitFor(() => seen.length >= 3);
      fake.dropSockets();
      await waitFor(() => fake.tokensIssued.length === 2);
      const everything = JSON.stringify({
        logs: helper.log().args,
        statuses: ['in', 'in2', 'out', 'out2'].map(statuses),
        seen,
        errors: seen.map((m) => (m as { error?: { message?: string } }).error?.message),
      });
      for (const secret of [KEY, BAD_KEY, ...fake.tokensIssued])
        assert.ok(!everything.includes(secret), 'a secret leaked');
      assert.ok(everything.includes('Invalid API key'), 'the scan covered the failure');
    });
  });

  describe('THE IP LOCKOUT (controllable clock)', () => {
    async function drive(clock: ManualClock, until: () => boolean, maxSteps = 100) {
      for (let i = 0; i < maxSteps && !until(); i++) {
        await waitFor(
          () => until() || (connectionOf().state.phase === 'error' && clock.pending > 0),
          3000,
          'backoff',
        );
        if (!until()) clock.runNext();
      }
    }

    it('default policy: waits minutes between attempts, stops after 4 and stays red', async () => {
      const clock = new ManualClock(Date.now());
      await fake.close();
      fake = await new FakeSmsGateway({ pingIntervalMs: 0, clock }).start();
      tuning['sms-gateway'] = { clock }; // the real production policy, on a virtual clock
      await helper.load(nodesWithParams, inFlow(fake), { gw: { apiKey: BAD_KEY } });
      await drive(
        clock,
        () => connectionOf().state.phase === 'error' && connectionOf().state.retryAt === undefined,
      );
      const times = fake.authFailures.map((a) => a.at);
      assert.strictEqual(times.length, GATEWAY_TIMING.maxPermanentFailures);
      for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 120_000, 'minutes apart');
      assert.ok(maxInWindow(times) <= 2);
      assert.ok(lastStatus('in').text?.startsWith('sms-gateway.status.stopped'));
      assert.strictEqual(clock.pending, 0, 'no timer left that could start another attempt');
      clock.advance(24 * 3600_000);
      await tick();
      assert.strictEqual(connectionOf().state.phase, 'error', 'still stopped');
      assert.strictEqual(fake.authFailures.length, times.length, 'never again until redeploy');
    });

    it('15 consecutive auth failures cause fewer than 10 auth attempts in any 5-minute window', async () => {
      const clock = new ManualClock(Date.now());
      await fake.close();
      fake = await new FakeSmsGateway({ pingIntervalMs: 0, clock }).start();
      // never give up: only the delays protect the server
      tuning['sms-gateway'] = { clock, maxPermanentFailures: 0 };
      await helper.load(gatewayNodes, inFlow(fake, [], { wsAuth: 'apiKey' }), { gw: { apiKey: BAD_KEY } });
      await drive(clock, () => fake.authFailures.length >= 15);
      const times = fake.authFailures.map((a) => a.at);
      assert.strictEqual(times.length, 15);
      assert.ok(maxInWindow(times) < 10);
      assert.ok(maxInWindow(times) <= 2, `${maxInWindow(times)}`);
      assert.strictEqual(fake.lockouts.length, 0);
    });

    it('15 redeploys of a bad key in a row: the shared guard keeps attempts ≤ 4 per 5 minutes', async () => {
      const clock = new ManualClock(Date.now());
      await fake.close();
      fake = await new FakeSmsGateway({ pingIntervalMs: 0, clock }).start();
      tuning['sms-gateway'] = { clock };
      let deploys = 0;
      while (fake.authFailures.length < 15 && deploys < 200) {
        deploys++;
        await helper.load(gatewayNodes, inFlow(fake), { gw: { apiKey: BAD_KEY } });
        await waitFor(() => connectionOf().state.phase === 'error', 3000);
        await helper.unload();
        clock.advance(20_000); // a redeploy every 20 s
      }
      const times = fake.authFailures.map((a) => a.at);
      assert.strictEqual(times.length, 15);
      assert.ok(deploys > 15);
      assert.strictEqual(maxInWindow(times), 4);
      assert.strictEqual(fake.lockouts.length, 0);
    });
  });
});

describe('sms-gateway examples (import and deploy unedited; run against the fake)', function () {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const core = [
    require('@node-red/nodes/core/function/10-function.js'),
    require('@node-red/nodes/core/common/20-inject.js'),
    require('@node-red/nodes/core/common/21-debug.js'),
    require('@node-red/nodes/core/common/90-comment.js'),
  ];
  /* eslint-enable @typescript-eslint/no-require-imports */
  type FlowNode = { id: string; type: string; z?: string; url?: string; [k: string]: unknown };
  const read = (name: string): FlowNode[] =>
    JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'examples', name), 'utf8'));
  let fake: FakeSmsGateway;

  afterEach(async () => {
    await helper.unload();
    await fake?.close();
    resetTuning();
    resetAuthGuards();
  });

  for (const name of ['sms-gateway-inbound-forward.json', 'sms-gateway-delivery-tracking.json']) {
    it(`${name}: deploys unedited (no key: red, no traffic), has a comment`, async () => {
      const flow = read(name);
      assert.ok(flow.some((n) => n.type === 'comment'));
      await helper.load([...core, gatewayNodes], flow);
      for (const n of flow)
        if (n.type !== 'tab') assert.ok(helper.getNode(n.id), `${n.type} ${n.id} deployed`);
      const source = flow.find((n) => n.type === 'sms-gateway in')!;
      await waitFor(() => lastStatus(source.id).fill === 'red');
      assert.strictEqual(
        helper.getNode(flow.find((n) => n.type === 'sms-gateway')!.id).connection.state.reason,
        'no API key configured',
      );
    });
  }

  function pointAtFake(flow: FlowNode[]) {
    const gw = flow.find((n) => n.type === 'sms-gateway')!;
    gw.url = fake.url;
    return { [gw.id]: { apiKey: KEY } };
  }

  it('inbound forward: an inbound SMS is forwarded as a new SMS; the loop guard drops the echo', async () => {
    fake = await new FakeSmsGateway({ pingIntervalMs: 0 }).start();
    fake.addKey(KEY);
    const flow = read('sms-gateway-inbound-forward.json');
    await helper.load([...core, gatewayNodes], flow, pointAtFake(flow));
    const gw = flow.find((n) => n.type === 'sms-gateway')!;
    await waitFor(
      () =>
        fake.authedSockets === 1 &&
        fake.tokensIssued.length === 1 &&
        connectionOf(String(gw.id)).state.phase === 'subscribed',
    );
    fake.pushInbound({ from: '+15551234567', to: '+15559876543', body: 'Is my appointment still on?' });
    await waitFor(() => fake.sent.length === 1);
    assert.strictEqual(fake.sent[0].to, '+14155552671');
    assert.strictEqual(fake.sent[0].from, '+15559876543');
    assert.strictEqual(
      fake.sent[0].body,
      'SMS from +15551234567 to +15559876543: Is my appointment still on?',
    );
    fake.pushInbound({ from: '+14155552671', body: 'ack' });
    // a marker from another phone: the echo, had it been forwarded, would be sent before it
    fake.pushInbound({ from: '+15550001111', body: 'marker' });
    await waitFor(() => fake.sent.some((m) => /marker/.test(m.body)), 5000, 'the marker forwarded');
    assert.strictEqual(fake.sent.length, 2, 'no ping-pong');
  });

  for (const [outcome, failTo, delaysMs, note] of [
    ['delivered', [], [20, 40, 60], ''],
    ['failed', ['+14155552671'], [20, 40, 60], ''],
    ['delivered', [], [0, 0, 0], ' (status events racing the 202)'],
  ] as const) {
    it(`delivery tracking: send → messageId in flow context → sms_status joined → one "${outcome}" report${note}`, async () => {
      fake = await new FakeSmsGateway({
        pingIntervalMs: 0,
        statusProgression: { delaysMs: [...delaysMs] },
        failTo: [...failTo],
      }).start();
      fake.addKey(KEY);
      const flow = read('sms-gateway-delivery-tracking.json');
      await helper.load([...core, gatewayNodes], flow, pointAtFake(flow));
      const inject = flow.find((n) => n.type === 'inject')!;
      const join = flow.find((n) => n.type === 'function' && String(n.name).startsWith('join'))!;
      const debugNode = flow.find((n) => n.type === 'debug' && n.name === 'delivery report')!;
      const reports: Record<string, unknown>[] = [];
      helper.getNode(debugNode.id).on('input', (m: Record<string, unknown>) => reports.push(m));
      await waitFor(() => fake.authedSockets === 1);
      helper.getNode(inject.id).receive({});
      await waitFor(() => reports.length === 1, 5000, 'a report');
      const id = fake.sent[0].messageId;
      assert.strictEqual(reports[0].topic, outcome);
      const payload = reports[0].payload as Record<string, unknown>;
      assert.strictEqual(payload.messageId, id);
      assert.strictEqual(payload.to, '+14155552671');
      assert.strictEqual(payload.text, 'Your order #1042 has shipped.');
      // (an array from the function node's sandbox: copy it into this realm)
      assert.deepStrictEqual(
        [...(payload.statuses as string[])],
        ['queued', 'sending', outcome === 'delivered' ? 'sent' : 'failed'],
      );
      if (outcome === 'failed') assert.match(String(payload.error), /not reachable/);
      const tracked = helper.getNode(join.id).context().flow.get('smsTracking');
      assert.strictEqual(tracked[id].reported, true);
      await delay(100);
      assert.strictEqual(reports.length, 1, 'one report per SMS');
    });
  }
});
