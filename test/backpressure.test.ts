/**
 * End-to-end backpressure through Node-RED: a burst from the server with a node downstream that
 * completes late. The source stops reading while the runtime holds too many messages, so what the flow
 * holds stays bounded; nothing is lost or reordered; our own pause never looks like a dead server.
 */
import assert from 'assert';
import gatewayNodes from '../nodes/sms-gateway';
import privmxNodes from '../nodes/privmx';
import type { GatewayConnection } from '../nodes/lib/sms-gateway/connection';
import { resetAuthGuards } from '../nodes/lib/sms-gateway/auth-guard';
import type { PrivmxConnection } from '../nodes/lib/privmx/connection';
import { flowPressure, RuntimeHooks, watchRuntime } from '../nodes/lib/session/pressure';
import { connectionStatus } from '../nodes/lib/status';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { fakeEvents, FakePrivmxBridge, startFakeBridge } from './fakes/privmx-bridge';
import { FakeSmsGateway } from './fakes/sms-gateway';
import { helper, waitFor } from './helpers';

/* eslint-disable @typescript-eslint/no-require-imports */
const functionNode = require('@node-red/nodes/core/function/10-function.js');
/** the runtime's own hooks (the test helper's RED object has no `hooks`; a real runtime hands these) */
const runtimeHooks: RuntimeHooks = require('@node-red/util').hooks;
/* eslint-enable @typescript-eslint/no-require-imports */

const HIGH = 100;
const LOW = 20;

interface Msg {
  event: { id?: string };
}

describe('backpressure: a slow flow pauses the source (through Node-RED)', function () {
  this.timeout(60_000);
  let fake: FakePrivmxBridge;
  let keyId: string;
  let secret: string;
  const saved = flowPressure.options;

  beforeEach(() => {
    watchRuntime(runtimeHooks);
    flowPressure.options = { highWater: HIGH, lowWater: LOW };
    flowPressure.maxQueued = 0;
  });

  afterEach(async () => {
    await helper.unload();
    await fake?.close();
    resetTuning();
    flowPressure.options = saved;
    flowPressure.reset();
  });

  /**
   * privmx in → a function node that hands each of the first `slowCount` messages on `lateMs` later
   * (the rest at once) → helper. The fake pings rarely: a server that drops a silent reader is another
   * test's subject (an ordinary drop and reconnect).
   */
  async function deploy(lateMs: number, deadAfterMs = 5_000, slowCount = Infinity) {
    ({ fake, keyId, secret } = await startFakeBridge({ pingIntervalMs: 20_000 }));
    tuning.privmx = { deadAfterMs, requestTimeoutMs: 5_000, handshakeTimeoutMs: 5_000 };
    await helper.load(
      [privmxNodes, functionNode],
      [
        { id: 'b1', type: 'privmx-bridge', url: fake.url, solutionId: '' },
        { id: 'in1', type: 'privmx in', bridge: 'b1', channels: ['thread'], wires: [['slow', 'h0']] },
        {
          id: 'slow',
          type: 'function',
          func: `const late = Number(msg.event.id.slice(1)) < ${slowCount} ? ${lateMs} : 0;
setTimeout(() => { node.send(msg); node.done(); }, late); return null;`,
          outputs: 1,
          wires: [['h']],
        },
        { id: 'h', type: 'helper' },
        { id: 'h0', type: 'helper' },
      ],
      { b1: { apiKeyId: keyId, apiKeySecret: secret } },
    );
    const connection = (helper.getNode('b1') as unknown as { connection: PrivmxConnection }).connection;
    const got: Msg[] = [];
    const emitted: Msg[] = [];
    helper.getNode('h').on('input', (msg: Msg) => got.push(msg));
    helper.getNode('h0').on('input', (msg: Msg) => emitted.push(msg));
    await waitFor(() => connection.state.phase === 'subscribed', 5_000, 'subscribed');
    return { connection, got, emitted };
  }

  it('a burst of 3,000 with a node completing late: bounded in flight, all delivered in order, no reconnect', async () => {
    const { connection, got } = await deploy(5);
    const N = 3000;
    for (let i = 0; i < N; i++) fake.emit(fakeEvents.threadNewMessage({ id: `e${i}` }));
    await waitFor(() => got.length === N, 50_000, 'every event');
    assert.deepStrictEqual(
      got.map((m) => m.event.id),
      Array.from({ length: N }, (_, i) => `e${i}`),
      'in order, none lost',
    );
    assert.ok(connection.flowPauses.count > 0, 'the source paused');
    // what one read can still bring in after the pause (a TCP chunk of frames) is the slack
    assert.ok(
      flowPressure.maxQueued < N / 4,
      `in flight at most ${flowPressure.maxQueued} (high water ${HIGH}), not the burst`,
    );
    assert.strictEqual(fake.stats.connections, 1, 'no reconnect');
    assert.strictEqual(connection.state.phase, 'subscribed', JSON.stringify(connection.state));
    assert.ok(!connection.state.paused, 'reading again once the flow caught up');
  });

  it('a pause longer than the dead-link limit is not a dead server (no pings are read meanwhile)', async () => {
    // the first 300 wait 1.5 s in the function node: the pause outlasts the 1 s dead-link limit
    const { connection, got, emitted } = await deploy(1_500, 1_000, 300);
    const N = 400;
    for (let i = 0; i < N; i++) fake.emit(fakeEvents.threadNewMessage({ id: `e${i}` }));
    await waitFor(() => connection.state.paused === true, 5_000, 'paused');
    await waitFor(() => got.length === N, 30_000, 'every event');
    // the function node reorders (its first 300 wait); the source's own output is in order
    assert.deepStrictEqual(
      emitted.map((m) => m.event.id),
      Array.from({ length: N }, (_, i) => `e${i}`),
    );
    assert.ok(connection.flowPauses.totalMs >= 1_000, `paused ${connection.flowPauses.totalMs} ms`);
    assert.strictEqual(fake.stats.connections, 1, 'the watchdog waited for our own pause');
  });

  it('a token refresh during a pause: its answer waits behind the unread frames, no timeout, no reconnect', async () => {
    // the refresh falls due 4.8 s after the bind (80% of 6 s), well inside a pause the test holds open:
    // the pause starts within milliseconds of the burst, so even a loaded machine has seconds to spare
    ({ fake, keyId, secret } = await startFakeBridge({
      pingIntervalMs: 20_000,
      accessTokenLifetimeMs: 6_000,
    }));
    tuning.privmx = { requestTimeoutMs: 300, handshakeTimeoutMs: 5_000, flowStallMs: 60_000 };
    await helper.load(
      [privmxNodes, functionNode],
      [
        { id: 'b1', type: 'privmx-bridge', url: fake.url, solutionId: '' },
        { id: 'in1', type: 'privmx in', bridge: 'b1', channels: ['thread'], wires: [['hold']] },
        {
          id: 'hold',
          type: 'function',
          // every message waits until the test lets them go
          func: `let q = global.get('held'); if (!q) { q = []; global.set('held', q); }
q.push(() => { node.send(msg); node.done(); }); return null;`,
          outputs: 1,
          wires: [['h']],
        },
        { id: 'h', type: 'helper' },
      ],
      { b1: { apiKeyId: keyId, apiKeySecret: secret } },
    );
    const connection = (helper.getNode('b1') as unknown as { connection: PrivmxConnection }).connection;
    const got: Msg[] = [];
    helper.getNode('h').on('input', (msg: Msg) => got.push(msg));
    await waitFor(() => connection.state.phase === 'subscribed', 5_000, 'subscribed');
    const N = 300;
    for (let i = 0; i < N; i++) fake.emit(fakeEvents.threadNewMessage({ id: `e${i}` }));
    await waitFor(() => connection.state.paused === true, 5_000, 'paused');
    assert.strictEqual(fake.stats.authCalls.refresh_token, 0, 'paused before the refresh was due');
    await waitFor(
      () => fake.stats.authCalls.refresh_token === 1,
      15_000,
      'the refresh request, sent while paused',
    );
    // longer than the 300 ms request timeout: without held timeouts the refresh times out here
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.strictEqual(connection.state.paused, true, 'still paused');
    const global = (
      helper.getNode('hold') as unknown as { context(): { global: { get(k: string): unknown } } }
    ).context().global;
    for (const release of global.get('held') as (() => void)[]) release();
    (global.get('held') as unknown[]).length = 0;
    // what was read after the release goes straight through (the function node holds new ones too)
    const drain = setInterval(() => {
      const q = global.get('held') as (() => void)[];
      for (const release of q.splice(0)) release();
    }, 10);
    try {
      await waitFor(() => got.length === N, 20_000, 'every event');
      await waitFor(() => fake.stats.bindCalls === 2, 5_000, 'the refreshed token bound');
    } finally {
      clearInterval(drain);
    }
    assert.deepStrictEqual(
      got.map((m) => m.event.id),
      Array.from({ length: N }, (_, i) => `e${i}`),
    );
    assert.strictEqual(fake.stats.connections, 1, 'no reconnect');
    assert.strictEqual(connection.state.phase, 'subscribed');
  });

  it('the status says why events are late', () => {
    const t = (key: string) => key;
    assert.deepStrictEqual(connectionStatus({ phase: 'subscribed', paused: true }, t), {
      fill: 'yellow',
      shape: 'dot',
      text: 'common.status.paused',
    });
  });
});

describe('backpressure: the same pause on the SMS gateway source (the shared session layer)', function () {
  this.timeout(60_000);
  const KEY = 'sgw_5ecre75ecre75ecre75ecre75ecre7aa';
  let fake: FakeSmsGateway;
  const saved = flowPressure.options;

  beforeEach(async () => {
    watchRuntime(runtimeHooks);
    flowPressure.options = { highWater: HIGH, lowWater: LOW };
    flowPressure.maxQueued = 0;
    fake = await new FakeSmsGateway().start();
    fake.addKey(KEY);
  });

  afterEach(async () => {
    await helper.unload();
    await fake.close();
    resetTuning();
    resetAuthGuards();
    flowPressure.options = saved;
    flowPressure.reset();
  });

  it('a burst of 4,000 sms_inbound with a node completing late: bounded, in order, one socket', async () => {
    await helper.load(
      [gatewayNodes, functionNode],
      [
        { id: 'gw', type: 'sms-gateway', url: fake.url, from: '+15559876543', wsAuth: 'token' },
        { id: 'in', type: 'sms-gateway in', gateway: 'gw', events: [], wires: [['slow', 'h0']] },
        {
          id: 'slow',
          type: 'function',
          func: 'setTimeout(() => { node.send(msg); node.done(); }, 5); return null;',
          outputs: 1,
          wires: [['h']],
        },
        { id: 'h', type: 'helper' },
        { id: 'h0', type: 'helper' },
      ],
      { gw: { apiKey: KEY } },
    );
    const connection = (helper.getNode('gw') as unknown as { connection: GatewayConnection }).connection;
    const got: Msg[] = [];
    const emitted: Msg[] = [];
    helper.getNode('h').on('input', (msg: Msg) => got.push(msg));
    helper.getNode('h0').on('input', (msg: Msg) => emitted.push(msg));
    await waitFor(() => connection.state.phase === 'subscribed', 5_000, 'subscribed');
    const N = 4000;
    for (let i = 0; i < N; i++) fake.pushInbound({ messageId: `e${i}` });
    await waitFor(() => got.length === N, 50_000, 'every event');
    const ids = Array.from({ length: N }, (_, i) => `e${i}`);
    assert.deepStrictEqual(
      emitted.map((m) => m.event.id),
      ids,
      'in order, none lost',
    );
    assert.ok(connection.flowPauses.count > 0, 'the source paused');
    assert.ok(flowPressure.maxQueued < N / 4, `in flight at most ${flowPressure.maxQueued}`);
    assert.strictEqual(fake.upgrades, 1, 'no reconnect');
  });
});
