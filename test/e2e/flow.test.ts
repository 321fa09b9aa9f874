/**
 * One source → sink flow on the packed tarball, on every runtime it is tested on (runtimes.ts):
 * fake PrivMX Bridge → privmx in → smsapi out → fake SMSAPI, both fakes in this process on loopback,
 * deployed through Node-RED's admin API (POST /flows, credentials in the flow as the editor sends
 * them). One Bridge event becomes exactly one SMS.
 */
import assert from 'assert';
import { fakeEvents, type FakePrivmxBridge, startFakeBridge } from '../fakes/privmx-bridge';
import { FakeSmsapi } from '../fakes/smsapi';
import { PACKAGE_NAME } from './node-types';
import { waitFor } from './harness';
import { RUNTIMES, type RuntimeSpec } from './runtimes';
import { e2eEnv, titled, type E2eEnv } from './suite';

const TOKEN = 'e2e-flow-token';
const TO = '+48500000000';

/** POST /flows (full deploy) and wait until Node-RED answers it. */
async function deploy(env: E2eEnv, flows: unknown[]): Promise<void> {
  const res = await fetch(`${env.red.url}/flows`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'Node-RED-API-Version': 'v1',
      'Node-RED-Deployment-Type': 'full',
    },
    body: JSON.stringify(flows),
  });
  assert.ok(res.ok, `POST /flows: HTTP ${res.status} ${await res.text()}`);
}

function flowSuite(runtime: RuntimeSpec): void {
  describe(titled('e2e: privmx in → smsapi out flow', runtime), function () {
    let env: E2eEnv;
    let bridge: FakePrivmxBridge;
    let smsapi: FakeSmsapi;
    let original: unknown[];

    before(async function () {
      env = await e2eEnv(runtime);
      original = await env.red.get<unknown[]>('/flows');
      const started = await startFakeBridge({ pingIntervalMs: 1_000 });
      bridge = started.fake;
      smsapi = await FakeSmsapi.start({ token: TOKEN });
      await deploy(env, [
        { id: 'e2e-flow-tab', type: 'tab', label: 'e2e flow' },
        {
          id: 'e2e-flow-bridge',
          type: 'privmx-bridge',
          name: 'fake Bridge',
          url: bridge.url,
          solutionId: '',
          credentials: { apiKeyId: started.keyId, apiKeySecret: started.secret },
        },
        {
          id: 'e2e-flow-account',
          type: 'smsapi-account',
          name: 'fake SMSAPI',
          url: smsapi.url,
          from: 'Alert',
          test: false,
          credentials: { token: TOKEN },
        },
        {
          id: 'e2e-flow-in',
          type: 'privmx in',
          z: 'e2e-flow-tab',
          bridge: 'e2e-flow-bridge',
          channels: ['thread'],
          types: [],
          containerIds: '',
          x: 140,
          y: 80,
          wires: [['e2e-flow-out']],
        },
        {
          id: 'e2e-flow-out',
          type: 'smsapi out',
          z: 'e2e-flow-tab',
          account: 'e2e-flow-account',
          to: TO,
          message: 'New message by {{event.author}}',
          rateLimit: 10,
          dedupeWindow: 60,
          maxParts: 3,
          x: 380,
          y: 80,
          wires: [[]],
        },
      ]);
    });

    after(async function () {
      // the runtime and the editor go back to the flows the other browser tests expect
      if (env) {
        await deploy(env, original);
        await env.editor.reload();
      }
      await bridge?.close();
      await smsapi?.close();
    });

    it('a Bridge event becomes one SMS through the fake SMSAPI', async function () {
      const mark = env.red.logLength;
      await waitFor(
        () => bridge.subscriptions().some((channels) => channels.includes('thread')),
        30_000,
        'privmx in subscribed to the thread channel',
      );
      assert.strictEqual(bridge.emit(fakeEvents.threadNewMessage({ author: 'ola' })), 1);
      await waitFor(() => smsapi.accepted.length > 0, 30_000, 'an SMS at the fake SMSAPI');

      assert.strictEqual(smsapi.smsRequests.length, 1, 'one request to /sms.do');
      assert.strictEqual(smsapi.smsRequests[0].headers.authorization, `Bearer ${TOKEN}`);
      assert.deepStrictEqual(
        smsapi.accepted.map((s) => ({ to: s.to, message: s.message, from: s.from })),
        [{ to: TO, message: 'New message by ola', from: 'Alert' }],
      );
      const problems = env.red
        .log(mark)
        .filter((l) => /\[(warn|error)\]/.test(l) && (l.includes(PACKAGE_NAME) || /privmx|smsapi/.test(l)));
      assert.deepStrictEqual(problems, [], 'Node-RED logged warnings or errors for the flow');
      assert.deepStrictEqual(env.red.blocked(mark), [], 'connections to non-loopback hosts');
    });
  });
}

for (const runtime of RUNTIMES) flowSuite(runtime);
