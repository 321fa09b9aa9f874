import assert from 'assert';
import sinon from 'sinon';
import type { ConnectionState } from '../../nodes/lib/connection';
import type { EventMessage } from '../../nodes/lib/envelope';
import { PrivmxConnection } from '../../nodes/lib/privmx/connection';
import type { PrivmxChannel } from '../../nodes/lib/privmx/envelope';
import { RawFilter } from '../../nodes/lib/privmx/raw-filter';
import { PrivmxSubscriber, PrivmxUser } from '../../nodes/lib/privmx/subscriber';
import { fakeEvents, FakePrivmxBridge, objectId, startFakeBridge } from '../fakes/privmx-bridge';
import { waitFor } from '../helpers';
import { FAST } from './privmx-fast';

const T1 = '66715bd6ef3efd9ecfe7a1cc';
const T2 = '66715bd6ef3efd9ecfe7a1dd';
const INBOX = '6718ca647117eb03ed335dd0';

type Event = { channel: string; type: string; data: unknown };
const bytes = (e: Event) => Buffer.from(JSON.stringify({ ...e, timestamp: 1795344357527 }));
const newMessage = (threadId: string) => bytes(fakeEvents.threadNewMessage({ threadId }));
const stats = (threadId: string) => bytes(fakeEvents.threadStats(threadId));
/** an id whose last character is written as a JSON unicode escape (its bytes no longer hold the id) */
const hidden = (id: string) =>
  id.slice(0, -1) +
  '\\u' +
  id
    .charCodeAt(id.length - 1)
    .toString(16)
    .padStart(4, '0');

/** a user as the raw filter sees it: only its selection matters */
function user(types: string[], containerIds: string[]): PrivmxUser {
  return {
    channels: ['thread'],
    selection: { types, containerIds },
    wants: () => true,
    deliver: () => undefined,
    onConnectionState: () => undefined,
  };
}

function filter(...users: PrivmxUser[]) {
  const set = new Set(users);
  return { f: new RawFilter(set), set };
}

describe('lib/privmx raw pre-filter (needles)', () => {
  it('types only: a frame is kept when it holds a selected "type", quotes included', () => {
    const { f } = filter(user(['threadNewMessage'], []));
    assert.ok(f.active);
    assert.ok(f.mightWant(newMessage(T1)));
    assert.ok(f.mightWant(newMessage(T2)));
    assert.ok(!f.mightWant(stats(T1)));
    // a selected type that is a prefix or a suffix of the frame's type is no match
    assert.ok(!filter(user(['threadNew'], [])).f.mightWant(newMessage(T1)));
    assert.ok(!filter(user(['NewMessage'], [])).f.mightWant(newMessage(T1)));
    // …but the whole "type" found after an unquoted occurrence is
    const later = Buffer.from('{"note":"aNewMessage","type":"NewMessage"}');
    assert.ok(filter(user(['NewMessage'], [])).f.mightWant(later));
  });

  it('containers only: a frame is kept when it holds a selected id', () => {
    const { f } = filter(user([], [T1]));
    assert.ok(f.mightWant(newMessage(T1)));
    assert.ok(f.mightWant(stats(T1)));
    assert.ok(!f.mightWant(newMessage(T2)));
    assert.ok(!f.mightWant(bytes(fakeEvents.threadDeleted(T2))));
  });

  it('types and containers: both must occur', () => {
    const { f } = filter(user(['threadNewMessage'], [T1]));
    assert.ok(f.mightWant(newMessage(T1)));
    assert.ok(!f.mightWant(newMessage(T2)));
    assert.ok(!f.mightWant(stats(T1)));
  });

  it('several users: kept when any of them might want it', () => {
    const { f } = filter(user(['threadStats'], [T2]), user([], [T1]));
    assert.ok(f.mightWant(newMessage(T1)));
    assert.ok(f.mightWant(stats(T2)));
    assert.ok(!f.mightWant(newMessage(T2)));
  });

  it('an inbox id is found inside the keyId "<inbox-…>" of a new inbox entry', () => {
    const { f } = filter(user([], [INBOX]));
    assert.ok(f.mightWant(bytes(fakeEvents.inboxEntry(INBOX, T2))));
    assert.ok(!f.mightWant(bytes(fakeEvents.inboxEntry('6718ca647117eb03ed335dff', T2))));
    assert.ok(!f.mightWant(newMessage(T2)));
  });

  it('a user that selected neither types nor containers (or says nothing) turns the filter off', () => {
    for (const open of [user([], []), { ...user([], []), selection: undefined }]) {
      const { f } = filter(user([], [T1]), open);
      assert.ok(!f.active);
      assert.ok(f.mightWant(newMessage(T2)));
      assert.ok(f.mightWant(stats(T2)));
    }
  });

  it('a selected value that is not plain printable ASCII (non-ASCII, quote, backslash) turns it off', () => {
    for (const odd of [['wątek'], ['a"b'], ['a\\b'], ['tab\there']]) {
      for (const u of [user([], odd), user(odd, [])]) {
        const { f } = filter(user([], [T1]), u);
        assert.ok(!f.active, JSON.stringify(odd));
        assert.ok(f.mightWant(newMessage(T2)));
      }
    }
  });

  it('a frame holding an escape is always parsed: it could hide a selected id', () => {
    const { f } = filter(user(['threadNewMessage'], [T1]));
    const escaped = newMessage(T1).toString().replace(T1, hidden(T1));
    assert.ok(!escaped.includes(T1));
    assert.deepStrictEqual((JSON.parse(escaped) as { data: { threadId: string } }).data.threadId, T1);
    assert.ok(f.mightWant(Buffer.from(escaped)));
    // any escape, even in an unrelated field of another thread's frame
    const other = newMessage(T2).toString().replace('janek', 'jan\\u00e9k');
    assert.ok(f.mightWant(Buffer.from(other)));
    assert.ok(!f.mightWant(newMessage(T2)));
  });

  it('a frame naming "jsonrpc" is always parsed (an answer or an error without id)', () => {
    const { f } = filter(user(['threadNewMessage'], [T1]));
    assert.ok(f.mightWant(Buffer.from('{"jsonrpc":"2.0","id":7,"result":"OK"}')));
    assert.ok(
      f.mightWant(
        Buffer.from('{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error","data":null}}'),
      ),
    );
    assert.ok(!f.mightWant(Buffer.from('{"id":7,"result":"OK"}')));
  });

  it('follows the live set of users after changed()', () => {
    const { f, set } = filter(user([], [T1]));
    assert.ok(!f.mightWant(newMessage(T2)));
    const open = user([], []);
    set.add(open);
    f.changed();
    assert.ok(f.mightWant(newMessage(T2)));
    set.delete(open);
    set.add(user([], [T2]));
    f.changed();
    assert.ok(f.mightWant(newMessage(T2)));
    assert.ok(!f.mightWant(newMessage('66715bd6ef3efd9ecfe7a1ee')));
    set.clear();
    f.changed();
    assert.ok(f.active);
    assert.ok(!f.mightWant(newMessage(T1)), 'nobody left: no notification is wanted');
  });
});

/** The real `privmx in` user, recording what it receives. */
function subscriber(channels: PrivmxChannel[], types: string[], containerIds: string[]) {
  const got: Array<{ type: string; containerId?: string; id?: string }> = [];
  const states: ConnectionState[] = [];
  const s = new PrivmxSubscriber(
    { channels, types, containerIds },
    (msg: EventMessage) =>
      got.push({
        type: msg.event.type,
        containerId: msg.event.containerId,
        id: msg.event.id,
      }),
    (state) => states.push(state),
  );
  return { s, got, states };
}

describe('lib/privmx raw pre-filter against the fake Bridge', function () {
  this.timeout(20_000);
  let fake: FakePrivmxBridge;
  let conn: PrivmxConnection | undefined;
  const warned: string[] = [];

  async function connect(opts: Parameters<typeof startFakeBridge>[0] = {}) {
    const started = await startFakeBridge(opts);
    fake = started.fake;
    conn = new PrivmxConnection(
      { url: fake.url, apiKeyId: started.keyId, apiKeySecret: started.secret },
      { warn: (_kind, m) => warned.push(m) },
      FAST,
    );
    return conn;
  }

  afterEach(async () => {
    sinon.restore();
    await conn?.close();
    conn = undefined;
    warned.length = 0;
    await fake?.close();
  });

  /** 10 events per round: 9 of other threads (new messages and stats), then one of T1 */
  function pushRounds(rounds: number, from = 0): void {
    for (let r = from; r < from + rounds; r++) {
      for (let i = 0; i < 9; i++) {
        const other = objectId();
        fake.emit(i % 2 ? fakeEvents.threadStats(other) : fakeEvents.threadNewMessage({ threadId: other }));
      }
      fake.emit(fakeEvents.threadNewMessage({ id: `m${r}`, threadId: T1 }));
    }
  }

  it('delivers every event of the one selected thread, in order, without parsing the others', async () => {
    const c = await connect();
    const u = subscriber(['thread'], [], [T1]);
    c.register(u.s);
    await waitFor(() => c.state.phase === 'subscribed');
    const parse = sinon.spy(JSON, 'parse');
    pushRounds(100);
    await waitFor(() => u.got.length === 100, 10_000, 'the selected thread');
    assert.ok(u.got.every((e, i) => e.id === `m${i}` && e.containerId === T1));
    const notifications = parse.getCalls().filter((call) => String(call.args[0]).includes('"channel"'));
    assert.strictEqual(notifications.length, 100, 'only the selected thread was parsed');
    assert.strictEqual(c.rejectedFrames, 900);
    assert.deepStrictEqual(warned, []);
  });

  it('an id written with a JSON unicode escape is still found and delivered', async () => {
    const c = await connect();
    const u = subscriber(['thread'], ['threadNewMessage'], [T1]);
    c.register(u.s);
    await waitFor(() => c.state.phase === 'subscribed');
    const frame = JSON.stringify({
      ...fakeEvents.threadNewMessage({ id: 'escaped', threadId: T1 }),
      timestamp: 1,
    });
    const escaped = frame.replace(T1, hidden(T1));
    assert.ok(!escaped.includes(T1));
    fake.sendRaw(escaped);
    fake.emit(fakeEvents.threadNewMessage({ id: 'other', threadId: T2 }));
    fake.emit(fakeEvents.threadNewMessage({ id: 'plain', threadId: T1 }));
    await waitFor(() => u.got.length === 2, 5000, 'both events of T1');
    assert.deepStrictEqual(
      u.got.map((e) => [e.id, e.containerId]),
      [
        ['escaped', T1],
        ['plain', T1],
      ],
    );
    assert.strictEqual(c.rejectedFrames, 1);
  });

  it('token refresh and a live subscribe are answered while frames are being rejected', async () => {
    const c = await connect({ accessTokenLifetimeMs: 1000 });
    const u = subscriber(['thread'], [], [T1]);
    c.register(u.s);
    await waitFor(() => c.state.phase === 'subscribed');
    let round = 0;
    // other threads' traffic goes on through the refresh at 80% of the token's life
    await waitFor(
      () => {
        pushRounds(1, round++);
        return fake.stats.authCalls.refresh_token >= 1 && fake.stats.bindCalls >= 2;
      },
      10_000,
      'refreshed and re-bound',
    );
    // a node choosing another channel: manager/subscribeToChannel goes out and its answer is read
    const store = subscriber(['store'], ['storeFileCreated'], []);
    c.register(store.s);
    await waitFor(() => c.subscribedChannels.includes('store'), 5000, 'store subscribed');
    pushRounds(1, round++);
    fake.emit(fakeEvents.storeFileCreated());
    await waitFor(() => u.got.length === round && store.got.length === 1, 5000, 'events after the refresh');
    assert.ok(u.got.every((e, i) => e.id === `m${i}`));
    assert.ok(c.rejectedFrames > 0, 'frames were rejected meanwhile');
    assert.strictEqual(fake.stats.connections, 1, 'no reconnect: every answer was read');
    assert.strictEqual(c.state.phase, 'subscribed');
  });

  it('a second node with no selection makes every frame parsed again; when it leaves, rejecting resumes', async () => {
    const c = await connect();
    const u = subscriber(['thread'], [], [T1]);
    c.register(u.s);
    await waitFor(() => c.state.phase === 'subscribed');
    pushRounds(10);
    await waitFor(() => u.got.length === 10, 5000, 'first rounds');
    assert.strictEqual(c.rejectedFrames, 90);
    const all = subscriber(['thread'], [], []);
    c.register(all.s);
    pushRounds(10, 10);
    await waitFor(() => u.got.length === 20 && all.got.length === 100, 5000, 'every event for the open node');
    assert.strictEqual(c.rejectedFrames, 90, 'nothing rejected while a node wants everything');
    await c.deregister(all.s);
    pushRounds(10, 20);
    await waitFor(() => u.got.length === 30, 5000, 'last rounds');
    assert.strictEqual(c.rejectedFrames, 180);
    assert.ok(u.got.every((e, i) => e.id === `m${i}`));
  });
});
