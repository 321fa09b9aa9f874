import assert from 'assert';
import { pbxwareError } from '../../nodes/lib/pbxware/errors';
import {
  actionSendRequest,
  base64Utf8,
  createPbxwareProvider,
  extensionAsRecipient,
  jsonSendRequest,
  PbxwareProviderOptions,
  voicemailRequest,
} from '../../nodes/lib/pbxware/provider';
import { testPbxwareConnection } from '../../nodes/lib/pbxware/test-connection';
import { SmsError } from '../../nodes/lib/sms/errors';
import type { SmsSendRequest } from '../../nodes/lib/sms/provider';
import { FakePbxware, PBX_ERRORS, startFakePbxware } from '../fakes/pbxware';

function req(to: string, text: string): SmsSendRequest {
  return { to, text, encoding: 'GSM-7', parts: 1, msg: {}, attempt: 0 };
}

async function sendError(
  p: ReturnType<typeof createPbxwareProvider>,
  to: string,
  text = 'hi',
): Promise<SmsError> {
  try {
    await p.send(req(to, text), AbortSignal.timeout(3000));
  } catch (err) {
    assert.ok(err instanceof SmsError, String(err));
    return err;
  }
  throw new Error('expected a failure');
}

describe('lib/pbxware wire format', () => {
  const settings = { url: 'https://pbx.example.com', tenant: '59', apiKey: 'K' };

  it('action API: the documented query with a base64 body, by POST', () => {
    const r = actionSendRequest(settings, '+14165551234', 'You have received a new voicemail.');
    assert.strictEqual(r.init.method, 'POST');
    assert.strictEqual(
      r.url,
      'https://pbx.example.com/?apikey=K&action=pbxware.sms.send_message&server=59&to_number=%2B14165551234&body=WW91IGhhdmUgcmVjZWl2ZWQgYSBuZXcgdm9pY2VtYWlsLg%3D%3D',
    );
    assert.strictEqual(base64Utf8('zażółć'), Buffer.from('zażółć').toString('base64'));
  });

  it('JSON API and voicemail: X-API-Key and the documented bodies', () => {
    const s = jsonSendRequest(
      { ...settings, url: 'https://pbx.example.com/' },
      '+14165551234',
      'Test SMS notification',
    );
    assert.strictEqual(s.url, 'https://pbx.example.com/api/sms/send');
    assert.strictEqual(s.init.headers['X-API-Key'], 'K');
    assert.strictEqual(s.init.headers['Content-Type'], 'application/json');
    assert.deepStrictEqual(JSON.parse(String(s.init.body)), {
      to: '+14165551234',
      message: 'Test SMS notification',
    });
    const v = voicemailRequest(settings, '1001', 'New voicemail received');
    assert.strictEqual(v.url, 'https://pbx.example.com/api/sms/notifications/voicemail');
    assert.deepStrictEqual(JSON.parse(String(v.init.body)), {
      extension: '1001',
      message: 'New voicemail received',
    });
  });

  it('maps the documented errors to permanent codes with the server text', () => {
    const cases: [string, string][] = [
      [PBX_ERRORS.disabled, 'SMS_CONFIG'],
      [PBX_ERRORS['not-enabled'], 'SMS_CONFIG'],
      [PBX_ERRORS['bad-sender'], 'SMS_BAD_SENDER'],
      [PBX_ERRORS['no-sms-number'], 'SMS_INVALID_NUMBER'],
      [PBX_ERRORS['invalid-key'], 'SMS_AUTH'],
      ['Something new', 'SMS_PROVIDER'],
    ];
    for (const [text, code] of cases) {
      const e = pbxwareError(text, 200);
      assert.strictEqual(e.code, code, text);
      assert.strictEqual(e.transient, false, text);
      assert.ok(e.message.includes(text.trim()), e.message);
    }
  });
});

describe('lib/pbxware provider against the fake', () => {
  let fake: FakePbxware;
  const opts = (over: Partial<PbxwareProviderOptions> = {}): PbxwareProviderOptions => ({
    url: fake.url,
    tenant: fake.tenant,
    apiKey: fake.apiKey,
    ...over,
  });

  beforeEach(async () => {
    fake = await startFakePbxware();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('action API: sends, the fake decodes the base64 body, id from the answer', async () => {
    const p = createPbxwareProvider(opts());
    assert.strictEqual(p.recipientKind, 'e164');
    const res = await p.send(req('+14165551234', 'Zażółć gęślą jaźń ✓'), AbortSignal.timeout(3000));
    assert.deepStrictEqual(res.ids, ['1000']);
    assert.strictEqual(res.status, 'submitted');
    const r = fake.requests[0];
    assert.strictEqual(r.api, 'action');
    assert.strictEqual(r.method, 'POST');
    assert.strictEqual(r.paramsIn, 'query');
    assert.strictEqual(r.server, '59');
    assert.strictEqual(r.to, '+14165551234');
    assert.strictEqual(r.text, 'Zażółć gęślą jaźń ✓');
  });

  it("voicemail mode's prepare step: msg.extension becomes msg.to when msg.to is empty; SMS mode has none", () => {
    const vm = createPbxwareProvider(opts({ mode: 'voicemail' }));
    assert.strictEqual(vm.prepare, extensionAsRecipient);
    assert.strictEqual(createPbxwareProvider(opts()).prepare, undefined);
    const cases: [Record<string, unknown>, unknown][] = [
      [{ extension: 1002 }, '1002'],
      [{ to: '', extension: ['1001', 1002] }, ['1001', '1002']],
      [{ to: '1003', extension: '1004' }, '1003'],
      [{ to: null, extension: '' }, null],
    ];
    for (const [msg, to] of cases) {
      extensionAsRecipient(msg);
      assert.deepStrictEqual(msg.to, to);
    }
  });

  it('JSON API and voicemail mode send the documented JSON', async () => {
    const json = createPbxwareProvider(opts({ api: 'json' }));
    await json.send(req('+14165551234', 'json hello'), AbortSignal.timeout(3000));
    const vm = createPbxwareProvider(opts({ api: 'action', mode: 'voicemail' }));
    assert.strictEqual(vm.recipientKind, 'opaque');
    const res = await vm.send(req('1001', 'New voicemail'), AbortSignal.timeout(3000));
    assert.strictEqual(res.details?.mode, 'voicemail');
    assert.deepStrictEqual(
      fake.requests.map((r) => [r.api, r.path, r.to ?? r.extension, r.text]),
      [
        ['json', '/api/sms/send', '+14165551234', 'json hello'],
        ['json', '/api/sms/notifications/voicemail', '1001', 'New voicemail'],
      ],
    );
    const e = await sendError(vm, '1003');
    assert.strictEqual(e.code, 'SMS_INVALID_NUMBER', 'extension without an SMS number');
    const bad = await sendError(vm, 'not an ext!');
    assert.strictEqual(bad.code, 'SMS_INVALID_NUMBER');
    assert.strictEqual(fake.requests.length, 3, 'an invalid extension is refused before any request');
  });

  for (const mode of Object.keys(PBX_ERRORS) as (keyof typeof PBX_ERRORS)[]) {
    it(`"${PBX_ERRORS[mode]}" → permanent error, both API styles`, async () => {
      fake.errorMode = mode;
      if (mode === 'invalid-key') fake.apiKey = 'another-key';
      const expected = {
        disabled: 'SMS_CONFIG',
        'not-enabled': 'SMS_CONFIG',
        'bad-sender': 'SMS_BAD_SENDER',
        'no-sms-number': 'SMS_INVALID_NUMBER',
        'invalid-key': 'SMS_AUTH',
      }[mode];
      for (const api of ['action', 'json'] as const) {
        const e = await sendError(
          createPbxwareProvider(opts({ api, apiKey: 'pbx-KEY-4f1b9c2e77' })),
          '+14165551234',
        );
        assert.strictEqual(e.code, expected, `${api}: ${e.message}`);
        assert.strictEqual(e.transient, false);
        assert.ok(e.message.includes(PBX_ERRORS[mode].trim()), e.message);
        assert.ok(!e.message.includes('pbx-KEY-4f1b9c2e77'));
      }
    });
  }

  it('5xx, 429, non-JSON and network failures are transient; the URL with the key never shows', async () => {
    const p = createPbxwareProvider(opts());
    fake.failNext = [503, 'html', 'drop', 429];
    const e503 = await sendError(p, '+14165551234');
    assert.deepStrictEqual([e503.code, e503.transient, e503.status], ['SMS_PROVIDER', true, 503]);
    const html = await sendError(p, '+14165551234');
    assert.deepStrictEqual([html.code, html.transient], ['SMS_PROVIDER', true]);
    const drop = await sendError(p, '+14165551234');
    assert.deepStrictEqual([drop.code, drop.transient], ['SMS_NETWORK', true]);
    const limited = await sendError(p, '+14165551234');
    assert.deepStrictEqual(
      [limited.code, limited.transient, limited.retryAfterMs],
      ['SMS_RATE_LIMITED', true, 1000],
    );
    const closedPort = fake.url;
    await fake.close();
    const refused = await sendError(createPbxwareProvider(opts({ url: closedPort })), '+14165551234');
    assert.strictEqual(refused.code, 'SMS_NETWORK');
    fake = await startFakePbxware(); // for afterEach
    for (const e of [e503, html, drop, limited, refused]) {
      const text = JSON.stringify({ ...e, message: e.message, stack: e.stack });
      assert.ok(!text.includes(fake.apiKey) && !text.includes('apikey=pbx'), text);
      assert.ok(!text.includes('127.0.0.1'), 'no URL in the error');
    }
  });

  it('missing key or tenant and a bad URL are SMS_CONFIG without a request', async () => {
    for (const o of [
      opts({ apiKey: '' }),
      opts({ tenant: '' }),
      opts({ url: 'ftp://x' }),
      opts({ url: 'nope' }),
    ]) {
      const e = await sendError(createPbxwareProvider(o), '+14165551234');
      assert.strictEqual(e.code, 'SMS_CONFIG', e.message);
    }
    assert.strictEqual(fake.requests.length, 0);
  });
});

describe('lib/pbxware test-connection', () => {
  let fake: FakePbxware;
  beforeEach(async () => {
    fake = await startFakePbxware();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('action API: ext.list proves URL, key and tenant; errors come back with codes', async () => {
    const signal = AbortSignal.timeout(3000);
    const ok = await testPbxwareConnection(
      { url: fake.url, tenant: '59', api: 'action' },
      { apiKey: fake.apiKey },
      signal,
    );
    assert.match(ok, /API key accepted for tenant 59 \(3 extensions listed\)/);
    assert.strictEqual(fake.requests[0].action, 'pbxware.ext.list');
    await assert.rejects(
      testPbxwareConnection({ url: fake.url, tenant: '59', api: 'action' }, { apiKey: 'wrong' }, signal),
      (e: SmsError) => e.code === 'SMS_AUTH' && /Invalid API key\./.test(e.message),
    );
    await assert.rejects(
      testPbxwareConnection({ url: fake.url, tenant: '', api: 'action' }, { apiKey: fake.apiKey }, signal),
      (e: SmsError) => e.code === 'SMS_CONFIG',
    );
    assert.strictEqual(fake.sent.length, 0, 'nothing sent');
  });

  it('JSON API: best effort GET', async () => {
    const signal = AbortSignal.timeout(3000);
    assert.match(
      await testPbxwareConnection({ url: fake.url, api: 'json' }, { apiKey: fake.apiKey }, signal),
      /JSON API reachable \(HTTP 405\)/,
    );
    await assert.rejects(
      testPbxwareConnection({ url: fake.url, api: 'json' }, { apiKey: 'nope' }, signal),
      (e: SmsError) => e.code === 'SMS_AUTH',
    );
    await assert.rejects(
      testPbxwareConnection({ url: fake.url + '/sub', api: 'json' }, { apiKey: fake.apiKey }, signal),
      (e: SmsError) => e.code === 'SMS_CONFIG' && /404/.test(e.message),
    );
  });
});
