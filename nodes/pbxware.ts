import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerTestEndpoint } from './lib/admin';
import { clusterStore } from './lib/cluster/lookup';
import { clusterSink } from './lib/cluster/nodes';
import { DESTINATIONS } from './lib/destinations';
import { createPbxwareProvider, type PbxwareApi, type PbxwareMode } from './lib/pbxware/provider';
import { testPbxwareConnection } from './lib/pbxware/test-connection';
import { Network, proxyChoice } from './lib/proxy';
import type { SmsProvider } from './lib/sms/provider';
import { attachSink, sinkOptions, type SinkConfig } from './lib/sms/sink-node';
import { nameConfigNode, translator } from './lib/node-red';

interface PbxwareCredentials {
  apiKey?: string;
}

interface PbxwareServerDef extends NodeDef {
  url?: string;
  tenant?: string | number;
  api?: string;
  /** id of a core `http proxy` node */
  proxy?: string;
}

interface PbxwareServerNode extends Node<PbxwareCredentials> {
  url: string;
  tenant: string;
  api: PbxwareApi;
  network: Network;
  /** each `pbxware out` builds its provider for its mode */
  provider(mode: PbxwareMode): SmsProvider;
}

interface PbxwareOutDef extends NodeDef, Omit<SinkConfig, 'from'> {
  server?: string;
  mode?: string;
  extension?: string;
  cluster?: string;
}

export = function (RED: NodeAPI) {
  const t = translator(RED);

  const testEndpoint = registerTestEndpoint(RED, {
    type: 'pbxware-server',
    credentialKeys: ['apiKey'],
    destination: DESTINATIONS['pbxware-server'],
    test: (config, credentials, signal, network) =>
      testPbxwareConnection(config, credentials, signal, network.fetch),
  });

  /** PBXware server: URL, tenant (server) id, API style; the API key is a credential. */
  function PbxwareServer(this: PbxwareServerNode, config: PbxwareServerDef) {
    RED.nodes.createNode(this, config);
    nameConfigNode(this, config.url);
    testEndpoint.deployed(this, config);
    this.url = (config.url || '').trim();
    this.tenant = config.tenant === undefined || config.tenant === null ? '' : String(config.tenant).trim();
    this.api = config.api === 'json' ? 'json' : 'action';
    this.network = new Network(proxyChoice(config.proxy, (id) => RED.nodes.getNode(id)));
    this.provider = (mode) =>
      createPbxwareProvider({
        url: this.url,
        tenant: this.tenant,
        api: this.api,
        apiKey: this.credentials?.apiKey,
        mode,
        fetch: this.network.fetch,
      });
    this.on('close', (_removed: boolean, done: () => void) => {
      this.network.close().then(done, done);
    });
  }
  RED.nodes.registerType<PbxwareServerNode, PbxwareServerDef, unknown, PbxwareCredentials>(
    'pbxware-server',
    PbxwareServer,
    { credentials: { apiKey: { type: 'password' } } },
  );

  /** `pbxware out`: an SMS (mode "sms") or a voicemail notification to extensions (mode "voicemail"). */
  function PbxwareOut(this: Node, config: PbxwareOutDef) {
    RED.nodes.createNode(this, config);
    const server = config.server ? (RED.nodes.getNode(config.server) as PbxwareServerNode | null) : null;
    const mode: PbxwareMode = config.mode === 'voicemail' ? 'voicemail' : 'sms';
    // in voicemail mode the recipients are extensions (the provider's prepare step reads msg.extension)
    const sinkConfig: SinkConfig =
      mode === 'voicemail' ? { ...config, to: config.extension, defaultCountry: undefined } : config;
    const factory = server ? () => server.provider(mode) : undefined;
    const cluster = () => clusterSink(this, clusterStore(RED, config.cluster), t);
    attachSink(this, sinkConfig, factory, t, sinkOptions(RED), cluster);
  }
  RED.nodes.registerType('pbxware out', PbxwareOut);
};
