import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SmsError } from '../../nodes/lib/sms/errors';
import type { SmsSendRequest } from '../../nodes/lib/sms/provider';
import {
  mapSmsapiError,
  serviceUrl,
  SmsapiProvider,
  testSmsapiAccount,
} from '../../nodes/lib/smsapi/provider';
import { FakeSmsapi } from '../fakes/smsapi';

const request = (over: Partial<SmsSendRequest> = {}): SmsSendRequest => ({
  to: '+48500000000',
  text: 'hello',
  encoding: 'GSM-7',
  parts: 1,
  msg: {},
  attempt: 0,
  ...over,
});

describe('lib/smsapi provider', function () {
  let fake: FakeSmsapi;
  beforeEach(async () => {
    fake = await FakeSmsapi.start({ token: 'tok' });
  });
  afterEach(() => fake.close());

  it('maps MessageError codes (server text kept) and their transience', () => {
    const table: [number, string, boolean][] = [
      [8, 'SMS_PROVIDER', false],
      [11, 'SMS_TOO_LONG', false],
      [12, 'SMS_TOO_LONG', false],
      [13, 'SMS_INVALID_NUMBER', false],
      [14, 'SMS_BAD_SENDER', false],
      [52, 'SMS_RATE_LIMITED', false],
      [101, 'SMS_AUTH', false],
      [102, 'SMS_AUTH', false],
      [103, 'SMS_INSUFFICIENT_FUNDS', false],
      [201, 'SMS_PROVIDER', true],
      [202, 'SMS_RATE_LIMITED', true],
      [999, 'SMS_PROVIDER', true],
    ];
    for (const [code, want, transient] of table) {
      const e = mapSmsapiError({
        name: 'MessageError',
        message: '',
        data: { error: code, message: `text ${code}` },
      });
      assert.equal(e.code, want, `error ${code}`);
      assert.equal(e.transient, transient, `error ${code} transient`);
      assert.equal(e.providerCode, code);
      assert.equal(e.message, `SMSAPI error ${code}: text ${code}`);
    }
  });

  it('maps HttpError statuses, network failures and unreadable answers', () => {
    const http = (status: number, body = '') =>
      mapSmsapiError({ name: 'HttpError', status, statusText: 'X', responseBody: body });
    assert.equal(http(401).code, 'SMS_AUTH');
    assert.equal(http(403).code, 'SMS_AUTH');
    const r = http(429);
    assert.equal(r.code, 'SMS_RATE_LIMITED');
    assert.equal(r.transient, true);
    assert.equal(http(500).transient, true);
    assert.equal(http(503).code, 'SMS_PROVIDER');
    assert.equal(http(400).transient, false);
    assert.match(http(401, '{"message":"Authorization failed"}').message, /401: Authorization failed/);
    const net = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    assert.equal(mapSmsapiError(net).code, 'SMS_NETWORK');
    assert.equal(mapSmsapiError(net).transient, true);
    const bad = mapSmsapiError(new SyntaxError('Unexpected end of JSON input'));
    assert.equal(bad.code, 'SMS_PROVIDER');
    assert.equal(bad.transient, true);
  });

  it('service URLs: default, trailing slash stripped, http(s) only, no credentials in the URL', () => {
    assert.equal(serviceUrl(''), 'https://smsapi.io/api');
    assert.equal(serviceUrl('https://api.smsapi.pl/'), 'https://api.smsapi.pl');
    assert.throws(
      () => serviceUrl('ftp://x'),
      (e: SmsError) => e.code === 'SMS_CONFIG',
    );
    assert.throws(
      () => serviceUrl('not a url'),
      (e: SmsError) => e.code === 'SMS_CONFIG',
    );
    assert.throws(() => serviceUrl('https://u:p@api.smsapi.pl'), /credentials/);
  });

  it('an account without a token constructs, and every send fails with SMS_CONFIG and reaches nothing', async () => {
    const p = new SmsapiProvider({ url: fake.url });
    const before = fake.requests.length;
    await assert.rejects(
      () => p.send(request(), new AbortController().signal),
      (e: SmsError) => e.code === 'SMS_CONFIG' && !e.transient && /no OAuth token/.test(e.message),
    );
    assert.equal(fake.requests.length, before);
  });

  it('sends with a fresh details object per call: from, test, max_parts, normalize, idx + check_idx', async () => {
    const p = new SmsapiProvider(
      { url: fake.url, token: 'tok', from: 'Alert', test: true },
      { maxParts: 2, normalize: true },
    );
    const signal = new AbortController().signal;
    const r1 = await p.send(request({ from: 'Node' }), signal);
    await p.send(request({ text: 'second' }), signal);
    assert.equal(r1.test, true);
    assert.equal(r1.status, 'QUEUE');
    assert.equal(r1.ids.length, 1);
    const [a, b] = fake.smsRequests.map((q) => q.body!);
    assert.equal(a.from, 'Node', "the node's sender wins");
    assert.equal(b.from, 'Alert');
    assert.equal(a.test, true);
    assert.equal(a.max_parts, 2);
    assert.equal(a.normalize, true);
    assert.equal(a.check_idx, true);
    assert.notEqual(a.idx, b.idx, 'a fresh idx per SMS');
    assert.equal(b.message, 'second');
    assert.equal(fake.tested.length, 2);
  });

  it('error 53 on a retry means the first attempt went through: success, nothing sent twice', async () => {
    const p = new SmsapiProvider({ url: fake.url, token: 'tok' });
    const signal = new AbortController().signal;
    const req = { ...request(), sendId: 'nrabc123' };
    const first = await p.send(req, signal);
    assert.equal(first.ids.length, 1);
    const again = await p.send({ ...req, attempt: 1 }, signal);
    assert.deepEqual(again.ids, []);
    assert.equal(again.status, 'ACCEPTED');
    assert.equal(fake.accepted.length, 1);
    await assert.rejects(p.send({ ...req, attempt: 0 }, signal), (e: SmsError) => e.providerCode === 53);
  });

  it('test connection reads /profile and sends nothing', async () => {
    const ok = await testSmsapiAccount(
      { url: fake.url, token: 'tok', test: true },
      new AbortController().signal,
    );
    assert.match(ok, /^demo · 1000 points · test mode$/);
    await assert.rejects(
      testSmsapiAccount({ url: fake.url, token: 'bad' }, new AbortController().signal),
      (e: SmsError) => e.code === 'SMS_AUTH',
    );
    await assert.rejects(
      testSmsapiAccount({ url: fake.url }, new AbortController().signal),
      (e: SmsError) => e.code === 'SMS_CONFIG',
    );
    assert.equal(fake.smsRequests.length, 0);
  });

  it('a redirect is never followed with the token, not even to the same host: a clear, permanent error', async () => {
    const seen: { url?: string; auth?: string }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ url: req.url, auth: req.headers.authorization });
      req.resume();
      if (req.url?.startsWith('/moved'))
        res.end('{"count":1,"list":[{"id":"x","points":1,"status":"QUEUE"}]}');
      else res.writeHead(307, { location: '/moved' + (req.url ?? '') }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const p = new SmsapiProvider({ url: `http://127.0.0.1:${port}`, token: 'tok' });
      await assert.rejects(
        p.send(request(), new AbortController().signal),
        (e: SmsError) => e.code === 'SMS_PROVIDER' && !e.transient && /redirect/.test(e.message),
      );
      assert.equal(seen.length, 1, 'one request, to the configured address');
      assert.ok(!seen.some((r) => r.url?.startsWith('/moved')), 'the redirect was not followed');
    } finally {
      server.close();
    }
  });

  it('an unreachable service is SMS_NETWORK (transient)', async () => {
    const url = fake.url;
    await fake.close();
    const p = new SmsapiProvider({ url, token: 'tok' });
    await assert.rejects(
      p.send(request(), new AbortController().signal),
      (e: SmsError) => e.code === 'SMS_NETWORK' && e.transient,
    );
  });
});
