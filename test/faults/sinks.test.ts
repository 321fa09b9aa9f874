/**
 * Every sink under provider faults: timeouts, 5xx storms, 429 with Retry-After, connection refused, a
 * provider that accepts and then answers malformed JSON or drops the connection. Always: retries
 * bounded, exactly one outcome per recipient per input message, never two SMS for one send.
 * And closing: a redeploy while a slow provider holds a request never aborts it.
 */
import assert from 'assert';
import { resetTuning, tuning } from '../../nodes/lib/tuning';
import { SINK_PROPS, sinks } from './sinks';
import { closedPort, collect, countInputs, delay, helper, type Msg, record, until, withParams } from './util';

interface RedNodes {
  setFlows(flow: unknown[], credentials: Record<string, unknown>, type: string): Promise<unknown>;
}

/** A "modified nodes" deploy, as the editor does by default; resolves once the flows started again. */
async function deployNodes(flow: unknown[], credentials: Record<string, unknown>): Promise<void> {
  const h = helper as unknown as { _redNodes: RedNodes; _events: NodeJS.EventEmitter };
  const started = new Promise<void>((resolve) => h._events.once('flows:started', () => resolve()));
  await h._redNodes.setFlows(flow, credentials, 'nodes');
  await started;
}

const ATTEMPTS = SINK_PROPS.retries + 1;
/** the slow provider of the closing test answers this long after the close began */
const ANSWER_AFTER_MS = 1_000;
const NUMBERS = ['+48500000101', '+48500000102', '+48500000103', '+48500000104'];
/** after the expected outcomes, wait this long for any extra (duplicate) one */
const SETTLE_MS = 400;

interface Outcome {
  kind: 'sent' | 'failed';
  to: string;
  input: string;
  code?: string;
  attempts: number;
  status?: string;
}

describe('faults: sinks under provider faults', function () {
  for (const s of sinks()) {
    describe(s.type, () => {
      let sent: Msg[];
      let caught: Msg[];

      const load = async (url?: string) => {
        await helper.load(withParams(s.module()), s.flow(url), s.credentials());
        sent = collect('h');
        caught = collect('hc');
      };

      const outcomes = (): Outcome[] => [
        ...sent.map((m) => ({
          kind: 'sent' as const,
          to: m.sms.to,
          input: m.input,
          attempts: m.sms.attempts,
          status: m.sms.status,
        })),
        ...caught.map((m) => ({
          kind: 'failed' as const,
          to: m.sms?.to,
          input: m.input,
          code: m.error?.code,
          attempts: m.sms?.attempts,
        })),
      ];

      /** send inputs, wait for `expected` outcomes, then make sure no extra one comes */
      const run = async (inputs: { input: string; to: string[] }[]) => {
        const expected = inputs.reduce((n, i) => n + i.to.length, 0);
        for (const i of inputs)
          helper.getNode('out').receive({ payload: `fault test ${i.input}`, to: i.to, input: i.input });
        await until(() => outcomes().length >= expected, `${s.type}: ${expected} outcome(s)`, 15_000);
        await delay(SETTLE_MS);
        const all = outcomes();
        assert.strictEqual(all.length, expected, `exactly one outcome per recipient: ${JSON.stringify(all)}`);
        for (const i of inputs)
          for (const to of i.to)
            assert.strictEqual(
              all.filter((o) => o.input === i.input && o.to === to).length,
              1,
              `${i.input} → ${to}`,
            );
        for (const o of all)
          assert.ok(o.attempts >= 1 && o.attempts <= ATTEMPTS, `bounded attempts: ${o.attempts}`);
        countInputs(expected);
        return all;
      };

      const summary = (all: Outcome[]) => {
        const sentN = all.filter((o) => o.kind === 'sent').length;
        const codes = [...new Set(all.filter((o) => o.kind === 'failed').map((o) => o.code))];
        return [
          sentN ? `${sentN} sent` : '',
          codes.length ? `${all.length - sentN} failed ${codes.join('/')}` : '',
        ]
          .filter(Boolean)
          .join(', ');
      };

      beforeEach(async () => {
        tuning.sink = {
          retryBackoff: { initialDelayMs: 5, maxDelayMs: 20, factor: 2, jitter: 0 },
          maxRetryAfterMs: 5_000,
        };
        await s.start();
      });

      afterEach(async () => {
        await helper.unload();
        await s.close();
        resetTuning();
      });

      it('provider timeout (the SMS was processed, the answer never comes): one SMS, one outcome', async () => {
        await load();
        s.inject('timeout', 1);
        const all = await run([{ input: 'timeout', to: [NUMBERS[0]] }]);
        assert.strictEqual(s.smsAtProvider(), 1, 'one SMS at the provider');
        if (s.idempotent) {
          // SMSAPI idx + check_idx, CPaaS clientCorrelator: the retry learns the first attempt went through
          assert.strictEqual(all[0].kind, 'sent');
          assert.strictEqual(s.requests(), 2);
        } else {
          assert.deepStrictEqual([all[0].kind, all[0].code, s.requests()], ['failed', 'SMS_UNCERTAIN', 1]);
        }
        record('sinks', {
          sink: s.type,
          fault: 'timeout after the provider processed the SMS',
          recipients: 1,
          'provider requests': s.requests(),
          'SMS at provider': s.smsAtProvider(),
          outcomes: summary(all),
          duplicates: 0,
        });
      });

      it('5xx storm: every attempt fails, retries bounded (none where a resend could deliver twice), one SMS_UNCERTAIN per recipient, then it recovers', async () => {
        await load();
        const inputs = [0, 1, 2, 3, 4].map((i) => ({ input: `storm-${i}`, to: [NUMBERS[0], NUMBERS[1]] }));
        // a 5xx may come after the provider took the SMS: retried only where the provider de-duplicates
        const attempts = s.idempotent ? ATTEMPTS : 1;
        s.inject('5xx', inputs.length * 2 * attempts);
        const all = await run(inputs);
        assert.ok(
          all.every((o) => o.kind === 'failed' && o.code === 'SMS_UNCERTAIN' && o.attempts === attempts),
          JSON.stringify(all),
        );
        assert.strictEqual(s.requests(), inputs.length * 2 * attempts);
        assert.strictEqual(s.smsAtProvider(), 0);
        sent.length = 0;
        caught.length = 0;
        const after = await run([{ input: 'after-storm', to: [NUMBERS[2]] }]);
        assert.strictEqual(after[0].kind, 'sent');
        assert.strictEqual(s.smsAtProvider(), 1);
        record('sinks', {
          sink: s.type,
          fault: `5xx storm (${inputs.length} messages × 2 recipients), then one more message`,
          recipients: inputs.length * 2 + 1,
          'provider requests': s.requests(),
          'SMS at provider': s.smsAtProvider(),
          outcomes: `${summary(all)} (${attempts} attempt${attempts > 1 ? 's' : ''} each); then ${summary(after)}`,
          duplicates: 0,
        });
      });

      it('429 with Retry-After: 1 s, then accepted: waits, one SMS', async () => {
        await load();
        s.inject('429', 1, 1);
        const started = Date.now();
        const all = await run([{ input: 'limited', to: [NUMBERS[0]] }]);
        const waited = Date.now() - started;
        assert.deepStrictEqual(
          [all[0].kind, all[0].attempts, s.requests(), s.smsAtProvider()],
          ['sent', 2, 2, 1],
        );
        if (s.readsRetryAfter) assert.ok(waited >= 900, `Retry-After honoured (waited ${waited} ms)`);
        record('sinks', {
          sink: s.type,
          fault: '429 Retry-After: 1, then accepted',
          recipients: 1,
          'provider requests': s.requests(),
          'SMS at provider': s.smsAtProvider(),
          outcomes: `${summary(all)} on attempt 2${s.readsRetryAfter ? ', after ≥ 1 s' : ' (the official client hides Retry-After: backoff instead)'}`,
          duplicates: 0,
        });
      });

      it('429 storm (Retry-After: 0): retries bounded, one SMS_RATE_LIMITED', async () => {
        await load();
        s.inject('429', ATTEMPTS, 0);
        const all = await run([{ input: 'limited-storm', to: [NUMBERS[0]] }]);
        assert.deepStrictEqual(
          [all[0].kind, all[0].code, all[0].attempts],
          ['failed', 'SMS_RATE_LIMITED', ATTEMPTS],
        );
        assert.deepStrictEqual([s.requests(), s.smsAtProvider()], [ATTEMPTS, 0]);
        record('sinks', {
          sink: s.type,
          fault: '429 on every attempt',
          recipients: 1,
          'provider requests': s.requests(),
          'SMS at provider': 0,
          outcomes: `${summary(all)} after ${ATTEMPTS} attempts`,
          duplicates: 0,
        });
      });

      it('connection refused: retried (nothing was sent), then one SMS_NETWORK per recipient', async () => {
        await load(await closedPort());
        const all = await run([{ input: 'refused', to: [NUMBERS[0], NUMBERS[1]] }]);
        assert.ok(
          all.every((o) => o.kind === 'failed' && o.code === 'SMS_NETWORK' && o.attempts === ATTEMPTS),
        );
        record('sinks', {
          sink: s.type,
          fault: 'connection refused',
          recipients: 2,
          'provider requests': 0,
          'SMS at provider': 0,
          outcomes: `${summary(all)} after ${ATTEMPTS} attempts each`,
          duplicates: 0,
        });
      });

      it('accepts the SMS, then answers malformed JSON: one SMS, one outcome', async () => {
        await load();
        s.inject('malformed', 1);
        const all = await run([{ input: 'malformed', to: [NUMBERS[0]] }]);
        assert.strictEqual(s.smsAtProvider(), 1, 'never a second SMS');
        assert.ok(s.requests() <= (s.idempotent ? 2 : 1), `requests: ${s.requests()}`);
        record('sinks', {
          sink: s.type,
          fault: 'accepted, then 2xx with malformed JSON',
          recipients: 1,
          'provider requests': s.requests(),
          'SMS at provider': s.smsAtProvider(),
          outcomes: summary(all),
          duplicates: 0,
        });
      });

      it('accepts the SMS, then resets the connection: one SMS, one outcome', async () => {
        await load();
        s.inject('reset', 1);
        const all = await run([{ input: 'reset', to: [NUMBERS[0]] }]);
        assert.strictEqual(s.smsAtProvider(), 1, 'never a second SMS');
        if (s.idempotent) assert.strictEqual(all[0].kind, 'sent');
        else assert.deepStrictEqual([all[0].kind, all[0].code, s.requests()], ['failed', 'SMS_UNCERTAIN', 1]);
        record('sinks', {
          sink: s.type,
          fault: 'accepted, then the connection reset without an answer',
          recipients: 1,
          'provider requests': s.requests(),
          'SMS at provider': s.smsAtProvider(),
          outcomes: summary(all),
          duplicates: 0,
        });
      });

      it('closing with a slow provider: the request in flight is not aborted, its outcome is reported, each queued SMS is SMS_CANCELLED', async () => {
        // a timeout well above the provider's answer time: the request stays in flight through the close
        const withTimeout = (name?: string) =>
          s.flow().map((n) => (n.id === 'out' ? { ...n, timeout: 10, ...(name ? { name } : {}) } : n));
        await helper.load(withParams(s.module()), withTimeout(), s.credentials());
        sent = collect('h');
        caught = collect('hc');
        const slow = s.slow();
        slow.held = true;
        const inputs = ['in-flight', 'queued-1', 'queued-2', 'queued-3'];
        for (const input of inputs)
          helper.getNode('out').receive({ payload: `closing test ${input}`, to: [NUMBERS[0]], input });
        await until(() => slow.holding === 1, `${s.type}: the first request, held by the provider`);
        // the editor's "modified nodes" deploy: the sink restarts, its Catch and outputs keep running
        const changed = withTimeout('redeployed');
        const started = Date.now();
        let closed = false;
        const deploying = deployNodes(changed, s.credentials()).then(() => (closed = true));
        await until(() => caught.length === inputs.length - 1, `${s.type}: the queued SMS cancelled`);
        // the provider answers ANSWER_AFTER_MS after the close began; the close must still be waiting
        await delay(ANSWER_AFTER_MS);
        assert.strictEqual(closed, false, 'close waits for the request in flight');
        slow.release();
        await deploying;
        const closeMs = Date.now() - started;
        await until(() => sent.length === 1, `${s.type}: the outcome of the request in flight`);
        assert.deepStrictEqual([slow.answered, slow.abandoned], [1, 0], 'not aborted');
        assert.strictEqual(sent[0].input, 'in-flight');
        const cancelled = caught.filter((m) => m.error?.code === 'SMS_CANCELLED');
        assert.deepStrictEqual(cancelled.map((m) => m.input).sort(), ['queued-1', 'queued-2', 'queued-3']);
        assert.deepStrictEqual([s.requests(), s.smsAtProvider()], [1, 1]);
        countInputs(inputs.length);
        record('closing', {
          sink: s.type,
          'close (redeploy of the sink)': `provider answers ${ANSWER_AFTER_MS / 1000} s after the close began`,
          'requests in flight': 1,
          aborted: slow.abandoned === 0 ? 'no' : `YES (${slow.abandoned})`,
          'outcome reported': `sent (msg.sms.ids ${sent[0].sms.ids.length ? 'set' : 'empty'}), on the output`,
          queued: inputs.length - 1,
          SMS_CANCELLED: cancelled.length,
          'SMS at provider': s.smsAtProvider(),
          'close took': `${(closeMs / 1000).toFixed(1)} s`,
        });
      });
    });
  }
});
