import assert from 'assert';
import privmxNodes from '../nodes/privmx';
import type { PrivmxConnection } from '../nodes/lib/privmx/connection';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { fakeEvents, FakeBridgeOptions, FakePrivmxBridge, startFakeBridge } from './fakes/privmx-bridge';
import { ManualClock } from './clock';
import {
  activeResources,
  collect,
  helper,
  lastStatus,
  recordStatuses,
  statuses,
  tick,
  waitFor,
  warnings,
} from './helpers';

/** short timings so every scenario runs in well under a second or two */
const FAST = {
  backoff: {
    initialDelayMs: 20,
    maxDelayMs: 100,
    factor: 2,
    jitter: 0,
    permanentDelayMs: 1500,
    maxPermanentDelayMs: 3000,
  },
  deadAfterMs: 5_000,
  stableAfterMs: 60_000,
  // limits a busy machine never reaches by accident (a late answer must not look like a failure)
  requestTimeoutMs: 5_000,
  handshakeTimeoutMs: 5_000,
  closeTimeoutMs: 2_000,
  minRefreshDelayMs: 50,
};

let fake: FakePrivmxBridge;
let keyId: string;
let secret: string;

async function startFake(opts: FakeBridgeOptions = {}) {
  ({ fake, keyId, secret } = await startFakeBridge({ pingIntervalMs: 1_000, ...opts }));
}

function bridge(extra: Record<string, unknown> = {}) {
  return { id: 'b1', type: 'privmx-bridge', name: 'test bridge', url: fake.url, solutionId: '', ...extra };
}

function privmxIn(id: string, channels: string[], extra: Record<string, unknown> = {}, wire = `${id}-out`) {
  return {
    id,
    type: 'privmx in',
    bridge: 'b1',
    channels,
    types: [],
    containerIds: '',
    wires: [[wire]],
    ...extra,
  };
}

function out(id: string) {
  return { id, type: 'helper' };
}

function creds(overrides: Record<string, string> = {}) {
  return { b1: { apiKeyId: keyId, apiKeySecret: secret, ...overrides } };
}

function connectionOf(id = 'b1'): PrivmxConnection {
  return helper.getNode(id).connection as PrivmxConnection;
}

async function subscribed(id = 'b1') {
  await waitFor(() => connectionOf(id).state.phase === 'subscribed', 3000, 'subscribed');
}

describe('privmx nodes (through Node-RED, against the fake Bridge)', function () {
  this.timeout(15_000);

  beforeEach(() => {
    tuning.privmx = { ...FAST };
  });

  afterEach(async () => {
    await helper.unload();
    await fake?.close();
    resetTuning();
  });

  it("delivers events of every channel with the package's event envelope", async () => {
    await startFake();
    await helper.load(
      privmxNodes,
      [bridge(), privmxIn('in1', ['thread', 'store', 'inbox', 'stream', 'kvdb']), out('in1-out')],
      creds(),
    );
    const msgs = collect('in1-out');
    await subscribed();
    assert.deepStrictEqual(fake.subscriptions(), [['thread', 'store', 'inbox', 'stream', 'kvdb']]);

    const events = [
      fakeEvents.threadNewMessage({ id: 'm1', threadId: 't1', author: 'janek', contextId: 'c1' }),
      fakeEvents.storeFileCreated({ id: 'f1', storeId: 's1', creator: 'ola', contextId: 'c1' }),
      fakeEvents.inboxCreated({ id: 'i1', creator: 'janek', contextId: 'c1' }),
      fakeEvents.streamRoomDeleted('r1'),
      fakeEvents.kvdbNewEntry({ kvdbEntryKey: 'k1', kvdbId: 'kv1', author: 'ola', contextId: 'c1' }),
      fakeEvents.threadDeleted('t1'),
    ];
    events.forEach((e, i) => fake.emit(e, 1_795_344_357_527 + i));
    await waitFor(() => msgs.length === events.length, 3000, 'all events');

    assert.deepStrictEqual(
      msgs.map((m) => m.topic),
      [
        'privmx/thread/threadNewMessage',
        'privmx/store/storeFileCreated',
        'privmx/inbox/inboxCreated',
        'privmx/stream/streamRoomDeleted',
        'privmx/kvdb/kvdbNewEntry',
        'privmx/thread/threadDeleted',
      ],
    );
    // payload: the frame exactly as sent
    assert.deepStrictEqual(msgs[0].payload, { ...events[0], timestamp: 1_795_344_357_527 });
    const ev = msgs.map((m) => m.event);
    assert.deepStrictEqual(ev[0], {
      source: 'privmx',
      channel: 'thread',
      type: 'threadNewMessage',
      id: 'm1',
      containerId: 't1',
      contextId: 'c1',
      author: 'janek',
      timestamp: 1_795_344_357_527,
    });
    assert.deepStrictEqual(ev[1], {
      source: 'privmx',
      channel: 'store',
      type: 'storeFileCreated',
      id: 'f1',
      containerId: 's1',
      contextId: 'c1',
      author: 'ola',
      timestamp: 1_795_344_357_528,
    });
    assert.deepStrictEqual(ev[2], {
      source: 'privmx',
      channel: 'inbox',
      type: 'inboxCreated',
      containerId: 'i1',
      contextId: 'c1',
      author: 'janek',
      inboxId: 'i1',
      timestamp: 1_795_344_357_529,
    });
    assert.deepStrictEqual(ev[3], {
      source: 'privmx',
      channel: 'stream',
      type: 'streamRoomDeleted',
      containerId: 'r1',
      timestamp: 1_795_344_357_530,
    });
    assert.deepStrictEqual(ev[4], {
      source: 'privmx',
      channel: 'kvdb',
      type: 'kvdbNewEntry',
      id: 'k1',
      containerId: 'kv1',
      contextId: 'c1',
      author: 'ola',
      timestamp: 1_795_344_357_531,
    });
    assert.deepStrictEqual(ev[5], {
      source: 'privmx',
      channel: 'thread',
      type: 'threadDeleted',
      containerId: 't1',
      timestamp: 1_795_344_357_532,
    });
  });

  it('recognises an inbox entry; an inbox-only node subscribes thread and gets only inbox entries', async () => {
    await startFake();
    await helper.load(privmxNodes, [bridge(), privmxIn('in1', ['inbox']), out('in1-out')], creds());
    const msgs = collect('in1-out');
    await subscribed();
    assert.deepStrictEqual(fake.subscriptions(), [['thread', 'inbox']]);

    fake.emit(fakeEvents.threadNewMessage({ id: 'plain' }));
    fake.emit(fakeEvents.threadStats());
    fake.emit(fakeEvents.inboxEntry('inbox42', 'thread42'));
    fake.emit(fakeEvents.inboxDeleted('inbox42'));
    // a marker event: one socket keeps the order, so anything wrongly let through came before it
    fake.emit(fakeEvents.inboxDeleted('marker'));
    await waitFor(() => msgs.some((m) => m.event.inboxId === 'marker'), 3000, 'inbox messages');
    assert.strictEqual(msgs.length, 3);
    const entry = msgs[0];
    assert.strictEqual(entry.topic, 'privmx/thread/threadNewMessage');
    assert.strictEqual(entry.event.channel, 'thread');
    assert.strictEqual(entry.event.inboxId, 'inbox42');
    assert.strictEqual(entry.event.containerId, 'thread42');
    assert.strictEqual(entry.event.author, '<anonymous>');
    assert.strictEqual((entry.payload.data as Record<string, unknown>).keyId, '<inbox-inbox42>');
    assert.strictEqual(msgs[1].topic, 'privmx/inbox/inboxDeleted');
    assert.strictEqual(msgs[1].event.inboxId, 'inbox42');
  });

  it('filters by type and by container id before building a message', async () => {
    await startFake();
    await helper.load(
      privmxNodes,
      [
        bridge(),
        privmxIn('in1', ['thread', 'store'], { types: ['threadNewMessage'], containerIds: 'tA, tB' }),
        out('in1-out'),
      ],
      creds(),
    );
    const msgs = collect('in1-out');
    await subscribed();
    fake.emit(fakeEvents.threadNewMessage({ id: '1', threadId: 'tA' }));
    fake.emit(fakeEvents.threadNewMessage({ id: '2', threadId: 'tZ' }));
    fake.emit(fakeEvents.threadStats('tA'));
    fake.emit(fakeEvents.storeFileCreated({ id: '3', storeId: 'tA' }));
    fake.emit(fakeEvents.threadNewMessage({ id: '4', threadId: 'tB' }));
    // a marker event: one socket keeps the order, so anything wrongly let through came before it
    fake.emit(fakeEvents.threadNewMessage({ id: 'marker', threadId: 'tA' }));
    await waitFor(() => msgs.some((m) => m.event.id === 'marker'), 3000, 'filtered messages');
    assert.deepStrictEqual(
      msgs.map((m) => m.event.id),
      ['1', '4', 'marker'],
    );
  });

  it('two nodes share one socket and one auth, subscribe the union, and a removed node unsubscribes live', async () => {
    await startFake();
    const flow = [
      bridge(),
      privmxIn('in1', ['thread']),
      out('in1-out'),
      privmxIn('in2', ['store', 'kvdb']),
      out('in2-out'),
    ];
    await helper.load(privmxNodes, flow, creds());
    const one = collect('in1-out');
    await subscribed();
    await waitFor(() => fake.subscriptions()[0]?.length === 3, 2000, 'union');
    assert.strictEqual(fake.socketCount, 1);
    assert.strictEqual(fake.stats.connections, 1);
    assert.strictEqual(fake.stats.authCalls.api_key_credentials, 1);
    assert.deepStrictEqual(fake.subscriptions(), [['thread', 'store', 'kvdb']]);

    // partial deploy: in2 removed → its channels are unsubscribed on the same socket
    await helper
      .setFlows([bridge(), privmxIn('in1', ['thread']), out('in1-out')], 'nodes', creds())
      .catch(() => undefined);
    await waitFor(() => fake.subscriptions()[0]?.length === 1, 3000, 'unsubscribed');
    assert.deepStrictEqual(fake.subscriptions(), [['thread']]);
    assert.strictEqual(fake.stats.connections, 1, 'no reconnect');
    assert.strictEqual(fake.stats.unsubscribeCalls, 1);

    // a node added live with a channel the token has no scope for: re-auth, bind, subscribe — same socket
    await helper
      .setFlows(
        [bridge(), privmxIn('in1', ['thread']), out('in1-out'), privmxIn('in3', ['stream']), out('in3-out')],
        'nodes',
        creds(),
      )
      .catch(() => undefined);
    await waitFor(() => fake.subscriptions()[0]?.includes('stream'), 3000, 'stream subscribed');
    assert.strictEqual(fake.stats.connections, 1, 'still no reconnect');
    assert.strictEqual(fake.stats.authCalls.api_key_credentials, 2, 'new scope needs a credentials auth');
    // the node added by the partial deploy got the connection's state
    await waitFor(
      () => helper.getNode('in3').status.lastCall?.args[0]?.text === 'common.status.subscribed',
      2000,
      'in3 green',
    );
    assert.strictEqual(helper.getNode('in3').status.lastCall.args[0].fill, 'green');
    const three = collect('in3-out');
    fake.emit(fakeEvents.streamRoomCreated());
    fake.emit(fakeEvents.threadNewMessage());
    await waitFor(() => three.length === 1 && one.length >= 1, 3000, 'events after the change');
  });

  it('refreshes the token before it expires and re-binds without losing events', async () => {
    await startFake({ accessTokenLifetimeMs: 400 });
    await helper.load(privmxNodes, [bridge(), privmxIn('in1', ['thread']), out('in1-out')], creds());
    const msgs = collect('in1-out');
    await subscribed();
    let pushed = 0;
    const timer = setInterval(() => {
      fake.emit(fakeEvents.threadNewMessage({ id: `m${pushed}` }));
      pushed++;
    }, 15);
    // generous bounds: a loaded machine slows the refresh cycle, and only the outcome is asserted
    // a refresh is followed by its bind: wait for that bind too, not only for the refresh
    await waitFor(
      () => fake.stats.authCalls.refresh_token >= 3 && fake.stats.bindCalls >= 4,
      15000,
      'three refreshes, each followed by a bind',
    );
    clearInterval(timer);
    await waitFor(() => msgs.length === pushed, 5000, 'every event');
    assert.deepStrictEqual(
      msgs.map((m) => m.event.id),
      Array.from({ length: pushed }, (_, i) => `m${i}`),
    );
    assert.strictEqual(fake.stats.authCalls.api_key_credentials, 1);
    assert.strictEqual(fake.stats.connections, 1);
    assert.ok(fake.stats.bindCalls >= 4, 'a bind after each refresh');
    // the bound token is valid: a request on the socket still works (no 24879)
    const before = fake.stats.authFailures;
    assert.strictEqual(before, 0);
  });

  it('reconnects and resubscribes after the server kills the socket, using the refresh token', async () => {
    await startFake();
    await helper.load(privmxNodes, [bridge(), privmxIn('in1', ['thread', 'store']), out('in1-out')], creds());
    const msgs = collect('in1-out');
    const seen = recordStatuses('in1');
    await subscribed();
    fake.emit(fakeEvents.threadNewMessage({ id: 'before' }));
    await waitFor(() => msgs.length === 1);
    fake.dropAll();
    await waitFor(() => seen.some((s) => s.fill === 'yellow'), 2000, 'reconnecting status');
    await waitFor(
      () => fake.stats.connections === 2 && fake.subscriptions()[0]?.length === 2,
      3000,
      'resubscribed',
    );
    await subscribed();
    assert.strictEqual(seen.at(-1)?.fill, 'green');
    assert.strictEqual(fake.stats.authCalls.api_key_credentials, 1, 'no new server session');
    assert.strictEqual(fake.stats.authCalls.refresh_token, 1);
    fake.emit(fakeEvents.storeFileCreated({ id: 'after' }));
    await waitFor(() => msgs.length === 2);
    assert.strictEqual(msgs[1].event.id, 'after');
  });

  it('falls back to credentials when the refresh token is no longer valid', async () => {
    await startFake();
    await helper.load(privmxNodes, [bridge(), privmxIn('in1', ['thread']), out('in1-out')], creds());
    await subscribed();
    fake.expireTokens();
    fake.dropAll();
    await waitFor(() => fake.stats.connections === 2 && fake.subscriptions().length === 1, 3000, 'back');
    await subscribed();
    assert.strictEqual(fake.stats.authCalls.refresh_token, 1);
    assert.strictEqual(fake.stats.authCalls.api_key_credentials, 2);
  });

  it('detects a stalled server (no pings, no frames) and reconnects', async () => {
    // virtual time for the watchdog: a busy machine cannot fake a dead link
    const clock = new ManualClock(Date.now());
    tuning.privmx = { ...FAST, deadAfterMs: 600, clock };
    await startFake({ pingIntervalMs: 100 });
    await helper.load(privmxNodes, [bridge(), privmxIn('in1', ['thread']), out('in1-out')], creds());
    const msgs = collect('in1-out');
    await subscribed();
    const conn = connectionOf();
    const states: string[] = [];
    conn.register({
      channels: [],
      wants: () => false,
      deliver: () => undefined,
      onConnectionState: (s) => states.push(s.code ?? s.phase),
    });
    // 100 virtual ms per ping, 800 ms in all: far beyond deadAfterMs
    for (let i = 0; i < 8; i++) {
      const pings = fake.stats.pingsSent;
      await waitFor(() => fake.stats.pingsSent > pings, 5000, 'a ping');
      clock.advance(100);
    }
    assert.ok(!states.includes('DEAD_LINK'), 'pings keep the link alive');
    fake.stall();
    clock.advance(600);
    await waitFor(() => states.includes('DEAD_LINK'), 5000, 'dead link detected');
    await waitFor(
      () => {
        if (conn.state.phase === 'backoff') clock.runNext(); // the reconnect delay
        return fake.stats.connections === 2 && fake.socketCount === 1;
      },
      5000,
      'new socket',
    );
    await subscribed();
    fake.emit(fakeEvents.threadNewMessage({ id: 'after' }));
    await waitFor(() => msgs.length === 1);
  });

  it('wrong credentials: red status with the reason, and no retry before the long backoff', async () => {
    // virtual time for the backoff: what is asserted is the schedule, not how fast this machine is
    const clock = new ManualClock(Date.now());
    tuning.privmx = { ...FAST, clock };
    await startFake();
    await helper.load(
      privmxNodes,
      [bridge(), privmxIn('in1', ['thread']), out('in1-out')],
      creds({ apiKeySecret: 'wrong-secret' }),
    );
    const seen = recordStatuses('in1');
    await waitFor(() => connectionOf().state.phase === 'error', 3000, 'error');
    const state = connectionOf().state;
    assert.strictEqual(state.reason, 'invalid API key secret (Bridge error 24876)');
    assert.strictEqual(state.code, 'AUTH');
    assert.strictEqual(state.permanent, true);
    assert.strictEqual(state.retryAt! - clock.now(), FAST.backoff.permanentDelayMs, 'long backoff');
    await waitFor(() => seen.some((s) => s.fill === 'red' && s.shape === 'ring'), 1000, 'red ring');
    await waitFor(() => fake.socketCount === 0, 5000, 'the socket is closed while waiting');
    clock.advance(FAST.backoff.permanentDelayMs - 1);
    await tick();
    assert.strictEqual(connectionOf().state.phase, 'error', 'still waiting');
    assert.strictEqual(fake.stats.authCalls.api_key_credentials, 1, 'no retry within the backoff');
    assert.strictEqual(fake.socketCount, 0, 'the socket is closed while waiting');
    assert.ok(!JSON.stringify(state).includes('wrong-secret'));
  });

  it('an unknown API key is permanent too', async () => {
    await startFake();
    await helper.load(privmxNodes, [bridge(), privmxIn('in1', ['thread'])], creds({ apiKeyId: 'nope' }));
    await waitFor(() => connectionOf().state.phase === 'error', 3000, 'error');
    assert.strictEqual(connectionOf().state.reason, 'API key does not exist (Bridge error 24875)');
  });

  it('names the missing scope: a channel the key lacks, and a key without any solution scope', async () => {
    await startFake({ apiKeys: [{ id: 'thread-only', secret: 's1', scopes: ['thread', 'solution:*'] }] });
    await helper.load(privmxNodes, [bridge(), privmxIn('in1', ['thread', 'store'])], {
      b1: { apiKeyId: 'thread-only', apiKeySecret: 's1' },
    });
    await waitFor(() => connectionOf().state.phase === 'error', 3000, 'error');
    assert.strictEqual(connectionOf().state.reason, 'API key lacks the scope "store" (Bridge error 24878)');
    assert.strictEqual(connectionOf().state.code, 'SCOPE');
    await helper.unload();
    await fake.close();

    await startFake({ apiKeys: [{ id: 'no-solution', secret: 's2', scopes: ['thread', 'store'] }] });
    await helper.load(privmxNodes, [bridge(), privmxIn('in1', ['thread'])], {
      b1: { apiKeyId: 'no-solution', apiKeySecret: 's2' },
    });
    await waitFor(() => connectionOf().state.phase === 'error', 3000, 'error');
    assert.strictEqual(
      connectionOf().state.reason,
      'API key lacks the scope "solution:*" (Bridge error 24878)',
    );
  });

  it('skips garbage frames, odd JSON-RPC and unknown types without dropping the link, logging once per kind', async () => {
    await startFake();
    await helper.load(privmxNodes, [bridge(), privmxIn('in1', ['thread']), out('in1-out')], creds());
    const msgs = collect('in1-out');
    await subscribed();
    fake.sendRaw('this is not json');
    fake.sendRaw('this is not json either');
    fake.sendRaw(Buffer.from([0xff, 0xfe, 0x00, 0x80]), { binary: false });
    fake.sendRaw(Buffer.from([1, 2, 3]), { binary: true });
    fake.sendRaw('[1,2,3]');
    fake.sendRaw('{"jsonrpc":"2.0","id":99999,"error":{"code":-32603,"message":"Internal error"}}');
    fake.sendRaw('{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error","data":null}}');
    fake.sendRaw('{"hello":"world"}');
    fake.push('thread', 'threadSomethingNew', { threadId: 'x' });
    fake.push('thread', 'threadSomethingNew', { threadId: 'y' });
    fake.sendRaw('{"channel":"nope","type":"x","data":{}}');
    fake.emit(fakeEvents.threadNewMessage({ id: 'good' }));
    await waitFor(() => msgs.length === 1, 3000, 'the good event');
    assert.strictEqual(msgs[0].event.id, 'good');
    assert.strictEqual(fake.socketCount, 1);
    assert.strictEqual(fake.stats.connections, 1, 'the link stayed');
    assert.strictEqual(connectionOf().state.phase, 'subscribed');
    const w = warnings();
    assert.strictEqual(w.filter((m) => m.includes('not JSON')).length, 1, 'invalid JSON logged once');
    assert.strictEqual(
      w.filter((m) => m.includes('threadSomethingNew')).length,
      1,
      'unknown type logged once',
    );
    assert.ok(w.some((m) => m.includes('unknown request id')));
    assert.ok(w.some((m) => m.includes('binary frame')));
  });

  it('delivers an unknown type to a node that names it', async () => {
    await startFake();
    await helper.load(
      privmxNodes,
      [bridge(), privmxIn('in1', ['thread'], { types: ['threadSomethingNew'] }), out('in1-out')],
      creds(),
    );
    const msgs = collect('in1-out');
    await subscribed();
    fake.push('thread', 'threadSomethingNew', { threadId: 'x' });
    await waitFor(() => msgs.length === 1);
    assert.strictEqual(msgs[0].event.containerId, 'x');
  });

  it('connects lazily: no socket while no privmx in node uses the config', async () => {
    await startFake();
    await helper.load(privmxNodes, [bridge(), privmxIn('in1', ['thread'], { bridge: 'other' })], creds());
    // the connection starts only when a node registers: none did, so none can start later
    assert.strictEqual(connectionOf().userCount, 0);
    assert.strictEqual(fake.stats.connections, 0);
    assert.strictEqual(fake.authCount, 0);
    assert.strictEqual(connectionOf().state.phase, 'idle');
  });

  it('a node without channels shows a red status and does not connect', async () => {
    await startFake();
    await helper.load(privmxNodes, [bridge(), privmxIn('in1', [])], creds());
    // the connection starts only when a node registers: none did, so none can start later
    assert.strictEqual(connectionOf().userCount, 0);
    assert.strictEqual(fake.stats.connections, 0);
    assert.deepStrictEqual(lastStatus('in1'), {
      fill: 'red',
      shape: 'ring',
      text: 'privmx-in.status.noChannels',
    });
  });

  it('20 redeploys leave no socket, timer or server session behind; each close is a clean 1000', async () => {
    await startFake();
    const flow = [
      bridge(),
      privmxIn('in1', ['thread']),
      out('in1-out'),
      privmxIn('in2', ['store']),
      out('in2-out'),
    ];
    await helper.load(privmxNodes, flow, creds());
    await subscribed();
    await helper.unload();
    await waitFor(() => fake.socketCount === 0, 3000, 'closed');
    const baseline = activeResources();

    await helper.load(privmxNodes, flow, creds());
    for (let i = 0; i < 20; i++) {
      await subscribed();
      await helper.setFlows(flow, 'full', creds()).catch(() => undefined);
    }
    await subscribed();
    await helper.unload();
    await waitFor(() => fake.socketCount === 0, 3000, 'all sockets closed');
    // handles are released a tick or two after the close: wait for the asserted state, then check it
    await waitFor(
      () => {
        const now = activeResources();
        return (
          (now.TCPSocketWrap ?? 0) === (baseline.TCPSocketWrap ?? 0) &&
          (now.Timeout ?? 0) <= (baseline.Timeout ?? 0) &&
          (now.Immediate ?? 0) === (baseline.Immediate ?? 0)
        );
      },
      5000,
      'resources released',
    ).catch(() => undefined);
    const after = activeResources();
    assert.strictEqual(after.TCPSocketWrap ?? 0, baseline.TCPSocketWrap ?? 0, 'sockets');
    assert.ok(
      (after.Timeout ?? 0) <= (baseline.Timeout ?? 0),
      `timers ${after.Timeout} > ${baseline.Timeout}`,
    );
    assert.strictEqual(after.Immediate ?? 0, baseline.Immediate ?? 0, 'immediates');
    const closes = fake.stats.closeCodes.slice(1);
    assert.strictEqual(closes.length, 21);
    assert.ok(
      closes.every((c) => c === 1000),
      `close codes ${closes.join(',')}`,
    );
    assert.ok(fake.stats.unsubscribeCalls >= 21, 'unsubscribed before closing');
  });

  describe('subscription changes while the socket opens (no self-inflicted reconnect)', () => {
    /** every status text a node showed since it was created */
    function shown(id: string): string[] {
      return statuses(id).map((s) => s.text ?? '');
    }

    function everyLogLine(): string[] {
      return helper.log().args.map((a: unknown[]) => String((a[0] as { msg: unknown }).msg));
    }

    function assertNoReconnect(ids: string[]) {
      assert.deepStrictEqual(
        everyLogLine().filter((line) => /not open|CONNECTING|reconnect/i.test(line)),
        [],
        'no error about the socket',
      );
      for (const id of ids)
        assert.deepStrictEqual(
          shown(id).filter((text) => !/connecting|authenticating|subscribed|idle/.test(text)),
          [],
          `${id}: never reconnecting or red`,
        );
      assert.strictEqual(fake.stats.tcpConnections, 1, 'one TCP connection');
      assert.strictEqual(fake.stats.upgradeRequests, 1, 'one WebSocket upgrade');
      assert.strictEqual(fake.stats.connections, 1);
      assert.strictEqual(fake.stats.authCalls.api_key_credentials, 1, 'one server session');
    }

    beforeEach(() => {
      // the upgrade is held by the fake for as long as the test needs: never time it out
      tuning.privmx = { ...FAST, handshakeTimeoutMs: 60_000 };
    });

    it("a deploy with two nodes: the second node's channels go out on the open socket; the first events arrive", async () => {
      await startFake();
      fake.holdUpgrades();
      await helper.load(
        privmxNodes,
        [bridge(), privmxIn('in1', ['thread']), out('in1-out'), privmxIn('in2', ['store']), out('in2-out')],
        creds(),
      );
      const one = collect('in1-out');
      const two = collect('in2-out');
      // both nodes registered while the socket was still CONNECTING
      await waitFor(() => fake.heldUpgrades === 1, 3000, 'the upgrade waiting');
      assert.strictEqual(connectionOf().state.phase, 'connecting');
      fake.releaseUpgrades();
      await subscribed();
      assert.deepStrictEqual(fake.subscriptions(), [['thread', 'store']]);
      // the very first events after the subscription reach both nodes
      fake.emit(fakeEvents.threadNewMessage({ id: 'first' }));
      fake.emit(fakeEvents.storeFileCreated({ id: 'second' }));
      await waitFor(() => one.length === 1 && two.length === 1, 3000, 'the first events');
      assert.strictEqual(one[0].event.id, 'first');
      assert.strictEqual(two[0].event.id, 'second');
      assertNoReconnect(['in1', 'in2']);
    });

    it('a partial deploy adding a node while connecting: one socket, both channels, no reconnect', async () => {
      await startFake();
      fake.holdUpgrades();
      await helper.load(privmxNodes, [bridge(), privmxIn('in1', ['thread']), out('in1-out')], creds());
      await waitFor(() => fake.heldUpgrades === 1, 3000, 'the upgrade waiting');
      await helper
        .setFlows(
          [bridge(), privmxIn('in1', ['thread']), out('in1-out'), privmxIn('in2', ['kvdb']), out('in2-out')],
          'nodes',
          creds(),
        )
        .catch(() => undefined);
      assert.strictEqual(connectionOf().state.phase, 'connecting', 'still connecting after the deploy');
      const two = collect('in2-out');
      fake.releaseUpgrades();
      await subscribed();
      assert.deepStrictEqual(fake.subscriptions(), [['thread', 'kvdb']]);
      await waitFor(() => shown('in2').at(-1) === 'common.status.subscribed', 3000, 'in2 green');
      fake.emit(fakeEvents.kvdbNewEntry({ kvdbEntryKey: 'k-first' }));
      await waitFor(() => two.length === 1, 3000, 'the first kvdb event');
      assert.strictEqual(two[0].event.id, 'k-first');
      assertNoReconnect(['in1', 'in2']);
    });
  });

  describe('test-connection endpoint', () => {
    before(async () => {
      await helper.startServer();
    });
    after(async () => {
      await helper.stopServer();
    });

    it('reports the scopes on success, resolving __PWRD__ from the stored credentials', async () => {
      await startFake();
      await helper.load(privmxNodes, [bridge()], creds());
      const res = await helper
        .request()
        .post('/sms-notify/test/privmx-bridge')
        .send({
          id: 'b1',
          config: { url: fake.url, solutionId: '' },
          credentials: { apiKeyId: keyId, apiKeySecret: '__PWRD__' },
        })
        .expect(200);
      assert.strictEqual(res.body.ok, true);
      assert.match(
        res.body.message,
        /channels: inbox, store, thread|channels: thread, store, inbox, stream, kvdb/,
      );
      assert.ok(!JSON.stringify(res.body).includes(secret));
      assert.strictEqual(fake.requests.at(-1)?.transport, 'http');
    });

    it('reports the exact failure without echoing the secret', async () => {
      await startFake();
      await helper.load(privmxNodes, [bridge()], creds());
      const res = await helper
        .request()
        .post('/sms-notify/test/privmx-bridge')
        .send({
          id: 'b1',
          config: { url: fake.url },
          credentials: { apiKeyId: keyId, apiKeySecret: 'typo-secret-123' },
        })
        .expect(200);
      assert.deepStrictEqual(res.body, {
        ok: false,
        error: 'invalid API key secret (Bridge error 24876)',
        code: 'AUTH',
      });
      assert.ok(!JSON.stringify(res.body).includes('typo-secret-123'));

      const unreachable = await helper
        .request()
        .post('/sms-notify/test/privmx-bridge')
        .send({ config: { url: 'http://127.0.0.1:1' }, credentials: { apiKeyId: 'a', apiKeySecret: 'b' } })
        .expect(200);
      assert.strictEqual(unreachable.body.ok, false);
      assert.match(unreachable.body.error, /cannot reach http:\/\/127\.0\.0\.1:1\/api/);
    });
  });
});
