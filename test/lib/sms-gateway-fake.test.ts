/** The fake must be faithful to the gateway's documentation: check it on its own. */
import assert from 'assert';
import { WebSocket } from 'ws';
import { waitFor } from '../helpers';
import { FakeSmsGateway, GOOD_KEY } from '../fakes/sms-gateway';
import { ManualClock } from '../clock';

function open(url: string): Promise<{ ws: WebSocket; frames: unknown[]; closed: Promise<number> }> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/ws');
  const frames: unknown[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ ws, frames, closed }));
    ws.on('error', reject);
  });
}

async function post(url: string, key: string | undefined, body?: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') };
}

describe('test/fakes/sms-gateway (faithful to the docs)', () => {
  let fake: FakeSmsGateway;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock(Date.now());
    fake = await new FakeSmsGateway({ pingIntervalMs: 20, clock }).start();
  });
  afterEach(() => fake.close());

  it('WS auth errors: exact texts, then close 1008', async () => {
    for (const [frame, error] of [
      ['not json', 'Invalid JSON'],
      ['{"type":"hello"}', 'Send auth first'],
      ['{"type":"auth","apiKey":"sgw_nope"}', 'Invalid API key'],
      ['{"type":"auth","token":"wst_nope"}', 'Invalid or expired token'],
    ]) {
      const c = await open(fake.url);
      c.ws.send(frame);
      assert.strictEqual(await c.closed, 1008);
      assert.deepStrictEqual(c.frames, [{ type: 'auth_error', error }]);
    }
  });

  it('tokens are single use and expire after 60 s; auth_ok then pings', async () => {
    const { body } = await post(`${fake.url}/v1/ws/token`, GOOD_KEY);
    assert.match(body.token, /^wst_[0-9a-f]{64}$/);
    assert.strictEqual(body.expiresIn, 60);
    const a = await open(fake.url);
    a.ws.send(JSON.stringify({ type: 'auth', token: body.token }));
    await waitFor(() => a.frames.length >= 2);
    assert.deepStrictEqual(a.frames.slice(0, 2), [{ type: 'auth_ok' }, { type: 'ping' }]);
    const b = await open(fake.url);
    b.ws.send(JSON.stringify({ type: 'auth', token: body.token }));
    assert.strictEqual(await b.closed, 1008, 'consumed');
    const late = (await post(`${fake.url}/v1/ws/token`, GOOD_KEY)).body.token;
    clock.advance(60_000);
    const c = await open(fake.url);
    c.ws.send(JSON.stringify({ type: 'auth', token: late }));
    assert.strictEqual(await c.closed, 1008, 'expired');
    a.ws.close();
  });

  it('REST errors as documented', async () => {
    const send = `${fake.url}/v1/sms/send`;
    assert.deepStrictEqual((await post(send, undefined, {})).body, { error: 'Missing or invalid API key' });
    assert.deepStrictEqual(await post(send, 'sgw_x', {}), {
      status: 401,
      body: { error: 'Invalid API key' },
      retryAfter: null,
    });
    assert.deepStrictEqual((await post(send, GOOD_KEY, { to: '+1555' })).body, {
      error: 'to, from, and body are required',
    });
    assert.deepStrictEqual(
      (await post(send, GOOD_KEY, { to: '5551234567', from: '+15559876543', body: 'x' })).body,
      {
        error: 'to and from must be valid E.164 phone numbers',
      },
    );
    assert.deepStrictEqual(
      (await post(send, GOOD_KEY, { to: '+15551234567', from: '+15559876543', body: 'x'.repeat(1601) })).body,
      {
        error: 'body must be 1-1600 characters',
      },
    );
    const ok = await post(send, GOOD_KEY, { to: '+15551234567', from: '+15559876543', body: 'hi' });
    assert.strictEqual(ok.status, 202);
    assert.strictEqual(ok.body.status, 'queued');
    const status = await fetch(`${fake.url}/v1/sms/status/${ok.body.messageId}`, {
      headers: { authorization: `Bearer ${GOOD_KEY}` },
    });
    assert.strictEqual((await status.json()).status, 'queued');
    fake.suspend(GOOD_KEY);
    assert.deepStrictEqual((await post(send, GOOD_KEY, {})).body, { error: 'Tenant suspended or inactive' });
  });

  it('THE IP LOCKOUT: 10 failed auths in 5 min → every request and upgrade refused for 15 min', async () => {
    for (let i = 0; i < 9; i++) {
      await post(`${fake.url}/v1/ws/token`, 'sgw_bad');
      clock.advance(10_000);
    }
    assert.ok(!fake.isLocked());
    await post(`${fake.url}/v1/ws/token`, 'sgw_bad');
    assert.ok(fake.isLocked());
    const refused = await post(`${fake.url}/v1/ws/token`, GOOD_KEY);
    assert.strictEqual(refused.status, 429);
    assert.strictEqual(refused.retryAfter, String(15 * 60));
    await assert.rejects(open(fake.url), /429/);
    clock.advance(15 * 60_000);
    assert.strictEqual((await post(`${fake.url}/v1/ws/token`, GOOD_KEY)).status, 200);
    assert.strictEqual(fake.lockouts.length, 1);
  });

  it('failures older than 5 min do not count', async () => {
    for (let i = 0; i < 15; i++) {
      await post(`${fake.url}/v1/ws/token`, 'sgw_bad');
      clock.advance(40_000); // 7.5 per 5 min
    }
    assert.strictEqual(fake.lockouts.length, 0);
  });

  it('sends emit sms_status queued → sending → sent (or failed) when asked to', async () => {
    await fake.close();
    fake = await new FakeSmsGateway({
      pingIntervalMs: 0,
      statusProgression: { delaysMs: [1, 2, 3] },
      failTo: ['+15550000000'],
    }).start();
    const c = await open(fake.url);
    c.ws.send(JSON.stringify({ type: 'auth', apiKey: GOOD_KEY }));
    await waitFor(() => c.frames.length === 1, 2000, 'auth_ok');
    const a = await post(`${fake.url}/v1/sms/send`, GOOD_KEY, {
      to: '+15551234567',
      from: '+15559876543',
      body: 'a',
    });
    const b = await post(`${fake.url}/v1/sms/send`, GOOD_KEY, {
      to: '+15550000000',
      from: '+15559876543',
      body: 'b',
    });
    await waitFor(() => c.frames.length === 7);
    const byId = (id: string) =>
      c.frames
        .filter((f) => (f as { messageId?: string }).messageId === id)
        .map((f) => (f as { status: string }).status);
    assert.deepStrictEqual(byId(a.body.messageId), ['queued', 'sending', 'sent']);
    assert.deepStrictEqual(byId(b.body.messageId), ['queued', 'sending', 'failed']);
    c.ws.close();
  });

  it('rate limit: 100 requests / 60 s per key → 429 with Retry-After', async () => {
    for (let i = 0; i < 100; i++)
      assert.strictEqual((await post(`${fake.url}/v1/ws/token`, GOOD_KEY)).status, 200);
    const limited = await post(`${fake.url}/v1/ws/token`, GOOD_KEY);
    assert.deepStrictEqual(limited, { status: 429, body: { error: 'Too many requests' }, retryAfter: '60' });
    clock.advance(60_000);
    assert.strictEqual((await post(`${fake.url}/v1/ws/token`, GOOD_KEY)).status, 200);
  });
});
