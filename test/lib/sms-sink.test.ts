import fs from 'fs';
import path from 'path';
import assert from 'node:assert/strict';
import type { SinkShared } from '../../nodes/lib/cluster/nodes';
import { SmsError } from '../../nodes/lib/sms/errors';
import type { Admission, SmsGuards } from '../../nodes/lib/sms/guards';
import type { SmsProvider, SmsSendRequest, SmsSendResult } from '../../nodes/lib/sms/provider';
import {
  attachSink,
  duplicateWarnings,
  type InputHandler,
  memoTranslate,
  type SinkConfig,
  sinkStatus,
} from '../../nodes/lib/sms/sink-node';
import { resetTuning, tuning } from '../../nodes/lib/tuning';
import { waitFor } from '../helpers';
import { ManualClock } from '../clock';

/**
 * A scriptable provider: each call shifts a step (result, error, 'hang' = answers only when aborted,
 * or 'hold' = answers when the test calls answer()).
 */
class FakeProvider implements SmsProvider {
  readonly name = 'fake';
  requests: SmsSendRequest[] = [];
  steps: (SmsSendResult | SmsError | 'hang' | 'hold')[] = [];
  aborted = 0;
  /** requests that got their answer (held ones included) */
  answered = 0;
  private held: { resolve: (r: SmsSendResult) => void; reject: (e: SmsError) => void }[] = [];
  constructor(
    public testMode = false,
    public recipientKind: 'e164' | 'opaque' = 'e164',
    public idempotent = false,
  ) {}
  send(request: SmsSendRequest, signal: AbortSignal): Promise<SmsSendResult> {
    this.requests.push(request);
    const step = this.steps.shift() ?? { ids: [`id${this.requests.length}`], status: 'QUEUE' };
    signal.addEventListener('abort', () => this.aborted++);
    if (step === 'hang')
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    if (step === 'hold')
      return new Promise((resolve, reject) => this.held.push({ resolve, reject })).then((r) => {
        this.answered++;
        return r as SmsSendResult;
      });
    this.answered++;
    return step instanceof SmsError ? Promise.reject(step) : Promise.resolve(step);
  }

  get holding(): number {
    return this.held.length;
  }

  /** answer the oldest held request */
  answer(result: SmsSendResult | SmsError = { ids: ['late'], status: 'QUEUE' }): void {
    const h = this.held.shift();
    if (!h) throw new Error('nothing held');
    if (result instanceof SmsError) h.reject(result);
    else h.resolve(result);
  }
}

/** Shared guards (as a cluster's) whose answers the test gives: admit() waits for answer(). */
class HeldGuards implements SmsGuards {
  private answers: ((a: Admission) => void)[] = [];
  refunded: string[] = [];
  constructor(private readonly local: SmsGuards) {}
  admit(): Promise<Admission> {
    return new Promise((resolve) => this.answers.push(resolve));
  }
  get holding(): number {
    return this.answers.length;
  }
  answer(a: Admission = 'send'): void {
    this.answers.shift()!(a);
  }
  refund(key: string): void {
    this.refunded.push(key);
    this.local.refund(key);
  }
  forget(key: string): void {
    this.local.forget(key);
  }
  close(removed: boolean): void {
    this.local.close(removed);
  }
}

let hostIds = 0;

class FakeHost {
  id = `n${++hostIds}`;
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
  close(removed = false): Promise<void> {
    return new Promise((resolve) => this.closeHandler!(removed, resolve));
  }
}

const t = (key: string) => key;

function setup(
  config: SinkConfig,
  provider = new FakeProvider(),
  host = new FakeHost(),
  nodeCloseTimeout?: number,
) {
  attachSink(host, config, () => provider, t, { nodeCloseTimeout });
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

  it('a timeout is not retried unless the provider is idempotent: SMS_UNCERTAIN, one request', async () => {
    const { host, provider } = setup({ to: '+48500000000', timeout: 0.05 });
    provider.steps.push('hang');
    const r = await host.receive({ payload: 'x' });
    assert.equal((r.err as SmsError).code, 'SMS_UNCERTAIN');
    assert.match(r.err!.message, /may have been sent/);
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

  it('bounded queue, drop-new: beyond the queue the new SMS fails with SMS_QUEUE_FULL', async () => {
    const { host, provider } = setup({ to: '+48500000000', queueSize: 2 });
    provider.steps.push('hold');
    const results = [1, 2, 3, 4].map((i) => host.receive({ payload: `m${i}` }));
    const fourth = await results[3];
    assert.equal((fourth.err as SmsError).code, 'SMS_QUEUE_FULL');
    assert.equal(provider.requests.length, 1, 'one in flight, two waiting');
    assert.match(String((host.statuses.at(-1) as { text: string }).text), /common.sink.dropped/);
    provider.answer();
    await Promise.all(results);
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

  it('invalid numbers in To: the deploy error gives each number with its reason first', () => {
    const host = new FakeHost();
    const shown = (k: string, p?: Record<string, unknown>) => (p ? `${k}|${String(p.numbers)}` : k);
    attachSink(host, { to: '12345, +48 500 000 000 000 000' }, () => new FakeProvider(), shown);
    assert.equal(
      (host.errors[0].err as SmsError).message,
      'common.sink.invalidTo|12345: not a valid phone number (too short); ' +
        '+48 500 000 000 000 000: not a valid phone number (too long)',
    );
  });

  it('provider options: node values, msg.sms.options over them, checked before anything is sent', async () => {
    class WithOptions extends FakeProvider {
      readonly optionSchema = {
        flash: { type: 'boolean' as const },
        ttl: { type: 'number' as const, min: 1, max: 9 },
      };
    }
    const provider = new WithOptions();
    const { host } = setup({ to: '+48500000000', ...({ flash: 'true', ttl: '3' } as SinkConfig) }, provider);
    await host.receive({ payload: 'a' });
    await host.receive({ payload: 'b', sms: { options: { ttl: 9 } } });
    await host.receive({ payload: 'c', sms: { provider: 'other', status: 'QUEUE' } });
    assert.deepEqual(
      provider.requests.map((r) => r.options),
      [
        { flash: true, ttl: 3 },
        { flash: true, ttl: 9 },
        { flash: true, ttl: 3 },
      ],
    );
    for (const options of [{ ttl: 10 }, { ttl: '3' }, { other: 1 }, [1]]) {
      const r = await host.receive({ payload: 'd', sms: { options } });
      assert.equal((r.err as SmsError).code, 'SMS_BAD_OPTION');
    }
    assert.equal(provider.requests.length, 3, 'nothing sent for a bad option');
  });

  it('no provider → red status and SMS_CONFIG for every msg', async () => {
    const host = new FakeHost();
    attachSink(host, {}, undefined, t);
    assert.equal((host.statuses[0] as { fill: string }).fill, 'red');
    const r = await host.receive({ payload: 'x', to: '+48500000000' });
    assert.equal((r.err as SmsError).code, 'SMS_CONFIG');
  });

  it('skipped duplicates are counted in the status but keep it green (not trouble)', () => {
    const t = (k: string, p?: Record<string, unknown>) => (p && 'count' in p ? `${k}=${p.count}` : k);
    const s = sinkStatus(
      { sent: 2, failed: 0, limited: 0, duplicate: 7, dropped: 0, pending: 0 },
      false,
      t,
    ) as {
      text: string;
      fill: string;
    };
    assert.equal(s.text, 'common.status.sent=2 · common.sink.duplicate=7');
    assert.equal(s.fill, 'green');
    const limited = sinkStatus(
      { sent: 2, failed: 0, limited: 1, duplicate: 7, dropped: 0, pending: 0 },
      false,
      t,
    );
    assert.equal((limited as { fill: string }).fill, 'yellow', 'limits are still trouble');
  });

  it('duplicate warnings: once per window, the next one with the count of skips it covers', async () => {
    const clock = new ManualClock();
    const warnings: string[] = [];
    const t = (k: string, p?: Record<string, unknown>) => `${k} ${JSON.stringify(p)}`;
    const w = duplicateWarnings({ warn: (m) => warnings.push(String(m)) }, t, 60_000, clock);
    w.skipped('+48500000000');
    for (let i = 0; i < 6; i++) w.skipped('+48500000001');
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /^common\.sink\.duplicateWarn \{"to":"\+48500000000","seconds":60,"quiet":60\}$/,
    );
    await clock.advance(59_999);
    w.skipped('+48500000002');
    assert.equal(warnings.length, 1, 'still inside the window');
    await clock.advance(1);
    w.skipped('+48500000003');
    assert.equal(warnings.length, 2);
    // 7 skips went unwarned in the first window, plus this one
    assert.match(warnings[1], /^common\.sink\.duplicateWarnCount .*"count":8/);
    assert.match(warnings[1], /"to":"\+48500000003"/);
  });

  it('a factory that throws: the error at deploy, a red ring with its code, every msg fails with it, no cluster joined', async () => {
    const host = new FakeHost();
    const refused = new SmsError('SMS_CONFIG', 'SMSAPI: invalid service URL "x"');
    let joined = 0;
    attachSink(
      host,
      { to: '+48500000000' },
      () => {
        throw refused;
      },
      t,
      {},
      () => {
        joined++;
        return undefined;
      },
    );
    assert.deepEqual(host.errors, [{ err: refused.message, msg: undefined }]);
    assert.deepEqual(host.statuses, [{ fill: 'red', shape: 'ring', text: 'SMS_CONFIG' }]);
    const r = await host.receive({ payload: 'x' });
    assert.equal(r.err, refused);
    assert.equal(r.sent.length, 0);
    assert.equal(joined, 0, 'a sink that can never send does not join its cluster');
  });

  it("the provider's prepare step runs first: its msg.to is the one the pipeline reads and the output carries", async () => {
    const provider = Object.assign(new FakeProvider(false, 'opaque'), {
      prepare(msg: Record<string, unknown>) {
        if (msg.to === undefined) msg.to = String(msg.extension);
      },
    });
    const { host } = setup({}, provider);
    const r = await host.receive({ extension: 1002, payload: 'New voicemail' });
    assert.equal(r.err, undefined);
    assert.deepEqual(
      provider.requests.map((q) => [q.to, q.text]),
      [['1002', 'New voicemail']],
    );
    assert.equal(r.sent[0].to, '1002');
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

describe('sms sink: close never leaves an outcome unknown', function () {
  let clock: ManualClock;
  beforeEach(() => {
    clock = new ManualClock();
    tuning.sink = {
      retryBackoff: { initialDelayMs: 1_000, maxDelayMs: 1_000, factor: 2, jitter: 0 },
      maxRetryAfterMs: 1000,
      clock,
    };
  });
  afterEach(() => resetTuning());

  it('a request in flight is not aborted: close waits for its answer and the SMS is reported sent; queued ones fail SMS_CANCELLED each', async () => {
    const { host, provider } = setup({ to: '+48500000000', dedupeWindow: 0 });
    provider.steps.push('hold');
    const first = host.receive({ payload: 'in flight' });
    const queued = [host.receive({ payload: 'q1' }), host.receive({ payload: 'q2' })];
    await waitFor(() => provider.holding === 1);
    let closed = false;
    const closing = host.close().then(() => (closed = true));
    const cancelled = await Promise.all(queued);
    assert.deepEqual(
      cancelled.map((r) => [(r.err as SmsError | undefined)?.code, r.sent.length]),
      [
        ['SMS_CANCELLED', 0],
        ['SMS_CANCELLED', 0],
      ],
    );
    assert.equal(closed, false, 'close waits for the request in flight');
    provider.answer({ ids: ['slow-1'], status: 'QUEUE' });
    const r = await first;
    await closing;
    assert.equal(r.err, undefined);
    assert.deepEqual((r.sent[0].sms as { ids: string[] }).ids, ['slow-1']);
    assert.deepEqual([provider.requests.length, provider.aborted, provider.answered], [1, 0, 1]);
    assert.deepEqual(
      host.warnings,
      ['common.sink.sentAfterClose'],
      'a trace of the late success, no summary',
    );
  });

  it('several recipients: each queued one is its own Catch-able SMS_CANCELLED error with its msg.sms', async () => {
    const { host, provider } = setup({ dedupeWindow: 0 });
    provider.steps.push('hold');
    const pending = host.receive({ payload: 'x', to: ['+48500000001', '+48500000002', '+48500000003'] });
    await waitFor(() => provider.holding === 1);
    const closing = host.close();
    await waitFor(() => host.errors.length === 2);
    assert.deepEqual(
      host.errors.map((e) => [(e.err as SmsError).code, (e.msg as { sms: { to: string } }).sms.to]),
      [
        ['SMS_CANCELLED', '+48500000002'],
        ['SMS_CANCELLED', '+48500000003'],
      ],
    );
    provider.answer();
    const r = await pending;
    await closing;
    assert.equal(r.sent.length, 1);
    assert.equal(provider.requests.length, 1);
  });

  it('input after close is refused with its own SMS_CANCELLED error', async () => {
    const { host, provider } = setup({ to: '+48500000000' });
    await host.close();
    const r = await host.receive({ payload: 'late' });
    assert.equal((r.err as SmsError).code, 'SMS_CANCELLED');
    assert.equal(provider.requests.length, 0);
  });

  it('a backoff wait ends at close: SMS_CANCELLED, no retry (nothing is in flight)', async () => {
    const { host, provider } = setup({ to: '+48500000000' });
    provider.steps.push(new SmsError('SMS_RATE_LIMITED', '429', { transient: true }));
    const pending = host.receive({ payload: 'x' });
    await waitFor(() => provider.requests.length === 1 && clock.pending === 1, 2000, 'the backoff wait');
    await host.close();
    const r = await pending;
    assert.equal((r.err as SmsError).code, 'SMS_CANCELLED');
    assert.equal(provider.requests.length, 1);
    assert.equal(clock.pending, 0, 'no timer left');
  });

  it('an ambiguous failure waiting to retry (idempotent provider) at close is SMS_UNCERTAIN, not cancelled', async () => {
    const { host, provider } = setup({ to: '+48500000000' }, new FakeProvider(false, 'e164', true));
    provider.steps.push(new SmsError('SMS_PROVIDER', 'HTTP 502', { transient: true, ambiguous: true }));
    const pending = host.receive({ payload: 'x' });
    await waitFor(() => provider.requests.length === 1 && clock.pending === 1, 2000, 'the backoff wait');
    await host.close();
    assert.equal(((await pending).err as SmsError).code, 'SMS_UNCERTAIN');
  });

  it("past Node-RED's close timeout: done() just before it, a warning, and the late outcome is still reported", async () => {
    const { host, provider } = setup({ to: '+48500000000', timeout: 60 }, undefined, undefined, 5_000);
    provider.steps.push('hold');
    const pending = host.receive({ payload: 'x' });
    await waitFor(() => provider.holding === 1);
    let closed = false;
    const closing = host.close().then(() => (closed = true));
    await clock.advanceAsync(4_499);
    assert.equal(closed, false);
    await clock.advanceAsync(1);
    await closing;
    assert.deepEqual(host.warnings, ['common.sink.stillSending']);
    assert.equal(provider.aborted, 0, 'still not aborted');
    provider.answer({ ids: ['after'], status: 'QUEUE' });
    const r = await pending;
    assert.equal(r.sent.length, 1);
    assert.deepEqual(host.warnings, ['common.sink.stillSending', 'common.sink.sentAfterClose']);
  });

  it('a shared guard still answering at close: close waits for it, the SMS is SMS_CANCELLED, the token given back, then the cluster user leaves', async () => {
    const host = new FakeHost();
    const provider = new FakeProvider();
    let held: HeldGuards | undefined;
    let left = false;
    const shared: SinkShared = {
      guards: (local) => (held = new HeldGuards(local)),
      status: (s) => s,
      watch: () => {},
      close: () => {
        left = true;
        return Promise.resolve();
      },
    };
    attachSink(
      host,
      { to: '+48500000000', dedupeWindow: 60 },
      () => provider,
      t,
      {},
      () => shared,
    );
    const pending = host.receive({ payload: 'x' });
    await waitFor(() => held?.holding === 1);
    let closed = false;
    const closing = host.close().then(() => (closed = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual([closed, left], [false, false], 'close waits for the shared answer');
    held!.answer('send');
    const r = await pending;
    await closing;
    assert.equal((r.err as SmsError).code, 'SMS_CANCELLED');
    assert.equal(r.sent.length, 0);
    assert.equal(provider.requests.length, 0, 'nothing sent after close');
    assert.equal(held!.refunded.length, 1, 'the admission is given back');
    assert.equal(left, true, 'the cluster user is deregistered');
  });

  it('the dedupe window survives a redeploy of the same node id; a removed node leaves nothing behind', async () => {
    const provider = new FakeProvider();
    const a = setup({ to: '+48500000000', dedupeWindow: 60 }, provider);
    await a.host.receive({ payload: 'storm' });
    await a.host.close();
    const again = new FakeHost();
    again.id = a.host.id;
    setup({ to: '+48500000000', dedupeWindow: 60 }, provider, again);
    const r = await again.receive({ payload: 'storm' });
    assert.deepEqual([r.sent.length, provider.requests.length], [0, 1], 'a duplicate after the redeploy');
    assert.deepEqual(again.warnings, ['common.sink.duplicateWarn']);
    await again.close(true);
    const fresh = new FakeHost();
    fresh.id = a.host.id;
    setup({ to: '+48500000000', dedupeWindow: 60 }, provider, fresh);
    assert.equal(
      (await fresh.receive({ payload: 'storm' })).sent.length,
      1,
      'removed: a new node starts empty',
    );
  });
});

describe('sms sink: bounds on one message', function () {
  afterEach(() => resetTuning());

  it('10,000 numbers in msg.to: ONE SMS_TOO_MANY_RECIPIENTS, nothing sent, no per-number error', async () => {
    const { host, provider } = setup({ rateLimit: 0 });
    const to = Array.from({ length: 10_000 }, (_, i) => `+4850${String(i).padStart(7, '0')}`);
    const r = await host.receive({ payload: 'x', to });
    assert.equal((r.err as SmsError).code, 'SMS_TOO_MANY_RECIPIENTS');
    assert.match(r.err!.message, /10000 recipients; the limit is 20/);
    assert.deepEqual([provider.requests.length, host.errors.length, host.warnings.length], [0, 0, 0]);
    // at the limit: sent
    const ok = await host.receive({ payload: 'y', to: to.slice(0, 20) });
    assert.equal(ok.sent.length, 20);
  });

  it('maxRecipients is a node property; a node list over it is red at deploy and fails every message', async () => {
    const { host, provider } = setup({ maxRecipients: 2 });
    const r = await host.receive({ payload: 'x', to: '+48500000001, +48500000002, +48500000003' });
    assert.equal((r.err as SmsError).code, 'SMS_TOO_MANY_RECIPIENTS');
    const b = setup({ maxRecipients: '1', to: '+48500000001, +48500000002' }, provider);
    assert.equal((b.host.errors[0].err as SmsError).code, 'SMS_TOO_MANY_RECIPIENTS');
    assert.deepEqual(b.host.statuses[0], { fill: 'red', shape: 'ring', text: 'SMS_TOO_MANY_RECIPIENTS' });
    assert.equal(((await b.host.receive({ payload: 'x' })).err as SmsError).code, 'SMS_TOO_MANY_RECIPIENTS');
    assert.equal(provider.requests.length, 0);
  });

  it('a cyclic msg.to is one clear SMS_NO_RECIPIENT error, not a stack overflow', async () => {
    const { host, provider } = setup({});
    const to: unknown[] = ['+48500000000'];
    to.push(to);
    const r = await host.receive({ payload: 'x', to });
    assert.equal((r.err as SmsError).code, 'SMS_NO_RECIPIENT');
    assert.match(r.err!.message, /contains itself/);
    assert.equal(provider.requests.length, 0);
    // with the node's own list the cyclic msg.to is only "also set"
    const b = setup({ to: '+48500000000' }, provider);
    assert.equal((await b.host.receive({ payload: 'x', to })).sent.length, 1);
  });
});

describe('lib/sms memoTranslate', () => {
  it('translates each key once per set of other parameters; the count is put in after', () => {
    const calls: string[] = [];
    const t = memoTranslate((key, params) => {
      calls.push(`${key} ${JSON.stringify(params ?? {})}`);
      const p = (params ?? {}) as Record<string, unknown>;
      return `${key} ${String(p.count ?? '')}${p.code ? ` (${String(p.code)})` : ''}`.trim();
    });
    assert.equal(t('sent', { count: 1 }), 'sent 1');
    assert.equal(t('sent', { count: 2 }), 'sent 2');
    assert.equal(t('sent', { count: 41 }), 'sent 41');
    assert.equal(t('failedCode', { count: 1, code: 'SMS_AUTH' }), 'failedCode 1 (SMS_AUTH)');
    assert.equal(t('failedCode', { count: 2, code: 'SMS_AUTH' }), 'failedCode 2 (SMS_AUTH)');
    assert.equal(t('failedCode', { count: 3, code: 'SMS_NETWORK' }), 'failedCode 3 (SMS_NETWORK)');
    assert.equal(t('test'), 'test');
    assert.equal(t('test'), 'test');
    // the translator saw a marker, never a number: one call per key and other parameters
    assert.equal(calls.length, 4);
    assert.ok(
      calls.every((c) => !/"count":\d/.test(c)),
      calls.join('\n'),
    );
  });

  it('the status keys with a count are count labels in every catalog (no plural forms to choose)', () => {
    for (const lang of ['en-US', 'pl']) {
      const catalog = JSON.parse(
        fs.readFileSync(path.join(__dirname, '../../nodes/locales', lang, 'common.json'), 'utf8'),
      ) as { status: Record<string, string>; sink: Record<string, string> };
      const keys = [...Object.keys(catalog.status), ...Object.keys(catalog.sink)];
      assert.ok(keys.includes('sent') && keys.includes('pending'), lang);
      assert.deepStrictEqual(
        keys.filter((k) => /_(zero|one|two|few|many|other)$/.test(k)),
        [],
        `${lang}: plural variants of a status key`,
      );
    }
  });
});
