/**
 * The eSMS and PBXware examples import and deploy unedited (only URLs pointed at the loopback fakes and
 * credentials filled in), and do what their comment says.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import esmsNodes from '../nodes/esms';
import pbxwareNodes from '../nodes/pbxware';
import smsapiNodes from '../nodes/smsapi';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { FakeEsms, startFakeEsms } from './fakes/esms';
import { FakePbxware, startFakePbxware } from './fakes/pbxware';
import { FakeSmsapi } from './fakes/smsapi';
import { helper, statuses, waitFor } from './helpers';

/* eslint-disable @typescript-eslint/no-require-imports */
const core = (p: string) => require(require.resolve(`@node-red/nodes/core/${p}`));
const functionNode = core('function/10-function.js');
const switchNode = core('function/10-switch.js');
const debugNode = core('common/21-debug.js');
const injectNode = core('common/20-inject.js');
const commentNode = core('common/90-comment.js');
/* eslint-enable @typescript-eslint/no-require-imports */

type FlowNode = Record<string, any>;

function example(name: string): FlowNode[] {
  return JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', 'examples', `${name}.json`), 'utf8'),
  ) as FlowNode[];
}

function byType(flow: FlowNode[], type: string): FlowNode[] {
  return flow.filter((n) => n.type === type);
}

describe('eSMS / PBXware examples (deployed through Node-RED)', function () {
  afterEach(async () => {
    await helper.unload();
    resetTuning();
  });

  describe('esms-low-balance-alert', () => {
    let esms: FakeEsms;
    let smsapi: FakeSmsapi;
    beforeEach(async () => {
      tuning.esms = { pingIntervalMs: 200, deadAfterMs: 2000 };
      esms = await startFakeEsms();
      smsapi = await FakeSmsapi.start({ token: 'smsapi-example-token' });
    });
    afterEach(async () => {
      await esms.close();
      await smsapi.close();
    });

    it('texts ONCE when the balance drops below 500, and again only after it recovered', async () => {
      const flow = example('esms-low-balance-alert');
      const acct = byType(flow, 'esms-africa')[0];
      acct.url = esms.url;
      const account = byType(flow, 'smsapi-account')[0];
      account.url = smsapi.url;
      const credentials = {
        [acct.id]: { accessToken: esms.token() },
        [account.id]: { token: 'smsapi-example-token' },
      };
      await helper.load([esmsNodes, smsapiNodes, functionNode, debugNode, commentNode], flow, credentials);
      const esmsIn = byType(flow, 'esms in')[0];
      assert.deepStrictEqual(esmsIn.events, ['balance_update']);
      await waitFor(() => esms.openSockets === 1);
      const sms = () => smsapi.smsRequests.length;
      for (const balance of [1000, 620, 499.5, 450, 300, 120]) esms.setBalance(balance);
      esms.messageStatus(); // not a balance update: filtered out by the node
      await waitFor(() => sms() === 1);
      const body = smsapi.smsRequests[0].body!;
      assert.strictEqual(body.to, '+48500000000');
      assert.match(String(body.message), /balance is low: 499\.5 UGX \(below 500\)/);
      esms.setBalance(2000); // top-up: re-arm
      esms.setBalance(480);
      // events arrive in order on one socket: an SMS for the drain would come before this one
      await waitFor(() => smsapi.smsRequests.some((r) => /480 UGX/.test(String(r.body?.message))));
      assert.strictEqual(sms(), 2, 'one SMS for the whole drain, not one per update');
      assert.match(String(smsapi.smsRequests[1].body!.message), /480 UGX/);
      // still low: no SMS; the re-arm that follows is the marker that the function saw it
      esms.setBalance(470);
      esms.setBalance(2100);
      const latch = byType(flow, 'function')[0].id;
      await waitFor(() => statuses(latch).some((s) => /2100/.test(s.text ?? '')), 5000, 're-armed at 2100');
      assert.strictEqual(sms(), 2, 'no SMS while the balance stays low');
    });
  });

  describe('esms-status-to-debug', () => {
    let esms: FakeEsms;
    beforeEach(async () => {
      esms = await startFakeEsms();
    });
    afterEach(async () => {
      await esms.close();
    });

    it('routes each event type to its debug node', async () => {
      const flow = example('esms-status-to-debug');
      const acct = byType(flow, 'esms-africa')[0];
      acct.url = esms.url;
      await helper.load([esmsNodes, switchNode, debugNode, commentNode], flow, {
        [acct.id]: { accessToken: esms.token() },
      });
      const seen: Record<string, string[]> = {};
      for (const d of byType(flow, 'debug')) {
        seen[d.name] = [];
        helper.getNode(d.id).on('input', (msg: FlowNode) => seen[d.name].push(msg.topic));
      }
      await waitFor(() => esms.openSockets === 1);
      esms.messageStatus();
      esms.setBalance(10);
      esms.notification();
      await waitFor(() => Object.values(seen).every((list) => list.length === 1));
      assert.deepStrictEqual(seen, {
        'delivery report': ['esms/message_status'],
        balance: ['esms/balance_update'],
        notification: ['esms/notification'],
      });
    });
  });

  describe('pbxware-voicemail-notification', () => {
    let pbx: FakePbxware;
    beforeEach(async () => {
      pbx = await startFakePbxware();
    });
    afterEach(async () => {
      await pbx.close();
    });

    it('the voicemail inject texts extension 1001; the test inject sends an SMS with the action API', async () => {
      const flow = example('pbxware-voicemail-notification');
      const server = byType(flow, 'pbxware-server')[0];
      server.url = pbx.url;
      assert.strictEqual(server.tenant, pbx.tenant);
      await helper.load([pbxwareNodes, injectNode, switchNode, debugNode, commentNode], flow, {
        [server.id]: { apiKey: pbx.apiKey },
      });
      const sent: FlowNode[] = [];
      const sentDebug = byType(flow, 'debug').find((d) => d.name === 'sent')!;
      helper.getNode(sentDebug.id).on('input', (msg: FlowNode) => sent.push(msg.sms));
      for (const inject of byType(flow, 'inject')) helper.getNode(inject.id).receive({});
      await waitFor(() => sent.length === 2);
      const vm = pbx.requests.find((r) => r.extension)!;
      assert.strictEqual(vm.path, '/api/sms/notifications/voicemail');
      assert.strictEqual(vm.extension, '1001');
      assert.strictEqual(vm.text, 'New voicemail from +14165550199 (42 s). Dial *97 to listen.');
      const sms = pbx.requests.find((r) => r.api === 'action')!;
      assert.deepStrictEqual([sms.to, sms.text], ['+14165551234', 'Test SMS notification']);
    });

    it('a PBX error reaches the example Catch → "fix the settings" debug with its code', async () => {
      pbx.errorMode = 'disabled';
      const flow = example('pbxware-voicemail-notification');
      const server = byType(flow, 'pbxware-server')[0];
      server.url = pbx.url;
      await helper.load([pbxwareNodes, injectNode, switchNode, debugNode, commentNode], flow, {
        [server.id]: { apiKey: pbx.apiKey },
      });
      const fix: FlowNode[] = [];
      const fixDebug = byType(flow, 'debug').find((d) => /fix the PBX/.test(d.name))!;
      helper.getNode(fixDebug.id).on('input', (msg: FlowNode) => fix.push(msg.error));
      const testInject = byType(flow, 'inject').find((n) => n.name === 'test SMS')!;
      helper.getNode(testInject.id).receive({});
      await waitFor(() => fix.length === 1);
      assert.strictEqual(fix[0].code, 'SMS_CONFIG');
      assert.match(fix[0].message, /SMS API is disabled/);
    });
  });
});
