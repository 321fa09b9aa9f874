import assert from 'assert';
import type { EventMessage } from '../../nodes/lib/envelope';
import { fanOut, SourceUser, typeFilter } from '../../nodes/lib/session/fanout';
import { FrameParser } from '../../nodes/lib/session/frame-parser';
import { FlowPressure, watchRuntime } from '../../nodes/lib/session/pressure';

function parser(max = 64) {
  const skipped: string[] = [];
  const p = new FrameParser(
    () => 'Test',
    max,
    (kind, message) => skipped.push(`${kind}|${message}`),
  );
  return { p, skipped };
}

describe('lib/session frame parser (one order for every source)', () => {
  it('binary first, then size, UTF-8, JSON, object; a good frame is the parsed object', () => {
    const { p, skipped } = parser(16);
    // a big binary frame is reported as binary: the kind does not depend on its size
    assert.strictEqual(p.parse(Buffer.alloc(100, 0x7b), true), undefined);
    // a binary frame holding JSON is still binary (no source parses binary frames)
    assert.strictEqual(p.parse(Buffer.from('{"a":1}'), true), undefined);
    assert.strictEqual(p.parse(Buffer.from('{"a":"' + 'x'.repeat(20) + '"}'), false), undefined);
    assert.strictEqual(p.parse(Buffer.from([0x7b, 0xff, 0x7d]), false), undefined);
    assert.strictEqual(p.parse(Buffer.from('{oops'), false), undefined);
    assert.strictEqual(p.parse(Buffer.from('[1,2]'), false), undefined);
    assert.strictEqual(p.parse(Buffer.from('null'), false), undefined);
    assert.deepStrictEqual(p.parse([Buffer.from('{"a"'), Buffer.from(':1}')], false), { a: 1 });
    assert.deepStrictEqual(
      skipped.map((s) => s.split('|')[0]),
      ['binary', 'binary', 'oversized', 'invalid-utf8', 'invalid-json', 'not-an-object', 'not-an-object'],
    );
    assert.ok(skipped.every((s) => s.split('|')[1].startsWith('Test: skipped ')));
  });
});

describe('lib/session frame parser prefilter ("might anyone want this?")', () => {
  it('is asked after the binary and size checks, before UTF-8 and JSON; a rejected frame is counted, not reported', () => {
    const seen: string[] = [];
    const skipped: string[] = [];
    const p = new FrameParser(
      () => 'Test',
      32,
      (kind) => skipped.push(kind),
      (bytes) => {
        seen.push(bytes.toString('latin1'));
        return bytes.includes('"keep"');
      },
    );
    assert.strictEqual(p.parse(Buffer.from('{"drop":1}'), true), undefined);
    assert.strictEqual(p.parse(Buffer.from('{"drop":"' + 'x'.repeat(40) + '"}'), false), undefined);
    assert.deepStrictEqual(skipped, ['binary', 'oversized']);
    assert.deepStrictEqual(seen, [], 'binary and oversized frames never reach the prefilter');
    // invalid UTF-8 and invalid JSON nobody wants: dropped silently, never checked or parsed
    assert.strictEqual(p.parse(Buffer.from([0x7b, 0xff, 0x7d]), false), undefined);
    assert.strictEqual(p.parse(Buffer.from('{oops'), false), undefined);
    assert.deepStrictEqual(skipped, ['binary', 'oversized']);
    assert.strictEqual(p.rejected, 2);
    // fragments reach it as one buffer; a kept frame goes on through every check
    assert.deepStrictEqual(p.parse([Buffer.from('{"keep"'), Buffer.from(':1}')], false), { keep: 1 });
    assert.strictEqual(seen[seen.length - 1], '{"keep":1}');
    assert.strictEqual(p.parse(Buffer.from('{"keep":'), false), undefined);
    assert.deepStrictEqual(skipped, ['binary', 'oversized', 'invalid-json']);
    assert.strictEqual(p.rejected, 2);
  });
});

describe('lib/session fan-out (one user contract)', () => {
  function user(wants: (e: string) => boolean, onDeliver?: (m: EventMessage) => void) {
    const got: EventMessage[] = [];
    const u: SourceUser<string> & { got: EventMessage[] } = {
      got,
      wants,
      deliver: (m) => {
        got.push(m);
        onDeliver?.(m);
      },
      onConnectionState: () => undefined,
    };
    return u;
  }
  const envelope = (type: string): EventMessage => ({
    topic: `t/${type}`,
    payload: { nested: { type } },
    event: { source: 'esms', type, timestamp: 1 },
  });

  it('builds the envelope once, only when wanted; the first taker gets it, others a clone made before any delivery', () => {
    let built = 0;
    const build = (type: string) => {
      built++;
      return envelope(type);
    };
    // the first user mutates its payload while handling it: the second must not see that
    const a = user(
      typeFilter(['x']),
      (m) => ((m.payload as { nested: { type: string } }).nested.type = 'changed'),
    );
    const b = user(typeFilter<string>([]));
    const c = user(typeFilter(['y']));
    assert.strictEqual(fanOut([a, b, c], 'x', build), 2);
    assert.strictEqual(built, 1);
    assert.deepStrictEqual(b.got[0].payload, { nested: { type: 'x' } });
    assert.notStrictEqual(a.got[0], b.got[0]);
    assert.strictEqual(fanOut([c], 'x', build), 0);
    assert.strictEqual(built, 1, 'nobody wanted it: no envelope');
  });

  it("a user's handler that throws breaks neither the others nor the connection", () => {
    const errors: unknown[] = [];
    const bad = user(
      () => true,
      () => {
        throw new Error('boom');
      },
    );
    const good = user(() => true);
    assert.strictEqual(
      fanOut([bad, good], 'x', envelope, (e) => errors.push(e)),
      2,
    );
    assert.strictEqual(good.got.length, 1);
    assert.strictEqual(errors.length, 1);
  });
});

describe('lib/session flow pressure (backpressure gauge)', () => {
  it('behind from the high-water mark until the low one; listeners see each change once', () => {
    const p = new FlowPressure({ highWater: 3, lowWater: 1 });
    const seen: boolean[] = [];
    const stop = p.watch((b) => seen.push(b));
    p.queuedOne();
    p.queuedOne();
    assert.strictEqual(p.behind, false);
    p.queuedOne();
    p.queuedOne();
    assert.strictEqual(p.behind, true);
    p.completedOne();
    p.completedOne();
    assert.strictEqual(p.behind, true, 'still above the low-water mark');
    p.completedOne();
    assert.strictEqual(p.behind, false);
    assert.deepStrictEqual(seen, [true, false]);
    assert.strictEqual(p.maxQueued, 4);
    stop();
    p.queuedOne();
    p.queuedOne();
    p.queuedOne();
    assert.deepStrictEqual(seen, [true, false], 'unwatched');
    p.reset();
    assert.strictEqual(p.backlog, 0);
    assert.strictEqual(p.behind, false);
  });

  it('a burst arms the runtime hooks, with one-parameter handlers (others would hold every message); idle, they go', () => {
    const added = new Map<string, (event: unknown) => void>();
    const hooks = {
      add: (name: string, fn: (event: unknown) => void) => void added.set(name, fn),
      remove: (name: string) => void added.delete(name),
      has: (name: string) => added.has(name),
    };
    const p = new FlowPressure({ highWater: 10, lowWater: 1 });
    watchRuntime(hooks, p);
    assert.strictEqual(added.size, 0, 'nothing is counted before a burst');
    p.arm();
    p.arm();
    assert.deepStrictEqual([...added.keys()].map((k) => k.split('.')[0]).sort(), [
      'onComplete',
      'onReceive',
      'preDeliver',
    ]);
    for (const fn of added.values()) assert.strictEqual(fn.length, 1);
    const takesDone = { _expectedDoneCount: 1 };
    const plain = { _expectedDoneCount: 0 };
    added.get('preDeliver.smsNotifyBackpressure')!({});
    added.get('preDeliver.smsNotifyBackpressure')!({});
    added.get('onReceive.smsNotifyBackpressure')!({ destination: { node: plain } });
    added.get('onReceive.smsNotifyBackpressure')!({ destination: { node: takesDone } });
    assert.strictEqual(p.backlog, 1, 'a node that takes done holds its message until done');
    added.get('onComplete.smsNotifyBackpressure')!({ node: { node: plain } });
    assert.strictEqual(p.backlog, 1, 'a node without done never completes: not counted');
    added.get('onComplete.smsNotifyBackpressure')!({ node: { node: takesDone } });
    assert.strictEqual(p.backlog, 0);
    assert.strictEqual(added.size, 3, 'a burst a moment ago: still counting');
    p.arm(Date.now() - 2_000);
    added.get('preDeliver.smsNotifyBackpressure')!({});
    added.get('onReceive.smsNotifyBackpressure')!({ destination: { node: plain } });
    assert.strictEqual(added.size, 0, 'no backlog and no burst for a second: the hooks are removed');
  });
});
