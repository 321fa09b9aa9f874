/**
 * No outcome left unknown, through Node-RED, for every sink:
 * - a redeploy or shutdown never aborts a request in flight: the (slow) provider answers, the SMS is
 *   reported sent, and each queued SMS fails on its own message with SMS_CANCELLED;
 * - an ambiguous failure (a 502 or a reset after the provider took the SMS) is retried only where the
 *   provider de-duplicates (SMSAPI idx, CPaaS clientCorrelator: still one SMS); the gateway and PBXware
 *   report SMS_UNCERTAIN after exactly one request;
 * - the dedupe window survives a redeploy of the same node in the middle of a storm.
 */
import assert from 'node:assert/strict';
import type { NodeAPI } from 'node-red';
import cpaasNodes from '../nodes/cpaas';
import { resetAuthGuards } from '../nodes/lib/sms-gateway/auth-guard';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import pbxwareNodes from '../nodes/pbxware';
import gatewayNodes from '../nodes/sms-gateway';
import smsapiNodes from '../nodes/smsapi';
import { FakeCpaas } from './fakes/cpaas';
import { type FakePbxware, startFakePbxware } from './fakes/pbxware';
import { FakeSmsapi } from './fakes/smsapi';
import { FakeSmsGateway, GOOD_KEY } from './fakes/sms-gateway';
import { SlowAnswers } from './fakes/slow';
import { helper, waitFor } from './helpers';

type Msg = Record<string, any>;
type Flow = Record<string, unknown>[];

/** What each sink's test needs from its fake provider. */
interface Sink {
  type: string;
  /** resubmissions cannot deliver twice (idx / clientCorrelator) */
  idempotent: boolean;
  module: (RED: NodeAPI) => void;
  start(): Promise<void>;
  close(): Promise<void>;
  config(): Record<string, unknown>;
  props(): Record<string, unknown>;
  credentials(): Record<string, Record<string, string>>;
  /** the fake's slow answers: the SMS is taken at once, answered later (held, or after a delay) */
  slow(): SlowAnswers;
  requests(): number;
  smsAtProvider(): number;
  /** a proxy answers the next send with 502 (the idempotent providers' fakes take the SMS first) */
  badGatewayAfterAccept(): void;
  /** the next send is taken by the provider, then the connection resets */
  resetAfterAccept(): void;
}

function smsapi(): Sink {
  let fake: FakeSmsapi;
  return {
    type: 'smsapi out',
    idempotent: true,
    module: smsapiNodes,
    start: async () => void (fake = await FakeSmsapi.start({ token: 'closing-token' })),
    close: () => fake.close(),
    config: () => ({ type: 'smsapi-account', url: fake.url, from: 'Alert', test: false }),
    props: () => ({ account: 'cfg' }),
    credentials: () => ({ cfg: { token: 'closing-token' } }),
    slow: () => fake.slow,
    requests: () => fake.smsRequests.length,
    smsAtProvider: () => fake.accepted.length,
    badGatewayAfterAccept: () => void fake.script({ kind: 'http', status: 502, accept: true }),
    resetAfterAccept: () => void fake.script({ kind: 'drop', accept: true }),
  };
}

function gateway(): Sink {
  let fake: FakeSmsGateway;
  return {
    type: 'sms-gateway out',
    idempotent: false,
    module: gatewayNodes,
    start: async () =>
      void (fake = await new FakeSmsGateway({
        pingIntervalMs: 0,
        rateLimit: { max: 100_000, windowMs: 60_000 },
      }).start()),
    close: async () => {
      await fake.close();
      resetAuthGuards();
    },
    config: () => ({ type: 'sms-gateway', url: fake.url, from: '+15559876543', wsAuth: 'token' }),
    props: () => ({ gateway: 'cfg', from: '' }),
    credentials: () => ({ cfg: { apiKey: GOOD_KEY } }),
    slow: () => fake.slow,
    requests: () => fake.requests.filter((r) => r.path === '/v1/sms/send').length,
    smsAtProvider: () => fake.sent.length,
    badGatewayAfterAccept: () => fake.failNext(502, 'Bad gateway'),
    resetAfterAccept: () => fake.dropSends(1, true),
  };
}

function pbxware(): Sink {
  let fake: FakePbxware;
  return {
    type: 'pbxware out',
    idempotent: false,
    module: pbxwareNodes,
    start: async () => void (fake = await startFakePbxware()),
    close: () => fake.close(),
    config: () => ({ type: 'pbxware-server', url: fake.url, tenant: fake.tenant, api: 'action' }),
    props: () => ({ server: 'cfg', mode: 'sms', extension: '' }),
    credentials: () => ({ cfg: { apiKey: fake.apiKey } }),
    slow: () => fake.slow,
    requests: () => fake.requests.length,
    smsAtProvider: () => fake.sent.length,
    badGatewayAfterAccept: () => void fake.failNext.push(502),
    resetAfterAccept: () => void fake.failNext.push('drop-accept'),
  };
}

function cpaas(): Sink {
  let fake: FakeCpaas;
  return {
    type: 'cpaas out',
    idempotent: true,
    module: cpaasNodes,
    start: async () => void (fake = await new FakeCpaas({ clientSecret: 'closing-secret' }).start()),
    close: () => fake.close(),
    config: () => ({
      type: 'kandy-cpaas',
      url: fake.url,
      clientId: fake.clientId,
      auth: 'project',
      from: '+16135550100',
    }),
    props: () => ({ cpaas: 'cfg' }),
    credentials: () => ({ cfg: { clientSecret: 'closing-secret' } }),
    slow: () => fake.slow,
    requests: () => fake.counts.send,
    smsAtProvider: () => fake.sent.length,
    badGatewayAfterAccept: () => fake.scriptSend({ status: 502, process: true }),
    resetAfterAccept: () => fake.scriptSend({ status: 201, process: true, drop: true }),
  };
}

const NUMBERS = ['+48500000201', '+48500000202', '+48500000203'];

interface RedNodes {
  setFlows(flow: unknown[], credentials: Record<string, unknown>, type: string): Promise<unknown>;
}

/** Deploy `flow` as Node-RED's editor does ('nodes': only changed nodes restart); resolves once started. */
async function deploy(
  flow: Flow,
  credentials: Record<string, unknown>,
  type: 'full' | 'nodes',
): Promise<void> {
  const h = helper as unknown as { _redNodes: RedNodes; _events: NodeJS.EventEmitter };
  const started = new Promise<void>((resolve) => h._events.once('flows:started', () => resolve()));
  await h._redNodes.setFlows(flow, credentials, type);
  await started;
}

describe('sinks: closing and ambiguous failures (through Node-RED)', function () {
  for (const make of [smsapi, gateway, pbxware, cpaas]) {
    const s = make();
    describe(s.type, () => {
      let sent: Msg[];
      let caught: Msg[];

      const flow = (props: Record<string, unknown> = {}): Flow => [
        { id: 't1', type: 'tab', label: 'closing' },
        { id: 'cfg', name: 'provider', ...s.config() },
        {
          id: 'out',
          type: s.type,
          z: 't1',
          wires: [['h']],
          to: '',
          message: '',
          rateLimit: 0,
          dedupeWindow: 0,
          maxParts: 3,
          retries: 2,
          timeout: 10,
          ...s.props(),
          ...props,
        },
        { id: 'h', type: 'helper', z: 't1' },
        { id: 'c', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['hc']] },
        { id: 'hc', type: 'helper', z: 't1' },
      ];
      const collect = () => {
        sent = [];
        caught = [];
        helper.getNode('h').on('input', (m: Msg) => sent.push(m));
        helper.getNode('hc').on('input', (m: Msg) => caught.push(m));
      };
      const load = async (props: Record<string, unknown> = {}) => {
        await helper.load(s.module, flow(props), s.credentials());
        collect();
      };
      const send = (input: string, to = NUMBERS[0], payload = `closing test ${input}`) =>
        helper.getNode('out').receive({ payload, to, input });

      beforeEach(async () => {
        tuning.sink = {
          retryBackoff: { initialDelayMs: 5, maxDelayMs: 20, factor: 2, jitter: 0 },
          maxRetryAfterMs: 1_000,
        };
        await s.start();
      });
      afterEach(async () => {
        await helper.unload();
        await s.close();
        resetTuning();
      });

      it('a redeploy of the sink with a slow provider: the request is not aborted, the SMS is reported sent, each queued SMS is its own SMS_CANCELLED', async () => {
        await load();
        s.slow().held = true;
        for (const input of ['first', 'queued-1', 'queued-2']) send(input);
        await waitFor(() => s.slow().holding === 1, 5000, 'the first request, held by the provider');
        // the editor's "modified nodes" deploy: only the sink restarts, Catch and the helpers keep running
        let redeployed = false;
        const redeploy = deploy(flow({ name: 'renamed' }), s.credentials(), 'nodes').then(
          () => (redeployed = true),
        );
        await waitFor(() => caught.length === 2, 5000, 'the queued SMS cancelled');
        assert.deepEqual(caught.map((m) => [m.input, m.error.code, m.error.source.id]).sort(), [
          ['queued-1', 'SMS_CANCELLED', 'out'],
          ['queued-2', 'SMS_CANCELLED', 'out'],
        ]);
        assert.deepEqual([sent.length, redeployed], [0, false], 'close waits for the request in flight');
        s.slow().release();
        await redeploy;
        assert.deepEqual([s.slow().answered, s.slow().abandoned], [1, 0], 'the request ran to its answer');
        assert.equal(sent.length, 1);
        assert.equal(sent[0].input, 'first');
        assert.equal(sent[0].sms.to, NUMBERS[0]);
        assert.deepEqual([s.requests(), s.smsAtProvider()], [1, 1], 'the queued SMS were never sent');
        // the new instance works
        send('after');
        await waitFor(() => sent.length === 2, 5000, 'an SMS after the redeploy');
      });

      it('shutdown with a slow provider: close waits for the answer, the SMS is sent and reported, the queued one cancelled', async () => {
        await load();
        s.slow().held = true;
        // the flow is gone during a shutdown: watch what the node itself reports
        const out = helper.getNode('out');
        const reported: { sent: Msg[]; errors: [string | undefined, unknown][] } = { sent: [], errors: [] };
        const nodeSend = out.send.bind(out);
        const nodeError = out.error.bind(out);
        out.send = (m: Msg) => {
          reported.sent.push(m);
          nodeSend(m);
        };
        out.error = (e: Error & { code?: string }, m?: Msg) => {
          reported.errors.push([e.code, m?.input]);
          nodeError(e, m);
        };
        send('first');
        send('queued');
        await waitFor(() => s.slow().holding === 1, 5000, 'the first request, held');
        let stopped = false;
        const shutdown = helper.unload().then(() => (stopped = true));
        await waitFor(() => reported.errors.length === 1, 5000, 'the queued SMS cancelled');
        assert.deepEqual([reported.sent.length, stopped], [0, false], 'the shutdown waits for the answer');
        s.slow().release();
        await shutdown;
        assert.deepEqual([s.slow().answered, s.slow().abandoned], [1, 0], 'not aborted by the shutdown');
        assert.deepEqual(
          reported.sent.map((m) => [m.input, m.sms.to]),
          [['first', NUMBERS[0]]],
        );
        assert.deepEqual(reported.errors, [['SMS_CANCELLED', 'queued']]);
        assert.equal(s.smsAtProvider(), 1);
      });

      it(
        'a 502 from a proxy after the provider (may have) taken the SMS: ' +
          (s.idempotent ? 'retried, still ONE SMS' : 'SMS_UNCERTAIN after exactly one request'),
        async () => {
          await load();
          s.badGatewayAfterAccept();
          send('bad-gateway');
          if (s.idempotent) {
            await waitFor(() => sent.length === 1, 5000, 'sent');
            assert.equal(sent[0].sms.attempts, 2);
            assert.deepEqual([s.requests(), s.smsAtProvider(), caught.length], [2, 1, 0]);
          } else {
            await waitFor(() => caught.length === 1, 5000, 'the error');
            assert.equal(caught[0].error.code, 'SMS_UNCERTAIN');
            assert.match(caught[0].error.message, /may have been sent/);
            assert.equal(caught[0].sms.attempts, 1);
            assert.equal(s.requests(), 1, 'never a second request');
          }
        },
      );

      it(
        'a reset after the provider took the SMS: ' +
          (s.idempotent ? 'retried, still ONE SMS' : 'SMS_UNCERTAIN after exactly one request'),
        async () => {
          await load();
          s.resetAfterAccept();
          send('reset');
          if (s.idempotent) {
            await waitFor(() => sent.length === 1, 5000, 'sent');
            assert.deepEqual([s.requests(), s.smsAtProvider(), caught.length], [2, 1, 0]);
          } else {
            await waitFor(() => caught.length === 1, 5000, 'the error');
            assert.equal(caught[0].error.code, 'SMS_UNCERTAIN');
            assert.deepEqual([s.requests(), s.smsAtProvider(), sent.length], [1, 1, 0]);
          }
        },
      );

      it('a full redeploy in the middle of a storm keeps the dedupe window: no duplicate SMS', async () => {
        const props = { dedupeWindow: 60 };
        await load(props);
        s.slow().delayMs = 100;
        const storm = ['s1', 's2', 's3', 's4', 's5'];
        for (const input of storm) send(input, NUMBERS[1], `storm ${input}`);
        await waitFor(() => s.requests() >= 2, 5000, 'the storm under way');
        await deploy(flow(props), s.credentials(), 'full');
        collect();
        s.slow().delayMs = 0;
        // the same storm again, after the redeploy: what was sent before is a duplicate now
        const sentBefore = s.smsAtProvider();
        for (const input of storm) send(`${input}-again`, NUMBERS[1], `storm ${input}`);
        await waitFor(() => s.smsAtProvider() === storm.length, 5000, 'each text once');
        await waitFor(() => sent.length === storm.length - sentBefore, 5000, 'the new instance outcomes');
        assert.equal(s.smsAtProvider(), storm.length, 'each text reached the provider exactly once');
        assert.equal(s.requests(), storm.length, 'no second request for any text');
      });
    });
  }
});
