/**
 * `sms-cluster` through Node-RED (the test helper), against a real Redis, the fake Bridge and the fake
 * SMSAPI: a source claims before it emits and shows the cluster in its status, claims are per node,
 * and a sink with `hold` fails with SMS_CLUSTER_DOWN while Redis is down.
 */
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import clusterNode from '../nodes/cluster';
import privmxNode from '../nodes/privmx';
import smsapiNode from '../nodes/smsapi';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { RedisServer } from './cluster/redis-server';
import { FakePrivmxBridge, fakeEvents } from './fakes/privmx-bridge';
import { FakeSmsapi } from './fakes/smsapi';
import { helper, lastStatus, waitFor } from './helpers';

type Msg = Record<string, unknown>;

describe('sms-cluster (through Node-RED, real Redis)', function () {
  this.timeout(20_000);
  let redis: RedisServer;
  let bridge: FakePrivmxBridge;
  let smsapi: FakeSmsapi;

  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    tuning.cluster = { heartbeatMs: 100, reconnectInitialMs: 20, reconnectMaxMs: 200 };
    bridge = await FakePrivmxBridge.start({ apiKeys: [{ id: 'k1', secret: 's1-0123456789' }] });
    smsapi = await FakeSmsapi.start({ token: 'tok' });
  });
  afterEach(async () => {
    await helper.unload();
    await Promise.all([bridge.close(), smsapi.close()]);
    if (!redis.running) await redis.restart();
    resetTuning();
  });

  const cluster = (onError = 'local') => ({
    id: 'cl',
    type: 'sms-cluster',
    url: redis.url,
    prefix: 'nt:',
    onError,
  });
  const creds = { br: { apiKeyId: 'k1', apiKeySecret: 's1-0123456789' }, acc: { token: 'tok' } };

  async function keys(pattern: string): Promise<string[]> {
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    try {
      return await client.sendCommand<string[]>(['KEYS', pattern]);
    } finally {
      await client.close();
    }
  }

  it('a source claims each event before emitting it, per node, and shows the cluster in its status', async () => {
    const flow = [
      { id: 't', type: 'tab' },
      cluster(),
      { id: 'br', type: 'privmx-bridge', url: bridge.url, solutionId: '' },
      {
        id: 'in1',
        type: 'privmx in',
        z: 't',
        bridge: 'br',
        channels: ['thread'],
        cluster: 'cl',
        wires: [['o1']],
      },
      {
        id: 'in2',
        type: 'privmx in',
        z: 't',
        bridge: 'br',
        channels: ['thread'],
        cluster: 'cl',
        wires: [['o2']],
      },
      { id: 'o1', type: 'helper', z: 't' },
      { id: 'o2', type: 'helper', z: 't' },
    ];
    await helper.load([clusterNode, privmxNode], flow, creds);
    const got: Record<string, Msg[]> = { o1: [], o2: [] };
    for (const id of ['o1', 'o2']) helper.getNode(id).on('input', (m: Msg) => got[id].push(m));
    await waitFor(
      () => lastStatus('in1').text === 'common.status.subscribed · common.cluster.instances',
      10_000,
      'subscribed and clustered',
    );
    assert.equal(lastStatus('in1').fill, 'green');
    bridge.emit(fakeEvents.threadNewMessage({ id: 'm1', threadId: 't1' }));
    bridge.emit(fakeEvents.threadNewMessage({ id: 'm2', threadId: 't1' }));
    await waitFor(() => got.o1.length === 2 && got.o2.length === 2, 5_000, 'both nodes emit both events');
    assert.deepEqual(
      got.o1.map((m) => (m.event as { id: string }).id),
      ['m1', 'm2'],
    );
    // one claim per node and event: two nodes on one instance are two consumers, not rivals
    assert.equal((await keys('nt:claim:*')).length, 4);
  });

  it('a sink with onError hold fails with SMS_CLUSTER_DOWN while Redis is down, and sends again when it is back', async () => {
    const flow = [
      { id: 't', type: 'tab' },
      cluster('hold'),
      { id: 'acc', type: 'smsapi-account', url: smsapi.url, from: '', test: false },
      {
        id: 'out',
        type: 'smsapi out',
        z: 't',
        account: 'acc',
        to: '+48500100200',
        rateLimit: 10,
        dedupeWindow: 60,
        cluster: 'cl',
        wires: [['sent']],
      },
      { id: 'sent', type: 'helper', z: 't' },
      { id: 'c', type: 'catch', z: 't', scope: ['out'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 't' },
    ];
    await helper.load([clusterNode, smsapiNode], flow, creds);
    const sent: Msg[] = [];
    const caught: Msg[] = [];
    helper.getNode('sent').on('input', (m: Msg) => sent.push(m));
    helper.getNode('caught').on('input', (m: Msg) => caught.push(m));
    await waitFor(
      () => /common\.cluster\.instances/.test(lastStatus('out').text ?? ''),
      10_000,
      'cluster up',
    );

    await redis.stop();
    await waitFor(() => lastStatus('out').text === 'common.cluster.downHold', 10_000, 'red: holding');
    assert.equal(lastStatus('out').fill, 'red');
    helper.getNode('out').receive({ payload: 'disk full' });
    await waitFor(() => caught.length === 1, 5_000, 'the send failed');
    assert.equal((caught[0].error as { code: string }).code, 'SMS_CLUSTER_DOWN');
    assert.equal(smsapi.accepted.length, 0);

    await redis.restart();
    await waitFor(
      () => /common\.cluster\.instances/.test(lastStatus('out').text ?? ''),
      10_000,
      'cluster back',
    );
    helper.getNode('out').receive({ payload: 'disk full' });
    helper.getNode('out').receive({ payload: 'disk full' });
    await waitFor(() => sent.length === 1, 5_000, 'sent once');
    await waitFor(
      () => (lastStatus('out').text ?? '').includes('duplicate'),
      5_000,
      'the second is a duplicate',
    );
    assert.equal(smsapi.accepted.length, 1);
    assert.equal((await keys('nt:dedupe:out:*')).length, 1);
    assert.equal((await keys('nt:bucket:out')).length, 1);
  });
});
