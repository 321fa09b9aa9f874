import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerTestEndpoint } from './lib/admin';
import { configIdentity } from './lib/cluster/keys';
import { clusterStore } from './lib/cluster/lookup';
import { clusterSource } from './lib/cluster/nodes';
import { DESTINATIONS } from './lib/destinations';
import type { EventMessage } from './lib/envelope';
import { OnceLogger } from './lib/log-once';
import { PrivmxConnection, privmxTiming } from './lib/privmx/connection';
import { parseSelection, PrivmxSubscriber } from './lib/privmx/subscriber';
import { testPrivmxBridge } from './lib/privmx/test-connection';
import { attachSource, showState } from './lib/source-node';
import { nameConfigNode, translator } from './lib/node-red';
import { Network, proxyChoice } from './lib/proxy';

interface BridgeCredentials {
  apiKeyId?: string;
  apiKeySecret?: string;
}

interface BridgeDef extends NodeDef {
  url: string;
  solutionId?: string;
  /** id of a core `http proxy` node */
  proxy?: string;
}

interface BridgeNode extends Node<BridgeCredentials> {
  connection: PrivmxConnection;
  /** for cluster claim keys: URL, solution and API key id (never the secret) */
  identity: string;
}

interface PrivmxInDef extends NodeDef {
  bridge: string;
  channels?: unknown;
  types?: unknown;
  containerIds?: unknown;
  cluster?: string;
}

export = function (RED: NodeAPI) {
  const t = translator(RED);

  const testEndpoint = registerTestEndpoint(RED, {
    type: 'privmx-bridge',
    credentialKeys: ['apiKeyId', 'apiKeySecret'],
    destination: DESTINATIONS['privmx-bridge'],
    test: testPrivmxBridge,
  });

  function PrivmxBridgeNode(this: BridgeNode, config: BridgeDef) {
    RED.nodes.createNode(this, config);
    nameConfigNode(this, config.url);
    testEndpoint.deployed(this, config);
    const credentials = this.credentials ?? {};
    this.identity = configIdentity(
      config.url,
      `${config.solutionId ?? ''}\u0000${credentials.apiKeyId ?? ''}`,
    );
    const once = new OnceLogger((message) => this.warn(message));
    this.connection = new PrivmxConnection(
      {
        url: config.url,
        solutionId: config.solutionId,
        apiKeyId: credentials.apiKeyId,
        apiKeySecret: credentials.apiKeySecret,
        network: new Network(proxyChoice(config.proxy, (id) => RED.nodes.getNode(id))),
      },
      {
        warn: (kind, message) => once.warn(kind, message),
        info: (message) => this.log(message),
        error: (message) => this.warn(message),
      },
      privmxTiming(),
    );
    this.on('close', (_removed: boolean, done: () => void) => {
      this.connection.close().then(done, done);
    });
  }
  RED.nodes.registerType<BridgeNode, BridgeDef, object, BridgeCredentials>(
    'privmx-bridge',
    PrivmxBridgeNode,
    {
      credentials: {
        apiKeyId: { type: 'text' },
        apiKeySecret: { type: 'password' },
      },
    },
  );

  function PrivmxInNode(this: Node, config: PrivmxInDef) {
    RED.nodes.createNode(this, config);
    const selection = parseSelection(config);
    if (selection.channels.length === 0) {
      this.status({ fill: 'red', shape: 'ring', text: t('privmx-in.status.noChannels') });
      return;
    }
    const bridge = RED.nodes.getNode(config.bridge) as BridgeNode | null;
    const out = clusterSource(
      this,
      clusterStore(RED, config.cluster),
      bridge?.identity ?? '',
      // the envelope is built for this node alone (fan-out clones it for any other): sent as it is
      (msg: { payload?: unknown }) => this.send(msg),
      t,
    );
    const user = new PrivmxSubscriber(
      selection,
      (msg: EventMessage) => out.emit(msg),
      (state) => showState(out, state, t),
    );
    attachSource(this, bridge?.connection, user, t, RED.hooks);
  }
  RED.nodes.registerType('privmx in', PrivmxInNode);
};
