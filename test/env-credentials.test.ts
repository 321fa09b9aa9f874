/**
 * Credentials from the environment, through Node-RED: a config node whose credential is exactly
 * `${NAME}` gets the value of the environment variable NAME when it is deployed (Node-RED's
 * createNode maps credentials like properties), so a flow kept in git holds no secret. The flow
 * connects and sends with those values, and Test connection of an untouched dialog resolves them the
 * same way on the server without ever answering with the value.
 */
import assert from 'node:assert/strict';
import privmxNodes from '../nodes/privmx';
import smsapiNodes from '../nodes/smsapi';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { fakeEvents, type FakePrivmxBridge, startFakeBridge } from './fakes/privmx-bridge';
import { FakeSmsapi } from './fakes/smsapi';
import { helper, waitFor } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require(require.resolve('@node-red/nodes/core/common/25-catch.js'));

const TOKEN = 'env-token-' + Math.random().toString(36).slice(2);
const VARS = ['SMSAPI_TOKEN', 'BRIDGE_KEY_ID', 'BRIDGE_KEY_SECRET'] as const;

/** what Node-RED keeps in its credentials store (the test helper exposes the runtime's module) */
function stored(id: string): unknown {
  return (helper as unknown as { credentials: { get(id: string): unknown } }).credentials.get(id);
}

interface TestAnswer {
  ok: boolean;
  message?: string;
  error?: string;
  code?: string;
}

describe('credentials from the environment (${NAME} in config node credentials)', function () {
  this.timeout(15_000);
  let bridge: FakePrivmxBridge;
  let keyId: string;
  let secret: string;
  let smsapi: FakeSmsapi;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    await helper.startServer();
  });
  after(async () => {
    await helper.stopServer();
  });

  beforeEach(async () => {
    ({ fake: bridge, keyId, secret } = await startFakeBridge({ pingIntervalMs: 1_000 }));
    smsapi = await FakeSmsapi.start({ token: TOKEN });
    for (const name of VARS) saved[name] = process.env[name];
    process.env.SMSAPI_TOKEN = TOKEN;
    process.env.BRIDGE_KEY_ID = keyId;
    process.env.BRIDGE_KEY_SECRET = secret;
    tuning.privmx = {
      backoff: {
        initialDelayMs: 20,
        maxDelayMs: 100,
        factor: 2,
        jitter: 0,
        permanentDelayMs: 1500,
        maxPermanentDelayMs: 3000,
      },
      requestTimeoutMs: 1_000,
      handshakeTimeoutMs: 1_000,
      closeTimeoutMs: 300,
    };
  });

  afterEach(async () => {
    await helper.unload();
    await bridge.close();
    await smsapi.close();
    for (const name of VARS) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    resetTuning();
  });

  /** privmx in → smsapi out, both config nodes holding only `${NAME}` references. */
  const flow = () => [
    { id: 't1', type: 'tab' },
    { id: 'b1', type: 'privmx-bridge', name: 'bridge', url: bridge.url, solutionId: '' },
    { id: 'acc', type: 'smsapi-account', url: smsapi.url, from: 'Alert', test: false },
    {
      id: 'in',
      type: 'privmx in',
      z: 't1',
      bridge: 'b1',
      channels: ['thread'],
      types: [],
      containerIds: '',
      wires: [['out']],
    },
    {
      id: 'out',
      type: 'smsapi out',
      z: 't1',
      account: 'acc',
      to: '+48500000000',
      message: 'New message by {{event.author}}',
      rateLimit: 0,
      dedupeWindow: 0,
      maxParts: 3,
      wires: [['sent']],
    },
    { id: 'sent', type: 'helper', z: 't1' },
  ];
  const credentials = {
    b1: { apiKeyId: '${BRIDGE_KEY_ID}', apiKeySecret: '${BRIDGE_KEY_SECRET}' },
    acc: { token: '${SMSAPI_TOKEN}' },
  };

  async function deploy(): Promise<Record<string, unknown>[]> {
    await helper.load([privmxNodes, smsapiNodes], flow(), credentials);
    const sent: Record<string, unknown>[] = [];
    helper.getNode('sent').on('input', (msg: Record<string, unknown>) => sent.push(msg));
    return sent;
  }

  function testConnection(type: string, body: Record<string, unknown>): Promise<TestAnswer> {
    return helper
      .request()
      .post(`/sms-notify/test/${encodeURIComponent(type)}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body))
      .expect(200)
      .then((res: { body: TestAnswer }) => res.body);
  }

  it('a flow with ${NAME} credentials connects to the Bridge and an event becomes one SMS', async () => {
    const sent = await deploy();
    await waitFor(
      () => bridge.subscriptions()[0]?.includes('thread'),
      5000,
      'subscribed with the key from the environment',
    );
    assert.equal(bridge.emit(fakeEvents.threadNewMessage({ author: 'ola' })), 1);
    await waitFor(() => sent.length === 1, 5000, 'the SMS');

    assert.equal(smsapi.smsRequests.length, 1);
    const req = smsapi.smsRequests[0];
    assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(req.body?.message, 'New message by ola');
    assert.equal(req.body?.to, '+48500000000');
    // the deployed node holds the value; the flow's stored credentials keep the reference
    assert.equal((helper.getNode('acc').credentials as { token?: string }).token, TOKEN);
    assert.deepEqual(stored('acc'), credentials.acc);
    assert.deepEqual(stored('b1'), credentials.b1);
  });

  it('an unset variable is not replaced: the reference itself is refused as a token (SMS_AUTH)', async () => {
    delete process.env.SMSAPI_TOKEN;
    await helper.load(
      [privmxNodes, smsapiNodes, catchNode],
      [
        ...flow(),
        { id: 'c', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 't1' },
      ],
      credentials,
    );
    const caught: { error: { code?: string; message: string } }[] = [];
    helper
      .getNode('caught')
      .on('input', (msg: { error: { code?: string; message: string } }) => caught.push(msg));
    helper.getNode('out').receive({ event: { author: 'ola' } });
    await waitFor(() => caught.length === 1, 5000, 'the error at the Catch node');
    assert.equal(caught[0].error.code, 'SMS_AUTH');
    assert.equal(smsapi.smsRequests[0]?.headers.authorization, 'Bearer ${SMSAPI_TOKEN}');
    assert.equal(smsapi.accepted.length, 0);
  });

  it('Test connection of an untouched smsapi-account dialog uses the value from the environment', async () => {
    await deploy();
    const answer = await testConnection('smsapi-account', {
      id: 'acc',
      config: { url: smsapi.url, from: 'Alert', test: false },
      credentials: { token: '__PWRD__' },
    });
    assert.equal(answer.ok, true, JSON.stringify(answer));
    const profile = smsapi.requests.filter((r) => r.path === '/profile');
    assert.equal(profile.length, 1);
    assert.equal(profile[0].headers.authorization, `Bearer ${TOKEN}`);
    assert.ok(!JSON.stringify(answer).includes(TOKEN), 'the answer carries the token');
  });

  it('Test connection of an untouched privmx-bridge dialog uses the key from the environment', async () => {
    await deploy();
    // the dialog shows the text credential (key id) as stored, the secret as __PWRD__
    const answer = await testConnection('privmx-bridge', {
      id: 'b1',
      config: { url: bridge.url, solutionId: '' },
      credentials: { apiKeyId: '${BRIDGE_KEY_ID}', apiKeySecret: '__PWRD__' },
    });
    assert.equal(answer.ok, true, JSON.stringify(answer));
    assert.ok(!JSON.stringify(answer).includes(secret), 'the answer carries the secret');
  });

  it('a ${NAME} typed into a Test connection request is not resolved: no env value leaves for another address', async () => {
    await deploy();
    const elsewhere = await FakeSmsapi.start({ token: TOKEN });
    try {
      for (const id of [undefined, 'acc']) {
        const answer = await testConnection('smsapi-account', {
          id,
          config: { url: elsewhere.url, from: 'Alert', test: false },
          credentials: { token: '${SMSAPI_TOKEN}' },
        });
        assert.equal(answer.ok, false, JSON.stringify(answer));
        assert.ok(!JSON.stringify(answer).includes(TOKEN));
      }
      const leaked = elsewhere.requests.filter((r) => JSON.stringify(r.headers).includes(TOKEN));
      assert.deepEqual(leaked, [], 'the environment value went to an address the node was not deployed with');
    } finally {
      await elsewhere.close();
    }
  });
});
