import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerTestEndpoint } from './lib/admin';
import { configIdentity } from './lib/cluster/keys';
import { clusterStore } from './lib/cluster/lookup';
import { clusterSource } from './lib/cluster/nodes';
import type { ConnectionState } from './lib/connection';
import { DESTINATIONS } from './lib/destinations';
import { DEFAULT_ESMS_URL, EsmsConnection, type EsmsUser } from './lib/esms/connection';
import { normaliseEvents } from './lib/esms/envelope';
import { testEsmsConnection } from './lib/esms/test-connection';
import { Network, proxyChoice } from './lib/proxy';
import { typeFilter } from './lib/session/fanout';
import { attachSource, showState } from './lib/source-node';
import { nameConfigNode, translator } from './lib/node-red';

interface EsmsCredentials {
  accessToken?: string;
  apiKey?: string;
}

interface EsmsAfricaDef extends NodeDef {
  url?: string;
  /** id of a core `http proxy` node */
  proxy?: string;
}

interface EsmsAfricaNode extends Node<EsmsCredentials> {
  url: string;
  connection: EsmsConnection;
  /** for cluster claim keys: the service URL (never a token) */
  identity: string;
}

interface EsmsInDef extends NodeDef {
  esms?: string;
  events?: string[] | string;
  cluster?: string;
}

export = function (RED: NodeAPI) {
  const t = translator(RED);

  const testEndpoint = registerTestEndpoint(RED, {
    type: 'esms-africa',
    credentialKeys: ['accessToken', 'apiKey'],
    destination: DESTINATIONS['esms-africa'],
    test: testEsmsConnection,
  });

  /** eSMS Africa account: owns the ONE WebSocket (cookie-authenticated) shared by every `esms in`. */
  function EsmsAfrica(this: EsmsAfricaNode, config: EsmsAfricaDef) {
    RED.nodes.createNode(this, config);
    nameConfigNode(this, config.url);
    testEndpoint.deployed(this, config);
    this.url = (config.url || '').trim() || DEFAULT_ESMS_URL;
    this.identity = configIdentity(this.url);
    const credentials = this.credentials ?? {};
    this.connection = new EsmsConnection({
      url: this.url,
      accessToken: credentials.accessToken,
      warn: (message) => this.warn(message),
      network: new Network(proxyChoice(config.proxy, (id) => RED.nodes.getNode(id))),
    });
    this.on('close', (_removed: boolean, done: () => void) => {
      this.connection.close().then(done, done);
    });
  }
  RED.nodes.registerType<EsmsAfricaNode, EsmsAfricaDef, unknown, EsmsCredentials>('esms-africa', EsmsAfrica, {
    credentials: { accessToken: { type: 'password' }, apiKey: { type: 'password' } },
  });

  /** `esms in`: message_status / balance_update / notification events as envelopes (README, "Events"). */
  function EsmsIn(this: Node, config: EsmsInDef) {
    RED.nodes.createNode(this, config);
    const account = config.esms ? (RED.nodes.getNode(config.esms) as EsmsAfricaNode | null) : null;
    const out = clusterSource(
      this,
      clusterStore(RED, config.cluster),
      account?.identity ?? '',
      (msg: { payload?: unknown }) => this.send(msg),
      t,
    );
    const user: EsmsUser = {
      wants: typeFilter(normaliseEvents(config.events)),
      deliver: (msg) => out.emit(msg),
      onConnectionState: (state: ConnectionState) => showState(out, state, t),
    };
    attachSource(this, account?.connection, user, t, RED.hooks);
  }
  RED.nodes.registerType('esms in', EsmsIn);
};
