/**
 * Stalled and slow servers, for every WebSocket source: a TCP server that accepts and never speaks,
 * a server that goes silent once subscribed, one that never answers the authentication, one that
 * answers everything slowly (within the timeouts).
 */
import assert from 'assert';
import { resetTuning } from '../../nodes/lib/tuning';
import { harnesses, type SourceHarness } from './sources';
import {
  collect,
  countCycles,
  countInputs,
  delay,
  helper,
  isGreen,
  type Msg,
  note,
  readable,
  record,
  SilentServer,
  statuses,
  SUBSCRIBED,
  until,
} from './util';

/** every timeout that can end a silent attempt, short */
const SHORT = { handshakeTimeoutMs: 300, requestTimeoutMs: 300, authTimeoutMs: 300 };
/** the same timeouts, far longer than a slow answer */
const LONG = {
  handshakeTimeoutMs: 3_000,
  requestTimeoutMs: 3_000,
  authTimeoutMs: 3_000,
};

async function subscribed(h: SourceHarness, what: string): Promise<void> {
  await until(() => h.serverReady() && h.clientReady() && isGreen(h.inId), `${h.type}: ${what}`);
}

async function roundTrip(h: SourceHarness, received: Msg[], tag: string): Promise<void> {
  h.emit(tag);
  await until(() => received.some((m) => m.event?.id === tag), `${h.type}: event ${tag}`);
}

let fetchNoteWritten = false;

const everGreen = (h: SourceHarness) => statuses(h.inId).some((s) => s.text === SUBSCRIBED);

describe('faults: stalled and slow servers', function () {
  for (const h of harnesses()) {
    describe(h.type, () => {
      beforeEach(async () => {
        await h.start();
      });

      afterEach(async () => {
        await helper.unload();
        await h.close();
        resetTuning();
      });

      it('a server that accepts the TCP connection and never speaks: bounded attempts, never green, nothing left open', async () => {
        const silent = await new SilentServer().start();
        try {
          h.tune(SHORT);
          const started = Date.now();
          await h.load(silent.url);
          // counted, not timed: wait for four attempts, however long a busy machine takes
          await until(() => silent.accepted >= 4, `${h.type}: four attempts`);
          const attempts = silent.accepted;
          const windowMs = Date.now() - started;
          const state = h.connection().state;
          assert.ok(!everGreen(h), 'never shown as subscribed');
          assert.ok(['connecting', 'authenticating', 'backoff'].includes(state.phase), state.phase);
          // one attempt per 300 ms timeout at most (plus backoff), one at a time: a slower machine
          // only makes the window longer
          assert.ok(attempts >= 2 && attempts <= Math.ceil(windowMs / 300) + 1, `attempts: ${attempts}`);
          // Node's fetch (the first step of the HTTP-first protocols) may close an aborted attempt's
          // socket only as the next attempt connects: the server can see that one a moment longer
          const lingering = h.type === 'sms-gateway in' || h.type === 'cpaas in' ? 1 : 0;
          assert.ok(silent.maxOpen <= 1 + lingering, `one connection at a time: ${silent.maxOpen} open`);
          const reason = statuses(h.inId)
            .map((s) => s.text ?? '')
            .find((t) => t.includes('reconnecting'));
          assert.ok(reason, 'a reconnecting status with the reason');
          await helper.unload();
          const stopped = Date.now();
          // (fetch-based clients: Node's fetch closes an aborted request's socket within its 4 s keep-alive)
          await until(
            () => silent.sockets.size === 0,
            'every silent connection closed after the node stopped',
          );
          const closedIn = Math.ceil((Date.now() - stopped) / 100) / 10;
          countInputs(attempts);
          record('stalls', {
            source: h.type,
            server: 'accepts TCP, never sends a byte',
            expected: 'attempt ends at the 300 ms timeout; backoff; retry',
            observed: `${attempts} attempts in ${Math.ceil(windowMs / 100) / 10} s, at most ${silent.maxOpen} open; all closed ${closedIn} s after the node stopped`,
            'status shown': readable(reason),
          });
          if (closedIn > 1 && !fetchNoteWritten) {
            fetchNoteWritten = true;
            note(
              'stalls',
              'Where closing took seconds, the first step of the session is an HTTP request (token, login): ' +
                'Node’s fetch (undici) closes the socket of an aborted request at its 4 s keep-alive timeout. ' +
                'The WebSocket clients close theirs at once.',
            );
          }
        } finally {
          await silent.close();
        }
      });

      it('a server that goes silent once subscribed: the dead link is detected, the node subscribes again', async () => {
        h.tune({ deadAfterMs: 600 });
        await h.load();
        const received = collect(h.outId);
        await subscribed(h, 'first subscribe');
        const before = h.connects();
        h.stall();
        await until(() => h.connects() > before, `${h.type}: a new connection after the silence`);
        h.unstall();
        await subscribed(h, 'subscribed again');
        await roundTrip(h, received, 'after-stall');
        const dead = statuses(h.inId).find((s) => (s.text ?? '').includes('no heartbeat'));
        assert.ok(dead, 'the status said why it reconnected');
        countCycles(1);
        countInputs(1);
        record('stalls', {
          source: h.type,
          server: 'subscribed, then silent (no pings, no answers, socket kept open)',
          expected: 'dead link after 600 ms without a frame; reconnect',
          observed: 'reconnected, subscribed, the next event arrived',
          'status shown': readable(dead.text),
        });
      });

      it('a server that never answers the authentication (twice): each attempt times out, then it subscribes', async () => {
        h.tune({ [h.authTimeoutKey]: 300 });
        h.ignoreAuth(2);
        await h.load();
        const received = collect(h.outId);
        await subscribed(h, 'subscribed after two unanswered authentications');
        await roundTrip(h, received, 'after-auth-stall');
        const attempts = h.authAttempts();
        const shown = statuses(h.inId).filter((s) => (s.text ?? '').includes('reconnecting'));
        assert.ok(shown.length >= 2, JSON.stringify(shown));
        // a busy machine may let an answered attempt time out too: then it shows one more reconnect
        assert.strictEqual(attempts, shown.length + 1, 'exactly one attempt per timeout');
        countCycles(2);
        countInputs(2);
        record('stalls', {
          source: h.type,
          server: 'never answers the authentication, 2 attempts in a row',
          expected: `${h.authTimeoutKey} (300 ms) ends each; backoff; retry`,
          observed: `${attempts} authentication attempts, then subscribed; the next event arrived`,
          'status shown': readable(shown[0].text),
        });
      });

      it('a server that answers everything slowly (250 ms, timeouts 3 s): one connection, no reconnect', async () => {
        // timeouts far above the delay: a busy machine must not turn "slow" into "too slow"
        h.tune(LONG);
        h.slow(250);
        await h.load();
        const received = collect(h.outId);
        await subscribed(h, 'subscribed through the slow answers');
        for (let i = 0; i < 3; i++) await roundTrip(h, received, `slow-${i}`);
        await delay(700); // a few heartbeats, answered late
        assert.strictEqual(h.connects(), 1, 'no reconnect');
        assert.ok(!statuses(h.inId).some((s) => (s.text ?? '').includes('reconnecting')));
        assert.ok(isGreen(h.inId));
        countInputs(1);
        record('stalls', {
          source: h.type,
          server: 'answers every request / upgrade / heartbeat 250 ms late',
          expected: 'within the timeouts: nothing to do',
          observed: '1 connection, subscribed, 3 events arrived, no reconnect',
          'status shown': 'subscribed',
        });
      });
    });
  }
});
