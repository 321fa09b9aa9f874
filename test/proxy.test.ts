/**
 * Proxies through Node-RED: every config node reaches its server through a core `http proxy` node (or
 * HTTP_PROXY / HTTPS_PROXY / NO_PROXY without one). The fake servers listen on loopback but are named
 * `*.invalid` in the flows: only the fake forward proxy resolves those names, so an answer proves the
 * traffic went through it.
 */
import assert from 'assert';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const httpProxyNode = require('@node-red/nodes/core/network/06-httpproxy.js');
import privmxNodes from '../nodes/privmx';
import smsapiNodes from '../nodes/smsapi';
import gatewayNodes from '../nodes/sms-gateway';
import esmsNodes from '../nodes/esms';
import { resetAuthGuards } from '../nodes/lib/sms-gateway/auth-guard';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { FakeForwardProxy } from './fakes/forward-proxy';
import { FakeSmsapi } from './fakes/smsapi';
import { FakeSmsGateway } from './fakes/sms-gateway';
import { startFakeEsms } from './fakes/esms';
import { fakeEvents, FakePrivmxBridge, startFakeBridge } from './fakes/privmx-bridge';
import { collect, helper, recordStatuses, waitFor } from './helpers';

const PROXY_USER = 'proxy-user';
const PROXY_PASSWORD = 'pr0xy-pa55-' + Math.random().toString(36).slice(2);
const HOSTS = [
  'bridge.invalid',
  'smsapi.invalid',
  'gateway.invalid',
  'esms.invalid',
  'pbx.invalid',
  'cpaas.invalid',
];

const FAST_SOURCE = {
  backoff: {
    initialDelayMs: 20,
    maxDelayMs: 100,
    factor: 2,
    jitter: 0,
    permanentDelayMs: 60_000,
    maxPermanentDelayMs: 60_000,
  },
  deadAfterMs: 5_000,
  stableAfterMs: 60_000,
  requestTimeoutMs: 1_000,
  handshakeTimeoutMs: 1_000,
  closeTimeoutMs: 300,
};

/** A fake's loopback URL under a name only the proxy resolves: `http://127.0.0.1:5/x` → `http://bridge.invalid:5/x`. */
function renamed(url: string, host: string): string {
  const u = new URL(url);
  u.hostname = host;
  return u.href.replace(/\/$/, '');
}

const hostPort = (url: string) => `${new URL(url).hostname}:${new URL(url).port}`;

const PROXY_ENV = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap((n) => [n, n.toLowerCase()]);

/** Clear the proxy variables for one test; returns the restore step. */
function clearProxyEnv(): () => void {
  const saved = Object.fromEntries(PROXY_ENV.map((n) => [n, process.env[n]]));
  for (const n of PROXY_ENV) delete process.env[n];
  return () => {
    for (const n of PROXY_ENV) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  };
}

/** The proxy's URL with the credentials in it, as HTTP_PROXY carries them. */
function proxyUrlWithCredentials(): string {
  const u = new URL(proxy.url);
  u.username = PROXY_USER;
  u.password = PROXY_PASSWORD;
  return u.href;
}

let proxy: FakeForwardProxy;
const cleanups: Array<() => Promise<void> | void> = [];

function proxyNode(extra: Record<string, unknown> = {}) {
  return { id: 'p1', type: 'http proxy', name: 'office proxy', url: proxy.url, noproxy: [], ...extra };
}

const proxyCreds = (password = PROXY_PASSWORD) => ({ p1: { username: PROXY_USER, password } });

/** Everything Node-RED logged so far, as text. */
function logText(): string {
  return helper
    .log()
    .args.map((a: unknown[]) => JSON.stringify(a[0]))
    .join('\n');
}

function assertNoPassword(...things: unknown[]) {
  for (const thing of things) {
    const text = typeof thing === 'string' ? thing : JSON.stringify(thing);
    assert.ok(!text.includes(PROXY_PASSWORD), `the proxy password leaked: ${text.slice(0, 300)}`);
    const basic = Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64');
    assert.ok(!text.includes(basic), 'the proxy credentials leaked (base64)');
  }
}

describe('proxies (through Node-RED, a real forward proxy on loopback)', function () {
  this.timeout(15_000);

  beforeEach(async () => {
    proxy = await FakeForwardProxy.start({ username: PROXY_USER, password: PROXY_PASSWORD, hosts: HOSTS });
    tuning.privmx = { ...FAST_SOURCE };
  });

  afterEach(async () => {
    await helper.unload();
    while (cleanups.length) await cleanups.pop()!();
    await proxy.close();
    resetTuning();
  });

  describe('privmx in (WebSocket through a CONNECT tunnel)', () => {
    let fake: FakePrivmxBridge;
    let keyId: string;
    let secret: string;

    beforeEach(async () => {
      ({ fake, keyId, secret } = await startFakeBridge({ pingIntervalMs: 1_000 }));
      cleanups.push(() => fake.close());
    });

    const bridge = (extra: Record<string, unknown> = {}) => ({
      id: 'b1',
      type: 'privmx-bridge',
      url: renamed(fake.url, 'bridge.invalid'),
      proxy: 'p1',
      ...extra,
    });
    const privmxIn = {
      id: 'in1',
      type: 'privmx in',
      bridge: 'b1',
      channels: ['thread'],
      types: [],
      containerIds: '',
      wires: [['out1']],
    };
    const flow = (extra: Record<string, unknown> = {}) => [
      proxyNode(),
      bridge(extra),
      privmxIn,
      { id: 'out1', type: 'helper' },
    ];
    const creds = (password?: string) => ({
      ...proxyCreds(password),
      b1: { apiKeyId: keyId, apiKeySecret: secret },
    });

    it('subscribes and receives through the proxy node', async () => {
      await helper.load([httpProxyNode, privmxNodes], flow(), creds());
      const msgs = collect('out1');
      await waitFor(() => helper.getNode('b1').connection.state.phase === 'subscribed', 5000, 'subscribed');
      fake.emit(fakeEvents.threadNewMessage({ id: 'm1', threadId: 't1', author: 'janek', contextId: 'c1' }));
      await waitFor(() => msgs.length === 1, 3000, 'the event');
      assert.strictEqual((msgs[0].event as { id: string }).id, 'm1');
      assert.ok(proxy.count(hostPort(renamed(fake.url, 'bridge.invalid'))) >= 1);
      assert.strictEqual(proxy.requests[0].kind, 'connect');
      assertNoPassword(msgs, logText());
    });

    it('a 407 is a red status with the reason, retried only after the long backoff', async () => {
      await helper.load([httpProxyNode, privmxNodes], flow(), creds('wrong-password'));
      const seen = recordStatuses('in1');
      await waitFor(() => seen.some((s) => s.fill === 'red'), 5000, 'red status');
      const state = helper.getNode('b1').connection.state;
      assert.match(
        String(state.reason),
        /proxy http:\/\/127\.0\.0\.1:\d+ refused the credentials \(HTTP 407/,
      );
      assert.strictEqual(state.code, 'PROXY_AUTH');
      assert.ok(state.permanent);
      assert.ok(state.retryAt - Date.now() > 30_000, 'the long backoff');
      assert.strictEqual(proxy.refusals(), 1, 'no reconnect loop');
      assert.strictEqual(fake.stats.tcpConnections, 0);
      assertNoPassword(seen, logText(), state);
    });
    it('without a proxy node, HTTP_PROXY carries the ws: socket (ws like http); NO_PROXY bypasses it', async () => {
      cleanups.push(clearProxyEnv());
      process.env.http_proxy = proxyUrlWithCredentials();
      process.env.HTTPS_PROXY = 'http://127.0.0.1:9'; // for https/wss only: must not be used here
      await helper.load([httpProxyNode, privmxNodes], flow({ proxy: '' }), creds());
      const msgs = collect('out1');
      await waitFor(() => helper.getNode('b1').connection.state.phase === 'subscribed', 5000, 'subscribed');
      fake.emit(fakeEvents.threadNewMessage({ id: 'm2', threadId: 't1', author: 'ola', contextId: 'c1' }));
      await waitFor(() => msgs.length === 1, 3000, 'the event');
      assert.strictEqual(proxy.count(hostPort(renamed(fake.url, 'bridge.invalid'))), 1);
      assertNoPassword(msgs, logText(), helper.getNode('b1').connection.state);
      await helper.unload();

      process.env.NO_PROXY = '127.0.0.1';
      await helper.load([httpProxyNode, privmxNodes], flow({ proxy: '', url: fake.url }), creds());
      await waitFor(
        () => helper.getNode('b1').connection.state.phase === 'subscribed',
        5000,
        'subscribed directly',
      );
      assert.strictEqual(proxy.requests.length, 1, 'the direct connection did not use the proxy');
    });
  });

  describe('smsapi out (the official client, its fetch routed per account)', () => {
    const TOKEN = 'smsapi-token-1';
    let fake: FakeSmsapi;

    beforeEach(async () => {
      fake = await FakeSmsapi.start({ token: TOKEN, points: 12.5 });
      cleanups.push(() => fake.close());
    });

    const account = (extra: Record<string, unknown> = {}) => ({
      id: 'acc',
      type: 'smsapi-account',
      url: renamed(fake.url, 'smsapi.invalid'),
      proxy: 'p1',
      ...extra,
    });
    const sink = {
      id: 's1',
      type: 'smsapi out',
      account: 'acc',
      to: '+48500000000',
      message: 'Alarm {{payload}}',
      rateLimit: 0,
      dedupeWindow: 0,
      wires: [['out1']],
    };
    const catcher = [
      { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const catchNode = require('@node-red/nodes/core/common/25-catch.js');
    const load = (nodes: object[], password?: string) =>
      helper.load([httpProxyNode, smsapiNodes, catchNode], nodes, {
        ...proxyCreds(password),
        acc: { token: TOKEN },
      });

    it('sends through the proxy node (absolute-URI request for http)', async () => {
      await load([proxyNode(), account(), sink, { id: 'out1', type: 'helper' }, ...catcher]);
      const sent = collect('out1');
      helper.getNode('s1').receive({ payload: 'boiler' });
      await waitFor(() => sent.length === 1, 5000, 'msg.sms');
      assert.strictEqual(fake.accepted.length, 1);
      assert.strictEqual(fake.accepted[0].message, 'Alarm boiler');
      assert.strictEqual(proxy.count(hostPort(renamed(fake.url, 'smsapi.invalid'))), 1);
      assert.strictEqual(proxy.requests[0].kind, 'absolute');
      assert.ok(
        !fake.smsRequests[0].headers['proxy-authorization'],
        'the proxy credentials stay at the proxy',
      );
      assertNoPassword(sent, logText());
    });

    it('a 407 fails the SMS with SMS_AUTH (Catch-able), not retried', async () => {
      await load([proxyNode(), account(), sink, { id: 'out1', type: 'helper' }, ...catcher], 'wrong');
      const caught = collect('caught');
      const seen = recordStatuses('s1');
      helper.getNode('s1').receive({ payload: 'boiler' });
      await waitFor(() => caught.length === 1, 5000, 'the error');
      const error = caught[0].error as { message: string; code?: string };
      assert.strictEqual(error.code, 'SMS_AUTH');
      assert.match(error.message, /refused the credentials \(HTTP 407/);
      assert.strictEqual(proxy.refusals(), 1, 'not retried');
      assert.strictEqual(fake.requests.length, 0);
      assert.ok(seen.some((s) => s.fill === 'red'));
      assertNoPassword(caught, seen, logText());
    });

    it('Test connection goes through the deployed proxy node', async () => {
      await helper.startServer();
      cleanups.push(() => helper.stopServer());
      await load([proxyNode(), account()]);
      const res = await helper
        .request()
        .post('/sms-notify/test/smsapi-account')
        .send({
          id: 'acc',
          config: { url: renamed(fake.url, 'smsapi.invalid'), proxy: 'p1' },
          credentials: { token: '__PWRD__' },
        })
        .expect(200);
      assert.strictEqual(res.body.ok, true, JSON.stringify(res.body));
      assert.match(res.body.message, /12\.5 points/);
      assert.strictEqual(proxy.count(hostPort(renamed(fake.url, 'smsapi.invalid'))), 1);
      // a proxy id that names no deployed proxy node: nothing is sent anywhere
      const unknown = await helper
        .request()
        .post('/sms-notify/test/smsapi-account')
        .send({
          config: { url: renamed(fake.url, 'smsapi.invalid'), proxy: 'nope' },
          credentials: { token: TOKEN },
        })
        .expect(200);
      assert.strictEqual(unknown.body.ok, false);
      assert.match(unknown.body.error, /proxy node is not deployed/);
      assert.strictEqual(proxy.requests.length, 1);
      assertNoPassword(res.body, unknown.body, logText());
    });

    it('noproxy: a listed host is reached directly', async () => {
      await load([
        proxyNode({ noproxy: ['127.0.0.1'] }),
        account({ url: fake.url }),
        sink,
        { id: 'out1', type: 'helper' },
        ...catcher,
      ]);
      const sent = collect('out1');
      helper.getNode('s1').receive({ payload: 'direct' });
      await waitFor(() => sent.length === 1, 5000, 'msg.sms');
      assert.strictEqual(fake.accepted.length, 1);
      assert.strictEqual(proxy.requests.length, 0);
    });

    describe('without a proxy node: HTTP_PROXY / NO_PROXY', () => {
      beforeEach(() => cleanups.push(clearProxyEnv()));

      it('HTTP_PROXY with user:pass@ carries the SMS; the password shows nowhere', async () => {
        process.env.HTTP_PROXY = proxyUrlWithCredentials();
        await load([account({ proxy: '' }), sink, { id: 'out1', type: 'helper' }, ...catcher]);
        const sent = collect('out1');
        helper.getNode('s1').receive({ payload: 'env' });
        await waitFor(() => sent.length === 1, 5000, 'msg.sms');
        assert.strictEqual(proxy.count(hostPort(renamed(fake.url, 'smsapi.invalid'))), 1);
        assertNoPassword(sent, logText());
      });

      it('NO_PROXY bypasses it', async () => {
        process.env.http_proxy = proxy.url;
        process.env.no_proxy = 'example.com,127.0.0.1';
        await load([account({ proxy: '', url: fake.url }), sink, { id: 'out1', type: 'helper' }, ...catcher]);
        const sent = collect('out1');
        helper.getNode('s1').receive({ payload: 'env' });
        await waitFor(() => sent.length === 1, 5000, 'msg.sms');
        assert.strictEqual(proxy.requests.length, 0);
      });
    });
  });

  describe('sms-gateway (token over HTTP, events over a WebSocket, sends over HTTP)', () => {
    const KEY = 'sgw_pr0xy5ecre75ecre75ecre75ecre7aa';
    let fake: FakeSmsGateway;

    beforeEach(async () => {
      tuning['sms-gateway'] = { ...FAST_SOURCE, backoff: { ...FAST_SOURCE.backoff } };
      fake = await new FakeSmsGateway({ pingIntervalMs: 0 }).start();
      fake.addKey(KEY);
      cleanups.push(() => fake.close());
      cleanups.push(() => resetAuthGuards());
    });

    const flow = (gw: Record<string, unknown> = {}) => [
      proxyNode(),
      {
        id: 'gw',
        type: 'sms-gateway',
        url: renamed(fake.url, 'gateway.invalid'),
        from: '+15559876543',
        wsAuth: 'token',
        proxy: 'p1',
        ...gw,
      },
      { id: 'in1', type: 'sms-gateway in', gateway: 'gw', events: ['sms_inbound'], wires: [['got']] },
      { id: 'got', type: 'helper' },
      {
        id: 'out1',
        type: 'sms-gateway out',
        gateway: 'gw',
        to: '+48500000000',
        message: 'hello {{payload}}',
        wires: [['sent']],
      },
      { id: 'sent', type: 'helper' },
    ];
    const load = (password?: string, gw?: Record<string, unknown>) =>
      helper.load([httpProxyNode, gatewayNodes], flow(gw), { ...proxyCreds(password), gw: { apiKey: KEY } });

    it('receives events and sends an SMS through the proxy node', async () => {
      await load();
      const got = collect('got');
      const sent = collect('sent');
      await waitFor(() => fake.authedSockets === 1, 5000, 'the socket');
      fake.pushInbound({ messageId: 'msg_0123456789ab', timestamp: '2026-03-01T14:30:00.000Z' });
      await waitFor(() => got.length === 1, 3000, 'the event');
      helper.getNode('out1').receive({ payload: 'world' });
      await waitFor(() => sent.length === 1, 5000, 'msg.sms');
      assert.strictEqual(fake.sent.length, 1);
      const target = hostPort(renamed(fake.url, 'gateway.invalid'));
      const kinds = proxy.requests.filter((r) => r.target === target).map((r) => r.kind);
      // token + send as absolute-URI requests, the WebSocket through CONNECT
      assert.deepStrictEqual([...new Set(kinds)].sort(), ['absolute', 'connect']);
      assertNoPassword(got, sent, logText());
    });

    it('a 407 is permanent for the source (no reconnect loop) and SMS_AUTH for the sink', async () => {
      await load('wrong');
      const seen = recordStatuses('in1');
      await waitFor(() => seen.some((s) => s.fill === 'red'), 5000, 'red status');
      const state = helper.getNode('gw').connection.state;
      assert.strictEqual(state.code, 'PROXY_AUTH');
      assert.ok(state.retryAt - Date.now() > 30_000, 'the long backoff');
      assert.strictEqual(proxy.refusals(), 1);
      const errors: unknown[] = [];
      const out = helper.getNode('out1');
      out.on('call:error', (call: { args: unknown[] }) => errors.push(call.args));
      helper.getNode('out1').receive({ payload: 'world' });
      await waitFor(() => errors.length === 1, 5000, 'the error');
      assert.match(JSON.stringify(errors[0]), /SMS_AUTH|refused the credentials/);
      assert.strictEqual(proxy.refusals(), 2, 'the send is not retried');
      assert.strictEqual(fake.sent.length, 0);
      assertNoPassword(seen, state, errors, logText());
    });

    it('a WebSocket tunnel refused with 407 (API-key auth, no token request) is permanent too', async () => {
      await load('wrong', { wsAuth: 'apiKey' });
      await waitFor(() => helper.getNode('gw').connection.state.code === 'PROXY_AUTH', 5000, 'PROXY_AUTH');
      assert.deepStrictEqual(
        proxy.requests.map((r) => [r.kind, r.refusedWith]),
        [['connect', 407]],
      );
    });
  });

  it('esms-africa Test connection: the WebSocket probe and the REST probe both go through the proxy', async () => {
    const fake = await startFakeEsms();
    cleanups.push(() => fake.close());
    await helper.startServer();
    cleanups.push(() => helper.stopServer());
    const url = renamed(fake.url, 'esms.invalid');
    const token = fake.token();
    await helper.load(
      [httpProxyNode, esmsNodes],
      [proxyNode(), { id: 'acct', type: 'esms-africa', url, proxy: 'p1' }],
      {
        ...proxyCreds(),
        acct: { accessToken: token, apiKey: 'esms_live_FAKEKEY0001' },
      },
    );
    const res = await helper
      .request()
      .post('/sms-notify/test/esms-africa')
      .send({
        id: 'acct',
        config: { url, proxy: 'p1' },
        credentials: { accessToken: '__PWRD__', apiKey: '__PWRD__' },
      })
      .expect(200);
    assert.strictEqual(res.body.ok, true, JSON.stringify(res.body));
    assert.match(res.body.message, /WebSocket upgrade accepted.*REST API key accepted/);
    const kinds = proxy.requests.filter((r) => r.target === hostPort(url)).map((r) => r.kind);
    assert.deepStrictEqual(kinds, ['connect', 'absolute']);
    assertNoPassword(res.body, logText());
  });
});
