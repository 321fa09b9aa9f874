/**
 * The pieces of the "Test connection" rule without Node-RED: destinations, credential resolution,
 * request checks, URL redaction, and the requests that carry a secret refusing redirects (the sink
 * paths too, not only the tests).
 */
import assert from 'node:assert/strict';
import http from 'http';
import type { AddressInfo } from 'net';
import {
  destinationOf,
  parseTestRequest,
  PASSWORD_PLACEHOLDER,
  resolveCredentials,
  sameDestination,
} from '../../nodes/lib/admin';
import { CpaasAuth } from '../../nodes/lib/cpaas/auth';
import { DESTINATIONS } from '../../nodes/lib/destinations';
import { httpRpc } from '../../nodes/lib/privmx/jsonrpc';
import { redactUrl, redirectRefused } from '../../nodes/lib/safe-url';
import { SmsError } from '../../nodes/lib/sms/errors';
import { connectionStatus } from '../../nodes/lib/status';
import { GatewayProvider } from '../../nodes/lib/sms-gateway/provider';
import { AuthGuard } from '../../nodes/lib/sms-gateway/auth-guard';

const same = (type: keyof typeof DESTINATIONS, a: object, b: object) =>
  sameDestination(destinationOf(DESTINATIONS[type], a), destinationOf(DESTINATIONS[type], b));

describe('admin: destinations', () => {
  it('compares what the node uses, normalised', () => {
    assert.ok(same('sms-gateway', { url: ' https://gw.example/ ' }, { url: 'https://gw.example' }));
    assert.ok(
      same('sms-gateway', { url: '' }, { url: 'https://smsgateway-api.onrender.com' }),
      'the default',
    );
    assert.ok(!same('sms-gateway', { url: 'https://gw.example' }, { url: 'https://gw.example:8443' }));
    assert.ok(
      same('sms-gateway', { url: 'https://gw.example', wsAuth: 'apiKey' }, { url: 'https://gw.example' }),
    );
    assert.ok(
      same('pbxware-server', { url: 'https://pbx', tenant: 59 }, { url: 'https://pbx/', tenant: '59' }),
    );
    assert.ok(
      !same('pbxware-server', { url: 'https://pbx', tenant: '59' }, { url: 'https://pbx', tenant: '60' }),
    );
    assert.ok(!same('kandy-cpaas', { url: 'https://c', clientId: 'a' }, { url: 'https://c', clientId: 'b' }));
    assert.ok(
      same(
        'kandy-cpaas',
        { url: 'https://c', clientId: 'a' },
        { url: 'https://c', clientId: 'a', auth: 'x' },
      ),
    );
    assert.ok(
      !same('kandy-cpaas', { url: 'https://c', auth: 'user' }, { url: 'https://c', auth: 'project' }),
    );
    assert.ok(
      same('privmx-bridge', { url: 'http://b:9111', solutionId: 's1' }, { url: 'http://b:9111/api' }),
    );
    assert.ok(!same('privmx-bridge', { url: 'http://b:9111' }, { url: 'http://u:p@b:9111' }));
    // Redis: the URL as the node uses it; the key prefix and onError change nothing about where it goes
    assert.ok(
      same(
        'sms-cluster',
        { url: ' redis://r:6379/0 ', prefix: 'a:' },
        { url: 'redis://r:6379/0', onError: 'hold' },
      ),
    );
    assert.ok(!same('sms-cluster', { url: 'redis://r:6379' }, { url: 'rediss://r:6379' }));
    assert.ok(!same('sms-cluster', { url: 'redis://r:6379' }, { url: 'redis://r:6380' }));
    assert.ok(!same('sms-cluster', { url: 'http://r:6379' }, { url: 'http://r:6379' }), 'not Redis');
  });

  it('compares the proxy of every type, and an invalid URL never matches, not even itself', () => {
    assert.ok(same('smsapi-account', { url: '' }, { url: '', proxy: '' }));
    assert.ok(!same('smsapi-account', { url: '' }, { url: '', proxy: 'p1' }));
    assert.ok(!same('esms-africa', { url: 'ftp://x' }, { url: 'ftp://x' }));
    assert.ok(!same('sms-gateway', { url: 'not a url' }, { url: 'not a url' }));
    assert.ok(!sameDestination(destinationOf(DESTINATIONS['sms-gateway'], {}), undefined), 'never deployed');
  });
});

describe('admin: resolveCredentials', () => {
  const keys = ['apiKeyId', 'apiKeySecret'];
  it('fills placeholders and empty fields from a usable stored node', () => {
    const got = resolveCredentials(
      keys,
      { apiKeyId: 'id', apiKeySecret: PASSWORD_PLACEHOLDER },
      { apiKeySecret: 's' },
    );
    assert.deepEqual(got, { apiKeyId: 'id', apiKeySecret: 's' });
    assert.deepEqual(resolveCredentials(keys, {}, { apiKeyId: 'i', apiKeySecret: 's' }), {
      apiKeyId: 'i',
      apiKeySecret: 's',
    });
  });

  it('without one: a placeholder or nothing typed means "enter the secret", typed values pass', () => {
    assert.equal(
      resolveCredentials(keys, { apiKeyId: 'id', apiKeySecret: PASSWORD_PLACEHOLDER }, undefined),
      undefined,
    );
    assert.equal(resolveCredentials(keys, { apiKeyId: '', apiKeySecret: '' }, undefined), undefined);
    assert.deepEqual(resolveCredentials(keys, { apiKeyId: 'id', apiKeySecret: 'typed' }, undefined), {
      apiKeyId: 'id',
      apiKeySecret: 'typed',
    });
    assert.deepEqual(resolveCredentials(['token'], { token: 7 }, undefined), undefined, 'only strings');
  });
});

describe('admin: parseTestRequest', () => {
  const json = { 'content-type': 'application/json; charset=utf-8' };
  it('accepts a JSON body of flat objects, onto null prototypes', () => {
    const parsed = parseTestRequest({ headers: json, body: { id: 'n1', config: { url: 'x', tenant: 5 } } });
    assert.equal(parsed.id, 'n1');
    assert.equal(Object.getPrototypeOf(parsed.config), null);
    assert.deepEqual({ ...parsed.config }, { url: 'x', tenant: 5 });
  });

  it('rejects other content types (415) and hostile shapes (400)', () => {
    const status = (req: Parameters<typeof parseTestRequest>[0]) => {
      try {
        parseTestRequest(req);
        return 200;
      } catch (err) {
        return (err as { status: number }).status;
      }
    };
    assert.equal(status({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: {} }), 415);
    assert.equal(status({ headers: {}, body: {} }), 415);
    assert.equal(status({ headers: json, body: 'x' }), 400);
    assert.equal(status({ headers: json, body: { config: 'x' } }), 400);
    assert.equal(status({ headers: json, body: { config: JSON.parse('{"__proto__":{"a":1}}') } }), 400);
    assert.equal(status({ headers: json, body: { credentials: { a: 'x'.repeat(5000) } } }), 400);
    assert.equal(status({ headers: json, body: { id: 'x'.repeat(500) } }), 400);
  });
});

describe('safe-url', () => {
  it('redacts user:pass@ anywhere in a text, and nothing else', () => {
    assert.equal(
      redactUrl('cannot reach https://alice:s3cret@h.example:8443/api: ECONNREFUSED'),
      'cannot reach https://***@h.example:8443/api: ECONNREFUSED',
    );
    assert.equal(redactUrl('ws://tok@h/ws and http://u:p@x'), 'ws://***@h/ws and http://***@x');
    assert.equal(
      redactUrl('mail bob@example.com at https://h.example/a@b'),
      'mail bob@example.com at https://h.example/a@b',
    );
  });

  it('keeps it out of connection statuses', () => {
    const t = (key: string, params?: Record<string, unknown>) => `${key} ${JSON.stringify(params ?? {})}`;
    const shown = connectionStatus(
      { phase: 'backoff', reason: 'cannot reach http://bob:Pw-9@127.0.0.1:1/api', retryAt: 0 },
      t,
    );
    assert.ok(!String(shown.text).includes('Pw-9') && String(shown.text).includes('http://***@127.0.0.1:1'));
  });

  it('names the target origin of a refused redirect, never its userinfo', () => {
    const text = redirectRefused('X', 307, 'https://u:p@other.example/path?q=1');
    assert.match(text, /redirects to https:\/\/other\.example \(HTTP 307\)/);
    assert.ok(!text.includes('u:p'));
  });
});

describe('requests carrying a secret never follow a redirect', () => {
  let target: http.Server;
  let redirector: http.Server;
  let targetUrl = '';
  let redirectUrl = '';
  const seen: string[] = [];

  before(async () => {
    target = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)} ${body}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"messageId":"m1","result":{}}');
      });
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
    redirector = http.createServer((req, res) => res.writeHead(307, { location: targetUrl + req.url }).end());
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    redirectUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
  });
  beforeEach(() => (seen.length = 0));
  after(async () => {
    await new Promise((resolve) => target.close(resolve));
    await new Promise((resolve) => redirector.close(resolve));
  });

  it('sms-gateway out: SMS_CONFIG with the reason, nothing at the target', async () => {
    const provider = new GatewayProvider({
      url: redirectUrl,
      apiKey: 'sgw_redirect_key',
      from: '+15559876543',
      guard: new AuthGuard(),
    });
    const err = await provider
      .send(
        { to: '+15551234567', text: 'x', encoding: 'GSM-7', parts: 1, msg: {}, attempt: 0 },
        AbortSignal.timeout(5000),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof SmsError && err.code === 'SMS_CONFIG', String(err));
    assert.match(err.message, /redirects to http:\/\/127\.0\.0\.1:\d+ \(HTTP 307\)/);
    assert.deepEqual(seen, []);
  });

  it('CPaaS token grant: SMS_CONFIG, the password never re-sent', async () => {
    const auth = new CpaasAuth({
      url: redirectUrl,
      clientId: 'c',
      auth: 'user',
      email: 'e@x',
      password: 'pw-redir',
    });
    try {
      await assert.rejects(
        auth.getToken(),
        (e: SmsError) => e.code === 'SMS_CONFIG' && /redirects/.test(e.message),
      );
    } finally {
      auth.close();
    }
    assert.deepEqual(seen, []);
  });

  it('Bridge JSON-RPC over HTTP: a clear error, the secret never re-sent', async () => {
    await assert.rejects(
      httpRpc(`${redirectUrl}/api`, 'manager/auth', { apiKeySecret: 'bridge-redir' }),
      /redirects to .*HTTP 307/,
    );
    assert.deepEqual(seen, []);
  });
});
