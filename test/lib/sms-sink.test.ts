import assert from 'node:assert/strict';
import { SmsError } from '../../nodes/lib/sms/errors';
import type { SmsProvider, SmsSendRequest, SmsSendResult } from '../../nodes/lib/sms/provider';
import {
  attachSink,
  type InputHandler,
  memoTranslate,
  type SinkConfig,
  sinkStatus,
} from '../../nodes/lib/sms/sink-node';
import { resetTuning, tuning } from '../../nodes/lib/tuning';
import { waitFor } from '../helpers';

/** A scriptable provider: each call shifts a step (result, error, or 'hang'). */
class FakeProvider implements SmsProvider {
  readonly name = 'fake';
  requests: SmsSendRequest[] = [];
  steps: (SmsSendResult | SmsError | 'hang')[] = [];
  aborted = 0;
  constructor(
    public testMode = false,
    public recipientKind: 'e164' | 'opaque' = 'e164',
    public idempotent = false,
  ) {}
  send(request: SmsSendRequest, signal: AbortSignal): Promise<SmsSendResult> {
    this.requests.push(request);
    const step = this.steps.shift() ?? { ids: [`id${this.requests.length}`], status: 'QUEUE' };
    if (step === 'hang')
      return new Promise((_resolve, reject) =>
        signal.addEventListener('abort', () => {
          this.aborted++;
          reject(signal.reason);
        }),
      );
    return step instanceof SmsError ? Promise.reject(step) : Promise.resolve(step);
  }
}

class FakeHost {
  id = 'n1';
  statuses: unknown[] = [];
  warnings: unknown[] = [];
  errors: { err: unknown; msg: unknown }[] = [];
  input?: InputHandler;
  closeHandler?: (removed: boolean, done: () => void) => void;
  status(s: unknown) {
    this.statuses.push(s);
  }
  warn(m: unknown) {
    this.warnings.push(m);
  }
  error(err: unknown, msg?: unknown) {
    this.errors.push({ err, msg });
  }
  on(event: string, handler: never) {
    if (event === 'input') this.input = handler;
    else this.closeHandler = handler;
  }
  /** feed one msg; resolves with what was sent and how done was called */
  receive(msg: Record<string, unknown>): Promise<{ sent: Record<string, unknown>[]; err?: Error }> {
    const sent: Record<string, unknown>[] = [];
    return new Promise((resolve) => {
      this.input!(
        msg,
        (m) => sent.push(...(Array.isArray(m) ? m : [m])),
        (err) => resolve({ sent, err }),
      );
    });
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.closeHandler!(false, resolve));
  }
}

const t = (key: string) => key;

function setup(config: SinkConfig, provider = new FakeProvider()) {
  const host = new FakeHost();
  attachSink(host, config, provider, t);
  return { host, provider };
}

describe('sms sink (attachSink + pipeline)', function () {
  beforeEach(() => {
    tuning.sink = {
      retryBackoff: { initialDelayMs: 5, maxDelayMs: 20, factor: 2, jitter: 0.5 },
      maxRetryAfterMs: 1000,
    };
  });
  afterEach(() => resetTuning());

  it('sends one SMS with the rendered text to the E.164 number and sets msg.sms', async () => {
    const { host, provider } = setup({
      to: '500 000 000',
      defaultCountry: 'PL',
      message: 'New in {{event.containerId}}',
    });
    const r = await host.receive({ _msgid: 'm1', event: { containerId: 'abc' } });
    assert.equal(r.err, undefined);
    assert.equal(provider.requests.length, 1);
    assert.equal(provider.requests[0].to, '+48500000000');
    assert.equal(provider.requests[0].text, 'New in abc');
    assert.equal(r.sent.length, 1);
    const sms = r.sent[0].sms as Record<string, unknown>;
    assert.deepEqual(
      {
        provider: sms.provider,
        to: sms.to,
        ids: sms.ids,
        parts: sms.parts,
        status: sms.status,
        attempts: sms.attempts,
      },
      { provider: 'fake', to: '+48500000000', ids: ['id1'], parts: 1, status: 'QUEUE', attempts: 1 },
    );
    assert.equal(sms.encoding, 'GSM-7');
    assert.equal(sms.test, false);
    assert.equal(r.sent[0]._msgid, 'm1');
  });

  it('uses msg.to (string list or array) when the node has no recipients, and dedupes them', async () => {
    const { host, provider } = setup({});
    const r = await host.receive({ payload: 'hi', to: ['+48500000000', '+48 500 000 000', '+48500000001'] });
    assert.equal(r.err, undefined);
    assert.deepEqual(
      provider.requests.map((q) => q.to),
      ['+48500000000', '+48500000001'],
    );
    assert.equal(r.sent.length, 2);
  });

  it('the node list wins over msg.to and warns once', async () => {
    const { host, provider } = setup({ to: '+48500000000' });
    await host.receive({ payload: 'a', to: '+48500000001' });
    await host.receive({ payload: 'b', to: '+48500000001' });
    assert.deepEqual(
      provider.requests.map((q) => q.to),
      ['+48500000000', '+48500000000'],
    );
    assert.deepEqual(host.warnings, ['common.sink.toConflict']);
  });

  it('single invalid recipient → done(err) SMS_INVALID_NUMBER naming the number', async () => {
    const { host, provider } = setup({});
    const r = await host.receive({ payload: 'x', to: '12345' });
    assert.equal((r.err as SmsError).code, 'SMS_INVALID_NUMBER');
    assert.match(r.err!.message, /12345/);
    assert.equal(provider.requests.length, 0);
  });

  it('several recipients: node.error per failure with a copy, sends the rest, then done()', async () => {
    const { host, provider } = setup({});
    const r = await host.receive({ payload: 'x', to: '+48500000000, nope' });
    assert.equal(r.err, undefined);
    assert.equal(provider.requests.length, 1);
    assert.equal(r.sent.length, 1);
    assert.equal(host.errors.length, 1);
    assert.equal((host.errors[0].err as SmsError).code, 'SMS_INVALID_NUMBER');
    assert.equal(((host.errors[0].msg as Record<string, unknown>).sms as { to: string }).to, 'nope');
  });

  it('no recipient → SMS_NO_RECIPIENT; empty text → SMS_EMPTY', async () => {
    const { host } = setup({});
    assert.equal(((await host.receive({ payload: 'x' })).err as SmsError).code, 'SMS_NO_RECIPIENT');
    assert.equal(
      ((await host.receive({ payload: '  ', to: '+48500000000' })).err as SmsError).code,
      'SMS_EMPTY',
    );
  });

  it('too long: refuse → SMS_TOO_LONG; truncate → fits and msg.sms.truncated', async () => {
    const a = setup({ to: '+48500000000', maxParts: 1 });
    const r1 = await a.host.receive({ payload: 'x'.repeat(161) });
    assert.equal((r1.err as SmsError).code, 'SMS_TOO_LONG');
    assert.equal(a.provider.requests.length, 0);
    const b = setup({ to: '+48500000000', maxParts: 1, tooLong: 'truncate' });
    const r2 = await b.host.receive({ payload: 'x'.repeat(161) });
    assert.equal(b.provider.requests[0].text.length, 160);
    assert.ok(b.provider.requests[0].text.endsWith('...'));
    assert.equal((r2.sent[0].sms as { truncated: boolean }).truncated, true);
  });

  it('retries a transient failure and sends once; permanent fails at once', async () => {
    const { host, provider } = setup({ to: '+48500000000' });
    provider.steps.push(new SmsError('SMS_PROVIDER', '5xx', { transient: true }));
    const r = await host.receive({ payload: 'x' });
    assert.equal(r.err, undefined);
    assert.equal(provider.requests.length, 2);
    assert.deepEqual(
      provider.requests.map((q) => q.attempt),
      [0, 1],
    );
    assert.equal((r.sent[0].sms as { attempts: number }).attempts, 2);
    provider.steps.push(new SmsError('SMS_AUTH', 'bad token', { status: 401 }));
    const r2 = await host.receive({ payload: 'y' });
    assert.equal((r2.err as SmsError).code, 'SMS_AUTH');
    assert.equal(provider.requests.length, 3);
    assert.equal(((r2 as unknown as { err: Error }).err as SmsError).code, 'SMS_AUTH');
  });

  it('a timeout is not retried unless the provider is idempotent', async () => {
    const { host, provider } = setup({ to: '+48500000000', timeout: 0.05 });
    provider.steps.push('hang');
    const r = await host.receive({ payload: 'x' });
    assert.equal((r.err as SmsError).code, 'SMS_TIMEOUT');
    assert.equal(provider.requests.length, 1);
    assert.equal(provider.aborted, 1);
    const idem = setup({ to: '+48500000000', timeout: 0.05 }, new FakeProvider(false, 'e164', true));
    idem.provider.steps.push('hang');
    const r2 = await idem.host.receive({ payload: 'x' });
    assert.equal(r2.err, undefined);
    assert.equal(idem.provider.requests.length, 2);
  });

  it('rate limit: a burst of 20 with 5/min sends 5 and reports 15 as SMS_RATE_LIMITED', async () => {
    const { host, provider } = setup({ to: '+48500000000', rateLimit: 5 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => host.receive({ payload: `n${i}` })),
    );
    assert.equal(provider.requests.length, 5);
    const limited = results.filter((r) => (r.err as SmsError | undefined)?.code === 'SMS_RATE_LIMITED');
    assert.equal(limited.length, 15);
    const last = host.statuses.at(-1) as { text: string };
    assert.match(last.text, /common.status.sent/);
    assert.match(last.text, /common.sink.limited/);
  });

  it('dedupe: the same recipient + text inside the window is suppressed and warned', async () => {
    const { host, provider } = setup({ to: '+48500000000', dedupeWindow: 60 });
    await host.receive({ payload: 'same' });
    const r = await host.receive({ payload: 'same' });
    await host.receive({ payload: 'other' });
    assert.equal(r.err, undefined);
    assert.equal(r.sent.length, 0);
    assert.equal(provider.requests.length, 2);
    assert.deepEqual(host.warnings, ['common.sink.duplicateWarn']);
  });

  it('close aborts a hanging send and resolves its message without an error', async () => {
    const { host, provider } = setup({ to: '+48500000000' });
    provider.steps.push('hang');
    const pending = host.receive({ payload: 'x' });
    await waitFor(() => provider.requests.length === 1);
    await host.close();
    const r = await pending;
    assert.equal(r.err, undefined);
    assert.equal(provider.aborted, 1);
  });

  it('bounded queue, drop-new: beyond the queue the new SMS fails with SMS_QUEUE_FULL', async () => {
    const { host, provider } = setup({ to: '+48500000000', queueSize: 2 });
    provider.steps.push('hang');
    const results = [1, 2, 3, 4].map((i) => host.receive({ payload: `m${i}` }));
    const fourth = await results[3];
    assert.equal((fourth.err as SmsError).code, 'SMS_QUEUE_FULL');
    assert.equal(provider.requests.length, 1, 'one in flight, two waiting');
    assert.match(String((host.statuses.at(-1) as { text: string }).text), /common.sink.dropped/);
    await host.close();
    const rest = await Promise.all(results.slice(0, 3));
    assert.ok(
      rest.every((r) => r.err === undefined),
      'cancelled on close: done() without error',
    );
    assert.deepEqual(host.warnings, ['common.sink.cancelled']);
  });

  it('bounded queue, drop-old: the oldest waiting SMS fails, the new one is kept', async () => {
    const { host, provider } = setup({ to: '+48500000000', queueSize: 2, overflow: 'drop-old' });
    provider.steps.push({ ids: ['slow'], status: 'QUEUE' });
    const results = [1, 2, 3, 4].map((i) => host.receive({ payload: `m${i}` }));
    const all = await Promise.all(results);
    assert.equal((all[1].err as SmsError).code, 'SMS_QUEUE_FULL');
    assert.deepEqual(
      provider.requests.map((r) => r.text),
      ['m1', 'm3', 'm4'],
    );
  });

  it('concurrency 1 keeps the order of messages', async () => {
    const { host, provider } = setup({ to: '+48500000000' });
    await Promise.all(Array.from({ length: 10 }, (_, i) => host.receive({ payload: `m${i}` })));
    assert.deepEqual(
      provider.requests.map((r) => r.text),
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
  });

  it('a bad template is reported at deploy and fails every message with SMS_TEMPLATE', async () => {
    const { host, provider } = setup({ to: '+48500000000', message: 'Hi {{#event}}' });
    assert.equal((host.errors[0].err as SmsError).code, 'SMS_TEMPLATE');
    assert.equal((host.statuses[0] as { fill: string }).fill, 'red');
    const r = await host.receive({ payload: 'x' });
    assert.equal((r.err as SmsError).code, 'SMS_TEMPLATE');
    assert.equal(provider.requests.length, 0);
  });

  it('opaque recipients pass as typed; from on the node reaches the adapter', async () => {
    const { host, provider } = setup({ to: '1001', from: 'Ops' }, new FakeProvider(false, 'opaque'));
    await host.receive({ payload: 'x' });
    assert.equal(provider.requests[0].to, '1001');
    assert.equal(provider.requests[0].from, 'Ops');
  });

  it('a failed SMS can be sent again (no dedupe of failures); the adapter sees a stable sendId per SMS', async () => {
    const { host, provider } = setup({ to: '+48500000000', dedupeWindow: 60 });
    provider.steps.push(
      new SmsError('SMS_PROVIDER', '5xx', { transient: true }),
      new SmsError('SMS_AUTH', 'no'),
    );
    const r1 = await host.receive({ payload: 'same' });
    assert.equal((r1.err as SmsError).code, 'SMS_AUTH');
    const ids = provider.requests.map((r) => (r as unknown as { sendId: string }).sendId);
    assert.equal(ids.length, 2);
    assert.equal(ids[0], ids[1]);
    const r2 = await host.receive({ payload: 'same' });
    assert.equal(r2.err, undefined);
    assert.equal(r2.sent.length, 1);
    assert.notEqual((provider.requests[2] as unknown as { sendId: string }).sendId, ids[0]);
  });

  it('test mode: msg.sms.test and a test-mode status from the start', async () => {
    const { host } = setup({ to: '+48500000000' }, new FakeProvider(true));
    assert.deepEqual(host.statuses[0], { fill: 'yellow', shape: 'ring', text: 'common.status.test' });
    const r = await host.receive({ payload: 'x' });
    assert.equal((r.sent[0].sms as { test: boolean }).test, true);
  });

  it('invalid numbers in the node list are reported at deploy; the valid ones still get their SMS', async () => {
    const { host, provider } = setup({ to: '+48500000000, 999' });
    assert.equal((host.errors[0].err as SmsError).code, 'SMS_INVALID_NUMBER');
    assert.equal((host.statuses[0] as { fill: string }).fill, 'red');
    const r = await host.receive({ payload: 'x' });
    assert.equal(r.sent.length, 1);
    assert.equal(provider.requests.length, 1);
    assert.equal(host.errors.length, 2, 'and the invalid one fails on every message');
  });

  it('no provider → red status and SMS_CONFIG for every msg', async () => {
    const host = new FakeHost();
    attachSink(host, {}, undefined, t);
    assert.equal((host.statuses[0] as { fill: string }).fill, 'red');
    const r = await host.receive({ payload: 'x', to: '+48500000000' });
    assert.equal((r.err as SmsError).code, 'SMS_CONFIG');
  });

  it('status text counts sent / failed / limited and says test mode', () => {
    const s = sinkStatus(
      { sent: 1, failed: 0, limited: 2, duplicate: 0, dropped: 0, pending: 0 },
      true,
      (k, p) => (p && 'count' in p ? `${k}=${p.count}` : k),
    ) as { text: string; fill: string };
    assert.equal(s.text, 'common.status.sent=1 · common.sink.limited=2 · common.status.test');
    assert.equal(s.fill, 'yellow');
  });
});

describe('lib/sms memoTranslate', () => {
  it('translates a key again only when its parameters change', () => {
    const calls: string[] = [];
    const t = memoTranslate((key, params) => {
      calls.push(key);
      return `${key}:${params ? JSON.stringify(params) : ''}`;
    });
    assert.equal(t('sent', { count: 1 }), 'sent:{"count":1}');
    assert.equal(t('sent', { count: 1 }), 'sent:{"count":1}');
    assert.equal(t('failed', { count: 1 }), 'failed:{"count":1}');
    assert.equal(t('sent', { count: 1 }), 'sent:{"count":1}');
    assert.equal(t('sent', { count: 2 }), 'sent:{"count":2}');
    assert.equal(t('test'), 'test:');
    assert.equal(t('test'), 'test:');
    assert.deepStrictEqual(calls, ['sent', 'failed', 'sent', 'test']);
  });
});
