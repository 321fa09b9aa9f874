import { fanOut } from '../../nodes/lib/session/fanout';
import assert from 'assert';
import {
  EVENT_TYPES,
  inboxIdFromKeyId,
  isKnownType,
  privmxEnvelope,
  privmxMeta,
  privmxTopic,
  typesOf,
} from '../../nodes/lib/privmx/envelope';
import {
  Notification,
  parseSelection,
  PrivmxSubscriber,
  wireChannels,
} from '../../nodes/lib/privmx/subscriber';
import type { EventMessage } from '../../nodes/lib/envelope';

const TS = 1_795_344_357_527;

function meta(channel: string, type: string, data: unknown, timestamp: unknown = TS) {
  return privmxMeta(channel, type, data, timestamp, 42);
}

describe('lib/privmx envelope', () => {
  it('builds the protocol page examples exactly', () => {
    const frame = {
      channel: 'thread',
      type: 'threadNewMessage',
      data: {
        id: '66715bd6ef3efd9ecfe7a1cd',
        contextId: '662115304034ea5684acac8b',
        threadId: '66715bd6ef3efd9ecfe7a1cc',
        createDate: 1718705110454,
        author: 'janek',
        keyId: 'my-key',
        publicMeta: { kind: 'alert' },
      },
      timestamp: TS,
    };
    const msg = privmxEnvelope(frame);
    assert.strictEqual(msg.topic, 'privmx/thread/threadNewMessage');
    assert.strictEqual(msg.payload, frame, 'payload is the parsed frame itself, untouched');
    assert.deepStrictEqual(msg.event, {
      source: 'privmx',
      channel: 'thread',
      type: 'threadNewMessage',
      id: '66715bd6ef3efd9ecfe7a1cd',
      containerId: '66715bd6ef3efd9ecfe7a1cc',
      contextId: '662115304034ea5684acac8b',
      author: 'janek',
      timestamp: TS,
    });
  });

  it('recognises an inbox entry by its keyId', () => {
    const m = meta('thread', 'threadNewMessage', {
      id: '6718ca61234548e1928939c1',
      contextId: 'ctx',
      threadId: '66715bd6ef3efd9ecfe7a1cc',
      author: '<anonymous>',
      keyId: '<inbox-6718ca647117eb03ed335dd0>',
      publicMeta: null,
    });
    assert.strictEqual(m.inboxId, '6718ca647117eb03ed335dd0');
    assert.strictEqual(m.containerId, '66715bd6ef3efd9ecfe7a1cc');
    assert.strictEqual(m.author, '<anonymous>');
    assert.strictEqual(inboxIdFromKeyId('<inbox->'), undefined);
    assert.strictEqual(inboxIdFromKeyId('my-key'), undefined);
    assert.strictEqual(inboxIdFromKeyId(7), undefined);
    assert.strictEqual(inboxIdFromKeyId('<inbox-abc'), undefined);
  });

  it('reads the container, item and author of every known type', () => {
    const cases: Array<[string, string, Record<string, unknown>, Record<string, unknown>]> = [
      [
        'thread',
        'threadCreated',
        { id: 't', creator: 'a', contextId: 'c' },
        { containerId: 't', author: 'a', contextId: 'c' },
      ],
      [
        'thread',
        'threadUpdated',
        { id: 't', creator: 'a', lastModifier: 'b' },
        { containerId: 't', author: 'b' },
      ],
      ['thread', 'threadDeleted', { threadId: 't' }, { containerId: 't' }],
      ['thread', 'threadStats', { threadId: 't', lastMsgDate: 1, messages: 3 }, { containerId: 't' }],
      [
        'thread',
        'threadUpdatedMessage',
        { id: 'm', threadId: 't', author: 'a' },
        { id: 'm', containerId: 't', author: 'a' },
      ],
      ['thread', 'threadDeletedMessage', { messageId: 'm', threadId: 't' }, { id: 'm', containerId: 't' }],
      ['store', 'storeCreated', { id: 's', creator: 'a' }, { containerId: 's', author: 'a' }],
      ['store', 'storeDeleted', { storeId: 's' }, { containerId: 's' }],
      [
        'store',
        'storeStatsChanged',
        { id: 's', contextId: 'c', files: 2 },
        { containerId: 's', contextId: 'c' },
      ],
      [
        'store',
        'storeFileUpdated',
        { id: 'f', storeId: 's', creator: 'a', lastModifier: 'b' },
        { id: 'f', containerId: 's', author: 'b' },
      ],
      [
        'store',
        'storeFileDeleted',
        { id: 'f', storeId: 's', contextId: 'c' },
        { id: 'f', containerId: 's', contextId: 'c' },
      ],
      ['inbox', 'inboxUpdated', { id: 'i', creator: 'a' }, { containerId: 'i', author: 'a', inboxId: 'i' }],
      ['inbox', 'inboxDeleted', { inboxId: 'i', type: '' }, { containerId: 'i', inboxId: 'i' }],
      ['stream', 'streamRoomCreated', { id: 'r', creator: 'a' }, { containerId: 'r', author: 'a' }],
      ['stream', 'streamRoomDeleted', { streamRoomId: 'r' }, { containerId: 'r' }],
      ['kvdb', 'kvdbCreated', { id: 'k', creator: 'a' }, { containerId: 'k', author: 'a' }],
      ['kvdb', 'kvdbDeleted', { kvdbId: 'k' }, { containerId: 'k' }],
      ['kvdb', 'kvdbStats', { kvdbId: 'k', contextId: 'c' }, { containerId: 'k', contextId: 'c' }],
      [
        'kvdb',
        'kvdbNewEntry',
        { kvdbEntryKey: 'e', kvdbId: 'k', author: 'a' },
        { id: 'e', containerId: 'k', author: 'a' },
      ],
      [
        'kvdb',
        'kvdbUpdatedEntry',
        { kvdbEntryKey: 'e', kvdbId: 'k', author: 'a', lastModifier: 'b' },
        { id: 'e', containerId: 'k', author: 'b' },
      ],
      ['kvdb', 'kvdbDeletedEntry', { entryKey: 'e', kvdbId: 'k' }, { id: 'e', containerId: 'k' }],
    ];
    for (const [channel, type, data, expected] of cases) {
      assert.deepStrictEqual(
        meta(channel, type, data),
        { source: 'privmx', channel, type, ...expected, timestamp: TS },
        `${channel}/${type}`,
      );
    }
  });

  it('never invents a field: absent, empty or non-string values stay absent', () => {
    const m = meta('thread', 'threadNewMessage', { id: '', threadId: 5, author: null, contextId: {} });
    assert.deepStrictEqual(m, {
      source: 'privmx',
      channel: 'thread',
      type: 'threadNewMessage',
      timestamp: TS,
    });
    assert.ok(!('id' in m) && !('inboxId' in m));
    assert.deepStrictEqual(meta('thread', 'threadStats', null), {
      source: 'privmx',
      channel: 'thread',
      type: 'threadStats',
      timestamp: TS,
    });
  });

  it('timestamp: the server one (ms), else the arrival time', () => {
    assert.strictEqual(meta('thread', 'threadStats', {}, TS).timestamp, TS);
    assert.strictEqual(privmxMeta('thread', 'threadStats', {}, undefined, 42).timestamp, 42);
    assert.strictEqual(meta('thread', 'threadStats', {}, 'garbage').timestamp, 42);
  });

  it('an unknown type still gets a container id from the usual fields', () => {
    assert.strictEqual(meta('store', 'storeSomethingNew', { storeId: 's9' }).containerId, 's9');
    assert.strictEqual(isKnownType('store', 'storeSomethingNew'), false);
    assert.strictEqual(isKnownType('store', 'storeFileCreated'), true);
    assert.strictEqual(isKnownType('store', 'toString'), false);
    assert.deepStrictEqual(meta('store', 'toString', { storeId: 's9', id: 'x' }).containerId, 's9');
    assert.deepStrictEqual(typesOf('inbox'), ['inboxCreated', 'inboxUpdated', 'inboxDeleted']);
    assert.strictEqual(Object.keys(EVENT_TYPES).length, 5);
  });

  it('caches topics', () => {
    assert.strictEqual(privmxTopic('thread', 'threadStats'), 'privmx/thread/threadStats');
    assert.strictEqual(privmxTopic('thread', 'threadStats'), privmxTopic('thread', 'threadStats'));
  });
});

describe('lib/privmx subscriber (filters and dispatch)', () => {
  function note(frame: Record<string, unknown>, known = true) {
    return new Notification().reset(frame, frame.channel as 'thread', frame.type as string, known);
  }
  const msgFrame = (threadId: string, keyId = 'k') => ({
    channel: 'thread',
    type: 'threadNewMessage',
    data: { id: 'm', threadId, author: 'a', keyId },
    timestamp: TS,
  });

  function subscriber(sel: Parameters<typeof parseSelection>[0]) {
    const got: EventMessage[] = [];
    const s = new PrivmxSubscriber(
      parseSelection(sel),
      (m) => got.push(m),
      () => undefined,
    );
    return { s, got };
  }

  it('parses selections leniently and subscribes thread for inbox', () => {
    assert.deepStrictEqual(
      parseSelection({
        channels: ['store', 'bogus', 'thread', 'store'],
        types: 'a, b,,',
        containerIds: [' x ', 7],
      }),
      {
        channels: ['thread', 'store'],
        types: ['a', 'b'],
        containerIds: ['x'],
      },
    );
    assert.deepStrictEqual(parseSelection({}), { channels: [], types: [], containerIds: [] });
    assert.deepStrictEqual(wireChannels(['inbox']), ['thread', 'inbox']);
    assert.deepStrictEqual(wireChannels(['kvdb', 'inbox', 'thread']), ['thread', 'inbox', 'kvdb']);
  });

  it('the first node gets the parsed frame, a second one its own copy', () => {
    const frame = msgFrame('t');
    const n = note(frame);
    const one = subscriber({ channels: ['thread'] });
    const two = subscriber({ channels: ['thread'] });
    assert.strictEqual(
      fanOut([one.s, two.s], n, (x) => x.envelope()),
      2,
    );
    const [a, b] = [one.got[0], two.got[0]];
    assert.strictEqual(a.payload, frame);
    assert.notStrictEqual(b.payload, frame);
    assert.deepStrictEqual(b.payload, frame);
    assert.notStrictEqual(b.event, a.event);
    assert.deepStrictEqual(b.event, a.event);
  });

  it('channel, type and container filters; unknown types only when named', () => {
    const thread = subscriber({ channels: ['thread'] });
    const inboxOnly = subscriber({ channels: ['inbox'] });
    const typed = subscriber({ channels: ['thread'], types: ['threadNewMessage', 'threadFuture'] });
    const contained = subscriber({ channels: ['thread', 'inbox'], containerIds: 'inboxX,t2' });
    const all = [thread, inboxOnly, typed, contained];
    const frames = [
      msgFrame('t1'),
      msgFrame('t2'),
      msgFrame('t3', '<inbox-inboxX>'),
      { channel: 'thread', type: 'threadStats', data: { threadId: 't2' } },
    ];
    for (const f of frames) for (const x of all) fanOut([x.s], note(f), (n) => n.envelope());
    const future = note({ channel: 'thread', type: 'threadFuture', data: { threadId: 't1' } }, false);
    for (const x of all) fanOut([x.s], future, (n) => n.envelope());

    const ids = (got: EventMessage[]) => got.map((m) => `${m.event.type}:${m.event.containerId}`);
    assert.deepStrictEqual(ids(thread.got), [
      'threadNewMessage:t1',
      'threadNewMessage:t2',
      'threadNewMessage:t3',
      'threadStats:t2',
    ]);
    assert.deepStrictEqual(ids(inboxOnly.got), ['threadNewMessage:t3']);
    assert.deepStrictEqual(ids(typed.got), [
      'threadNewMessage:t1',
      'threadNewMessage:t2',
      'threadNewMessage:t3',
      'threadFuture:t1',
    ]);
    assert.deepStrictEqual(ids(contained.got), [
      'threadNewMessage:t2',
      'threadNewMessage:t3',
      'threadStats:t2',
    ]);
  });

  it('builds msg.event only for events that pass every check (the id filter reads ids cheaply)', () => {
    const metaOf = (n: Notification) => (n as unknown as { metaCache: unknown }).metaCache;
    const { s } = subscriber({ channels: ['store'] });
    const n = note(msgFrame('t1'));
    fanOut([s], n, (x) => x.envelope());
    assert.strictEqual(metaOf(n), undefined);
    const filtered = subscriber({ channels: ['thread'], containerIds: 'tX' });
    const m = note(msgFrame('t1', '<inbox-i1>'));
    fanOut([filtered.s], m, (x) => x.envelope());
    assert.strictEqual(filtered.got.length, 0);
    assert.strictEqual(metaOf(m), undefined);
    assert.strictEqual(m.containerId, 't1');
    assert.strictEqual(m.inboxId, 'i1');
  });
});
