/**
 * Every message a node of this package sends keeps one hidden class when a later node adds a
 * property to it, as Node-RED does with `_msgid` and a function node with anything it likes.
 *
 * On Node 20 (V8 11) an object made by spread (`{ ...msg }`) gets a map of its own each time a
 * property is added to it: a new map and descriptor array per message, in the old generation. Under
 * a burst of 200,000 events with function nodes downstream that promoted ~400 bytes a message and
 * doubled the runtime's memory growth. Node 22 does not do this, so without the fix these tests fail
 * on Node 20 only (this suite's Node). V8's `%HaveSameMap` says whether two objects share a map: the
 * suite runs with --allow-natives-syntax.
 */
import assert from 'assert';
import { copyWith } from '../../nodes/lib/envelope';
import { resetTuning } from '../../nodes/lib/tuning';
import { SINK_PROPS, SmsapiSink } from './sinks';
import { harnesses } from './sources';
import { helper, isGreen, type Msg, until, withParams } from './util';

const N = 60;

function natives(): (a: object, b: object) => boolean {
  try {
    return new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
  } catch {
    throw new Error('run with --allow-natives-syntax (the faults suite does: .mocharc.faults.json)');
  }
}

/** What a function node downstream does to each message: add properties. */
function touched(id: string): Msg[] {
  const msgs: Msg[] = [];
  helper.getNode(id).on('input', (msg: Msg) => {
    msg.seen = msgs.length;
    msg.at = Date.now();
    msgs.push(msg);
  });
  return msgs;
}

function assertOneShape(msgs: Msg[], what: string): void {
  const sameMap = natives();
  const odd = msgs.filter((m) => !sameMap(msgs[0]!, m)).length;
  assert.strictEqual(odd, 0, `${what}: ${odd} of ${msgs.length} messages got a hidden class of their own`);
}

describe('faults: messages keep one hidden class downstream', function () {
  this.timeout(30_000);

  it('copyWith (the one way a node copies a message for its output)', () => {
    const copies = Array.from({ length: N }, (_, i) => {
      const copy = copyWith({ topic: 't', payload: i, _msgid: `m${i}` }, { sms: { id: i } });
      (copy as Record<string, unknown>).seen = i;
      return copy;
    });
    assertOneShape(copies as Msg[], 'copyWith');
  });

  for (const h of harnesses()) {
    it(`${h.type}: the events it emits`, async () => {
      await h.start();
      try {
        h.tune();
        await h.load();
        const got = touched(h.outId);
        await until(() => h.serverReady() && h.clientReady() && isGreen(h.inId), `${h.type}: subscribed`);
        for (let i = 0; i < N; i++) h.emit(`shape-${i}`);
        await until(() => got.length === N, `${h.type}: ${N} events`);
        assertOneShape(got, h.type);
      } finally {
        await helper.unload();
        await h.close();
        resetTuning();
      }
    });
  }

  it('smsapi out: the messages it sends on (one per SMS)', async () => {
    const s = new SmsapiSink();
    await s.start();
    try {
      await helper.load(withParams(s.module()), s.flow(), s.credentials());
      const sent = touched('h');
      for (let i = 0; i < N; i++)
        helper.getNode('out').receive({ payload: `shape ${i}`, to: [`+4850000${String(1000 + i)}`] });
      await until(() => sent.length === N, `${N} SMS sent`);
      assert.ok(SINK_PROPS.dedupeWindow === 0, 'no dedupe: every input is an SMS');
      assertOneShape(sent, 'smsapi out');
    } finally {
      await helper.unload();
      await s.close();
      resetTuning();
    }
  });
});
