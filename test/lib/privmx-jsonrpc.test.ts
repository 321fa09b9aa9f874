import assert from 'assert';
import WebSocket from 'ws';
import { httpRpc, JsonRpcClient, JsonRpcError, RpcTransportError } from '../../nodes/lib/privmx/jsonrpc';
import { FakePrivmxBridge, startFakeBridge } from '../fakes/privmx-bridge';
import { ManualClock } from '../clock';
import { waitFor } from '../helpers';

describe('lib/privmx jsonrpc client', () => {
  function loopback() {
    const sent: Array<{ id: number; method: string; params: unknown }> = [];
    const client = new JsonRpcClient((text) => sent.push(JSON.parse(text)), { timeoutMs: 200 });
    return { sent, client };
  }

  it('matches concurrent answers by id, in any order', async () => {
    const { sent, client } = loopback();
    const a = client.call('m/a', { n: 1 });
    const b = client.call('m/b', { n: 2 });
    const c = client.call('m/c', { n: 3 });
    assert.deepStrictEqual(
      sent.map((s) => s.method),
      ['m/a', 'm/b', 'm/c'],
    );
    assert.ok(sent.every((s) => (s as unknown as { jsonrpc: string }).jsonrpc === '2.0'));
    assert.strictEqual(client.handle({ jsonrpc: '2.0', id: sent[2].id, result: 'C' }), 'matched');
    assert.strictEqual(
      client.handle({
        jsonrpc: '2.0',
        id: sent[0].id,
        error: { code: 24878, message: 'Insufficient scope', data: 'thread' },
      }),
      'matched',
    );
    assert.strictEqual(client.handle({ jsonrpc: '2.0', id: sent[1].id, result: { ok: 1 } }), 'matched');
    assert.strictEqual(await c, 'C');
    assert.deepStrictEqual(await b, { ok: 1 });
    await assert.rejects(
      a,
      (err: JsonRpcError) => err instanceof JsonRpcError && err.code === 24878 && err.data === 'thread',
    );
    assert.strictEqual(client.pendingCount, 0);
  });

  it('times out per request; a late answer is an unknown id', async () => {
    const { sent, client } = loopback();
    const slow = client.call('m/slow', {}, 30);
    const fast = client.call('m/fast', {}, 1000);
    await assert.rejects(
      slow,
      (err: RpcTransportError) => err instanceof RpcTransportError && err.code === 'TIMEOUT',
    );
    assert.strictEqual(client.handle({ jsonrpc: '2.0', id: sent[0].id, result: 'late' }), 'unknown-id');
    client.handle({ jsonrpc: '2.0', id: sent[1].id, result: 'ok' });
    assert.strictEqual(await fast, 'ok');
  });

  it("held timeouts: a request's time stops while the source pauses, and goes on with what was left", async () => {
    const clock = new ManualClock(1_000_000);
    const sent: Array<{ id: number }> = [];
    const client = new JsonRpcClient((text) => sent.push(JSON.parse(text)), { timeoutMs: 100, clock });
    let outcome: string | undefined;
    const before = client.call('m/before', {});
    before.then(
      (v) => (outcome = `result ${String(v)}`),
      (e: RpcTransportError) => (outcome = e.code),
    );
    clock.advance(60);
    client.holdTimeouts();
    const during = client.call('m/during', {}); // sent while paused: no clock runs for it yet
    const duringDone = during.catch((e: RpcTransportError) => e.code);
    assert.strictEqual(clock.pending, 0, 'no timeout runs while held');
    clock.advance(10_000); // a long pause: nothing times out
    await Promise.resolve();
    assert.strictEqual(outcome, undefined);
    client.resumeTimeouts();
    clock.advance(39); // 'before' had 40 ms left
    await Promise.resolve();
    assert.strictEqual(outcome, undefined);
    clock.advance(1);
    await Promise.resolve();
    assert.strictEqual(outcome, 'TIMEOUT');
    // 'during' has its whole 100 ms from the resume on, and its answer is still taken
    clock.advance(50);
    assert.strictEqual(client.handle({ jsonrpc: '2.0', id: sent[1].id, result: 'ok' }), 'matched');
    assert.strictEqual(await duringDone, 'ok');
    // a held request is rejected like any other when the link goes away
    client.holdTimeouts();
    const last = client.call('m/last', {});
    client.close(new RpcTransportError('gone', 'CLOSED'));
    await assert.rejects(last, (e: RpcTransportError) => e.code === 'CLOSED');
  });

  it('classifies odd frames and rejects everything once closed', async () => {
    const { client } = loopback();
    assert.strictEqual(
      client.handle({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' } }),
      'no-id-error',
    );
    assert.strictEqual(client.handle({ jsonrpc: '2.0' }), 'invalid');
    assert.strictEqual(client.handle({ jsonrpc: '2.0', id: 'x', result: 1 }), 'unknown-id');
    const pending = client.call('m/x', {});
    client.close(new RpcTransportError('gone', 'CLOSED'));
    await assert.rejects(pending, /gone/);
    await assert.rejects(client.call('m/y', {}), /gone/);
    assert.strictEqual(client.pendingCount, 0);
  });

  it('a send that throws rejects the call at once', async () => {
    const client = new JsonRpcClient(
      () => {
        throw new Error('not open');
      },
      { timeoutMs: 1000 },
    );
    await assert.rejects(client.call('m', {}), (e: RpcTransportError) => e.code === 'CLOSED');
    assert.strictEqual(client.pendingCount, 0);
  });
});

describe('lib/privmx jsonrpc against the fake Bridge', () => {
  let fake: FakePrivmxBridge;
  let keyId: string;
  let secret: string;

  beforeEach(async () => {
    ({ fake, keyId, secret } = await startFakeBridge({ responseJitterMs: 30 }));
  });
  afterEach(async () => {
    await fake.close();
  });

  it('HTTP: auth works; WebSocket-only methods answer 24886; unknown methods -32601', async () => {
    const result = await httpRpc<{ accessToken: string; scope: string[]; accessTokenExpiry: number }>(
      `${fake.url}/api`,
      'manager/auth',
      {
        grantType: 'api_key_credentials',
        apiKeyId: keyId,
        apiKeySecret: secret,
        scope: ['thread', 'solution:*'],
      },
    );
    assert.strictEqual(typeof result.accessToken, 'string');
    assert.deepStrictEqual(result.scope, ['thread', 'solution:*']);
    assert.ok(result.accessTokenExpiry > Date.now() + 14 * 60_000);
    await assert.rejects(
      httpRpc(`${fake.url}/api`, 'manager/subscribeToChannel', { channels: ['thread'] }),
      (e: JsonRpcError) => e.code === 24886,
    );
    await assert.rejects(
      httpRpc(`${fake.url}/api`, 'manager/nope', {}),
      (e: JsonRpcError) => e.code === -32601,
    );
    await assert.rejects(
      httpRpc(`${fake.url}/api`, 'manager/auth', {
        grantType: 'api_key_credentials',
        apiKeyId: keyId,
        apiKeySecret: 'x',
      }),
      (e: JsonRpcError) => e.code === 24876,
    );
    await assert.rejects(
      httpRpc(`${fake.url}/api`, 'manager/auth', {
        grantType: 'api_key_credentials',
        apiKeyId: 'ghost',
        apiKeySecret: 'x',
      }),
      (e: JsonRpcError) => e.code === 24875,
    );
  });

  it('HTTP: a request without params is a parse error without an id', async () => {
    const res = await fetch(`${fake.url}/api`, {
      method: 'POST',
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'manager/auth' }),
    });
    assert.deepStrictEqual(await res.json(), {
      jsonrpc: '2.0',
      error: { code: -32700, message: 'Parse error', data: null },
    });
  });

  it('HTTP: unreachable and non-JSON-RPC servers give a clear transport error', async () => {
    await assert.rejects(
      httpRpc('http://127.0.0.1:1/api', 'manager/auth', {}),
      (e: RpcTransportError) => e.code === 'NETWORK',
    );
    await assert.rejects(
      httpRpc(`${fake.url}/nothing`, 'manager/auth', {}),
      (e: RpcTransportError) => e.code === 'HTTP',
    );
  });

  it('WebSocket: 20 concurrent requests answered out of order are all matched', async () => {
    const ws = new WebSocket(fake.wsUrl);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const client = new JsonRpcClient((t) => ws.send(t), { timeoutMs: 2000 });
    ws.on('message', (data) => client.handle(JSON.parse(String(data))));
    const calls = Array.from({ length: 20 }, (_, i) =>
      i % 2
        ? client
            .call('manager/subscribeToChannel', { channels: [`bogus${i}`] })
            .catch((e: JsonRpcError) => e.data)
        : client
            .call('manager/auth', {
              grantType: 'api_key_credentials',
              apiKeyId: keyId,
              apiKeySecret: secret,
              scope: [`solution:s${i}`],
            })
            .then((r) => (r as { scope: string[] }).scope[0]),
    );
    const results = await Promise.all(calls);
    results.forEach((r, i) => {
      assert.strictEqual(r, i % 2 ? 'channels -> 0 -> Expected value to be one of enums' : `solution:s${i}`);
    });
    ws.terminate();
  });

  it('WebSocket with a query string is a binary end-user socket: text frames are dropped', async () => {
    const ws = new WebSocket(`${fake.wsUrl}?x=1`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    let answered = false;
    ws.on('message', () => (answered = true));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'manager/auth', params: {} }));
    // the server handles frames in order: its pong to a later ping proves the text frame was handled
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    ws.ping();
    await pong;
    assert.strictEqual(answered, false);
    ws.terminate();
  });
});

describe('fake Bridge protocol rules', () => {
  let fake: FakePrivmxBridge;
  let keyId: string;
  let secret: string;
  afterEach(async () => {
    await fake.close();
  });

  async function socket() {
    const ws = new WebSocket(fake.wsUrl);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const client = new JsonRpcClient((t) => ws.send(t), { timeoutMs: 2000 });
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (data) => {
      const f = JSON.parse(String(data));
      if (client.handle(f) !== 'matched') frames.push(f);
    });
    return { ws, client, frames };
  }

  const creds = (scope?: string[]) => ({
    grantType: 'api_key_credentials',
    apiKeyId: keyId,
    apiKeySecret: secret,
    scope,
  });

  it('expiry: requests on a socket with an expired bound token fail 24879, subscriptions keep delivering', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const { ws, client, frames } = await socket();
    const t = (await client.call('manager/auth', creds(['thread', 'solution:*']))) as { accessToken: string };
    assert.strictEqual(await client.call('manager/bindAccessToken', { accessToken: t.accessToken }), 'OK');
    assert.strictEqual(await client.call('manager/subscribeToChannel', { channels: ['thread'] }), 'OK');
    await assert.rejects(
      client.call('manager/subscribeToChannel', { channels: ['store'] }),
      (e: JsonRpcError) => e.code === 24878 && e.data === 'store',
    );
    fake.expireTokens('access');
    await assert.rejects(
      client.call('manager/unsubscribeFromChannel', { channels: ['thread'] }),
      (e: JsonRpcError) => e.code === 24879,
    );
    fake.push('thread', 'threadStats', { threadId: 'x' });
    await waitFor(() => frames.length === 1);
    await assert.rejects(
      client.call('manager/bindAccessToken', { accessToken: t.accessToken }),
      (e: JsonRpcError) => e.code === 21,
    );
    ws.terminate();
  });

  it('a refresh revokes the old pair; the 17th session evicts the oldest', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const { ws, client } = await socket();
    const first = (await client.call('manager/auth', creds())) as {
      accessToken: string;
      refreshToken: string;
    };
    const second = (await client.call('manager/auth', {
      grantType: 'refresh_token',
      refreshToken: first.refreshToken,
    })) as {
      accessToken: string;
      refreshToken: string;
    };
    await assert.rejects(
      client.call('manager/bindAccessToken', { accessToken: first.accessToken }),
      (e: JsonRpcError) => e.code === 21,
    );
    await assert.rejects(
      client.call('manager/auth', { grantType: 'refresh_token', refreshToken: first.refreshToken }),
      (e: JsonRpcError) => e.code === 21,
    );
    assert.strictEqual(
      await client.call('manager/bindAccessToken', { accessToken: second.accessToken }),
      'OK',
    );
    for (let i = 0; i < 16; i++) await client.call('manager/auth', creds());
    assert.strictEqual(fake.sessionCount(keyId), 16);
    await assert.rejects(
      client.call('manager/auth', { grantType: 'refresh_token', refreshToken: second.refreshToken }),
      (e: JsonRpcError) => e.code === 21,
    );
    await assert.rejects(
      client.call('manager/auth', {
        grantType: 'api_key_signature',
        apiKeyId: keyId,
        signature: 'x',
        timestamp: 1,
        nonce: 'n'.repeat(32),
      }),
      (e: JsonRpcError) => e.code === 8,
    );
    await assert.rejects(
      client.call('manager/auth', { grantType: 'password' }),
      (e: JsonRpcError) => e.code === -32602,
    );
    assert.deepStrictEqual(fake.stats.authCalls, {
      api_key_credentials: 17,
      refresh_token: 3,
      api_key_signature: 1,
    });
    ws.terminate();
  });

  it('without a solution scope the subscribe succeeds but nothing is delivered', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const { ws, client, frames } = await socket();
    const t = (await client.call('manager/auth', creds(['thread']))) as { accessToken: string };
    await client.call('manager/bindAccessToken', { accessToken: t.accessToken });
    assert.strictEqual(await client.call('manager/subscribeToChannel', { channels: ['thread'] }), 'OK');
    assert.strictEqual(fake.push('thread', 'threadStats', { threadId: 'x' }), 0);
    // a pong to a later ping: a notification, had one been sent, would have arrived before it
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    ws.ping();
    await pong;
    assert.strictEqual(frames.length, 0);
    ws.terminate();
  });

  it('pings every interval and terminates a socket that answered nothing', async () => {
    ({ fake, keyId, secret } = await startFakeBridge({ pingIntervalMs: 40 }));
    const ws = new WebSocket(fake.wsUrl, { autoPong: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    let pings = 0;
    ws.on('ping', () => pings++);
    await new Promise((resolve) => ws.once('close', resolve));
    assert.ok(pings >= 1);
    assert.strictEqual(fake.stats.terminatedForSilence, 1);
  });
});
