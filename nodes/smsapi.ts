import type { Node, NodeAPI, NodeDef } from 'node-red';
import { type AdminRED, registerTestEndpoint } from './lib/admin';
import { clusterSink } from './lib/cluster/nodes';
import { clusterStore } from './lib/cluster/lookup';
import { DESTINATIONS } from './lib/destinations';
import { Network, proxyChoice } from './lib/proxy';
import { SmsError } from './lib/sms/errors';
import { attachSink, sinkOptions, type SinkConfig, type SinkHost } from './lib/sms/sink-node';
import { type SmsapiAccount, SmsapiProvider, testSmsapiAccount } from './lib/smsapi/provider';
import type { Translate } from './lib/status';

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
}

interface SmsapiOutDef extends NodeDef, SinkConfig {
  account?: string;
  cluster?: string;
  normalize?: boolean | string;
}

const truthy = (v: unknown) => v === true || v === 'true';

export = function (RED: NodeAPI) {
  const t: Translate = (key, params) => RED._(key, params as Record<string, string | number> | undefined);

  // Harmless check: GET /profile with the token (sends nothing, costs nothing).
  const testEndpoint = registerTestEndpoint(RED as unknown as AdminRED, {
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
    testEndpoint.deployed(this, config);
    this.account = {
      url: (config.url || '').trim(),
      from: (config.from || '').trim(),
      test: truthy(config.test),
      network: new Network(proxyChoice(config.proxy, (id) => RED.nodes.getNode(id))),
    };
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
    const host = this as unknown as SinkHost;
    const account = config.account ? (RED.nodes.getNode(config.account) as SmsapiAccountNode | null) : null;
    let provider: SmsapiProvider | undefined;
    if (account) {
      try {
        provider = new SmsapiProvider(
          { ...account.account, token: account.credentials?.token },
          { maxParts: Number(config.maxParts) || 3, normalize: truthy(config.normalize) },
        );
      } catch (err) {
        const e = err as SmsError;
        this.error(e.message);
        this.status({ fill: 'red', shape: 'ring', text: e.code ?? 'SMS_CONFIG' });
        this.on('input', (_msg, _send, done) => done(e));
        return;
      }
    }
    attachSink(
      host,
      config,
      provider,
      t,
      sinkOptions(RED),
      clusterSink(host, clusterStore(RED, config.cluster), t),
    );
  }
  RED.nodes.registerType('smsapi out', SmsapiOut);
};
