import assert from 'assert';
import pbxwareNodes from '../nodes/pbxware';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { FakePbxware, PBX_ERRORS, startFakePbxware } from './fakes/pbxware';
import { delay, helper, statuses, waitFor, withParams, type Msg } from './helpers';

/** The fake's key is distinctive: every status, log, error and msg is scanned for it. */

const nodesWithParams = withParams(pbxwareNodes);

function logText(): string {
  const spy = helper.log() as { args: unknown[][] };
  return JSON.stringify(
    spy.args.map((a) =>
      a.map((x) => (x instanceof Error ? `${x.message} ${x.stack}` : ((x as { msg?: unknown })?.msg ?? x))),
    ),
  );
}

const TAB = { id: 't1', type: 'tab', label: 'pbx' };

function flow(fake: FakePbxware, out: Record<string, unknown> = {}, server: Record<string, unknown> = {}) {
  return [
    TAB,
    {
      id: 'pbx',
      type: 'pbxware-server',
      name: 'PBX test',
      url: fake.url,
      tenant: fake.tenant,
      api: 'action',
      ...server,
    },
    {
      id: 'out',
      type: 'pbxware out',
      z: 't1',
      server: 'pbx',
      mode: 'sms',
      to: '',
      extension: '',
      message: '',
      rateLimit: 0,
      dedupeWindow: 0,
      maxParts: 3,
      wires: [['h']],
      ...out,
    },
    { id: 'h', type: 'helper', z: 't1' },
    { id: 'c', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['hc']] },
    { id: 'hc', type: 'helper', z: 't1' },
  ];
}

function collect(id: string): Msg[] {
  const msgs: Msg[] = [];
  helper.getNode(id).on('input', (msg: Msg) => msgs.push(msg));
  return msgs;
}

describe('pbxware nodes (through Node-RED)', function () {
  let fake: FakePbxware;

  beforeEach(async () => {
    tuning.sink = {
      retryBackoff: { initialDelayMs: 5, maxDelayMs: 20, factor: 2, jitter: 0 },
      maxRetryAfterMs: 5_000,
    };
    fake = await startFakePbxware();
  });

  afterEach(async () => {
    await helper.unload();
    await helper.stopServer().catch(() => {});
    await fake.close();
    resetTuning();
  });

  it('action API: one SMS with the base64 body, msg.sms on the output', async () => {
    await helper.load(
      pbxwareNodes,
      flow(fake, { to: '+14165551234', message: 'New voicemail from {{payload.from}}' }),
      {
        pbx: { apiKey: fake.apiKey },
      },
    );
    const sent = collect('h');
    helper.getNode('out').receive({ payload: { from: '+14165550000' } });
    await waitFor(() => sent.length === 1);
    assert.strictEqual(fake.requests.length, 1);
    const r = fake.requests[0];
    assert.deepStrictEqual(
      [r.api, r.method, r.action, r.server, r.to],
      ['action', 'POST', 'pbxware.sms.send_message', '59', '+14165551234'],
    );
    assert.strictEqual(r.rawBody, Buffer.from('New voicemail from +14165550000').toString('base64'));
    assert.strictEqual(r.text, 'New voicemail from +14165550000');
    const sms = sent[0].sms;
    assert.strictEqual(sms.provider, 'pbxware');
    assert.strictEqual(sms.to, '+14165551234');
    assert.deepStrictEqual(sms.ids, ['1000']);
    assert.strictEqual(sms.status, 'submitted');
    const everything = JSON.stringify(sent) + JSON.stringify(statuses('out')) + logText();
    assert.ok(
      !everything.includes(fake.apiKey) && !everything.includes('apikey='),
      'no secret in msg/status/log',
    );
  });

  it('JSON API: POST /api/sms/send with X-API-Key and {to, message}; msg.to used when the node has none', async () => {
    await helper.load(pbxwareNodes, flow(fake, {}, { api: 'json', tenant: '' }), {
      pbx: { apiKey: fake.apiKey },
    });
    const sent = collect('h');
    helper.getNode('out').receive({ to: '+14165551234, +14165551235', payload: 'Test SMS notification' });
    await waitFor(() => sent.length === 2);
    assert.deepStrictEqual(
      fake.requests.map((r) => [r.api, r.method, r.path, r.keyOk, r.contentType, r.to, r.text]),
      [
        ['json', 'POST', '/api/sms/send', true, 'application/json', '+14165551234', 'Test SMS notification'],
        ['json', 'POST', '/api/sms/send', true, 'application/json', '+14165551235', 'Test SMS notification'],
      ],
    );
  });

  it('voicemail mode: POST /api/sms/notifications/voicemail with the extension (node or msg.extension)', async () => {
    await helper.load(
      pbxwareNodes,
      flow(fake, { mode: 'voicemail', extension: '1001', message: 'New voicemail' }),
      {
        pbx: { apiKey: fake.apiKey },
      },
    );
    const sent = collect('h');
    helper.getNode('out').receive({ payload: 'ignored' });
    await waitFor(() => sent.length === 1);
    assert.strictEqual(sent[0].sms.to, '1001');
    await helper.unload();
    await helper.load(pbxwareNodes, flow(fake, { mode: 'voicemail', message: '' }), {
      pbx: { apiKey: fake.apiKey },
    });
    const sent2 = collect('h');
    helper.getNode('out').receive({ extension: '1002', payload: 'You have a new voicemail' });
    await waitFor(() => sent2.length === 1);
    assert.deepStrictEqual(
      fake.requests.map((r) => [r.api, r.path, r.extension, r.text]),
      [
        ['json', '/api/sms/notifications/voicemail', '1001', 'New voicemail'],
        ['json', '/api/sms/notifications/voicemail', '1002', 'You have a new voicemail'],
      ],
    );
  });

  const CODES: Record<keyof typeof PBX_ERRORS, string> = {
    disabled: 'SMS_CONFIG',
    'not-enabled': 'SMS_CONFIG',
    'bad-sender': 'SMS_BAD_SENDER',
    'no-sms-number': 'SMS_INVALID_NUMBER',
    'invalid-key': 'SMS_AUTH',
  };
  for (const mode of Object.keys(CODES) as (keyof typeof PBX_ERRORS)[]) {
    it(`"${PBX_ERRORS[mode].trim()}" reaches Catch as ${CODES[mode]}, sent once, never retried`, async () => {
      fake.errorMode = mode;
      const key = mode === 'invalid-key' ? 'pbx-WRONG-9d8c7b6a55' : fake.apiKey;
      await helper.load(nodesWithParams, flow(fake, { to: '+14165551234' }), { pbx: { apiKey: key } });
      const caught = collect('hc');
      const sent = collect('h');
      helper.getNode('out').receive({ payload: 'hello' });
      await waitFor(() => caught.length === 1);
      assert.strictEqual(caught[0].error.code, CODES[mode]);
      assert.ok(String(caught[0].error.message).includes(PBX_ERRORS[mode].trim()), caught[0].error.message);
      await delay(80);
      assert.strictEqual(fake.requests.length, 1, 'a permanent error is never retried');
      assert.strictEqual(sent.length, 0);
      await waitFor(() => statuses('out').some((s) => s.fill === 'red'));
      const everything = JSON.stringify(caught) + JSON.stringify(statuses('out')) + logText();
      assert.ok(!everything.includes(key), 'the key leaked');
      assert.ok(!everything.includes('apikey='), 'the action URL leaked');
    });
  }

  it('voicemail: an extension without an SMS number reaches Catch as SMS_INVALID_NUMBER', async () => {
    await helper.load(pbxwareNodes, flow(fake, { mode: 'voicemail', extension: '1003' }), {
      pbx: { apiKey: fake.apiKey },
    });
    const caught = collect('hc');
    helper.getNode('out').receive({ payload: 'vm' });
    await waitFor(() => caught.length === 1);
    assert.strictEqual(caught[0].error.code, 'SMS_INVALID_NUMBER');
    assert.match(caught[0].error.message, /Destination does not have an assigned SMS number/);
    assert.strictEqual(fake.requests.length, 1);
  });

  it('429 is retried and sends ONE SMS', async () => {
    fake.retryAfterS = 0;
    fake.failNext = [429, 429];
    await helper.load(pbxwareNodes, flow(fake, { to: '+14165551234' }), { pbx: { apiKey: fake.apiKey } });
    const sent = collect('h');
    const caught = collect('hc');
    helper.getNode('out').receive({ payload: 'retry me' });
    await waitFor(() => sent.length === 1);
    assert.strictEqual(fake.requests.length, 3);
    assert.strictEqual(fake.sent.length, 1);
    assert.strictEqual(sent[0].sms.attempts, 3);
    assert.strictEqual(caught.length, 0);
  });

  for (const status of [500, 502, 503, 504] as const)
    it(`HTTP ${status} (the PBX or a proxy may have sent it) is SMS_UNCERTAIN after exactly one request`, async () => {
      fake.failNext = [status];
      await helper.load(pbxwareNodes, flow(fake, { to: '+14165551234' }), { pbx: { apiKey: fake.apiKey } });
      const caught = collect('hc');
      helper.getNode('out').receive({ payload: 'once' });
      await waitFor(() => caught.length === 1);
      assert.strictEqual(caught[0].error.code, 'SMS_UNCERTAIN');
      assert.match(caught[0].error.message, new RegExp(`HTTP ${status}.*may have been sent`));
      assert.strictEqual(caught[0].sms.attempts, 1);
      assert.strictEqual(fake.requests.length, 1, 'never a second request');
    });

  it('a reset after the PBX processed the SMS is SMS_UNCERTAIN, one request, one SMS', async () => {
    fake.failNext = ['drop-accept'];
    await helper.load(pbxwareNodes, flow(fake, { to: '+14165551234' }), { pbx: { apiKey: fake.apiKey } });
    const caught = collect('hc');
    helper.getNode('out').receive({ payload: 'once' });
    await waitFor(() => caught.length === 1);
    assert.strictEqual(caught[0].error.code, 'SMS_UNCERTAIN');
    assert.deepStrictEqual([fake.requests.length, fake.sent.length], [1, 1]);
  });

  it('a 200 that is not JSON is not resubmitted: the PBX may have sent the SMS (no second one)', async () => {
    fake.retryAfterS = 0;
    fake.failNext = [429, 'malformed-accept'];
    await helper.load(pbxwareNodes, flow(fake, { to: '+14165551234' }), { pbx: { apiKey: fake.apiKey } });
    const sent = collect('h');
    const caught = collect('hc');
    helper.getNode('out').receive({ payload: 'once only' });
    await waitFor(() => caught.length === 1);
    await delay(100);
    assert.strictEqual(fake.requests.length, 2, 'the 429 was retried, the garbled 200 was not');
    assert.strictEqual(fake.sent.length, 1);
    assert.strictEqual(sent.length, 0);
    assert.strictEqual(caught[0].error.code, 'SMS_UNCERTAIN');
    assert.match(caught[0].error.message, /not JSON.*may have been sent/);
    assert.strictEqual(caught[0].sms.attempts, 2);
  });

  it('an unreachable PBX ends in SMS_NETWORK without the URL or key in the error', async () => {
    const url = fake.url;
    const key = fake.apiKey;
    await fake.close();
    await helper.load(nodesWithParams, flow(fake, { to: '+14165551234', retries: 1 }, { url }), {
      pbx: { apiKey: key },
    });
    const caught = collect('hc');
    helper.getNode('out').receive({ payload: 'x' });
    await waitFor(() => caught.length === 1);
    assert.strictEqual(caught[0].error.code, 'SMS_NETWORK');
    const everything = JSON.stringify(caught) + JSON.stringify(statuses('out')) + logText();
    assert.ok(!everything.includes(key) && !everything.includes('apikey='), everything);
    fake = await startFakePbxware();
  });

  it('no server selected → red status and SMS_CONFIG', async () => {
    await helper.load(pbxwareNodes, [
      TAB,
      { id: 'out', type: 'pbxware out', z: 't1', server: '', mode: 'sms', to: '+14165551234', wires: [[]] },
      { id: 'c', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['hc']] },
      { id: 'hc', type: 'helper', z: 't1' },
    ]);
    const caught = collect('hc');
    assert.deepStrictEqual(statuses('out')[0], {
      fill: 'red',
      shape: 'ring',
      text: 'common.status.noConfig',
    });
    helper.getNode('out').receive({ payload: 'x' });
    await waitFor(() => caught.length === 1);
    assert.strictEqual(caught[0].error.code, 'SMS_CONFIG');
  });

  it('test-connection endpoint: action API with stored key, a wrong key, and the JSON API', async () => {
    await helper.startServer();
    await helper.load(pbxwareNodes, flow(fake), { pbx: { apiKey: fake.apiKey } });
    const post = (body: unknown) =>
      helper.request().post('/sms-notify/test/pbxware-server').send(body).expect(200);
    const ok = await post({
      id: 'pbx',
      config: { url: fake.url, tenant: '59', api: 'action' },
      credentials: { apiKey: '__PWRD__' },
    });
    assert.strictEqual(ok.body.ok, true, JSON.stringify(ok.body));
    assert.match(ok.body.message, /tenant 59/);
    const wrong = await post({
      config: { url: fake.url, tenant: '59', api: 'action' },
      credentials: { apiKey: 'pbx-NOPE-123456' },
    });
    assert.deepStrictEqual([wrong.body.ok, wrong.body.code], [false, 'SMS_AUTH']);
    assert.match(wrong.body.error, /Invalid API key\./);
    const json = await post({
      id: 'pbx',
      config: { url: fake.url, tenant: '59', api: 'json' },
      credentials: {},
    });
    assert.strictEqual(json.body.ok, true, JSON.stringify(json.body));
    const text = JSON.stringify([ok.body, wrong.body, json.body]);
    assert.ok(!text.includes(fake.apiKey) && !text.includes('pbx-NOPE'));
    assert.strictEqual(fake.sent.length, 0, 'testing sends nothing');
  });
});
