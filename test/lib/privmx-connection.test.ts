import assert from 'assert';
import sinon from 'sinon';
import WebSocket from 'ws';
import type { ConnectionState } from '../../nodes/lib/connection';
import {
  coversSolution,
  missingScope,
  PrivmxConnection,
  privmxEndpoints,
  PrivmxOptions,
  solutionScope,
} from '../../nodes/lib/privmx/connection';
import type { PrivmxChannel } from '../../nodes/lib/privmx/envelope';
import type { Notification, PrivmxUser } from '../../nodes/lib/privmx/subscriber';
import type { EventMessage } from '../../nodes/lib/envelope';
import { JsonRpcClient } from '../../nodes/lib/privmx/jsonrpc';
import { fakeEvents, FakePrivmxBridge, startFakeBridge } from '../fakes/privmx-bridge';
import { delay, waitFor } from '../helpers';
import { FAST } from './privmx-fast';

class User implements PrivmxUser {
  states: ConnectionState[] = [];
  events: Array<{ type: string; id?: string }> = [];
  constructor(readonly channels: PrivmxChannel[]) {}
  onConnectionState(s: ConnectionState) {
    this.states.push(s);
  }
  wants(n: Notification) {
    return this.channels.includes(n.channel);
  }
  deliver(msg: EventMessage) {
    this.events.push({ type: msg.event.type, id: (msg.payload as { data?: { id?: string } }).data?.id });
  }
}

describe('lib/privmx connection helpers', () => {
  it('derives the endpoints: path ends with /api, no query string, ws(s) for http(s)', () => {
    assert.deepStrictEqual(privmxEndpoints('http://localhost:9111'), {
      httpUrl: 'http://localhost:9111/api',
      wsUrl: 'ws://localhost:9111/api',
      display: 'http://localhost:9111/api',
    });
    assert.strictEqual(
      privmxEndpoints('https://bridge.example.com/privmx/').wsUrl,
      'wss://bridge.example.com/privmx/api',
    );
    assert.strictEqual(privmxEndpoints(' http://h:1/api?token=x#y ').wsUrl, 'ws://h:1/api');
    assert.strictEqual(privmxEndpoints('wss://h/api').httpUrl, 'https://h/api');
    assert.strictEqual(privmxEndpoints('http://u:p@h/').display, 'http://h/api');
    assert.throws(
      () => privmxEndpoints('ftp://h'),
      (e: { code: string; permanent: boolean }) => e.code === 'CONFIG' && e.permanent,
    );
    assert.throws(() => privmxEndpoints('localhost:9111x'), /invalid Bridge URL|unsupported/);
    assert.throws(() => privmxEndpoints(''), /invalid Bridge URL/);
  });

  it('solution scopes and missing-scope names', () => {
    assert.strictEqual(solutionScope(''), 'solution:*');
    assert.strictEqual(solutionScope(' abc '), 'solution:abc');
    assert.ok(coversSolution(['thread', 'solution:x'], ''));
    assert.ok(!coversSolution(['thread', 'solution'], ''));
    assert.ok(coversSolution(['solution:*'], 'abc'));
    assert.ok(!coversSolution(['solution:x'], 'abc'));
    assert.strictEqual(missingScope('Cannot use solution=*'), 'solution:*');
    assert.strictEqual(missingScope('Cannot use store'), 'store');
    assert.strictEqual(missingScope('kvdb'), 'kvdb');
    assert.strictEqual(missingScope(null), undefined);
  });
});

describe('lib/privmx PrivmxConnection against the fake Bridge', function () {
  this.timeout(10_000);
  let fake: FakePrivmxBridge;
  let keyId: string;
  let secret: string;
  let conn: PrivmxConnection | undefined;
  const warned: string[] = [];

  function connect(extra: Partial<PrivmxOptions> = {}, settings: Record<string, string> = {}) {
    conn = new PrivmxConnection(
      { url: fake.url, apiKeyId: keyId, apiKeySecret: secret, ...settings },
      { warn: (_kind, m) => warned.push(m) },
      { ...FAST, ...extra },
    );
    return conn;
  }

  afterEach(async () => {
    sinon.restore();
    await conn?.close();
    conn = undefined;
    warned.length = 0;
    await fake?.close();
  });

  it('an expired bound token (24879) on a live change is healed by refresh + re-bind', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const c = connect();
    const a = new User(['thread']);
    const b = new User(['thread', 'store']);
    c.register(a);
    c.register(b);
    await waitFor(() => c.state.phase === 'subscribed' && fake.subscriptions()[0]?.length === 2);
    fake.expireTokens('access');
    await c.deregister(b);
    await waitFor(() => fake.subscriptions()[0]?.length === 1, 3000, 'unsubscribed store');
    assert.strictEqual(fake.stats.authCalls.refresh_token, 1);
    assert.strictEqual(fake.stats.connections, 1);
    assert.deepStrictEqual(c.subscribedChannels, ['thread']);
  });

  it('after its server session was evicted (16-session cap) it falls back to the credentials', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const c = connect();
    c.register(new User(['thread']));
    await waitFor(() => c.state.phase === 'subscribed');
    for (let i = 0; i < 16; i++) {
      await fetch(`${fake.url}/api`, {
        method: 'POST',
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: i,
          method: 'manager/auth',
          params: { grantType: 'api_key_credentials', apiKeyId: keyId, apiKeySecret: secret },
        }),
      });
    }
    fake.dropAll();
    await waitFor(() => fake.stats.connections === 2 && c.state.phase === 'subscribed', 3000, 'back');
    assert.strictEqual(fake.stats.authCalls.refresh_token, 1, 'tried the refresh token first');
    assert.strictEqual(fake.stats.authCalls.api_key_credentials, 18);
    assert.strictEqual(c.credentialAuths, 2);
  });

  it('refreshes at 80% of the access token life, then re-binds', async () => {
    ({ fake, keyId, secret } = await startFakeBridge({ accessTokenLifetimeMs: 1000 }));
    const c = connect();
    c.register(new User(['thread']));
    await waitFor(() => fake.stats.authCalls.refresh_token === 1, 3000, 'refreshed');
    await waitFor(() => fake.stats.bindCalls === 2, 1000, 're-bound');
    const auths = fake.requests.filter((r) => r.method === 'manager/auth');
    assert.deepStrictEqual(
      auths.map((r) => r.params.grantType),
      ['api_key_credentials', 'refresh_token'],
    );
    const waited = auths[1].at - auths[0].at;
    assert.ok(waited >= 780, `refreshed after ${waited} ms, not before 80% of 1000 ms`);
    const binds = fake.requests.filter((r) => r.method === 'manager/bindAccessToken');
    assert.ok(binds[1].at >= auths[1].at, 'bound right after the refresh');
    assert.strictEqual(binds[1].params.accessToken, '***', 'the fake never records tokens');
  });

  it('an unthrottled burst arrives complete and in order, with the socket paused between ticks', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const pause = sinon.spy(WebSocket.prototype, 'pause');
    const c = connect({ burstFrames: 16 });
    const u = new User(['thread']);
    c.register(u);
    await waitFor(() => c.state.phase === 'subscribed');
    for (let i = 0; i < 3000; i++) fake.emit(fakeEvents.threadNewMessage({ id: String(i) }));
    await waitFor(() => u.events.length === 3000, 5000, 'all events');
    assert.ok(u.events.every((e, i) => e.id === String(i)));
    assert.ok(pause.called, 'paused the socket');
    assert.strictEqual(fake.socketCount, 1);
  });

  it('frames ws has already read are held unparsed after a pause: at most burstFrames become events per tick', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const c = connect({ burstFrames: 16 });
    const u = new User(['thread']);
    let batch = 0;
    let largest = 0;
    const deliver = u.deliver.bind(u);
    u.deliver = (msg) => {
      // one synchronous run of the socket's handlers: counted until the next tick
      if (batch++ === 0) process.nextTick(() => ((largest = Math.max(largest, batch)), (batch = 0)));
      deliver(msg);
    };
    c.register(u);
    await waitFor(() => c.state.phase === 'subscribed');
    for (let i = 0; i < 3000; i++) fake.emit(fakeEvents.threadNewMessage({ id: String(i) }));
    await waitFor(() => u.events.length === 3000, 5000, 'all events');
    assert.ok(
      u.events.every((e, i) => e.id === String(i)),
      'in order',
    );
    assert.ok(largest >= 1 && largest <= 16, `at most 16 events in one tick, got ${largest}`);
  });

  it('frames held at a pause are all delivered, in order, when the Bridge closes the link right after them', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const c = connect({ burstFrames: 4 });
    const u = new User(['thread']);
    c.register(u);
    await waitFor(() => c.state.phase === 'subscribed');
    for (let i = 0; i < 500; i++) fake.emit(fakeEvents.threadNewMessage({ id: String(i) }));
    fake.closeAll(1012, 'service restart');
    await waitFor(() => u.events.length === 500, 5000, 'all events before the close');
    assert.ok(
      u.events.every((e, i) => e.id === String(i)),
      'in order',
    );
    await waitFor(() => c.state.phase === 'subscribed' && fake.stats.connections === 2, 5000, 'reconnected');
  });

  it('users registered while authenticating are subscribed too', async () => {
    ({ fake, keyId, secret } = await startFakeBridge({ responseJitterMs: 20 }));
    const c = connect();
    c.register(new User(['kvdb']));
    await waitFor(() => c.state.phase === 'authenticating');
    c.register(new User(['stream']));
    await waitFor(() => fake.subscriptions()[0]?.length === 2, 3000, 'union');
    assert.deepStrictEqual(fake.subscriptions(), [['stream', 'kvdb']]);
    assert.strictEqual(fake.stats.connections, 1);
  });

  it('a bad URL or missing credentials fail permanently without touching the network', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const c = connect({}, { url: 'not a url' });
    const u = new User(['thread']);
    c.register(u);
    await waitFor(() => c.state.phase === 'error');
    assert.strictEqual(c.state.code, 'CONFIG');
    await c.close();
    const d = connect({}, { apiKeySecret: '' });
    d.register(new User(['thread']));
    await waitFor(() => d.state.phase === 'error');
    assert.strictEqual(d.state.reason, 'API key id and secret are not set');
    assert.strictEqual(fake.stats.connections, 0);
  });

  it('an unreachable Bridge backs off with the network reason', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const c = connect({}, { url: 'http://127.0.0.1:1' });
    const u = new User(['thread']);
    c.register(u);
    await waitFor(() => u.states.filter((s) => s.phase === 'backoff').length >= 2, 3000, 'two backoffs');
    const s = u.states.find((x) => x.phase === 'backoff')!;
    assert.match(s.reason!, /ECONNREFUSED/);
    assert.ok(!s.permanent);
  });

  it('a Bridge that stops answering requests times out and reconnects', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const c = connect({ requestTimeoutMs: 500 });
    const u = new User(['thread']);
    c.register(u);
    await waitFor(() => c.state.phase === 'subscribed');
    fake.stall();
    // a live change needs an answer: none comes, the request times out, the session restarts
    c.register(new User(['store']));
    await waitFor(() => u.states.some((s) => s.code === 'TIMEOUT'), 3000, 'timeout');
    await waitFor(() => c.state.phase === 'subscribed' && fake.stats.connections === 2, 3000, 'reconnected');
    assert.deepStrictEqual(fake.subscriptions(), [['thread', 'store']]);
  });

  it('closing while the socket is still opening leaves nothing behind', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const c = connect();
    c.register(new User(['thread']));
    await c.close();
    assert.strictEqual(c.state.phase, 'closed');
    await delay(50); // a socket opened late would be counted by now
    // the server notices a close a moment after the client: wait for it rather than for a fixed time
    await waitFor(() => fake.socketCount === 0, 5000, 'no socket left');
    assert.strictEqual(fake.socketCount, 0);
  });

  it('bind refused (21) right after a credentials auth is permanent; after a refresh it falls back to credentials', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const c = connect();
    c.register(new User(['thread']));
    await waitFor(() => c.state.phase === 'subscribed');
    // reconnect: the refresh works but its token is refused → a credentials auth, then all is well
    fake.failNext('manager/bindAccessToken', 21);
    fake.dropAll();
    await waitFor(() => fake.stats.connections === 2 && c.state.phase === 'subscribed', 3000, 'recovered');
    assert.strictEqual(fake.stats.authCalls.refresh_token, 1);
    assert.strictEqual(fake.stats.authCalls.api_key_credentials, 2);
    await c.close();

    // a new connection would start from c's saved refresh token: revoked, so it authenticates with the credentials
    fake.revokeAllSessions();
    const d = connect();
    fake.failNext('manager/bindAccessToken', 21);
    d.register(new User(['thread']));
    await waitFor(() => d.state.phase === 'error', 3000, 'error');
    assert.strictEqual(d.state.code, 'AUTH');
    assert.match(d.state.reason!, /rejected a token it has just issued/);
  });

  it('a granted scope without a solution is a clear permanent error', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    // a Bridge that grants less than asked: strip the solution scope from every auth answer
    const c = connect();
    const handle = JsonRpcClient.prototype.handle;
    sinon.stub(JsonRpcClient.prototype, 'handle').callsFake(function (this: JsonRpcClient, frame) {
      const result = (frame as { result?: { accessToken?: unknown; scope?: unknown } }).result;
      if (result?.accessToken && Array.isArray(result.scope))
        result.scope = result.scope.filter((x: unknown) => x !== 'solution:*');
      return handle.call(this, frame);
    });
    c.register(new User(['thread']));
    await waitFor(() => c.state.phase === 'error', 3000, 'error');
    assert.strictEqual(c.state.code, 'SCOPE');
    assert.match(c.state.reason!, /no "solution:\*" scope/);
    assert.ok(warned.some((w) => w.includes('solution scope')));
  });
  it('a frame over maxFrameBytes is logged once and skipped; the link stays and events keep coming', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    const c = connect({ maxFrameBytes: 4096 });
    const user = new User(['thread']);
    c.register(user);
    await waitFor(() => c.state.phase === 'subscribed');
    const big = fakeEvents.threadNewMessage({ id: 'big', publicMeta: { blob: 'x'.repeat(8192) } });
    fake.emit(big);
    fake.emit(big);
    fake.emit(fakeEvents.threadNewMessage({ id: 'small' }));
    await waitFor(() => user.events.length === 1, 3000, 'the small event');
    assert.deepStrictEqual(
      user.events.map((e) => e.id),
      ['small'],
    );
    // reported under one kind (the node's OnceLogger logs it once)
    assert.strictEqual(warned.filter((w) => /frame of \d+ bytes \(limit 4096\)/.test(w)).length, 2);
    assert.strictEqual(fake.stats.connections, 1);
    assert.strictEqual(c.state.phase, 'subscribed');
  });
  it('a new connection with the same settings (a redeploy) starts from the saved refresh token: no new server session', async () => {
    ({ fake, keyId, secret } = await startFakeBridge());
    for (let i = 0; i < 20; i++) {
      const c = connect();
      c.register(new User(['thread']));
      await waitFor(() => c.state.phase === 'subscribed' && fake.subscriptions().length === 1);
      await c.close();
      conn = undefined;
    }
    assert.strictEqual(fake.stats.authCalls.api_key_credentials, 1, 'one server session for 20 connections');
    assert.strictEqual(fake.stats.authCalls.refresh_token, 19);
    assert.strictEqual(fake.sessionCount(keyId), 1);
    // another secret (or URL, key, solution) is another entry: never a token of other settings
    const other = connect({}, { apiKeySecret: 'not-the-secret' });
    other.register(new User(['thread']));
    await waitFor(() => other.state.phase === 'error', 3000, 'refused');
    assert.strictEqual(fake.stats.authCalls.refresh_token, 19);
  });
});
