import assert from 'assert';
import { Backoff } from '../../nodes/lib/backoff';
import {
  ConnectionError,
  ConnectionState,
  ManagedConnection,
  SessionContext,
} from '../../nodes/lib/connection';
import { ManualClock } from '../clock';
import { tick, waitFor } from '../helpers';

type Script = (ctx: SessionContext) => Promise<void>;

class ScriptedConnection extends ManagedConnection {
  sessions = 0;
  constructor(
    private readonly script: Script,
    opts: ConstructorParameters<typeof ManagedConnection>[0] = {},
  ) {
    super({
      backoff: {
        initialDelayMs: 5,
        maxDelayMs: 40,
        factor: 2,
        jitter: 0,
        permanentDelayMs: 200,
        maxPermanentDelayMs: 1000,
      },
      deadAfterMs: 0,
      ...opts,
    });
  }
  protected async runSession(ctx: SessionContext): Promise<void> {
    this.sessions++;
    await this.script(ctx);
  }
}

function untilAborted(ctx: SessionContext): Promise<void> {
  return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
}

function recorder() {
  const states: ConnectionState[] = [];
  return { states, onConnectionState: (s: ConnectionState) => states.push(s) };
}

describe('lib/backoff', () => {
  it('grows exponentially with jitter inside [base*(1-j), base] and resets', () => {
    const b = new Backoff(
      {
        initialDelayMs: 100,
        maxDelayMs: 1000,
        factor: 2,
        jitter: 0.5,
        permanentDelayMs: 60_000,
        maxPermanentDelayMs: 600_000,
      },
      () => 0.999,
    );
    const delays = [1, 2, 3, 4, 5].map(() => b.next(false));
    assert.deepStrictEqual(delays, [100, 200, 400, 800, 1000]);
    b.reset();
    assert.strictEqual(b.next(false), 100);
  });

  it('permanent failures wait long, double, and only ever lengthen by jitter', () => {
    const b = new Backoff(
      {
        initialDelayMs: 100,
        maxDelayMs: 1000,
        factor: 2,
        jitter: 0.5,
        permanentDelayMs: 60_000,
        maxPermanentDelayMs: 200_000,
      },
      () => 0,
    );
    assert.deepStrictEqual([b.next(true), b.next(true), b.next(true)], [60_000, 120_000, 200_000]);
    assert.strictEqual(b.permanentCount, 3);
  });
});

describe('lib/connection ManagedConnection', () => {
  it('connects lazily on the first user and stops after the last one leaves', async () => {
    const conn = new ScriptedConnection(async (ctx) => {
      ctx.setPhase('subscribed');
      await untilAborted(ctx);
    });
    assert.strictEqual(conn.sessions, 0);
    const a = recorder();
    const b = recorder();
    conn.register(a);
    conn.register(b);
    await waitFor(() => conn.state.phase === 'subscribed');
    assert.strictEqual(conn.sessions, 1);
    assert.strictEqual(b.states.at(-1)?.phase, 'subscribed');
    await conn.deregister(a);
    assert.strictEqual(conn.state.phase, 'subscribed');
    await conn.deregister(b);
    assert.strictEqual(conn.state.phase, 'idle');
    assert.strictEqual(conn.sessions, 1);
  });

  it('reconnects with backoff after a session ends and reports the reason', async () => {
    let n = 0;
    const conn = new ScriptedConnection(async (ctx) => {
      n++;
      if (n < 3) throw new ConnectionError('socket hang up');
      ctx.setPhase('subscribed');
      await untilAborted(ctx);
    });
    const user = recorder();
    conn.register(user);
    await waitFor(() => conn.state.phase === 'subscribed');
    const backoffs = user.states.filter((s) => s.phase === 'backoff');
    assert.strictEqual(backoffs.length, 2);
    assert.strictEqual(backoffs[0].reason, 'socket hang up');
    await conn.close();
  });

  it('a permanent failure shows red and waits the long delay', async () => {
    const clock = new ManualClock(0);
    const conn = new ScriptedConnection(
      async () => {
        throw new ConnectionError('Invalid credentials', { permanent: true, code: 'AUTH' });
      },
      { clock },
    );
    const user = recorder();
    conn.register(user);
    await waitFor(() => conn.state.phase === 'error');
    const s = conn.state;
    assert.strictEqual(s.permanent, true);
    assert.strictEqual(s.code, 'AUTH');
    assert.strictEqual(s.retryAt! - clock.now(), 200, 'long backoff');
    // virtual time: up to the last millisecond of the backoff nothing may run, then the retry does
    clock.advance(199);
    await tick();
    assert.strictEqual(conn.state.phase, 'error', 'still waiting');
    assert.strictEqual(conn.sessions, 1, 'no retry before the backoff');
    clock.advance(1);
    await waitFor(() => conn.sessions === 2, 5000, 'the retry when the backoff ends');
    await conn.close();
  });

  it('stops retrying after maxPermanentFailures and stays red', async () => {
    const clock = new ManualClock(0);
    const conn = new ScriptedConnection(
      async () => {
        throw new ConnectionError('Invalid API key', { permanent: true });
      },
      {
        clock,
        maxPermanentFailures: 2,
        backoff: {
          initialDelayMs: 1,
          maxDelayMs: 1,
          factor: 1,
          jitter: 0,
          permanentDelayMs: 5,
          maxPermanentDelayMs: 5,
        },
      },
    );
    conn.register(recorder());
    await waitFor(() => conn.state.phase === 'error' && conn.state.retryAt !== undefined);
    clock.runNext(); // the first backoff ends
    await waitFor(() => conn.state.phase === 'error' && conn.state.retryAt === undefined);
    // nothing is scheduled that could start another attempt, however long we wait
    assert.strictEqual(clock.pending, 0, 'no timer left');
    clock.advance(24 * 3600_000);
    await tick();
    assert.strictEqual(conn.sessions, 2);
    await conn.close();
  });

  it('detects a dead link when nothing arrives for deadAfterMs', async () => {
    const conn = new ScriptedConnection(
      async (ctx) => {
        ctx.setPhase('subscribed');
        await untilAborted(ctx);
      },
      { deadAfterMs: 30 },
    );
    const user = recorder();
    conn.register(user);
    await waitFor(() => user.states.some((s) => s.code === 'DEAD_LINK'));
    await conn.close();
  });

  it('alive() keeps the link up', async () => {
    const clock = new ManualClock(0);
    let session: SessionContext | undefined;
    const conn = new ScriptedConnection(
      async (ctx) => {
        session = ctx;
        ctx.setPhase('subscribed');
        await untilAborted(ctx);
      },
      { deadAfterMs: 40, clock },
    );
    const user = recorder();
    conn.register(user);
    await waitFor(() => conn.state.phase === 'subscribed');
    // virtual time: a frame every 30 ms for 300 ms, far beyond deadAfterMs
    for (let i = 0; i < 10; i++) {
      clock.advance(30);
      session!.alive();
    }
    await tick();
    assert.ok(!user.states.some((s) => s.code === 'DEAD_LINK'));
    assert.strictEqual(conn.sessions, 1);
    // and the watchdog was armed all along: silence for deadAfterMs ends the session
    clock.advance(40);
    await waitFor(() => user.states.some((s) => s.code === 'DEAD_LINK'), 5000, 'dead link after silence');
    await conn.close();
  });

  it('tells the session it is stopping on close', async () => {
    let sawStopping = false;
    const conn = new ScriptedConnection(async (ctx) => {
      ctx.setPhase('subscribed');
      await untilAborted(ctx);
      sawStopping = ctx.stopping;
    });
    conn.register(recorder());
    await waitFor(() => conn.state.phase === 'subscribed');
    await conn.close();
    assert.strictEqual(sawStopping, true);
    assert.strictEqual(conn.state.phase, 'closed');
  });
});
