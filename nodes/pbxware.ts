import type { Node, NodeAPI, NodeDef } from 'node-red';
import { type AdminRED, registerTestEndpoint } from './lib/admin';
import { clusterStore } from './lib/cluster/lookup';
import { clusterSink } from './lib/cluster/nodes';
import { DESTINATIONS } from './lib/destinations';
import { createPbxwareProvider, type PbxwareApi } from './lib/pbxware/provider';
import { testPbxwareConnection } from './lib/pbxware/test-connection';
import { Network, proxyChoice } from './lib/proxy';
import {
  attachSink,
  sinkOptions,
  type InputHandler,
  type SinkConfig,
  type SinkHost,
} from './lib/sms/sink-node';
import type { Translate } from './lib/status';

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
}

interface PbxwareOutDef extends NodeDef, Omit<SinkConfig, 'from'> {
  server?: string;
  mode?: string;
  extension?: string;
  cluster?: string;
}

export = function (RED: NodeAPI) {
  const t: Translate = (key, params) => RED._(key, params as Record<string, string | number> | undefined);

  const testEndpoint = registerTestEndpoint(RED as unknown as AdminRED, {
    type: 'pbxware-server',
    credentialKeys: ['apiKey'],
    destination: DESTINATIONS['pbxware-server'],
    test: (config, credentials, signal, network) =>
      testPbxwareConnection(config, credentials, signal, network.fetch),
  });

  /** PBXware server: URL, tenant (server) id, API style; the API key is a credential. */
  function PbxwareServer(this: PbxwareServerNode, config: PbxwareServerDef) {
    RED.nodes.createNode(this, config);
    testEndpoint.deployed(this, config);
    this.url = (config.url || '').trim();
    this.tenant = config.tenant === undefined || config.tenant === null ? '' : String(config.tenant).trim();
    this.api = config.api === 'json' ? 'json' : 'action';
    this.network = new Network(proxyChoice(config.proxy, (id) => RED.nodes.getNode(id)));
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
    const voicemail = config.mode === 'voicemail';
    const provider = server
      ? createPbxwareProvider({
          url: server.url,
          tenant: server.tenant,
          api: server.api,
          apiKey: server.credentials?.apiKey,
          mode: voicemail ? 'voicemail' : 'sms',
          fetch: server.network.fetch,
        })
      : undefined;
    const sinkConfig: SinkConfig = voicemail
      ? { ...config, to: config.extension, defaultCountry: undefined }
      : config;
    // In voicemail mode the recipients are extensions: msg.extension is accepted as well as msg.to.
    const host: SinkHost = voicemail
      ? withExtensionInput(this as unknown as SinkHost)
      : (this as unknown as SinkHost);
    attachSink(
      host,
      sinkConfig,
      provider,
      t,
      sinkOptions(RED),
      clusterSink(host, clusterStore(RED, config.cluster), t),
    );
  }
  RED.nodes.registerType('pbxware out', PbxwareOut);
};

/** A host whose input handler sees msg.to = msg.extension when only msg.extension is set. */
function withExtensionInput(node: SinkHost): SinkHost {
  return {
    id: node.id,
    status: (s) => node.status(s),
    warn: (m) => node.warn(m),
    error: (e, m) => node.error(e, m),
    on: ((
      event: 'input' | 'close',
      handler: InputHandler | ((removed: boolean, done: () => void) => void),
    ) => {
      if (event !== 'input') return node.on('close', handler as (removed: boolean, done: () => void) => void);
      const input = handler as InputHandler;
      node.on('input', (msg, send, done) => {
        const ext = msg.extension;
        if (
          (msg.to === undefined || msg.to === null || msg.to === '') &&
          ext !== undefined &&
          ext !== null &&
          ext !== ''
        )
          msg.to = Array.isArray(ext) ? ext.map(String) : String(ext);
        input(msg, send, done);
      });
    }) as SinkHost['on'],
  };
}
