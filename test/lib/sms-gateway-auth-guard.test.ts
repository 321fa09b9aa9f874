import assert from 'assert';
import { Backoff } from '../../nodes/lib/backoff';
import {
  AuthFailureWindow,
  AuthGuard,
  authGuardFor,
  AuthRefusedError,
  resetAuthGuards,
} from '../../nodes/lib/sms-gateway/auth-guard';
import { GATEWAY_TIMING } from '../../nodes/lib/sms-gateway/connection';
import { maxInWindow } from '../fakes/sms-gateway';
import { ManualClock } from '../clock';

const MIN = 60_000;

describe('lib/sms-gateway AuthFailureWindow', () => {
  it('counts failures in a sliding window and forgets old ones', () => {
    const clock = new ManualClock(1_000_000);
    const w = new AuthFailureWindow({ clock, windowMs: 5 * MIN, refuseAt: 5 });
    w.record();
    clock.advance(MIN);
    w.record();
    assert.strictEqual(w.count(), 2);
    clock.advance(4 * MIN); // the first is exactly 5 min old: out
    assert.strictEqual(w.count(), 1);
    assert.deepStrictEqual(w.timestamps(), [1_000_000 + MIN]);
    clock.advance(MIN);
    assert.strictEqual(w.count(), 0);
  });

  it('refuses an attempt when, failing too, it would reach refuseAt', () => {
    const clock = new ManualClock(0);
    const w = new AuthFailureWindow({ clock, windowMs: 5 * MIN, refuseAt: 5 });
    for (let i = 0; i < 3; i++) {
      assert.ok(w.canAttempt(), `attempt ${i + 1}`);
      w.record();
      clock.advance(10_000);
    }
    assert.ok(w.canAttempt(), '4th: 3 + 1 < 5');
    assert.strictEqual(w.canAttempt(1), false, 'one in flight counts as a failure: 3 + 1 + 1');
    w.record();
    assert.strictEqual(w.canAttempt(), false, '5th would reach 5');
    assert.strictEqual(w.count(), 4);
  });

  it('says how long until an attempt is allowed again', () => {
    const clock = new ManualClock(0);
    const w = new AuthFailureWindow({ clock, windowMs: 5 * MIN, refuseAt: 5 });
    for (let i = 0; i < 4; i++) {
      w.record();
      clock.advance(MIN);
    }
    // failures at 0,1,2,3 min, now = 4 min: the one at 0 must leave → at 5 min
    assert.strictEqual(w.retryInMs(), MIN);
    assert.strictEqual(w.retryInMs(1), 2 * MIN, 'one more in flight: two must leave');
    clock.advance(MIN);
    assert.strictEqual(w.retryInMs(), 0);
    assert.ok(w.canAttempt());
    assert.strictEqual(new AuthFailureWindow({ clock, refuseAt: 2 }).retryInMs(3), 5 * MIN, 'in flight only');
  });
});

describe('lib/sms-gateway AuthGuard', () => {
  afterEach(() => resetAuthGuards());

  it('refuses with AuthRefusedError once the window is full, and lets attempts through again later', async () => {
    const clock = new ManualClock(0);
    const guard = new AuthGuard({ clock, windowMs: 5 * MIN, refuseAt: 5 });
    for (let i = 0; i < 4; i++) (await guard.begin('bad')).failed();
    await assert.rejects(guard.begin('bad'), (err: unknown) => {
      assert.ok(err instanceof AuthRefusedError);
      assert.strictEqual(err.failures, 4);
      assert.strictEqual(err.retryInMs, 5 * MIN);
      assert.ok(!err.message.includes('bad'), 'no key in the message');
      return true;
    });
    // even a key that worked before is held back while the window is full (the lockout is per IP)
    clock.advance(5 * MIN);
    const ok = await guard.begin('good');
    ok.succeeded();
    assert.strictEqual(guard.window.count(), 0);
  });

  it('serialises concurrent attempts of an unproven key, so a burst cannot overshoot', async () => {
    const clock = new ManualClock(0);
    const guard = new AuthGuard({ clock, windowMs: 5 * MIN, refuseAt: 5 });
    const admitted: number[] = [];
    const outcomes = Array.from({ length: 10 }, async (_, i) => {
      try {
        const t = await guard.begin('bad');
        admitted.push(i);
        await Promise.resolve();
        t.failed();
        return 'sent';
      } catch (err) {
        assert.ok(err instanceof AuthRefusedError);
        return 'refused';
      }
    });
    const results = await Promise.all(outcomes);
    assert.strictEqual(results.filter((r) => r === 'sent').length, 4);
    assert.strictEqual(guard.window.count(), 4);
    assert.strictEqual(guard.inFlight, 0);
  });

  it('a proven key is not slowed down by in-flight accounting', async () => {
    const guard = new AuthGuard({ clock: new ManualClock(0), refuseAt: 5 });
    (await guard.begin('good')).succeeded();
    const tickets = await Promise.all(Array.from({ length: 20 }, () => guard.begin('good')));
    assert.strictEqual(tickets.length, 20);
    assert.strictEqual(guard.inFlight, 0);
    for (const t of tickets) t.succeeded();
  });

  it('a waiting attempt can be aborted', async () => {
    const guard = new AuthGuard({ clock: new ManualClock(0), refuseAt: 2 });
    const first = await guard.begin('k');
    const controller = new AbortController();
    const waiting = guard.begin('k', controller.signal);
    controller.abort(new Error('closing'));
    await assert.rejects(waiting, /closing/);
    first.settled();
  });

  it('one guard per gateway host, shared by every node of the process', () => {
    const a = authGuardFor('https://smsgateway-api.onrender.com');
    const b = authGuardFor('https://SMSGATEWAY-API.onrender.com/');
    const c = authGuardFor('http://127.0.0.1:1234');
    assert.strictEqual(a, b);
    assert.notStrictEqual(a, c);
  });
});

describe('lib/sms-gateway lockout proof (policy simulation)', () => {
  it('15 consecutive auth failures under the default policy: never 10 (in fact ≤ 2) in any 5 minutes', () => {
    // Worst case for the server: jitter 0 (permanent delays are only ever lengthened by jitter).
    const backoff = new Backoff(GATEWAY_TIMING.backoff, () => 0);
    const clock = new ManualClock(0);
    const guard = new AuthGuard({
      clock,
      windowMs: GATEWAY_TIMING.authWindowMs,
      refuseAt: GATEWAY_TIMING.authRefuseAt,
    });
    const attempts: number[] = [];
    let failures = 0;
    while (failures < 15) {
      if (guard.window.canAttempt()) {
        attempts.push(clock.now());
        guard.window.record();
        failures++;
      }
      clock.advance(backoff.next(true));
    }
    assert.strictEqual(attempts.length, 15);
    assert.ok(GATEWAY_TIMING.backoff.permanentDelayMs >= 120_000, 'minutes, not seconds');
    assert.ok(maxInWindow(attempts) <= 2, `max in window ${maxInWindow(attempts)}`);
    // and with the default maxPermanentFailures the connection stops long before 15
    assert.ok(GATEWAY_TIMING.maxPermanentFailures > 0 && GATEWAY_TIMING.maxPermanentFailures <= 4);
  });

  it('15 back-to-back attempts (a redeploy loop, many nodes): the guard admits at most 4 per 5 minutes', async () => {
    const clock = new ManualClock(0);
    const guard = new AuthGuard({ clock, windowMs: 5 * MIN, refuseAt: 5 });
    const attempts: number[] = [];
    let tries = 0;
    while (attempts.length < 15) {
      tries++;
      try {
        const t = await guard.begin('sgw_bad');
        attempts.push(clock.now());
        t.failed();
      } catch (err) {
        assert.ok(err instanceof AuthRefusedError);
      }
      clock.advance(5_000); // someone retries every 5 s
    }
    assert.ok(tries > 15);
    assert.strictEqual(maxInWindow(attempts), 4);
  });
});
