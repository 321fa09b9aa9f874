import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { NodeAPI } from 'node-red';
import path from 'node:path';
import cpaasNodes from '../nodes/cpaas';
import deliveryWatchNode from '../nodes/delivery-watch';
import { clearParked, parkedCount } from '../nodes/lib/delivery/carry-over';
import type { WatchTable } from '../nodes/lib/delivery/watch-table';
import { resetAuthGuards } from '../nodes/lib/sms-gateway/auth-guard';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import pbxwareNodes from '../nodes/pbxware';
import gatewayNodes from '../nodes/sms-gateway';
import { FakeCpaas } from './fakes/cpaas';
import { FakePbxware, startFakePbxware } from './fakes/pbxware';
import { FakeSmsGateway } from './fakes/sms-gateway';
import { ManualClock } from './clock';
import { collect, delay, helper, statuses, waitFor, type Msg } from './helpers';

/* eslint-disable @typescript-eslint/no-require-imports */
const core = (p: string) => require(require.resolve(`@node-red/nodes/core/${p}`));
const CORE = [
  core('common/20-inject.js'),
  core('common/21-debug.js'),
  core('common/25-catch.js'),
  core('common/90-comment.js'),
];
/* eslint-enable @typescript-eslint/no-require-imports */

type FlowNode = Record<string, unknown> & { id: string; type: string };
const GW_KEY = 'sgw_0123456789abcdef0123456789abcdef';
const CP_SECRET = 'fake-project-secret';
const FROM = '+16135550100';
const TO = ['+16135550101', '+16135550102', '+16135550103'];
const TIMEOUT_S = 120;
const TAB = { id: 't1', type: 'tab', label: 'watch' };

const CATALOG = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'nodes', 'locales', 'en-US', 'delivery-watch.json'), 'utf8'),
) as Record<string, unknown>;

/** the watch node with a RED._ that translates its own keys from the en-US catalog, as Node-RED does */
function watchNodes(RED: NodeAPI) {
  const red = RED as unknown as { _: (key: string, params?: Record<string, unknown>) => string };
  const original = red._;
  red._ = (key, params) => {
    const text = key
      .split('.')
      .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], CATALOG);
    if (typeof text !== 'string') return original(key, params);
    return text.replace(/__(\w+)__/g, (_m, name: string) => String(params?.[name] ?? ''));
  };
  return deliveryWatchNode(RED);
}

const watches = (id = 'w') => (helper.getNode(id) as unknown as { watches: WatchTable<Msg> }).watches;

/** One provider as the tests drive it: its fake, its sink + source, and how its statuses are pushed. */
interface Driver {
  name: 'sms-gateway' | 'cpaas';
  start(): Promise<void>;
  stop(): Promise<void>;
  nodes: unknown[];
  config(): FlowNode;
  creds(): Record<string, Record<string, string>>;
  sink: string;
  source(): FlowNode;
  sentIds(): string[];
  /** hold the provider's HTTP answers (the SMS is taken at once) / give them now */
  holdAnswers(): void;
  releaseAnswers(): void;
  intermediate(id: string, to: string): void;
  deliver(id: string, to: string): void;
  fail(id: string, to: string): void;
  /** the reason a failed status carries, as msg.delivery.reason */
  reason(to: string): string;
  finalWord: string;
  failWord: string;
  /** the word of `intermediate()` */
  middleWord: string;
}

function gatewayDriver(): Driver {
  let fake: FakeSmsGateway;
  return {
    name: 'sms-gateway',
    async start() {
      fake = await new FakeSmsGateway({ pingIntervalMs: 0, statusProgression: false }).start();
      fake.addKey(GW_KEY);
    },
    stop: () => fake.close(),
    nodes: [gatewayNodes],
    config: () => ({ id: 'cfg', type: 'sms-gateway', url: fake.url, from: FROM, wsAuth: 'token' }),
    creds: () => ({ cfg: { apiKey: GW_KEY } }),
    sink: 'sms-gateway out',
    source: () => ({
      id: 'in',
      type: 'sms-gateway in',
      z: 't1',
      gateway: 'cfg',
      events: ['sms_status'],
      wires: [['w']],
    }),
    sentIds: () => fake.sent.map((s) => s.messageId),
    holdAnswers: () => (fake.slow.held = true),
    releaseAnswers: () => fake.slow.release(),
    intermediate: (id) => void fake.pushStatus({ messageId: id, status: 'sending', rcMessageId: undefined }),
    deliver: (id) => void fake.pushStatus({ messageId: id, status: 'sent' }),
    fail: (id, to) =>
      void fake.pushStatus({
        messageId: id,
        status: 'failed',
        rcMessageId: undefined,
        error: `Phone number ${to} is not reachable`,
      }),
    reason: (to) => `Phone number ${to} is not reachable`,
    finalWord: 'sent',
    failWord: 'failed',
    middleWord: 'sending',
  };
}

function cpaasDriver(): Driver {
  let fake: FakeCpaas;
  const push = (id: string, to: string, deliveryStatus: string, extra: Record<string, unknown> = {}) =>
    fake.push('deliveryInfoNotification', FROM, { remote: to, messageId: id, deliveryStatus, ...extra });
  return {
    name: 'cpaas',
    async start() {
      fake = await new FakeCpaas({ clientSecret: CP_SECRET }).start();
    },
    stop: () => fake.close(),
    nodes: [cpaasNodes],
    config: () => ({
      id: 'cfg',
      type: 'kandy-cpaas',
      url: fake.url,
      clientId: fake.clientId,
      auth: 'project',
      from: FROM,
    }),
    creds: () => ({ cfg: { clientSecret: CP_SECRET } }),
    sink: 'cpaas out',
    source: () => ({
      id: 'in',
      type: 'cpaas in',
      z: 't1',
      cpaas: 'cfg',
      destination: '',
      events: ['deliveryInfoNotification'],
      wires: [['w']],
    }),
    sentIds: () => fake.sent.map((s) => s.messageId),
    holdAnswers: () => (fake.slow.held = true),
    releaseAnswers: () => fake.slow.release(),
    intermediate: (id, to) => void push(id, to, 'DeliveredToNetwork'),
    deliver: (id, to) => void push(id, to, 'DeliveredToTerminal'),
    fail: (id, to) => void push(id, to, 'DeliveryImpossible', { description: `Absent subscriber ${to}` }),
    reason: (to) => `Absent subscriber ${to}`,
    finalWord: 'DeliveredToTerminal',
    failWord: 'DeliveryImpossible',
    middleWord: 'DeliveredToNetwork',
  };
}

for (const make of [gatewayDriver, cpaasDriver]) {
  const d = make();
  describe(`delivery watch with ${d.name} (through Node-RED)`, function () {
    let clock: ManualClock;

    beforeEach(async () => {
      clock = new ManualClock(1_800_000_000_000);
      tuning['delivery-watch'] = { clock };
      tuning.sink = { retryBackoff: { initialDelayMs: 5, maxDelayMs: 20, factor: 2, jitter: 0 } };
      await d.start();
    });

    afterEach(async () => {
      await helper.unload();
      await d.stop();
      resetTuning();
      resetAuthGuards();
      clearParked();
    });

    function flow(watch: Record<string, unknown> = {}): FlowNode[] {
      return [
        TAB,
        d.config(),
        {
          id: 'out',
          type: d.sink,
          z: 't1',
          [d.name === 'cpaas' ? 'cpaas' : 'gateway']: 'cfg',
          to: '',
          message: '',
          rateLimit: 0,
          dedupeWindow: 0,
          wires: [['w']],
        },
        d.source(),
        {
          id: 'w',
          type: 'delivery watch',
          z: 't1',
          timeout: TIMEOUT_S,
          wires: [['hd'], ['hf'], ['ht']],
          ...watch,
        },
        { id: 'hd', type: 'helper', z: 't1' },
        { id: 'hf', type: 'helper', z: 't1' },
        { id: 'ht', type: 'helper', z: 't1' },
        { id: 'c', type: 'catch', z: 't1', scope: ['w'], uncaught: false, wires: [['hc']] },
        { id: 'hc', type: 'helper', z: 't1' },
      ];
    }

    function outputs() {
      return { delivered: collect('hd'), failed: collect('hf'), late: collect('ht'), errors: collect('hc') };
    }

    async function sourceReady(mark = 0) {
      await waitFor(
        () =>
          statuses('in')
            .slice(mark)
            .some((s) => s.text === 'common.status.subscribed'),
        5000,
        'the source subscribed',
      );
    }

    async function load(watch: Record<string, unknown> = {}) {
      await helper.load([...CORE, ...(d.nodes as never[]), watchNodes], flow(watch), d.creds());
      const out = outputs();
      await sourceReady();
      return out;
    }

    /** send one SMS to TO[i] through the real sink; resolves with its provider message id once it is watched */
    async function send(i: number, text = `alert ${i}`): Promise<string> {
      const sent = d.sentIds().length;
      const seen = () => watches().stats.delivered + watches().stats.failed + watches().size;
      const before = seen();
      helper.getNode('out').receive({ payload: text, to: TO[i] });
      await waitFor(() => d.sentIds().length > sent, 5000, 'the fake got the SMS');
      await waitFor(() => seen() > before, 5000, 'the SMS is watched');
      return d.sentIds()[sent];
    }

    it('delivered: an intermediate status updates the watch, the final one sends the send msg on output 1', async () => {
      const out = await load();
      const id = await send(0);
      clock.advance(1_000);
      d.intermediate(id, TO[0]);
      await waitFor(() => watches().providerStatusOf(d.name, id) === d.middleWord);
      assert.equal(out.delivered.length, 0);
      clock.advance(2_000);
      d.deliver(id, TO[0]);
      await waitFor(() => out.delivered.length === 1);
      const msg = out.delivered[0];
      assert.equal(msg.payload, 'alert 0', 'the original send msg');
      assert.deepEqual(msg.sms.ids, [id]);
      assert.deepEqual(msg.delivery, {
        provider: d.name,
        id,
        to: TO[0],
        status: 'delivered',
        providerStatus: d.finalWord,
        sentAt: 1_800_000_000_000,
        doneAt: 1_800_000_003_000,
      });
      await delay(30);
      assert.equal(out.failed.length + out.late.length + out.errors.length, 0);
      assert.equal(watches().size, 0);
      assert.equal(clock.pending, 0, 'no timer while nothing is watched');
      assert.deepEqual(statuses('w').at(-1), {
        fill: 'green',
        shape: 'dot',
        text: 'watching 0 · delivered 1 · failed 0 · late 0',
      });
    });

    it("failed: output 2 with the provider's reason", async () => {
      const out = await load();
      const id = await send(1);
      d.fail(id, TO[1]);
      await waitFor(() => out.failed.length === 1);
      assert.equal(out.failed[0].delivery.status, 'failed');
      assert.equal(out.failed[0].delivery.reason, d.reason(TO[1]));
      assert.equal(out.failed[0].delivery.providerStatus, d.failWord);
      assert.equal(out.failed[0].delivery.to, TO[1]);
      assert.equal(statuses('w').at(-1)!.fill, 'yellow');
      await delay(30);
      assert.equal(out.delivered.length + out.late.length, 0);
    });

    it('no final status: output 3 exactly once at the timeout (fake clock); a late status changes nothing', async () => {
      const out = await load();
      const id = await send(0);
      d.intermediate(id, TO[0]);
      await waitFor(() => watches().providerStatusOf(d.name, id) === d.middleWord);
      clock.advance(TIMEOUT_S * 1000 - 1);
      await delay(30);
      assert.equal(out.late.length, 0, 'not before the timeout');
      clock.advance(1);
      await waitFor(() => out.late.length === 1);
      assert.equal(out.late[0].delivery.status, 'timeout');
      assert.equal(out.late[0].delivery.providerStatus, d.middleWord);
      assert.equal(out.late[0].delivery.doneAt - out.late[0].delivery.sentAt, TIMEOUT_S * 1000);
      clock.advance(10 * TIMEOUT_S * 1000);
      d.deliver(id, TO[0]);
      await waitFor(() => watches().stats.held === 1);
      clock.advance(5_000);
      await delay(30);
      assert.equal(out.late.length, 1, 'exactly once');
      assert.equal(out.delivered.length, 0, 'a status after the timeout is not a delivery');
      assert.equal(watches().stats.late, 1);
      assert.equal(watches().stats.unknown, 1);
    });

    it('out of order: the final status arrives before the send msg (the socket beats the HTTP answer)', async () => {
      const out = await load();
      d.holdAnswers();
      helper.getNode('out').receive({ payload: 'early bird', to: TO[2] });
      await waitFor(() => d.sentIds().length === 1);
      const id = d.sentIds()[0];
      d.deliver(id, TO[2]);
      await waitFor(() => watches().stats.held === 1, 5000, 'the status is held');
      assert.equal(out.delivered.length, 0);
      clock.advance(4_000); // held statuses wait 5 s
      d.releaseAnswers();
      await waitFor(() => out.delivered.length === 1);
      assert.equal(out.delivered[0].payload, 'early bird');
      assert.equal(out.delivered[0].delivery.id, id);
      assert.equal(watches().size, 0);
      assert.equal(watches().stats.unknown, 0);
    });

    it('a status for an unknown id is ignored and counted', async () => {
      const out = await load();
      d.deliver('no-such-id', TO[0]);
      d.fail('no-such-id-2', TO[0]);
      await waitFor(() => watches().stats.held === 2);
      clock.advance(5_000);
      await waitFor(() => watches().stats.unknown === 2);
      assert.equal(statuses('w').at(-1)!.text, 'watching 0 · delivered 0 · failed 0 · late 0 · unknown 2');
      await delay(30);
      assert.equal(out.delivered.length + out.failed.length + out.late.length + out.errors.length, 0);
    });

    it('bounded: beyond maxWatches the msg is a Catch-able WATCH_FULL error, never silently dropped', async () => {
      const out = await load({ maxWatches: 2 });
      const a = await send(0);
      await send(1);
      helper.getNode('out').receive({ payload: 'one too many', to: TO[2] });
      await waitFor(() => out.errors.length === 1);
      assert.equal(out.errors[0].error.code, 'WATCH_FULL');
      assert.equal(out.errors[0].payload, 'one too many');
      assert.equal(watches().size, 2);
      d.deliver(a, TO[0]);
      await waitFor(() => out.delivered.length === 1);
      helper.getNode('out').receive({ payload: 'room again', to: TO[2] });
      await waitFor(() => watches().size === 2 && d.sentIds().length === 4);
      await delay(30);
      assert.equal(out.errors.length, 1);
    });

    it('redeploy: open watches carry over to the node with the same id and end exactly once', async () => {
      await load();
      const a = await send(0);
      await send(1);
      const old = watches();
      const mark = statuses('in').length;
      await helper.setFlows(flow(), 'full', d.creds());
      const out = outputs();
      await sourceReady(mark);
      assert.notEqual(helper.getNode('w'), undefined);
      assert.equal(watches(), old, 'the same table, adopted');
      assert.equal(watches().size, 2);
      assert.equal(parkedCount(), 0);
      d.deliver(a, TO[0]);
      await waitFor(() => out.delivered.length === 1);
      assert.equal(out.delivered[0].payload, 'alert 0');
      clock.advance(TIMEOUT_S * 1000);
      await waitFor(() => out.late.length === 1);
      assert.equal(out.late[0].payload, 'alert 1');
      clock.advance(10 * TIMEOUT_S * 1000);
      await delay(50);
      assert.equal(out.delivered.length, 1);
      assert.equal(out.late.length, 1);
      assert.equal(clock.pending, 0, 'one timer, and none left');
    });

    it('removed by a deploy: its open watches are dropped with a warning, no timer left', async () => {
      await load();
      await send(0);
      const kept = flow().filter((n) => !['w', 'hd', 'hf', 'ht', 'c', 'hc'].includes(n.id));
      // the sink and the source keep their wire to the missing node (Node-RED ignores it)
      await helper.setFlows(kept, 'nodes', d.creds());
      assert.equal(parkedCount(), 0);
      assert.equal(clock.pending, 0);
      const warnings = (helper.log().args as unknown[][])
        .map((a) => a[0] as { level: number; msg: unknown })
        .filter((e) => e.level === helper.log().WARN)
        .map((e) => String(e.msg));
      assert.ok(
        warnings.includes('1 open delivery watches dropped: the node was removed'),
        warnings.join('\n'),
      );
    });
  });
}

describe('delivery watch inputs it cannot watch (through Node-RED)', function () {
  afterEach(async () => {
    await helper.unload();
    clearParked();
  });

  it('an id-less msg.sms is WATCH_NO_ID, a provider without statuses WATCH_UNSUPPORTED; other events pass silently', async () => {
    await helper.load(
      [CORE[2], deliveryWatchNode],
      [
        TAB,
        { id: 'w', type: 'delivery watch', z: 't1', wires: [['h'], ['h'], ['h']] },
        { id: 'h', type: 'helper', z: 't1' },
        { id: 'c', type: 'catch', z: 't1', scope: ['w'], uncaught: false, wires: [['hc']] },
        { id: 'hc', type: 'helper', z: 't1' },
      ],
    );
    const errors = collect('hc');
    const w = helper.getNode('w');
    w.receive({ sms: { provider: 'sms-gateway', to: '+1', ids: [], status: 'failed', code: 'SMS_TIMEOUT' } });
    w.receive({ sms: { provider: 'smsapi', to: '+48500000000', ids: ['7074294081650020450'] } });
    w.receive({
      topic: 'sms-gateway/sms_inbound',
      event: { source: 'sms-gateway', type: 'sms_inbound', id: 'x' },
    });
    w.receive({ payload: 'hello' });
    await waitFor(() => errors.length === 2);
    await delay(30);
    assert.deepEqual(
      errors.map((m) => m.error.code),
      ['WATCH_NO_ID', 'WATCH_UNSUPPORTED'],
    );
    assert.equal(watches().size, 0);
    assert.equal(watches().stats.unknown, 0);
  });

  it('eSMS statuses match a msg.sms the flow set with provider esms; msg.sms wins over msg.event', async () => {
    const clock = new ManualClock(1_000);
    tuning['delivery-watch'] = { clock };
    try {
      await helper.load(deliveryWatchNode, [
        TAB,
        { id: 'w', type: 'delivery watch', z: 't1', wires: [['hd'], ['hf'], ['ht']] },
        { id: 'hd', type: 'helper', z: 't1' },
        { id: 'hf', type: 'helper', z: 't1' },
        { id: 'ht', type: 'helper', z: 't1' },
      ]);
      const failed = collect('hf');
      const w = helper.getNode('w');
      // a msg that went through a source and a user's send: msg.sms starts a watch
      w.receive({
        payload: 'x',
        event: { source: 'esms', type: 'message_status', id: 'msg-1' },
        sms: { provider: 'esms', to: '+256712345678', ids: ['msg-1'] },
      });
      w.receive({
        topic: 'esms/message_status',
        payload: {
          type: 'message_status',
          message_id: 'msg-1',
          status: 'undelivered',
          dlr_status: 'UNDELIV',
        },
        event: { source: 'esms', type: 'message_status', id: 'msg-1', timestamp: 1 },
      });
      await waitFor(() => failed.length === 1);
      assert.equal(failed[0].delivery.reason, 'UNDELIV');
      assert.equal(failed[0].delivery.provider, 'esms');
    } finally {
      resetTuning();
    }
  });
});

describe('examples with delivery watch (run against the fakes)', function () {
  let clock: ManualClock;
  beforeEach(() => {
    clock = new ManualClock(1_800_000_000_000);
    tuning['delivery-watch'] = { clock };
  });
  afterEach(async () => {
    await helper.unload();
    resetTuning();
    resetAuthGuards();
    clearParked();
  });

  function example(name: string): FlowNode[] {
    return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'examples', name), 'utf8')) as FlowNode[];
  }

  it('gateway alert → not delivered in 2 minutes → exactly one PBXware voicemail notification', async () => {
    const gw = await new FakeSmsGateway({ pingIntervalMs: 0, statusProgression: false }).start();
    gw.addKey(GW_KEY);
    const pbx: FakePbxware = await startFakePbxware();
    try {
      const flow = example('sms-gateway-escalation.json').map((n) => {
        if (n.type === 'sms-gateway') return { ...n, url: gw.url };
        if (n.type === 'pbxware-server') return { ...n, url: pbx.url, tenant: pbx.tenant };
        return n;
      });
      const id = (type: string) => flow.find((n) => n.type === type)!.id;
      await helper.load([...CORE, gatewayNodes, pbxwareNodes, deliveryWatchNode], flow, {
        [id('sms-gateway')]: { apiKey: GW_KEY },
        [id('pbxware-server')]: { apiKey: pbx.apiKey },
      });
      const watch = () => watches(id('delivery watch'));
      await waitFor(() => gw.authedSockets === 1);
      const out = helper.getNode(id('sms-gateway out'));
      out.receive({ payload: 'ALERT: disk full on db1' });
      await waitFor(() => gw.sent.length === 1 && watch().size === 1);
      out.receive({ payload: 'ALERT: db2 down' });
      await waitFor(() => gw.sent.length === 2 && watch().size === 2);
      gw.pushStatus({ messageId: gw.sent[0].messageId, status: 'sending', rcMessageId: undefined });
      gw.pushStatus({ messageId: gw.sent[0].messageId, status: 'sent' });
      gw.pushStatus({ messageId: gw.sent[1].messageId, status: 'queued', rcMessageId: undefined });
      await waitFor(() => watch().stats.delivered === 1);
      clock.advance(119_000);
      await delay(50);
      assert.equal(pbx.sent.length, 0, 'not before 2 minutes');
      clock.advance(1_000);
      await waitFor(() => pbx.sent.length === 1);
      clock.advance(3_600_000);
      await delay(100);
      assert.equal(pbx.sent.length, 1, 'exactly one fallback');
      assert.equal(pbx.sent[0].extension, '1001');
      assert.equal(pbx.sent[0].text, 'Alert SMS to +14155552671 not delivered (timeout): ALERT: db2 down');
      assert.equal(gw.sent.length, 2, 'no second SMS');
    } finally {
      await helper.unload();
      await gw.close();
      await pbx.close();
    }
  });

  it('CPaaS send → delivery report: the delivered and the failed SMS reach their debug nodes once each', async () => {
    const fake = await new FakeCpaas({ clientSecret: CP_SECRET }).start();
    try {
      const flow = example('cpaas-delivery-report.json').map((n) => {
        if (n.type === 'kandy-cpaas') return { ...n, url: fake.url, clientId: fake.clientId };
        if (n.type === 'debug') return { id: n.id, z: n.z, type: 'helper', name: n.name };
        return n;
      });
      const id = (type: string, name?: string) =>
        flow.find((n) => n.type === type && (name === undefined || n.name === name))!.id;
      await helper.load([...CORE, cpaasNodes, deliveryWatchNode], flow, {
        [id('kandy-cpaas')]: { clientSecret: CP_SECRET },
      });
      const delivered = collect(id('helper', 'delivered'));
      const failed = collect(id('helper', 'failed'));
      const late = collect(id('helper', 'no report in time'));
      const errors = collect(id('helper', 'msg.error'));
      const from = flow.find((n) => n.type === 'kandy-cpaas')!.from as string;
      await waitFor(() => fake.subscriptionsFor(from).length === 1 && fake.openSockets === 1);
      const watch = () => watches(id('delivery watch'));
      helper.getNode(id('inject')).receive({});
      await waitFor(() => fake.sent.length === 1 && watch().size === 1);
      helper.getNode(id('cpaas out')).receive({ payload: 'second' });
      await waitFor(() => fake.sent.length === 2 && watch().size === 2);
      const [a, b] = fake.sent;
      fake.push('deliveryInfoNotification', from, {
        remote: a.address,
        messageId: a.messageId,
        deliveryStatus: 'DeliveredToNetwork',
      });
      fake.push('deliveryInfoNotification', from, { remote: a.address, messageId: a.messageId });
      fake.push('deliveryInfoNotification', from, {
        remote: b.address,
        messageId: b.messageId,
        deliveryStatus: 'DeliveryImpossible',
      });
      await waitFor(() => delivered.length === 1 && failed.length === 1);
      assert.equal(delivered[0].delivery.id, a.messageId);
      assert.equal(delivered[0].payload, 'Your appointment is tomorrow at 10:00.');
      assert.equal(failed[0].delivery.reason, 'DeliveryImpossible');
      clock.advance(3_600_000);
      await delay(50);
      assert.equal(late.length + errors.length, 0);
      assert.equal(delivered.length + failed.length, 2);
    } finally {
      await helper.unload();
      await fake.close();
    }
  });
});
