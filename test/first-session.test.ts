import assert from 'node:assert/strict';
import smsapiNode from '../nodes/smsapi';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { FakeSmsapi } from './fakes/smsapi';
import { helper, waitFor } from './helpers';
import { ManualClock } from './clock';

/**
 * What a new user meets first, through Node-RED against the fake SMSAPI: an event with no Message
 * template is an error that says what to do (never its JSON sent as a paid SMS), and a storm of
 * duplicates gives one warning per window with a count, with a green status.
 */
type Msg = Record<string, unknown>;
interface Status {
  fill?: string;
  text?: string;
}

const EVENT = {
  topic: 'privmx/thread/threadNewMessage',
  payload: { channel: 'thread', type: 'threadNewMessage', data: { id: 'm1', author: 'ola' } },
  event: { source: 'privmx', channel: 'thread', type: 'threadNewMessage', author: 'ola', id: 'm1' },
};

describe('a new user’s first session (smsapi out)', function () {
  let fake: FakeSmsapi;
  let clock: ManualClock;
  let sent: Msg[];
  let caught: { error: { code?: string; message: string } }[];
  let warnings: string[];
  let statuses: Status[];

  beforeEach(async () => {
    fake = await FakeSmsapi.start({ token: 'tok-first' });
    clock = new ManualClock();
    tuning.sink = { clock };
  });
  afterEach(async () => {
    await helper.unload();
    await fake.close();
    resetTuning();
  });

  async function load(out: Record<string, unknown>): Promise<void> {
    await helper.load(
      smsapiNode,
      [
        { id: 't1', type: 'tab' },
        { id: 'acc', type: 'smsapi-account', url: fake.url },
        // the editor's defaults: dedupe 60 s and rate limit 10 / min stay on
        {
          id: 's',
          type: 'smsapi out',
          z: 't1',
          account: 'acc',
          to: '+48500000000',
          wires: [['out']],
          ...out,
        },
        { id: 'out', type: 'helper', z: 't1' },
        { id: 'c', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['hc']] },
        { id: 'hc', type: 'helper', z: 't1' },
      ],
      { acc: { token: 'tok-first' } },
    );
    sent = [];
    caught = [];
    warnings = [];
    statuses = [];
    helper.getNode('out').on('input', (m: Msg) => sent.push(m));
    helper.getNode('hc').on('input', (m: (typeof caught)[number]) => caught.push(m));
    const node = helper.getNode('s');
    node.on('call:warn', (call: { args: unknown[] }) => warnings.push(String(call.args[0])));
    node.on('call:status', (call: { args: [Status] }) => statuses.push(call.args[0]));
  }

  it('an event with an empty Message is SMS_NO_TEXT "set a Message template", nothing sent', async () => {
    await load({ message: '' });
    helper.getNode('s').receive({ ...EVENT });
    await waitFor(() => caught.length === 1, 5000, 'caught');
    assert.equal(caught[0].error.code, 'SMS_NO_TEXT');
    assert.match(caught[0].error.message, /set a Message template/);
    assert.equal(fake.requests.length, 0);
    assert.equal(sent.length, 0);
    assert.equal(statuses.at(-1)?.fill, 'red');
  });

  it('text payloads still go out as they are without a template', async () => {
    await load({ message: '' });
    helper.getNode('s').receive({ payload: 'Backup finished' });
    await waitFor(() => sent.length === 1, 5000, 'sent');
    assert.equal(fake.smsRequests[0].body?.message, 'Backup finished');
  });

  it('duplicates: one warning per window with a count; the status counts them and stays green', async () => {
    await load({ message: 'New message by {{event.author}}' });
    const s = helper.getNode('s');
    s.receive({ ...EVENT });
    await waitFor(() => sent.length === 1, 5000, 'first SMS');
    for (let i = 0; i < 7; i++) s.receive({ ...EVENT });
    await waitFor(() => statuses.at(-1)?.text?.includes('common.sink.duplicate') === true, 5000, 'counted');
    assert.equal(warnings.length, 1, 'one warning, not seven');
    assert.match(warnings[0], /duplicateWarn/);
    assert.equal(statuses.at(-1)?.fill, 'green');
    assert.equal(fake.smsRequests.length, 1);
    // the window ends: the same text is sent once more, then the next duplicate warns with the count
    await clock.advanceAsync(60_000);
    s.receive({ ...EVENT });
    await waitFor(() => sent.length === 2, 5000, 'sent again after the window');
    s.receive({ ...EVENT });
    await waitFor(() => warnings.length === 2, 5000, 'the second warning');
    assert.match(warnings[1], /duplicateWarnCount/);
    assert.equal(caught.length, 0);
  });
});
