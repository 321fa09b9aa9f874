/**
 * Bad frames on a subscribed link, for every WebSocket source: each kind is logged once (then only
 * counted), skipped (nothing emitted), the runtime stays alive (a real event afterwards arrives) and
 * the link is kept (no reconnect).
 */
import assert from 'assert';
import { resetTuning } from '../../nodes/lib/tuning';
import { harnesses } from './sources';
import { collect, countInputs, helper, isGreen, type Msg, record, until, warnings } from './util';

/** each frame of a kind is sent this often per burst; two bursts per kind */
const REPS = 5;

describe('faults: garbage from the server', function () {
  for (const h of harnesses()) {
    describe(h.type, () => {
      let received: Msg[];

      before(async () => {
        await h.start();
        h.tune();
        await h.load();
        received = collect(h.outId);
        await until(() => h.serverReady() && h.clientReady() && isGreen(h.inId), `${h.type}: subscribed`);
      });

      after(async () => {
        await helper.unload();
        await h.close();
        resetTuning();
      });

      for (const g of h.garbage) {
        it(`${g.kind}: logged once, skipped, runtime alive, link kept`, async () => {
          const connects = h.connects();
          const logBefore = warnings(h.configId).length;
          const burst = async (n: number) => {
            const seen = received.length;
            for (let i = 0; i < REPS; i++) for (const frame of g.frames) h.raw(frame);
            // frames on one socket arrive in order: once the probe is out, the garbage was handled
            const probe = `probe-${g.kind}-${n}`;
            h.emit(probe);
            await until(
              () => received.some((m) => m.event?.id === probe),
              `${h.type}: the probe after ${g.kind}`,
            );
            assert.deepStrictEqual(
              received.slice(seen).map((m) => m.event?.id),
              [probe],
              'nothing but the probe was emitted',
            );
          };
          await burst(1);
          const logged = warnings(h.configId).slice(logBefore);
          assert.strictEqual(logged.length, 1, `one log line for the kind, got: ${JSON.stringify(logged)}`);
          await burst(2);
          assert.strictEqual(
            warnings(h.configId).length - logBefore,
            1,
            'still one line after a second burst',
          );
          assert.strictEqual(h.connects(), connects, 'no reconnect');
          assert.ok(h.serverReady() && h.clientReady() && isGreen(h.inId), 'still subscribed');
          const sent = 2 * REPS * g.frames.length;
          countInputs(sent);
          record('garbage', {
            source: h.type,
            kind: g.kind,
            'frames sent': sent,
            'log lines': 1,
            'messages emitted': 0,
            reconnects: 0,
            // the fake's port changes every run: keep the report stable
            'logged as': logged[0]
              .replace(/\|/g, '/')
              .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
              .slice(0, 110),
          });
        });
      }
    });
  }
});
