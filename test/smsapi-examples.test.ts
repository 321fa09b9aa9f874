import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import eventFilterNode from '../nodes/event-filter';
import smsapiNode from '../nodes/smsapi';
import { resetTuning } from '../nodes/lib/tuning';
import { FakeSmsapi } from './fakes/smsapi';
import { delay, helper, waitFor } from './helpers';

/* eslint-disable @typescript-eslint/no-require-imports */
const core = (p: string) => require(require.resolve(`@node-red/nodes/core/${p}`));
const CORE = [
  core('common/20-inject.js'),
  core('common/21-debug.js'),
  core('common/25-catch.js'),
  core('common/90-comment.js'),
  core('function/10-switch.js'),
  core('function/15-change.js'),
];
/* eslint-enable @typescript-eslint/no-require-imports */

type FlowNode = Record<string, unknown> & { id: string; type: string };

function example(name: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'examples', name), 'utf8')) as FlowNode[];
}

/**
 * Run an example unedited except: the SMSAPI account points at the fake (with a token), and the
 * PrivMX nodes (another node file, tested elsewhere) are replaced by helper nodes that emit envelopes.
 */
async function deploy(name: string, fake: FakeSmsapi) {
  const flow = example(name).map((n) => {
    if (n.type === 'smsapi-account') return { ...n, url: fake.url };
    if (n.type === 'privmx in') return { id: n.id, z: n.z, type: 'helper', wires: n.wires };
    if (n.type === 'privmx-bridge') return { id: n.id, type: 'helper' };
    return n;
  });
  const account = flow.find((n) => n.type === 'smsapi-account')!;
  await helper.load([...CORE, eventFilterNode, smsapiNode], flow, { [account.id]: { token: 'tok' } });
  const find = (type: string, pred: (n: FlowNode) => boolean = () => true) =>
    flow.find((n) => n.type === type && pred(n))!;
  return { flow, find };
}

function envelope(
  channel: string,
  type: string,
  data: Record<string, unknown>,
  event: Record<string, unknown>,
) {
  return {
    topic: `privmx/${channel}/${type}`,
    payload: { channel, type, data, timestamp: 1795344357527 },
    event: { source: 'privmx', channel, type, timestamp: 1795344357527, ...event },
  };
}

describe('examples with smsapi out (run against the fake SMSAPI)', function () {
  let fake: FakeSmsapi;
  beforeEach(async () => {
    fake = await FakeSmsapi.start({ token: 'tok' });
  });
  afterEach(async () => {
    await helper.unload();
    await fake.close();
    resetTuning();
  });

  it('every example is a flow with a tab, a comment, unique ids, wires to existing nodes, SMSAPI in test mode', () => {
    for (const name of [
      'privmx-thread-to-sms.json',
      'privmx-inbox-to-sms.json',
      'privmx-store-file-to-sms.json',
      'sms-errors-catch.json',
    ]) {
      const flow = example(name);
      assert.ok(
        flow.some((n) => n.type === 'tab'),
        name,
      );
      assert.ok(
        flow.some((n) => n.type === 'comment'),
        name,
      );
      const ids = new Set(flow.map((n) => n.id));
      assert.equal(ids.size, flow.length, `${name}: unique ids`);
      for (const n of flow)
        for (const out of (n.wires as string[][]) ?? [])
          for (const id of out) assert.ok(ids.has(id), `${name}: wire to ${id}`);
      const account = flow.find((n) => n.type === 'smsapi-account');
      assert.equal(account?.test, true, `${name}: examples start in test mode`);
    }
  });

  it('privmx-thread-to-sms: a new message in the thread sends one SMS; other threads send nothing', async () => {
    const { find } = await deploy('privmx-thread-to-sms.json', fake);
    const source = helper.getNode(find('helper', (n) => n.type === 'helper' && !!n.wires).id);
    const thread = '66f76cdc06848d6a6494f783';
    const data = { id: 'm1', threadId: thread, author: 'janek', contextId: 'c1' };
    source.send(
      envelope('thread', 'threadNewMessage', data, { id: 'm1', containerId: thread, author: 'janek' }),
    );
    source.send(
      envelope('thread', 'threadNewMessage', data, { id: 'm2', containerId: 'another', author: 'janek' }),
    );
    await waitFor(() => fake.smsRequests.length === 1);
    const body = fake.smsRequests[0].body!;
    assert.equal(body.to, '+48500000000');
    assert.equal(body.message, `New message in thread ${thread} by janek`);
    assert.equal(body.test, true);
    // a marker in the thread by another author: the other thread's SMS, had it passed, came first
    source.send(
      envelope('thread', 'threadNewMessage', data, { id: 'm3', containerId: thread, author: 'marker' }),
    );
    await waitFor(() => fake.smsRequests.some((r) => / by marker$/.test(String(r.body?.message))));
    assert.equal(fake.smsRequests.length, 2);
  });

  it('privmx-inbox-to-sms: an inbox entry texts the numbers set in msg.to', async () => {
    const { find } = await deploy('privmx-inbox-to-sms.json', fake);
    const source = helper.getNode(find('helper', (n) => !!n.wires).id);
    const inbox = '6718ca647117eb03ed335dd0';
    const data = {
      id: 'e1',
      threadId: 't9',
      author: '<anonymous>',
      keyId: `<inbox-${inbox}>`,
      createDate: 1718705110470,
    };
    source.send(
      envelope('thread', 'threadNewMessage', data, {
        id: 'e1',
        containerId: 't9',
        author: '<anonymous>',
        inboxId: inbox,
      }),
    );
    await waitFor(() => fake.smsRequests.length === 2);
    assert.deepEqual(fake.smsRequests.map((r) => r.body!.to).sort(), ['+48500000000', '+48500000001']);
    assert.equal(fake.smsRequests[0].body!.message, `New entry in inbox ${inbox} at 1718705110470`);
  });

  it('privmx-store-file-to-sms: a new file texts its size; other store events go to the second output', async () => {
    const { find } = await deploy('privmx-store-file-to-sms.json', fake);
    const source = helper.getNode(find('helper', (n) => !!n.wires).id);
    const other = helper.getNode(find('debug', (n) => n.name === 'other store events').id);
    let others = 0;
    other.on('input', () => others++);
    const store = '6718ca61234548e1928939bf';
    const data = { id: 'f1', storeId: store, creator: 'janek', size: 1024 };
    source.send(
      envelope('store', 'storeFileCreated', data, { id: 'f1', containerId: store, author: 'janek' }),
    );
    source.send(
      envelope('store', 'storeFileDeleted', { id: 'f1', storeId: store }, { id: 'f1', containerId: store }),
    );
    await waitFor(() => fake.smsRequests.length === 1 && others === 1);
    assert.equal(fake.smsRequests[0].body!.message, `New file in store ${store} by janek (1024 bytes)`);
  });

  it('sms-errors-catch: each failure is routed by its code', async () => {
    const { find } = await deploy('sms-errors-catch.json', fake);
    const seen: Record<string, string[]> = {};
    for (const name of ['fix the number', 'too many SMS', 'check the SMSAPI token', 'other SMS errors']) {
      seen[name] = [];
      helper
        .getNode(find('debug', (n) => n.name === name).id)
        .on('input', (m: { error: { code: string } }) => seen[name].push(m.error.code));
    }
    const click = (name: string) => helper.getNode(find('inject', (n) => n.name === name).id).receive({});
    click('invalid number');
    click('too long');
    for (let i = 0; i < 4; i++) click('ok');
    // the 4th "ok" is refused at once, while the 3 accepted SMS go out one after the other: wait for both
    await waitFor(
      () =>
        seen['fix the number'].length === 1 &&
        seen['other SMS errors'].length === 1 &&
        seen['too many SMS'].length === 1 &&
        fake.smsRequests.length >= 3,
    );
    await delay(50);
    assert.deepEqual(seen['other SMS errors'], ['SMS_TOO_LONG']);
    assert.equal(fake.smsRequests.length, 3, 'the limit of 3 per minute');
  });
});
