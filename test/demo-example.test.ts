import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import eventFilterNode from '../nodes/event-filter';
import privmxNode from '../nodes/privmx';
import smsapiNode from '../nodes/smsapi';
import type { PrivmxConnection } from '../nodes/lib/privmx/connection';
import { resetTuning } from '../nodes/lib/tuning';
import { DEMO_API_KEY, DEMO_SMSAPI_TOKEN, DEMO_THREAD_ID } from '../scripts/demo';
import { DEMO_THREADS, FakePrivmxBridge } from './fakes/privmx-bridge';
import { FakeSmsapi } from './fakes/smsapi';
import { helper, waitFor } from './helpers';

/* eslint-disable @typescript-eslint/no-require-imports */
const core = (p: string) => require(require.resolve(`@node-red/nodes/core/${p}`));
const CORE = [core('common/21-debug.js'), core('common/25-catch.js'), core('common/90-comment.js')];
/* eslint-enable @typescript-eslint/no-require-imports */

type FlowNode = Record<string, unknown> & { id: string; type: string; credentials?: Record<string, string> };

const FILE = path.join(__dirname, '..', 'examples', 'demo-privmx-to-sms.json');

/**
 * examples/demo-privmx-to-sms.json is the preset for `npm start`'s simulators: its key id, secret,
 * thread id and SMSAPI token are the simulators' own, so it runs with no edits. Here the simulators
 * listen on ephemeral ports (tests never use fixed ones): only the two URLs are moved to them.
 */
describe('examples/demo-privmx-to-sms.json against the demo simulators', function () {
  let bridge: FakePrivmxBridge;
  let smsapi: FakeSmsapi;

  beforeEach(async () => {
    bridge = await FakePrivmxBridge.start({ apiKeys: [DEMO_API_KEY] });
    smsapi = await FakeSmsapi.start({ token: DEMO_SMSAPI_TOKEN });
  });
  afterEach(async () => {
    await helper.unload();
    await bridge.close();
    await smsapi.close();
    resetTuning();
  });

  it('points at the demo ports and carries the simulators’ key, thread and token', () => {
    const flow = JSON.parse(fs.readFileSync(FILE, 'utf8')) as FlowNode[];
    const conf = flow.find((n) => n.type === 'privmx-bridge')!;
    const account = flow.find((n) => n.type === 'smsapi-account')!;
    assert.equal(conf.url, 'http://127.0.0.1:9111');
    assert.equal(account.url, 'http://127.0.0.1:9112');
    assert.deepEqual(conf.credentials, { apiKeyId: DEMO_API_KEY.id, apiKeySecret: DEMO_API_KEY.secret });
    assert.deepEqual(account.credentials, { token: DEMO_SMSAPI_TOKEN });
    assert.equal(DEMO_THREAD_ID, DEMO_THREADS.alerts);
    assert.ok(JSON.stringify(flow).includes(DEMO_THREAD_ID));
  });

  it('texts the on-call thread’s alerts; a re-posted alert is skipped with one warning', async () => {
    const flow = (JSON.parse(fs.readFileSync(FILE, 'utf8')) as FlowNode[]).map((n) => {
      if (n.type === 'privmx-bridge') return { ...n, url: bridge.url };
      if (n.type === 'smsapi-account') return { ...n, url: smsapi.url };
      return n;
    });
    // the credentials the editor imports from the example's nodes
    const credentials = Object.fromEntries(
      flow.filter((n) => n.credentials).map((n) => [n.id, n.credentials]),
    );
    await helper.load([...CORE, eventFilterNode, privmxNode, smsapiNode], flow, credentials);
    const bridgeId = flow.find((n) => n.type === 'privmx-bridge')!.id;
    const outId = flow.find((n) => n.type === 'smsapi out')!.id;
    const warnings: string[] = [];
    helper.getNode(outId).on('call:warn', (call: { args: unknown[] }) => warnings.push(String(call.args[0])));
    const connection = () => helper.getNode(bridgeId).connection as PrivmxConnection;
    await waitFor(() => connection().state.phase === 'subscribed', 5000, 'subscribed to the simulator');
    // four rounds of the simulator's rotation: four alerts, the fourth a re-post of the third
    for (let i = 0; i < 24; i++) bridge.demoTick();
    await waitFor(() => smsapi.accepted.length === 3 && warnings.length === 1, 5000, '3 SMS and 1 warning');
    assert.deepEqual(
      smsapi.accepted.map((s) => s.message),
      [
        'PrivMX alert: Pump 3 pressure high (posted by janek)',
        'PrivMX alert: Backup of db-2 failed (posted by ola)',
        'PrivMX alert: Disk 91% full on files-1 (posted by marta)',
      ],
    );
    assert.ok(smsapi.accepted.every((s) => s.to === '+48500000000'));
  });
});
