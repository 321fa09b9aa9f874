import assert from 'assert';
import { CpaasApi } from '../../nodes/lib/cpaas/api';
import { CpaasAuth, CpaasAuthConfig } from '../../nodes/lib/cpaas/auth';
import { cpaasEnvelope, normaliseNumber } from '../../nodes/lib/cpaas/envelope';
import { classifyHttpError, fillText, parseRequestError } from '../../nodes/lib/cpaas/errors';
import { channelSocketUrl, lastSegment, redact, resolveResource } from '../../nodes/lib/cpaas/http';
import { decodeJwt } from '../../nodes/lib/cpaas/jwt';
import { CpaasSmsProvider } from '../../nodes/lib/cpaas/provider';
import { parseEvents } from '../../nodes/lib/cpaas/source';
import type { SmsError } from '../../nodes/lib/sms/errors';
import type { SmsSendRequest } from '../../nodes/lib/sms/provider';
import { FakeCpaas } from '../fakes/cpaas';
import { ManualClock } from '../clock';
import { waitFor } from '../helpers';

const SECRET = 'Pr0ject-S3cret-cpaas-lib';
const PASSWORD = 'Us3r-Passw0rd-cpaas-lib';

function request(to: string, text: string, extra: Partial<SmsSendRequest> = {}): SmsSendRequest {
  return { to, text, encoding: 'GSM-7', parts: 1, msg: { _msgid: 'm1' }, attempt: 0, ...extra };
}

async function rejects(p: Promise<unknown>): Promise<SmsError> {
  try {
    await p;
  } catch (err) {
    return err as SmsError;
  }
  throw new Error('expected a rejection');
}

describe('lib/cpaas helpers', () => {
  it('decodes JWT payloads without verifying them, and refuses garbage', () => {
    const payload = Buffer.from(JSON.stringify({ preferred_username: 'u1', exp: 2, iat: 1 })).toString(
      'base64url',
    );
    assert.deepStrictEqual(decodeJwt(`h.${payload}.sig`), { preferred_username: 'u1', exp: 2, iat: 1 });
    assert.strictEqual(decodeJwt('not-a-jwt'), undefined);
    assert.strictEqual(decodeJwt('a.%%%.c'), undefined);
    assert.strictEqual(decodeJwt(undefined), undefined);
  });

  it('fills %1… from variables and reads requestError exceptions', () => {
    assert.strictEqual(
      fillText('Invalid input value for message part %1', ['address']),
      'Invalid input value for message part address',
    );
    assert.strictEqual(fillText('%2 then %1 and %3', ['a', 'b']), 'b then a and %3');
    assert.deepStrictEqual(
      parseRequestError({
        requestError: {
          policyException: { messageId: 'POL0001', text: 'A policy error occurred: %1', variables: ['x'] },
        },
      }),
      { kind: 'policy', messageId: 'POL0001', message: 'A policy error occurred: x' },
    );
    assert.strictEqual(parseRequestError({ error: 'x' }), undefined);
  });

  it('classifies every error class to a stable code, permanent or transient', () => {
    const svc = (text: string, variables: string[], id = 'SVC0002') => ({
      requestError: { serviceException: { messageId: id, text, variables } },
    });
    const pol = (text: string, variables: string[] = [], id = 'POL0001') => ({
      requestError: { policyException: { messageId: id, text, variables } },
    });
    const headers = new Headers({ 'retry-after': '7' });
    const cases: [number, unknown, string, boolean][] = [
      [400, svc('Invalid input value for message part %1', ['address']), 'SMS_INVALID_NUMBER', false],
      [400, svc('Invalid input value for message part %1', ['senderAddress']), 'SMS_BAD_SENDER', false],
      [400, svc('Invalid input value for message part %1', ['message']), 'SMS_PROVIDER', false],
      [403, pol('A policy error occurred: %1', ['not allowed']), 'SMS_PROVIDER', false],
      [403, pol('Request rate exceeded for %1', ['user']), 'SMS_RATE_LIMITED', true],
      [403, pol('Quota of messages exceeded'), 'SMS_RATE_LIMITED', true],
      [402, pol('Insufficient credit'), 'SMS_INSUFFICIENT_FUNDS', false],
      [503, svc('Service unavailable', [], 'SVC1000'), 'SMS_PROVIDER', true],
      [401, undefined, 'SMS_AUTH', false],
      [404, undefined, 'SMS_CONFIG', false],
      [429, undefined, 'SMS_RATE_LIMITED', true],
      [500, 'oops', 'SMS_PROVIDER', true],
      [418, undefined, 'SMS_PROVIDER', false],
    ];
    for (const [status, body, code, transient] of cases) {
      const err = classifyHttpError(status, body, headers);
      assert.strictEqual(err.code, code, `${status} ${JSON.stringify(body)}`);
      assert.strictEqual(err.transient, transient, `${status} ${JSON.stringify(body)} transient`);
    }
    const filled = classifyHttpError(400, svc('Invalid input value for message part %1', ['address']));
    assert.strictEqual(filled.message, 'CPaaS SVC0002: Invalid input value for message part address');
    assert.strictEqual(filled.providerCode, 'SVC0002');
    assert.strictEqual(classifyHttpError(429, undefined, headers).retryAfterMs, 7000);
  });

  it('builds the socket URL from the base scheme, keeps tokens on the configured origin, redacts', () => {
    assert.strictEqual(
      channelSocketUrl('https://oauth-cpaas.att.com', '/cpaas/nc/v1/u/channels/c1/websocket', 'tok'),
      'wss://oauth-cpaas.att.com/cpaas/nc/v1/u/channels/c1/websocket?access_token=tok',
    );
    assert.match(
      channelSocketUrl('http://127.0.0.1:9', '/ws', 't'),
      /^ws:\/\/127\.0\.0\.1:9\/ws\?access_token=t$/,
    );
    assert.strictEqual(resolveResource('http://127.0.0.1:9', '/a/b'), 'http://127.0.0.1:9/a/b');
    assert.strictEqual(
      resolveResource('http://127.0.0.1:9', 'https://evil.example/a/b'),
      'http://127.0.0.1:9/a/b',
    );
    assert.strictEqual(lastSegment('/cpaas/x/messages/SM123'), 'SM123');
    assert.strictEqual(
      redact('connect wss://h/ws?access_token=abc.def&x=1 failed'),
      'connect wss://h/ws?access_token=***&x=1 failed',
    );
    assert.strictEqual(redact('secret S3cr3t-value here', ['S3cr3t-value']), 'secret *** here');
  });

  it('builds the envelope: absent fields stay absent, timestamp from dateTime', () => {
    const frame = {
      inboundSMSMessageNotification: {
        inboundSMSMessage: {
          dateTime: 1525895987,
          destinationAddress: '+16139998877',
          message: 'hi',
          messageId: 'm1',
          senderAddress: '+16137001234',
        },
        dateTime: 1525895987,
        id: 'n1',
      },
    };
    const msg = cpaasEnvelope('inboundSMSMessageNotification', frame, 5);
    assert.strictEqual(msg.topic, 'cpaas/inboundSMSMessageNotification');
    assert.strictEqual(msg.payload, frame);
    assert.deepStrictEqual(msg.event, {
      source: 'cpaas',
      type: 'inboundSMSMessageNotification',
      id: 'm1',
      author: '+16137001234',
      containerId: '+16139998877',
      timestamp: 1525895987000,
    });
    const bare = cpaasEnvelope(
      'deliveryInfoNotification',
      { deliveryInfoNotification: { deliveryInfo: { address: '+1', deliveryStatus: 'x' } } },
      42,
    );
    assert.deepStrictEqual(bare.event, { source: 'cpaas', type: 'deliveryInfoNotification', timestamp: 42 });
    assert.strictEqual(normaliseNumber('tel:+1 613-555 (0101)'), '+16135550101');
    assert.deepStrictEqual(
      [...parseEvents(['deliveryInfoNotification', 'bogus'])],
      ['deliveryInfoNotification'],
    );
    assert.strictEqual(parseEvents('').size, 0);
  });
});

describe('lib/cpaas token manager', () => {
  let fake: FakeCpaas;
  const project = (): CpaasAuthConfig => ({
    url: fake.url,
    clientId: fake.clientId,
    auth: 'project',
    clientSecret: SECRET,
  });

  beforeEach(async () => {
    fake = await new FakeCpaas({
      clientSecret: SECRET,
      users: [{ email: 'bob@example.com', password: PASSWORD, userId: 'bob-user' }],
    }).start();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('client-credentials grant: the user id from the id_token, form-encoded request', async () => {
    const auth = new CpaasAuth(project());
    const token = await auth.getToken();
    assert.strictEqual(token.userId, fake.projectUserId);
    assert.deepStrictEqual(fake.requests[0].body, {
      client_id: fake.clientId,
      scope: 'openid',
      grant_type: 'client_credentials',
      client_secret: SECRET,
    });
    assert.strictEqual(fake.counts.tokenProject, 1);
    auth.close();
  });

  it('password grant: e-mail + password', async () => {
    const auth = new CpaasAuth({
      url: fake.url,
      clientId: fake.clientId,
      auth: 'user',
      email: 'bob@example.com',
      password: PASSWORD,
    });
    assert.strictEqual((await auth.getToken()).userId, 'bob-user');
    assert.strictEqual(fake.counts.tokenUser, 1);
    assert.strictEqual((fake.requests[0].body as Record<string, string>).grant_type, 'password');
  });

  it('concurrent callers share one token request; the token is reused until half its lifetime', async () => {
    fake.tokenLifetimeS = 0.4;
    // virtual time: the half-life is reached by the test, not by how fast this machine is
    const clock = new ManualClock(Date.now());
    const auth = new CpaasAuth(project(), { minRefreshMs: 10, clock });
    const tokens = await Promise.all([1, 2, 3, 4, 5].map(() => auth.getToken()));
    assert.strictEqual(fake.counts.token, 1);
    assert.ok(tokens.every((t) => t === tokens[0]));
    assert.strictEqual(tokens[0].refreshAt - tokens[0].obtainedAt, 200);
    assert.strictEqual(await auth.getToken(), tokens[0]);
    clock.advance(tokens[0].refreshAt - clock.now() - 1);
    assert.strictEqual(await auth.getToken(), tokens[0], 'reused up to the last millisecond');
    assert.strictEqual(fake.counts.token, 1);
    clock.advance(1);
    const fresh = await auth.getToken();
    assert.notStrictEqual(fresh.accessToken, tokens[0].accessToken);
    assert.strictEqual(fake.counts.token, 2);
  });

  it('keepFresh re-authenticates at half-life and stops on abort', async () => {
    fake.tokenLifetimeS = 0.2;
    // virtual time: each half-life is stepped by the test, so the count is exact
    const clock = new ManualClock(Date.now());
    const auth = new CpaasAuth(project(), { minRefreshMs: 10, clock });
    const stop = new AbortController();
    const running = auth.keepFresh(stop.signal);
    const sleeping = () => clock.nextAt() === clock.now() + 100; // waiting for the next half-life
    await waitFor(() => fake.counts.token === 1 && sleeping(), 5000, 'the first login');
    for (let n = 2; n <= 6; n++) {
      clock.advance(100);
      await waitFor(() => fake.counts.token === n && sleeping(), 5000, `login ${n}`);
    }
    stop.abort();
    await running;
    // one login, then one per 100 ms half-life: never a tight loop
    assert.strictEqual(fake.counts.token, 6, `token requests: ${fake.counts.token}`);
    assert.strictEqual(clock.pending, 0, 'no timer left after the abort');
    clock.advance(1_000);
    assert.strictEqual(fake.counts.token, 6, 'nothing after the abort');
  });

  it('a wrong secret is SMS_AUTH with the server reason, never the secret, and is not retried in a loop', async () => {
    const auth = new CpaasAuth(
      { ...project(), clientSecret: 'Wr0ng-S3cret-typo' },
      { authFailureCooldownMs: 60_000 },
    );
    const err = await rejects(auth.getToken());
    assert.strictEqual(err.code, 'SMS_AUTH');
    assert.strictEqual(err.transient, false);
    assert.match(err.message, /invalid_client/);
    assert.ok(!err.message.includes('Wr0ng-S3cret-typo'));
    for (let i = 0; i < 5; i++) assert.strictEqual((await rejects(auth.getToken())).code, 'SMS_AUTH');
    assert.strictEqual(fake.counts.token, 1, 'the rejection is remembered');
    const user = new CpaasAuth({
      url: fake.url,
      clientId: fake.clientId,
      auth: 'user',
      email: 'bob@example.com',
      password: 'nope-nope',
    });
    assert.match((await rejects(user.getToken())).message, /invalid_grant/);
  });

  it('missing credentials or URL are SMS_CONFIG without any request', async () => {
    assert.strictEqual(
      (await rejects(new CpaasAuth({ ...project(), clientSecret: '' }).getToken())).code,
      'SMS_CONFIG',
    );
    assert.strictEqual(
      (await rejects(new CpaasAuth({ ...project(), url: 'ftp://x' }).getToken())).code,
      'SMS_CONFIG',
    );
    const user = new CpaasAuth({ url: fake.url, clientId: 'c', auth: 'user', email: 'a@b.c' });
    assert.strictEqual((await rejects(user.getToken())).code, 'SMS_CONFIG');
    assert.strictEqual(fake.counts.token, 0);
  });

  it('an unreachable server is a transient network error', async () => {
    const auth = new CpaasAuth({ ...project(), url: 'http://127.0.0.1:1' });
    const err = await rejects(auth.getToken());
    assert.strictEqual(err.code, 'SMS_NETWORK');
    assert.strictEqual(err.transient, true);
  });
});

describe('lib/cpaas send API and provider', () => {
  let fake: FakeCpaas;
  let auth: CpaasAuth;
  let provider: CpaasSmsProvider;
  const signal = () => AbortSignal.timeout(5000);

  beforeEach(async () => {
    fake = await new FakeCpaas({ clientSecret: SECRET }).start();
    auth = new CpaasAuth({ url: fake.url, clientId: fake.clientId, auth: 'project', clientSecret: SECRET });
    provider = new CpaasSmsProvider(new CpaasApi(auth, 500));
  });
  afterEach(async () => {
    auth.close();
    await fake.close();
  });

  it('one address per request; ids from the resourceURL, status from deliveryInfo; sender default or URL-encoded', async () => {
    const result = await provider.send(request('+16135550201', 'hello'), signal());
    assert.strictEqual(fake.sent.length, 1);
    assert.deepStrictEqual(result.ids, [fake.sent[0].messageId]);
    assert.strictEqual(result.status, 'DeliveredToNetwork');
    const req = fake.requests.at(-1)!;
    assert.strictEqual(req.path, `/cpaas/smsmessaging/v1/${fake.projectUserId}/outbound/default/requests`);
    assert.strictEqual(req.authorization?.startsWith('Bearer '), true);
    const body = req.body as { outboundSMSMessageRequest: Record<string, unknown> };
    assert.deepStrictEqual(body.outboundSMSMessageRequest.address, ['+16135550201']);
    assert.deepStrictEqual(body.outboundSMSMessageRequest.outboundSMSTextMessage, { message: 'hello' });

    const withFrom = new CpaasSmsProvider(new CpaasApi(auth), '+16135550100');
    await withFrom.send(request('+16135550202', 'x'), signal());
    assert.strictEqual(
      fake.requests.at(-1)!.path,
      `/cpaas/smsmessaging/v1/${fake.projectUserId}/outbound/%2B16135550100/requests`,
    );
    await withFrom.send(request('+16135550202', 'y', { from: '+16135550111' }), signal());
    assert.match(fake.requests.at(-1)!.path, /outbound\/%2B16135550111\/requests$/);
  });

  it('maps SVC/POL/5xx/timeouts/network to codes', async () => {
    const err = await rejects(provider.send(request('+1613', 'x'), signal()));
    assert.strictEqual(err.code, 'SMS_INVALID_NUMBER');
    assert.strictEqual(err.message, 'CPaaS SVC0002: Invalid input value for message part address');
    fake.scriptSend(
      {
        status: 403,
        body: {
          requestError: {
            policyException: {
              messageId: 'POL0003',
              text: 'Too many addresses specified in message part %1',
              variables: ['address'],
            },
          },
        },
      },
      { status: 503, body: 'unavailable' },
      { status: 200, delayMs: 800 },
    );
    const pol = await rejects(provider.send(request('+16135550201', 'x'), signal()));
    assert.deepStrictEqual([pol.code, pol.transient, pol.providerCode], ['SMS_PROVIDER', false, 'POL0003']);
    const server = await rejects(provider.send(request('+16135550201', 'x'), signal()));
    assert.deepStrictEqual([server.code, server.transient], ['SMS_PROVIDER', true]);
    const timeout = await rejects(provider.send(request('+16135550201', 'x'), signal()));
    assert.deepStrictEqual([timeout.code, timeout.transient], ['SMS_TIMEOUT', true]);
    await fake.close();
    const network = await rejects(provider.send(request('+16135550201', 'x'), signal()));
    assert.deepStrictEqual([network.code, network.transient], ['SMS_NETWORK', true]);
    fake = await new FakeCpaas().start();
  });

  it('a 401 re-authenticates once and repeats the call once; a second 401 is SMS_AUTH', async () => {
    await provider.send(request('+16135550201', 'a'), signal());
    fake.revokeTokens();
    await provider.send(request('+16135550201', 'b'), signal());
    assert.strictEqual(fake.counts.token, 2);
    assert.strictEqual(fake.sent.length, 2);
    fake.refuseTokens = true; // every token, even a fresh one, is refused
    const err = await rejects(provider.send(request('+16135550201', 'c'), signal()));
    assert.strictEqual(err.code, 'SMS_AUTH');
    assert.strictEqual(fake.counts.token, 3, 'exactly one re-authentication');
    assert.strictEqual(fake.sent.length, 2);
  });

  it('every attempt of one SMS carries the same clientCorrelator, so a repeat is not sent twice', async () => {
    const req = { ...request('+16135550201', 'once'), sendId: 'nr-abc' } as SmsSendRequest;
    fake.scriptSend({ status: 201, process: true, delayMs: 800 });
    assert.strictEqual((await rejects(provider.send(req, signal()))).code, 'SMS_TIMEOUT');
    const retry = await provider.send({ ...req, attempt: 1 } as SmsSendRequest, signal());
    assert.strictEqual(fake.sent.length, 1, 'one SMS');
    assert.strictEqual(fake.counts.sendRepeated, 1);
    assert.deepStrictEqual(retry.ids, [fake.sent[0].messageId]);
    assert.strictEqual(fake.sent[0].clientCorrelator, 'nr-abc');
  });
});
