import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerTestEndpoint } from './lib/admin';
import { clusterSink } from './lib/cluster/nodes';
import { clusterStore } from './lib/cluster/lookup';
import { DESTINATIONS } from './lib/destinations';
import { Network, proxyChoice } from './lib/proxy';
import { attachSink, sinkOptions, type SinkConfig } from './lib/sms/sink-node';
import {
  type SmsapiAccount,
  SmsapiProvider,
  type SmsapiSendOptions,
  testSmsapiAccount,
} from './lib/smsapi/provider';
import { nameConfigNode, translator } from './lib/node-red';

interface SmsapiCredentials {
  token?: string;
}

interface SmsapiAccountDef extends NodeDef {
  url?: string;
  from?: string;
  test?: boolean | string;
  /** id of a core `http proxy` node */
  proxy?: string;
}

interface SmsapiAccountNode extends Node<SmsapiCredentials> {
  account: Omit<SmsapiAccount, 'token'>;
  /** each `smsapi out` builds its provider with its own send options */
  provider(options: SmsapiSendOptions): SmsapiProvider;
}

interface SmsapiOutDef extends NodeDef, SinkConfig {
  account?: string;
  cluster?: string;
  normalize?: boolean | string;
}

const truthy = (v: unknown) => v === true || v === 'true';

export = function (RED: NodeAPI) {
  const t = translator(RED);

  // Harmless check: GET /profile with the token (sends nothing, costs nothing).
  const testEndpoint = registerTestEndpoint(RED, {
    type: 'smsapi-account',
    credentialKeys: ['token'],
    destination: DESTINATIONS['smsapi-account'],
    test: (config, credentials, signal, network) =>
      testSmsapiAccount(
        { url: String(config.url ?? ''), token: credentials.token, test: truthy(config.test), network },
        signal,
      ),
  });

  /** smsapi-account: service URL, default sender name, test mode; the OAuth token is a credential. */
  function SmsapiAccountConfig(this: SmsapiAccountNode, config: SmsapiAccountDef) {
    RED.nodes.createNode(this, config);
    nameConfigNode(this, config.url);
    testEndpoint.deployed(this, config);
    this.account = {
      url: (config.url || '').trim(),
      from: (config.from || '').trim(),
      test: truthy(config.test),
      network: new Network(proxyChoice(config.proxy, (id) => RED.nodes.getNode(id))),
    };
    this.provider = (options) =>
      new SmsapiProvider({ ...this.account, token: this.credentials?.token }, options);
    this.on('close', (done: () => void) => {
      void this.account.network?.close().then(done, done);
    });
  }
  RED.nodes.registerType<SmsapiAccountNode, SmsapiAccountDef, unknown, SmsapiCredentials>(
    'smsapi-account',
    SmsapiAccountConfig,
    { credentials: { token: { type: 'password' } } },
  );

  /** smsapi out: each input msg → SMS through SMSAPI, via the shared pipeline. */
  function SmsapiOut(this: Node, config: SmsapiOutDef) {
    RED.nodes.createNode(this, config);
    const account = config.account ? (RED.nodes.getNode(config.account) as SmsapiAccountNode | null) : null;
    const options = { maxParts: Number(config.maxParts) || 3, normalize: truthy(config.normalize) };
    const factory = account ? () => account.provider(options) : undefined;
    const cluster = () => clusterSink(this, clusterStore(RED, config.cluster), t);
    attachSink(this, config, factory, t, sinkOptions(RED), cluster);
  }
  RED.nodes.registerType('smsapi out', SmsapiOut);
};
