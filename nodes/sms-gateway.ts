import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerTestEndpoint } from './lib/admin';
import { configIdentity } from './lib/cluster/keys';
import { clusterStore } from './lib/cluster/lookup';
import { clusterSink, clusterSource } from './lib/cluster/nodes';
import type { ConnectionState } from './lib/connection';
import { DESTINATIONS } from './lib/destinations';
import { SmsError } from './lib/sms/errors';
import { attachSink, sinkOptions, type SinkConfig } from './lib/sms/sink-node';
import { DEFAULT_GATEWAY_URL, wsAuthMode, type WsAuthMode } from './lib/sms-gateway/api';
import { GatewayConnection, type GatewayUser } from './lib/sms-gateway/connection';
import { eventSelection } from './lib/sms-gateway/envelope';
import { GatewayProvider } from './lib/sms-gateway/provider';
import { gatewayStatus } from './lib/sms-gateway/status';
import { testGateway } from './lib/sms-gateway/test-connection';
import { Network, proxyChoice } from './lib/proxy';
import { attachSource } from './lib/source-node';
import { nameConfigNode, translator } from './lib/node-red';

interface GatewayCredentials {
  apiKey?: string;
}

interface GatewayDef extends NodeDef {
  url?: string;
  from?: string;
  wsAuth?: WsAuthMode;
  /** id of a core `http proxy` node */
  proxy?: string;
}

interface GatewayNode extends Node<GatewayCredentials> {
  url: string;
  from: string;
  wsAuth: WsAuthMode;
  connection: GatewayConnection;
  /** the REST adapter every `sms-gateway out` of this gateway shares */
  provider(): GatewayProvider;
  /** for cluster claim keys: the gateway URL (never the key) */
  identity: string;
}

interface GatewayInDef extends NodeDef {
  gateway?: string;
  events?: string[] | string;
  cluster?: string;
}

interface GatewayOutDef extends NodeDef, SinkConfig {
  gateway?: string;
  concurrency?: number | string;
  cluster?: string;
}

export = function (RED: NodeAPI) {
  const t = translator(RED);

  // Harmless check: POST /v1/ws/token with the key (sends nothing; the token expires unused).
  const testEndpoint = registerTestEndpoint(RED, {
    type: 'sms-gateway',
    credentialKeys: ['apiKey'],
    destination: DESTINATIONS['sms-gateway'],
    test: (config, credentials, signal, network) =>
      testGateway(config, credentials, signal, undefined, network),
  });

  /**
   * sms-gateway: the gateway URL, default sender and WebSocket auth mode; the API key is a credential.
   * Owns ONE event WebSocket (connected only while an `sms-gateway in` uses it) and the REST adapter
   * every `sms-gateway out` shares.
   */
  function SmsGateway(this: GatewayNode, config: GatewayDef) {
    RED.nodes.createNode(this, config);
    nameConfigNode(this, config.url);
    testEndpoint.deployed(this, config);
    this.url = (config.url || '').trim() || DEFAULT_GATEWAY_URL;
    this.from = (config.from || '').trim();
    this.wsAuth = wsAuthMode(config.wsAuth);
    this.identity = configIdentity(this.url);
    const apiKey = this.credentials?.apiKey;
    const network = new Network(proxyChoice(config.proxy, (id) => RED.nodes.getNode(id)));
    this.connection = new GatewayConnection({
      url: this.url,
      apiKey,
      wsAuth: this.wsAuth,
      log: (message) => this.warn(message),
      network,
    });
    const provider = new GatewayProvider({ url: this.url, apiKey, from: this.from, network });
    this.provider = () => provider;
    this.on('close', (_removed: boolean, done: () => void) => {
      this.connection
        .close()
        .then(() => network.close())
        .then(done, done);
    });
  }
  RED.nodes.registerType<GatewayNode, GatewayDef, unknown, GatewayCredentials>('sms-gateway', SmsGateway, {
    credentials: { apiKey: { type: 'password' } },
  });

  /** sms-gateway in: sms_status / sms_inbound events as event envelopes (README, "Events"). */
  function SmsGatewayIn(this: Node, config: GatewayInDef) {
    RED.nodes.createNode(this, config);
    const gateway = config.gateway ? (RED.nodes.getNode(config.gateway) as GatewayNode | null) : null;
    const events = eventSelection(config.events);
    const out = clusterSource(
      this,
      clusterStore(RED, config.cluster),
      gateway?.identity ?? '',
      (msg: { payload?: unknown }) => this.send(msg),
      t,
    );
    const user: GatewayUser = {
      wants: (type) => events.has(type),
      deliver: (msg) => out.emit(msg),
      onConnectionState: (state: ConnectionState) => out.status(gatewayStatus(state, t)),
    };
    attachSource(this, gateway?.connection, user, t, RED.hooks);
  }
  RED.nodes.registerType('sms-gateway in', SmsGatewayIn);

  /** sms-gateway out: each input msg → SMS through POST /v1/sms/send, via the shared pipeline. */
  function SmsGatewayOut(this: Node, config: GatewayOutDef) {
    RED.nodes.createNode(this, config);
    const gateway = config.gateway ? (RED.nodes.getNode(config.gateway) as GatewayNode | null) : null;
    const from = (config.from || '').trim();
    if (from && !/^\+[1-9]\d{1,14}$/.test(from)) {
      const err = new SmsError('SMS_BAD_SENDER', `SMS gateway: the sender ${from} is not an E.164 number`);
      this.error(err.message);
      this.status({ fill: 'red', shape: 'ring', text: err.code });
      this.on('input', (_msg, _send, done) => done(err));
      return;
    }
    const factory = gateway ? () => gateway.provider() : undefined;
    const cluster = () => clusterSink(this, clusterStore(RED, config.cluster), t);
    attachSink(this, { ...config, from }, factory, t, sinkOptions(RED), cluster);
  }
  RED.nodes.registerType('sms-gateway out', SmsGatewayOut);
};
