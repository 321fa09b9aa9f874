import assert from 'assert';
import { SmsError } from '../../nodes/lib/sms/errors';
import type { SmsSendRequest } from '../../nodes/lib/sms/provider';
import { resetAuthGuards } from '../../nodes/lib/sms-gateway/auth-guard';
import { classify, GatewayProvider } from '../../nodes/lib/sms-gateway/provider';
import { testGateway } from '../../nodes/lib/sms-gateway/test-connection';
import { FakeSmsGateway, GOOD_KEY } from '../fakes/sms-gateway';

const BAD_KEY = 'sgw_deadbeefdeadbeefdeadbeefdeadbeef';

function req(over: Partial<SmsSendRequest> = {}): SmsSendRequest {
  return { to: '+15551234567', text: 'hello', encoding: 'GSM-7', parts: 1, msg: {}, attempt: 0, ...over };
}

async function failure(p: Promise<unknown>): Promise<SmsError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SmsError, `an SmsError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

describe('lib/sms-gateway GatewayProvider', () => {
  let fake: FakeSmsGateway;
  const signal = () => AbortSignal.timeout(5000);

  beforeEach(async () => {
    fake = await new FakeSmsGateway({ pingIntervalMs: 0 }).start();
  });
  afterEach(async () => {
    await fake.close();
    resetAuthGuards();
  });

  const provider = (over: Partial<ConstructorParameters<typeof GatewayProvider>[0]> = {}) =>
    new GatewayProvider({ url: fake.url, apiKey: GOOD_KEY, from: '+15559876543', ...over });

  it('202 → ids [messageId], status queued; sends {to, from, body} with the Bearer key', async () => {
    const p = provider();
    assert.strictEqual(p.name, 'sms-gateway');
    assert.strictEqual(p.recipientKind, 'e164');
    const result = await p.send(req({ msg: { userId: 'u-1' } }), signal());
    assert.strictEqual(fake.sent.length, 1);
    assert.deepStrictEqual(result, {
      ids: [fake.sent[0].messageId],
      status: 'queued',
      details: { from: '+15559876543' },
    });
    assert.match(result.ids[0], /^msg_[0-9a-f]{12}$/);
    const sent = fake.requests.find((r) => r.path === '/v1/sms/send')!;
    assert.deepStrictEqual(sent.body, {
      to: '+15551234567',
      from: '+15559876543',
      body: 'hello',
      userId: 'u-1',
    });
    assert.strictEqual(sent.bearer, GOOD_KEY);
  });

  it("the node's sender wins over the config's", async () => {
    await provider().send(req({ from: '+15550000001' }), signal());
    assert.strictEqual(fake.sent[0].from, '+15550000001');
  });

  it('a missing or non-E.164 sender is SMS_BAD_SENDER without a request', async () => {
    assert.strictEqual((await failure(provider({ from: '' }).send(req(), signal()))).code, 'SMS_BAD_SENDER');
    assert.strictEqual(
      (await failure(provider({ from: 'MyShop' }).send(req(), signal()))).code,
      'SMS_BAD_SENDER',
    );
    assert.strictEqual(fake.requests.length, 0);
  });

  it('400 E.164 → SMS_INVALID_NUMBER; 400 body length → SMS_TOO_LONG; other 400 → SMS_PROVIDER; all permanent', async () => {
    const bad = await failure(provider().send(req({ to: '+0555' }), signal()));
    assert.strictEqual(bad.code, 'SMS_INVALID_NUMBER');
    assert.strictEqual(bad.message, 'SMS gateway: to and from must be valid E.164 phone numbers');
    assert.strictEqual(bad.transient, false);
    assert.strictEqual(bad.status, 400);
    const long = await failure(provider().send(req({ text: 'x'.repeat(1601) }), signal()));
    assert.strictEqual(long.code, 'SMS_TOO_LONG');
    assert.strictEqual(long.message, 'SMS gateway: body must be 1-1600 characters');
    const missing = await failure(provider().send(req({ text: '' }), signal()));
    assert.strictEqual(missing.code, 'SMS_PROVIDER');
    assert.strictEqual(missing.message, 'SMS gateway: to, from, and body are required');
    assert.strictEqual(missing.transient, false);
  });

  it('401 → SMS_AUTH with the server message (never the key); 403 suspended → SMS_AUTH', async () => {
    const e401 = await failure(provider({ apiKey: BAD_KEY }).send(req(), signal()));
    assert.strictEqual(e401.code, 'SMS_AUTH');
    assert.strictEqual(e401.message, 'SMS gateway: Invalid API key');
    assert.strictEqual(e401.transient, false);
    assert.ok(!JSON.stringify({ ...e401, m: e401.message }).includes(BAD_KEY));
    fake.suspend(GOOD_KEY);
    const e403 = await failure(provider().send(req(), signal()));
    assert.strictEqual(e403.code, 'SMS_AUTH');
    assert.strictEqual(e403.message, 'SMS gateway: Tenant suspended or inactive');
    assert.strictEqual(e403.status, 403);
  });

  it('429 → SMS_RATE_LIMITED, transient, with Retry-After (100 requests / 60 s per key)', async () => {
    await fake.close();
    fake = await new FakeSmsGateway({ pingIntervalMs: 0, rateLimit: { max: 2, windowMs: 60_000 } }).start();
    const p = provider();
    await p.send(req(), signal());
    await p.send(req(), signal());
    const limited = await failure(p.send(req(), signal()));
    assert.strictEqual(limited.code, 'SMS_RATE_LIMITED');
    assert.strictEqual(limited.transient, true);
    assert.ok(
      limited.retryAfterMs! > 55_000 && limited.retryAfterMs! <= 60_000,
      String(limited.retryAfterMs),
    );
    assert.strictEqual(limited.message, 'SMS gateway: Too many requests');
  });

  it('5xx → SMS_PROVIDER transient; network → SMS_NETWORK transient; abort → SMS_TIMEOUT', async () => {
    fake.failNext(503, 'Service unavailable');
    const e5 = await failure(provider().send(req(), signal()));
    assert.strictEqual(e5.code, 'SMS_PROVIDER');
    assert.strictEqual(e5.transient, true);
    assert.strictEqual(e5.status, 503);
    const url = fake.url;
    await fake.close();
    const net = await failure(
      new GatewayProvider({ url, apiKey: GOOD_KEY, from: '+15559876543' }).send(req(), signal()),
    );
    assert.strictEqual(net.code, 'SMS_NETWORK');
    assert.strictEqual(net.transient, true);
    fake = await new FakeSmsGateway({ pingIntervalMs: 0 }).start();
    const aborted = await failure(provider().send(req(), AbortSignal.abort()));
    assert.strictEqual(aborted.code, 'SMS_TIMEOUT');
  });

  it('no API key or a bad URL → SMS_CONFIG', async () => {
    assert.strictEqual((await failure(provider({ apiKey: '' }).send(req(), signal()))).code, 'SMS_CONFIG');
    assert.strictEqual((await failure(provider({ url: 'nope' }).send(req(), signal()))).code, 'SMS_CONFIG');
  });

  it('a bad key cannot lock the IP out: after 4 rejections sends are refused locally', async () => {
    const p = provider({ apiKey: BAD_KEY });
    const codes: string[] = [];
    for (let i = 0; i < 12; i++) codes.push((await failure(p.send(req(), signal()))).code);
    assert.deepStrictEqual(new Set(codes), new Set(['SMS_AUTH']));
    assert.strictEqual(fake.authFailures.length, 4);
    assert.strictEqual(fake.lockouts.length, 0);
    // a burst of 12 concurrent sends, starting from a fresh guard: the same bound
    resetAuthGuards();
    const fresh = provider({ apiKey: BAD_KEY });
    const burst = await Promise.all(Array.from({ length: 12 }, () => failure(fresh.send(req(), signal()))));
    assert.strictEqual(burst.length, 12);
    assert.strictEqual(fake.authFailures.length, 8);
    assert.strictEqual(fake.lockouts.length, 0);
  });

  it('classify() maps statuses', () => {
    assert.strictEqual(classify(500, 'x').transient, true);
    assert.strictEqual(classify(429, 'x', '7').retryAfterMs, 7000);
    assert.strictEqual(classify(418, 'x').code, 'SMS_PROVIDER');
  });
});

describe('lib/sms-gateway testGateway', () => {
  let fake: FakeSmsGateway;
  beforeEach(async () => {
    fake = await new FakeSmsGateway({ pingIntervalMs: 0 }).start();
  });
  afterEach(async () => {
    await fake.close();
    resetAuthGuards();
  });

  it('OK with a good key (a token request, nothing sent); the server error with a bad one', async () => {
    const ok = await testGateway({ url: fake.url }, { apiKey: GOOD_KEY }, AbortSignal.timeout(5000));
    assert.match(ok, /accepted/);
    assert.strictEqual(fake.sent.length, 0);
    await assert.rejects(
      testGateway({ url: fake.url }, { apiKey: BAD_KEY }, AbortSignal.timeout(5000)),
      (err: Error) => {
        assert.strictEqual(err.message, 'Invalid API key (HTTP 401)');
        assert.strictEqual((err as Error & { code: string }).code, 'AUTH');
        return true;
      },
    );
    await assert.rejects(testGateway({ url: fake.url }, {}, AbortSignal.timeout(5000)), /no API key/);
  });
});
