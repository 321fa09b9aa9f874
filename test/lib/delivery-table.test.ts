import assert from 'node:assert/strict';
import type { StatusReport } from '../../nodes/lib/delivery/status';
import { type DeliveryInfo, WatchTable, type WatchTableOptions } from '../../nodes/lib/delivery/watch-table';
import { ManualClock } from '../clock';

type Msg = { n: number };

function table(over: Partial<WatchTableOptions<Msg>> = {}) {
  const clock = new ManualClock(1_000_000);
  const done: { msg: Msg; d: DeliveryInfo }[] = [];
  const t = new WatchTable<Msg>({
    timeoutMs: 120_000,
    maxWatches: 10,
    holdMs: 5_000,
    maxHeld: 3,
    clock,
    onDone: (msg, d) => done.push({ msg, d }),
    ...over,
  });
  return { t, clock, done };
}

const sms = (id: string, provider = 'sms-gateway', to = '+15550000001') => ({ provider, ids: [id], to });
const st = (
  id: string | undefined,
  providerStatus: string,
  outcome?: 'delivered' | 'failed',
  reason?: string,
) => {
  const r: StatusReport = { provider: 'sms-gateway', providerStatus };
  if (id !== undefined) r.id = id;
  if (outcome) r.outcome = outcome;
  if (reason) r.reason = reason;
  return r;
};

describe('delivery watch table', () => {
  it('a final status ends the watch with msg.delivery; intermediate ones only update it', () => {
    const { t, clock, done } = table();
    assert.equal(t.watch(sms('m1'), { n: 1 }), 'watching');
    clock.advance(1_000);
    assert.equal(t.status(st('m1', 'sending')), 'updated');
    assert.equal(done.length, 0);
    clock.advance(1_000);
    assert.equal(t.status(st('m1', 'sent', 'delivered')), 'ended');
    assert.deepEqual(done, [
      {
        msg: { n: 1 },
        d: {
          provider: 'sms-gateway',
          id: 'm1',
          to: '+15550000001',
          status: 'delivered',
          providerStatus: 'sent',
          sentAt: 1_000_000,
          doneAt: 1_002_000,
        },
      },
    ]);
    assert.equal(t.size, 0);
    assert.equal(t.stats.delivered, 1);
    assert.equal(clock.pending, 0, 'no timer left when nothing is open');
  });

  it('failed carries the reason; the same id from another provider is another watch', () => {
    const { t, done } = table();
    t.watch(sms('m1'), { n: 1 });
    t.watch(sms('m1', 'cpaas'), { n: 2 });
    t.status(st('m1', 'failed', 'failed', 'unreachable'));
    assert.equal(done.length, 1);
    assert.equal(done[0].msg.n, 1);
    assert.equal(done[0].d.reason, 'unreachable');
    assert.equal(done[0].d.status, 'failed');
    assert.equal(t.size, 1);
  });

  it('times out exactly once, in send order, with ONE clock timer for any number of watches', () => {
    const { t, clock, done } = table({ maxWatches: 1000 });
    for (let i = 0; i < 500; i++) {
      t.watch(sms(`m${i}`), { n: i });
      clock.advance(10);
    }
    assert.equal(clock.pending, 1);
    t.status(st('m3', 'sent', 'delivered'));
    clock.advance(120_000 - 500 * 10 + 5 * 10);
    // m0..m5 are due (sent at 0, 10, …, 50 ms): m3 ended before
    assert.deepEqual(
      done.map((d) => [d.msg.n, d.d.status]),
      [
        [3, 'delivered'],
        [0, 'timeout'],
        [1, 'timeout'],
        [2, 'timeout'],
        [4, 'timeout'],
        [5, 'timeout'],
      ],
    );
    clock.advance(10 * 86_400_000);
    assert.equal(done.length, 500);
    assert.equal(new Set(done.map((d) => d.msg.n)).size, 500, 'each once');
    assert.equal(t.stats.late, 499);
    // a late final status for a watch that timed out changes nothing
    t.status(st('m7', 'sent', 'delivered'));
    clock.advance(10_000);
    assert.equal(done.length, 500);
    assert.equal(t.stats.unknown, 1);
    assert.equal(clock.pending, 0);
  });

  it("the send's own status is the providerStatus until a status event comes", () => {
    const { t, clock, done } = table();
    t.watch({ ...sms('q'), status: 'queued' }, { n: 1 });
    clock.advance(120_000);
    assert.equal(done[0].d.status, 'timeout');
    assert.equal(done[0].d.providerStatus, 'queued');
  });

  it('a status before its send is held and matched: final ends the watch at once, intermediate updates it', () => {
    const { t, clock, done } = table();
    assert.equal(t.status(st('early', 'failed', 'failed', 'no route')), 'held');
    assert.equal(
      t.status(st('early', 'sending')),
      'held',
      'a later intermediate status does not hide the final',
    );
    assert.equal(t.status(st('mid', 'sending')), 'held');
    assert.equal(t.stats.held, 2);
    clock.advance(4_000);
    assert.equal(t.watch(sms('early'), { n: 1 }), 'done');
    assert.equal(done[0].d.status, 'failed');
    assert.equal(done[0].d.reason, 'no route');
    assert.equal(t.watch(sms('mid'), { n: 2 }), 'watching');
    clock.advance(120_000);
    assert.equal(done[1].d.status, 'timeout');
    assert.equal(done[1].d.providerStatus, 'sending');
    assert.equal(t.stats.unknown, 0);
  });

  it('held statuses are bounded in time and count; beyond, they are unknown (counted)', () => {
    const { t, clock } = table();
    t.status(st('a', 'sent', 'delivered'));
    t.status(st('b', 'sent', 'delivered'));
    t.status(st('c', 'sent', 'delivered'));
    t.status(st('d', 'sent', 'delivered'));
    assert.equal(t.stats.held, 3);
    assert.equal(t.stats.unknown, 1, 'the oldest dropped for the newest');
    t.status(st(undefined, 'sent', 'delivered'));
    assert.equal(t.stats.unknown, 2, 'a status without an id matches nothing');
    clock.advance(5_000);
    assert.equal(t.stats.held, 0);
    assert.equal(t.stats.unknown, 5);
    assert.equal(t.watch(sms('b'), { n: 1 }), 'watching', 'too late to match');
  });

  it('at most maxWatches: the next is refused (full); a duplicate id is not watched twice', () => {
    const { t } = table({ maxWatches: 2 });
    assert.equal(t.watch(sms('a'), { n: 1 }), 'watching');
    assert.equal(t.watch(sms('a'), { n: 1 }), 'duplicate');
    assert.equal(t.watch(sms('b'), { n: 2 }), 'watching');
    assert.equal(t.watch(sms('c'), { n: 3 }), 'full');
    t.status(st('a', 'sent', 'delivered'));
    assert.equal(t.watch(sms('c'), { n: 3 }), 'watching');
  });

  it('several ids for one SMS: one watch, ended by the first final status of any', () => {
    const { t, done } = table();
    t.watch({ provider: 'sms-gateway', ids: ['p1', 'p2'], to: '+1' }, { n: 1 });
    t.status(st('p2', 'failed', 'failed', 'x'));
    assert.equal(done.length, 1);
    assert.equal(done[0].d.id, 'p2');
    t.status(st('p1', 'sent', 'delivered'));
    assert.equal(done.length, 1);
  });

  it('suspend/adopt (a redeploy): no timer while parked; the new timeout counts from each send', () => {
    const { t, clock, done } = table();
    t.watch(sms('a'), { n: 1 });
    clock.advance(30_000);
    t.watch(sms('b'), { n: 2 });
    t.suspend();
    assert.equal(clock.pending, 0);
    clock.advance(200_000);
    assert.equal(done.length, 0, 'nothing fires while parked');
    const got: string[] = [];
    t.adopt({
      timeoutMs: 300_000,
      maxWatches: 10,
      holdMs: 5_000,
      maxHeld: 3,
      clock,
      onDone: (msg, d) => got.push(`${msg.n}:${d.status}`),
    });
    assert.equal(clock.pending, 1);
    clock.advance(70_000); // a: sent at 0, due at 300 s
    assert.deepEqual(got, ['1:timeout']);
    t.status(st('b', 'sent', 'delivered'));
    assert.deepEqual(got, ['1:timeout', '2:delivered']);
  });

  it('clear() drops everything and its timer', () => {
    const { t, clock, done } = table();
    t.watch(sms('a'), { n: 1 });
    t.status(st('z', 'queued'));
    assert.equal(t.clear(), 1);
    assert.equal(clock.pending, 0);
    clock.advance(1e9);
    assert.equal(done.length, 0);
  });
});
