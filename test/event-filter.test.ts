import assert from 'node:assert/strict';
import eventFilterNode from '../nodes/event-filter';
import { delay, helper, waitFor } from './helpers';

const event = (over: Record<string, unknown> = {}) => ({
  topic: 'privmx/thread/threadNewMessage',
  payload: {},
  event: {
    source: 'privmx',
    channel: 'thread',
    type: 'threadNewMessage',
    containerId: 'T1',
    author: 'janek',
    ...over,
  },
});

describe('event filter node', function () {
  afterEach(async () => {
    await helper.unload();
  });

  async function load(props: Record<string, unknown>) {
    await helper.load(eventFilterNode, [
      { id: 'f', type: 'event filter', wires: [['yes'], ['no']], ...props },
      { id: 'yes', type: 'helper' },
      { id: 'no', type: 'helper' },
    ]);
    const got = { yes: [] as Record<string, unknown>[], no: [] as Record<string, unknown>[] };
    helper.getNode('yes').on('input', (m: Record<string, unknown>) => got.yes.push(m));
    helper.getNode('no').on('input', (m: Record<string, unknown>) => got.no.push(m));
    return got;
  }

  it('passes matching events unchanged and drops the rest (one output)', async () => {
    const got = await load({
      rules: [
        { property: 'event.channel', op: 'eq', value: 'thread' },
        { property: 'event.type', op: 'eq', value: 'threadNewMessage' },
        { property: 'event.containerId', op: 'eq', value: 'T1' },
      ],
      combine: 'all',
      outputs: 1,
    });
    const f = helper.getNode('f');
    f.receive(event());
    f.receive(event({ containerId: 'T2' }));
    f.receive(event({ type: 'threadDeleted' }));
    f.receive({ payload: 'no envelope' });
    // a matching marker: Node-RED delivers in order, so anything wrongly passed came before it
    f.receive(event({ author: 'marker' }));
    await waitFor(() => got.yes.some((m) => (m.event as { author: string }).author === 'marker'));
    assert.equal(got.yes.length, 2);
    assert.equal(got.no.length, 0);
    assert.deepEqual(got.yes[0].event, event().event);
  });

  it('routes the unmatched to the second output when outputs = 2', async () => {
    const got = await load({
      rules: [{ property: 'event.author', op: 'in', value: 'janek, ola' }],
      outputs: 2,
    });
    const f = helper.getNode('f');
    f.receive(event());
    f.receive(event({ author: 'zenek' }));
    f.receive(event({ author: 'ola' }));
    await waitFor(() => got.yes.length + got.no.length === 3);
    assert.deepEqual(
      got.yes.map((m) => (m.event as { author: string }).author),
      ['janek', 'ola'],
    );
    assert.deepEqual(
      got.no.map((m) => (m.event as { author: string }).author),
      ['zenek'],
    );
  });

  it('combine "any", regex, prefix and custom msg paths', async () => {
    const got = await load({
      rules: [
        { property: 'event.containerId', op: 'regex', value: '/^t9/i' },
        { property: 'topic', op: 'prefix', value: 'privmx/store/' },
        { property: 'msg.payload.data.keyId', op: 'exists' },
      ],
      combine: 'any',
      outputs: 2,
    });
    const f = helper.getNode('f');
    f.receive(event({ containerId: 'T99' }));
    f.receive({ ...event(), topic: 'privmx/store/storeFileCreated' });
    f.receive({ ...event(), payload: { data: { keyId: '<inbox-1>' } } });
    f.receive(event());
    await waitFor(() => got.yes.length + got.no.length === 4);
    assert.equal(got.yes.length, 3);
    assert.equal(got.no.length, 1);
  });

  it('a bad regex is reported at deploy with a red status; each message is an error a Catch node sees, never a Complete', async () => {
    await helper.load(eventFilterNode, [
      { id: 't', type: 'tab' },
      {
        id: 'f',
        z: 't',
        type: 'event filter',
        rules: [{ property: 'event.author', op: 'regex', value: '([' }],
        wires: [['yes']],
      },
      { id: 'yes', z: 't', type: 'helper' },
      { id: 'c', z: 't', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 't', type: 'helper' },
      { id: 'k', z: 't', type: 'complete', scope: ['f'], uncaught: false, wires: [['completed']] },
      { id: 'completed', z: 't', type: 'helper' },
    ]);
    const f = helper.getNode('f');
    const errors = f.error.args as unknown[][];
    assert.equal(errors.length, 1, 'reported once at deploy');
    assert.equal(errors[0][0], 'event-filter.errors.badRule');
    const status = f.status.args.at(-1)[0] as { fill: string; text: string };
    assert.equal(status.fill, 'red');
    assert.equal(status.text, 'event-filter.status.badRule');
    const got: unknown[] = [];
    const caught: { error: { code?: string; message: string; source: { id: string } } }[] = [];
    const completed: unknown[] = [];
    helper.getNode('yes').on('input', (m: unknown) => got.push(m));
    helper.getNode('caught').on('input', (m: (typeof caught)[number]) => caught.push(m));
    helper.getNode('completed').on('input', (m: unknown) => completed.push(m));
    f.receive(event());
    f.receive(event({ author: 'ola' }));
    await waitFor(() => caught.length === 2);
    assert.deepEqual(
      caught.map((m) => [m.error.code, m.error.source.id]),
      [
        ['FILTER_INVALID_RULE', 'f'],
        ['FILTER_INVALID_RULE', 'f'],
      ],
    );
    assert.match(caught[0].error.message, /event-filter.errors.badRule/);
    await delay(50);
    assert.deepEqual([got.length, completed.length], [0, 0], 'nothing passed, nothing counted as done');
  });

  it('a good filter counts as complete for a Complete node (the check above is meaningful)', async () => {
    await helper.load(eventFilterNode, [
      { id: 't', type: 'tab' },
      { id: 'f', z: 't', type: 'event filter', rules: [], wires: [[]] },
      { id: 'k', z: 't', type: 'complete', scope: ['f'], uncaught: false, wires: [['completed']] },
      { id: 'completed', z: 't', type: 'helper' },
    ]);
    const completed: unknown[] = [];
    helper.getNode('completed').on('input', (m: unknown) => completed.push(m));
    helper.getNode('f').receive(event());
    await waitFor(() => completed.length === 1);
  });

  it('no rules passes everything', async () => {
    const got = await load({ rules: [], outputs: 1 });
    helper.getNode('f').receive({ payload: 1 });
    await waitFor(() => got.yes.length === 1);
  });
});
