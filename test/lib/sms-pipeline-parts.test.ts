import assert from 'node:assert/strict';
import type { Clock } from '../../nodes/lib/clock';
import { fromFetchFailure, SmsError } from '../../nodes/lib/sms/errors';
import { BoundedQueue, DedupeRegistry, DedupeWindow, RateLimiter } from '../../nodes/lib/sms/guards';
import { resolveRecipients, splitRecipients, toE164 } from '../../nodes/lib/sms/recipients';
import { asSmsError, withRetry, type RetryOptions } from '../../nodes/lib/sms/retry';
import { compileTemplate } from '../../nodes/lib/sms/template';
import { pipelineOptions } from '../../nodes/lib/sms/options';
import { countSegments, gsmSeptets, isGsm7, truncateToParts } from '../../nodes/lib/sms/text';
import { waitFor } from '../helpers';
import { ManualClock, scaledClock } from '../clock';

describe('lib/sms recipients', function () {
  it('splits comma / semicolon / newline lists and arrays, numbers included', () => {
    assert.deepEqual(splitRecipients(' +48500000000, 500000001 ;\n+48 500 000 002,'), [
      '+48500000000',
      '500000001',
      '+48 500 000 002',
    ]);
    assert.deepEqual(splitRecipients(['+48500000000', 48500000001, ['a, b']]), [
      '+48500000000',
      '48500000001',
      'a',
      'b',
    ]);
    assert.deepEqual(splitRecipients(undefined), []);
    assert.deepEqual(splitRecipients({ to: 'x' }), []);
  });

  it('a cyclic or deeply nested msg.to is refused with SMS_NO_RECIPIENT, never a stack overflow', () => {
    const cyclic: unknown[] = ['+48500000000'];
    cyclic.push(cyclic);
    let deep: unknown = '+48500000000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    for (const to of [cyclic, deep])
      assert.throws(
        () => resolveRecipients(undefined, to),
        (err: SmsError) => err.code === 'SMS_NO_RECIPIENT' && /contains itself/.test(err.message),
      );
    // nesting within the bound still works
    assert.deepEqual(resolveRecipients(undefined, [[['+48500000000']]]).valid, ['+48500000000']);
  });

  it('more distinct recipients than max: tooMany, and no number past the limit is parsed', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `+4850${String(i).padStart(7, '0')}`);
    const r = resolveRecipients(undefined, many, { max: 20 });
    assert.deepEqual(r.tooMany, { given: 10_000, max: 20 });
    assert.equal(r.valid.length, 20);
    const ok = resolveRecipients(undefined, [...many.slice(0, 20), ...many.slice(0, 20)], { max: 20 });
    assert.equal(ok.tooMany, undefined, 'the same number twice counts once');
    assert.equal(ok.valid.length, 20);
  });

  it('normalises to E.164 with the default country; invalid numbers are errors naming them', () => {
    assert.equal(toE164('500 000 000', 'PL'), '+48500000000');
    assert.equal(toE164('0048 500-000-000', 'pl'), '+48500000000');
    assert.equal(toE164('+44 20 7183 8750'), '+442071838750');
    assert.equal(toE164('(416) 555-1234', 'CA'), '+14165551234');
    for (const bad of ['12345', 'abc', '+4412', '+48 500 000 000 000 000']) {
      assert.throws(
        () => toE164(bad, 'PL'),
        (err: SmsError) => err.code === 'SMS_INVALID_NUMBER' && err.message.includes(bad),
      );
    }
    assert.throws(() => toE164('500000000'), /Default country/);
  });

  it('error texts put the number and the reason first; the country hint only where it applies', () => {
    const why = (raw: string, country?: string) => {
      try {
        toE164(raw, country);
      } catch (err) {
        return (err as SmsError).message;
      }
      return 'valid';
    };
    assert.equal(why('+48 12345'), '+48 12345: not a valid phone number (too short)');
    assert.equal(why('12345', 'PL'), '12345: not a valid phone number (too short)');
    // a short code with no country: a country would not help, so no hint
    assert.equal(why('12345'), '12345: not a valid phone number (too short)');
    assert.equal(
      why('+48 500 000 000 000 000'),
      '+48 500 000 000 000 000: not a valid phone number (too long)',
    );
    assert.equal(why('call me'), 'call me: not a valid phone number (not a phone number)');
    assert.equal(why('+999 123456789'), '+999 123456789: not a valid phone number (unknown country code)');
    // a national number without a default country: that is what the hint is for
    assert.match(
      why('500 000 000'),
      /^500 000 000: not a valid phone number \(a national number: set Default country/,
    );
    assert.match(why('500 000 000', 'PL'), /^valid$/);
  });

  it('the node list wins over msg.to (conflict flagged); duplicates removed after normalising', () => {
    const r = resolveRecipients('+48500000000, 500000000', '+48500000009', { defaultCountry: 'PL' });
    assert.deepEqual(r.valid, ['+48500000000']);
    assert.equal(r.conflict, true);
    const m = resolveRecipients('', ['+48500000001', 'bad'], {});
    assert.deepEqual(m.valid, ['+48500000001']);
    assert.equal(m.invalid[0].raw, 'bad');
    assert.equal(m.conflict, false);
  });

  it('opaque providers (extensions) get recipients as typed', () => {
    const r = resolveRecipients('1001, 1002, 1001', undefined, { kind: 'opaque' });
    assert.deepEqual(r.valid, ['1001', '1002']);
    assert.equal(r.invalid.length, 0);
  });
});

describe('lib/sms segments', function () {
  it('GSM-7: 160 in one part, then 153 per part', () => {
    assert.deepEqual(countSegments('a'.repeat(160)), {
      encoding: 'GSM-7',
      units: 160,
      parts: 1,
      perPart: 160,
    });
    assert.equal(countSegments('a'.repeat(161)).parts, 2);
    assert.equal(countSegments('a'.repeat(306)).parts, 2);
    assert.equal(countSegments('a'.repeat(307)).parts, 3);
    assert.equal(countSegments('').parts, 0);
    assert.equal(countSegments('Zażółć').encoding, 'UCS-2');
    assert.equal(countSegments('@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉÄÖÑÜ§¿äöñüà').encoding, 'GSM-7');
  });

  it('GSM-7 extension characters count two septets and are never split across parts', () => {
    for (const ch of '^{}\\[~]|€\f') assert.equal(gsmSeptets(ch), 2, JSON.stringify(ch));
    assert.equal(countSegments('€'.repeat(80)).units, 160);
    assert.equal(countSegments('€'.repeat(80)).parts, 1);
    assert.equal(countSegments('€'.repeat(81)).parts, 2);
    // 152 plain + one escape pair: 154 septets would straddle the 153 boundary → the pair moves on
    assert.equal(countSegments('a'.repeat(152) + '€' + 'a'.repeat(8)).parts, 2);
    assert.equal(countSegments('a'.repeat(152) + '€' + 'a'.repeat(152)).parts, 3);
    assert.ok(isGsm7('{json}'));
  });

  it('UCS-2: 70 in one part, then 67; an emoji is two units and never split', () => {
    assert.equal(countSegments('ą'.repeat(70)).parts, 1);
    assert.equal(countSegments('ą'.repeat(71)).parts, 2);
    assert.equal(countSegments('😀'.repeat(35)).units, 70);
    assert.equal(countSegments('😀'.repeat(35)).parts, 1);
    assert.equal(countSegments('😀'.repeat(36)).parts, 2);
    // 66 units + a surrogate pair: the pair goes to the next part
    assert.equal(countSegments('ą'.repeat(66) + '😀' + 'ą'.repeat(66)).parts, 3);
    assert.equal(countSegments('hello 😀').encoding, 'UCS-2');
  });

  it('truncates to fit: "..." keeps GSM-7, "…" for UCS-2, emoji kept whole', () => {
    const g = truncateToParts('a'.repeat(500), 2);
    assert.equal(g.truncated, true);
    assert.ok(g.text.endsWith('...'));
    assert.equal(countSegments(g.text).parts, 2);
    assert.equal(countSegments(g.text).encoding, 'GSM-7');
    assert.equal(g.text.length, 306);
    const u = truncateToParts('😀'.repeat(100), 1);
    assert.ok(u.text.endsWith('…'));
    assert.equal(countSegments(u.text).parts, 1);
    assert.equal(u.text, '😀'.repeat(34) + '…');
    assert.deepEqual(truncateToParts('short', 1), { text: 'short', truncated: false });
    const e = truncateToParts('€'.repeat(100), 1);
    assert.ok(countSegments(e.text).units <= 160);
  });
});

describe('lib/sms template', function () {
  it('renders mustache over msg without HTML escaping; objects as JSON', () => {
    const t = compileTemplate('New in {{event.containerId}} by {{event.author}}: {{payload}} & {{{raw}}}');
    assert.equal(
      t.render({ event: { containerId: 'T<1>', author: "O'Brien & co" }, payload: { a: 1 }, raw: '<b>' }),
      'New in T<1> by O\'Brien & co: {"a":1} & <b>',
    );
    assert.equal(compileTemplate('{{missing.deep}}x').render({}), 'x');
    assert.equal(compileTemplate('{{n}}').render({ n: 0 }), '0');
  });

  it('an empty template sends msg.payload as text (numbers, buffers as UTF-8)', () => {
    const t = compileTemplate('');
    assert.equal(t.render({ payload: 'hi' }), 'hi');
    assert.equal(t.render({ payload: 42 }), '42');
    assert.equal(t.render({ payload: Buffer.from('zażółć') }), 'zażółć');
    assert.equal(t.render({}), '');
  });

  it('an empty template with an object or array payload is SMS_NO_TEXT saying "set a Message template"', () => {
    const t = compileTemplate('  ');
    for (const payload of [{ x: [1] }, [1, 2], { channel: 'thread', data: {} }])
      assert.throws(
        () => t.render({ payload }),
        (err: SmsError) => err.code === 'SMS_NO_TEXT' && /set a Message template/.test(err.message),
      );
  });

  it('a syntax error fails at compile time with SMS_TEMPLATE', () => {
    assert.throws(
      () => compileTemplate('Hi {{#event}}'),
      (err: SmsError) => err.code === 'SMS_TEMPLATE',
    );
  });
});

describe('lib/sms guards', function () {
  it('rate limiter: a full bucket of N per minute, refilled continuously; 0 = off', () => {
    const clock = new ManualClock(1_000_000);
    const rl = new RateLimiter(10, clock);
    let ok = 0;
    for (let i = 0; i < 200; i++) if (rl.tryTake()) ok++;
    assert.equal(ok, 10);
    clock.advance(6_000); // one token per 6 s
    assert.equal(rl.tryTake(), true);
    assert.equal(rl.tryTake(), false);
    rl.refund();
    assert.equal(rl.tryTake(), true);
    clock.advance(10 * 60_000);
    ok = 0;
    for (let i = 0; i < 50; i++) if (rl.tryTake()) ok++;
    assert.equal(ok, 10, 'never more than the bucket');
    const off = new RateLimiter(0, clock);
    for (let i = 0; i < 1000; i++) assert.equal(off.tryTake(), true);
  });

  it('dedupe window: same key inside the window is a duplicate; expires; forget; bounded', () => {
    const clock = new ManualClock(1_000_000);
    const d = new DedupeWindow(60_000, clock, 3);
    const k = DedupeWindow.key('+48500000000', 'hi');
    assert.equal(d.isDuplicate(k), false);
    d.remember(k);
    assert.equal(d.isDuplicate(k), true);
    assert.equal(d.isDuplicate(DedupeWindow.key('+48500000001', 'hi')), false);
    clock.advance(59_999);
    assert.equal(d.isDuplicate(k), true);
    clock.advance(1);
    assert.equal(d.isDuplicate(k), false);
    assert.equal(d.size, 0, 'expired entries are pruned');
    d.remember(k);
    d.forget(k);
    assert.equal(d.isDuplicate(k), false);
    for (let i = 0; i < 10; i++) d.remember(`k${i}`);
    assert.equal(d.size, 3);
    assert.equal(new DedupeWindow(0, clock).isDuplicate(k), false);
  });

  it('dedupe registry: a redeployed node id inherits its window; removed or expired ones are dropped', () => {
    const clock = new ManualClock(1_000_000);
    const registry = new DedupeRegistry();
    const first = registry.acquire('sink-1', 60_000, clock);
    first.remember('k');
    assert.notEqual(registry.acquire('sink-1', 60_000, clock), first, 'a running window is never shared');
    const held = registry.acquire('sink-2', 60_000, clock);
    held.remember('k');
    registry.release('sink-2', held, false, clock);
    clock.advance(30_000);
    const next = registry.acquire('sink-2', 60_000, clock);
    assert.equal(next, held, 'same id after a redeploy: the same window');
    assert.equal(next.isDuplicate('k'), true);
    // another window length carries the live entries over
    registry.release('sink-2', next, false, clock);
    const longer = registry.acquire('sink-2', 120_000, clock);
    assert.equal(longer.isDuplicate('k'), true);
    // removed: dropped at once
    registry.release('sink-2', longer, true, clock);
    assert.equal(registry.has('sink-2'), false);
    // closed and never redeployed: gone once its window has passed
    const third = registry.acquire('sink-3', 60_000, clock);
    registry.release('sink-3', third, false, clock);
    clock.advance(60_001);
    registry.acquire('other', 60_000, clock);
    assert.equal(registry.has('sink-3'), false);
  });

  it('bounded queue: drop-new refuses the newcomer, drop-old evicts the oldest', () => {
    const q = new BoundedQueue<number>(2, 'drop-new');
    assert.equal(q.push(1), undefined);
    assert.equal(q.push(2), undefined);
    assert.equal(q.push(3), 3);
    assert.equal(q.shift(), 1);
    const o = new BoundedQueue<number>(2, 'drop-old');
    o.push(1);
    o.push(2);
    assert.equal(o.push(3), 1);
    assert.deepEqual(o.drain(), [2, 3]);
    assert.equal(o.length, 0);
    const big = new BoundedQueue<number>(1000);
    for (let i = 0; i < 500; i++) big.push(i);
    for (let i = 0; i < 400; i++) assert.equal(big.shift(), i);
    assert.equal(big.length, 100);
    assert.equal(big.shift(), 400);
  });
});

describe('lib/sms retry', function () {
  const base = (clock: Clock, over: Partial<RetryOptions> = {}): RetryOptions => ({
    retries: 3,
    timeoutMs: 5_000,
    backoff: { initialDelayMs: 1_000, maxDelayMs: 8_000, factor: 2, jitter: 0.5 },
    maxRetryAfterMs: 60_000,
    retryTimeouts: false,
    provider: 'p',
    clock,
    random: () => 1,
    ...over,
  });

  it('retries transient errors with exponential backoff and stops after `retries`', async () => {
    const clock = scaledClock();
    let calls = 0;
    const r = await withRetry(async () => {
      calls++;
      throw new SmsError('SMS_PROVIDER', '503', { transient: true, status: 503 });
    }, base(clock));
    assert.equal(r.ok, false);
    assert.equal(calls, 4);
    assert.equal(r.attempts, 4);
    // per-attempt timeouts are 5000; the backoff waits grow 1000, 2000, 4000 (random() = 1 → the top)
    assert.deepEqual(
      clock.delays.filter((d) => d !== 5_000),
      [1_000, 2_000, 4_000],
    );
  });

  it('permanent errors fail at once; success returns the value and attempts', async () => {
    const clock = scaledClock();
    let calls = 0;
    const r = await withRetry(async () => {
      calls++;
      throw new SmsError('SMS_AUTH', 'no');
    }, base(clock));
    assert.equal(calls, 1);
    assert.equal(!r.ok && r.error.code, 'SMS_AUTH');
    const ok = await withRetry(async (attempt) => {
      if (attempt < 2) throw new SmsError('SMS_NETWORK', 'x', { transient: true });
      return 'done';
    }, base(scaledClock()));
    assert.deepEqual(ok, { ok: true, value: 'done', attempts: 3 });
  });

  it('honours Retry-After, and gives up when it is longer than maxRetryAfterMs', async () => {
    const clock = scaledClock();
    let calls = 0;
    const r = await withRetry(async () => {
      if (calls++ === 0)
        throw new SmsError('SMS_RATE_LIMITED', '429', { transient: true, retryAfterMs: 7_000 });
      return 1;
    }, base(clock));
    assert.equal(r.ok, true);
    assert.ok(clock.delays.includes(7_000));
    let n = 0;
    const long = await withRetry(async () => {
      n++;
      throw new SmsError('SMS_RATE_LIMITED', '429', { transient: true, retryAfterMs: 3_600_000 });
    }, base(scaledClock()));
    assert.equal(n, 1);
    assert.equal(!long.ok && long.error.code, 'SMS_RATE_LIMITED');
  });

  it('a timeout aborts the attempt signal; it is retried only when retryTimeouts is set, else SMS_UNCERTAIN', async () => {
    const hang = (signal: AbortSignal) =>
      new Promise<never>((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    let aborted = 0;
    const r = await withRetry(
      (_a, signal) => {
        signal.addEventListener('abort', () => aborted++);
        return hang(signal);
      },
      base(scaledClock(), { timeoutMs: 2_000 }),
    );
    assert.equal(!r.ok && r.error.code, 'SMS_UNCERTAIN');
    assert.equal(!r.ok && r.error.transient, false);
    assert.match(!r.ok ? r.error.message : '', /no answer within 2s: the SMS may have been sent/);
    assert.equal(r.attempts, 1);
    assert.equal(aborted, 1);
    const again = await withRetry(
      (attempt, signal) => (attempt === 0 ? hang(signal) : Promise.resolve('second')),
      base(scaledClock(), { timeoutMs: 2_000, retryTimeouts: true }),
    );
    assert.deepEqual(again, { ok: true, value: 'second', attempts: 2 });
  });

  it('a network failure that may have reached the provider is retried only when retryTimeouts is set', async () => {
    const failWith = (code: string) => {
      const err = new TypeError('fetch failed');
      (err as { cause?: unknown }).cause = { code };
      return fromFetchFailure(err, 'p');
    };
    // a reset after the request left: ambiguous, so not retried for a non-idempotent provider
    let calls = 0;
    const reset = await withRetry(async () => {
      calls++;
      throw failWith('UND_ERR_SOCKET');
    }, base(scaledClock()));
    assert.equal(calls, 1);
    assert.equal(!reset.ok && reset.error.code, 'SMS_UNCERTAIN');
    assert.match(!reset.ok ? reset.error.message : '', /may have been sent/);
    // connection refused proves nothing was sent: retried
    calls = 0;
    const refused = await withRetry(async (attempt) => {
      calls++;
      if (attempt < 2) throw failWith('ECONNREFUSED');
      return 'sent';
    }, base(scaledClock()));
    assert.deepEqual(refused, { ok: true, value: 'sent', attempts: 3 });
    // an idempotent provider may retry the ambiguous one
    const idempotent = await withRetry(
      async (attempt) => {
        if (attempt === 0) throw failWith('ECONNRESET');
        return 'sent';
      },
      base(scaledClock(), { retryTimeouts: true }),
    );
    assert.deepEqual(idempotent, { ok: true, value: 'sent', attempts: 2 });
  });

  it('an adapter that ignores the signal cannot make us wait past the timeout', async () => {
    // virtual time: the attempt never settles, so only our own timeout timer can end the wait
    const clock = new ManualClock();
    const pending = withRetry(() => new Promise<never>(() => {}), base(clock, { timeoutMs: 3_000 }));
    await waitFor(() => clock.pending > 0, 5000, 'the attempt started');
    await clock.advanceAsync(3_000);
    const r = await pending;
    assert.equal(!r.ok && r.error.code, 'SMS_UNCERTAIN');
  });

  it('close (signal) ends a backoff wait: SMS_CANCELLED, no further attempt', async () => {
    const closer = new AbortController();
    const clock = new ManualClock();
    let calls = 0;
    const pending = withRetry(
      async () => {
        calls++;
        throw new SmsError('SMS_NETWORK', 'refused', { transient: true });
      },
      base(clock, { signal: closer.signal }),
    );
    await waitFor(() => calls === 1 && clock.pending === 1, 2000, 'the backoff wait');
    closer.abort();
    const r = await pending;
    assert.deepEqual([!r.ok && r.error.code, !r.ok && r.cancelled, calls], ['SMS_CANCELLED', true, 1]);
    assert.equal(clock.pending, 0, 'no timer left');
  });

  it('close (signal) never ends an attempt in flight: its real answer is the outcome, and no retry follows', async () => {
    const closer = new AbortController();
    const clock = new ManualClock();
    let answer!: (value: string) => void;
    let failWith!: (err: SmsError) => void;
    let aborted = 0;
    const attempt = (signal: AbortSignal) => {
      signal.addEventListener('abort', () => aborted++);
      return new Promise<string>((resolve, reject) => {
        answer = resolve;
        failWith = reject;
      });
    };
    const sent = withRetry((_a, signal) => attempt(signal), base(clock, { signal: closer.signal }));
    await waitFor(() => answer, 2000, 'the attempt');
    closer.abort();
    answer('late but sent');
    assert.deepEqual(await sent, { ok: true, value: 'late but sent', attempts: 1 });
    assert.equal(aborted, 0, 'the request was not aborted');

    // an ambiguous failure of the attempt in flight: no retry after close, and it may have been sent
    const closer2 = new AbortController();
    let calls = 0;
    const failed = withRetry(
      (_a, signal) => {
        calls++;
        return attempt(signal);
      },
      base(new ManualClock(), { signal: closer2.signal, retryTimeouts: true }),
    );
    await waitFor(() => calls === 1, 2000, 'the attempt');
    closer2.abort();
    failWith(new SmsError('SMS_PROVIDER', 'p: HTTP 502', { transient: true, ambiguous: true, status: 502 }));
    const r = await failed;
    assert.deepEqual([!r.ok && r.error.code, calls], ['SMS_UNCERTAIN', 1]);
    assert.match(!r.ok ? r.error.message : '', /not retried: the node was stopped/);
  });

  it('an ambiguous failure with an idempotent provider is retried; after the last retry it is SMS_UNCERTAIN', async () => {
    let calls = 0;
    const r = await withRetry(
      async () => {
        calls++;
        throw new SmsError('SMS_PROVIDER', 'p: HTTP 504', { transient: true, ambiguous: true, status: 504 });
      },
      base(scaledClock(), { retryTimeouts: true }),
    );
    assert.equal(calls, 4);
    assert.equal(!r.ok && r.error.code, 'SMS_UNCERTAIN');
    assert.equal(!r.ok && r.error.status, 504);
    // the same failure, not idempotent: one attempt only
    calls = 0;
    const once = await withRetry(async () => {
      calls++;
      throw new SmsError('SMS_PROVIDER', 'p: HTTP 502', { transient: true, ambiguous: true, status: 502 });
    }, base(scaledClock()));
    assert.deepEqual([calls, !once.ok && once.error.code], [1, 'SMS_UNCERTAIN']);
  });

  it('unknown throwables become permanent SMS_PROVIDER errors', () => {
    const e = asSmsError(new Error('boom'), 'p');
    assert.equal(e.code, 'SMS_PROVIDER');
    assert.equal(e.transient, false);
    assert.equal(e.message, 'p: boom');
    const own = new SmsError('SMS_AUTH', 'x');
    assert.equal(asSmsError(own, 'p'), own);
  });
});

describe('lib/sms pipelineOptions', () => {
  it('a flow that omits the storm guards gets the safe defaults; an explicit 0 turns them off', () => {
    const missing = pipelineOptions({});
    assert.equal(missing.rateLimit, 10);
    assert.equal(missing.dedupeWindowMs, 60_000);
    const off = pipelineOptions({ rateLimit: '0', dedupeWindow: 0 });
    assert.equal(off.rateLimit, 0);
    assert.equal(off.dedupeWindowMs, 0);
    const set = pipelineOptions({ rateLimit: '25', dedupeWindow: '5' });
    assert.deepEqual([set.rateLimit, set.dedupeWindowMs], [25, 5_000]);
  });
});
