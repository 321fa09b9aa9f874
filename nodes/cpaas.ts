import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerTestEndpoint } from './lib/admin';
import {
  CPAAS_CREDENTIAL_KEYS,
  CpaasAccount,
  type CpaasAccountCredentials,
  testLogin,
} from './lib/cpaas/account';
import { configIdentity } from './lib/cluster/keys';
import { clusterStore } from './lib/cluster/lookup';
import { clusterSink, clusterSource } from './lib/cluster/nodes';
import { CpaasSource, parseEvents } from './lib/cpaas/source';
import { DESTINATIONS } from './lib/destinations';
import { Network, proxyChoice } from './lib/proxy';
import { attachSink, sinkOptions, type SinkConfig } from './lib/sms/sink-node';
import { attachSource } from './lib/source-node';
import { nameConfigNode, translator } from './lib/node-red';

interface KandyCpaasDef extends NodeDef {
  url?: string;
  clientId?: string;
  auth?: string;
  from?: string;
  /** id of a core `http proxy` node */
  proxy?: string;
}

interface KandyCpaasNode extends Node<CpaasAccountCredentials> {
  account: CpaasAccount;
  /** for cluster claim keys: URL and client id (never a secret) */
  identity: string;
}

interface CpaasInDef extends NodeDef {
  cpaas?: string;
  destination?: string;
  events?: string[] | string;
  cluster?: string;
}

interface CpaasOutDef extends NodeDef, SinkConfig {
  cpaas?: string;
  cluster?: string;
}

export = function (RED: NodeAPI) {
  const t = translator(RED);

  const testEndpoint = registerTestEndpoint(RED, {
    type: 'kandy-cpaas',
    credentialKeys: CPAAS_CREDENTIAL_KEYS,
    destination: DESTINATIONS['kandy-cpaas'],
    test: async (config, credentials, signal, network) => {
      const userId = await testLogin(config, credentials, signal, network);
      return t('kandy-cpaas.test.ok', { userId });
    },
  });

  /** Kandy / Ribbon CPaaS account: the token, and ONE notification channel shared by every `cpaas in`. */
  function KandyCpaas(this: KandyCpaasNode, config: KandyCpaasDef) {
    RED.nodes.createNode(this, config);
    nameConfigNode(this, config.url);
    this.identity = configIdentity(String(config.url ?? ''), String(config.clientId ?? '').trim());
    testEndpoint.deployed(this, config);
    this.account = new CpaasAccount(
      config,
      this.credentials ?? {},
      (message) => this.warn(message),
      new Network(proxyChoice(config.proxy, (id) => RED.nodes.getNode(id))),
    );
    this.on('close', (_removed: boolean, done: () => void) => {
      this.account.close().then(done, done);
    });
  }
  RED.nodes.registerType<KandyCpaasNode, KandyCpaasDef, unknown, CpaasAccountCredentials>(
    'kandy-cpaas',
    KandyCpaas,
    {
      credentials: {
        clientSecret: { type: 'password' },
        email: { type: 'text' },
        password: { type: 'password' },
      },
    },
  );

  /** `cpaas in`: SMS notifications for one number over the account's notification channel. */
  function CpaasIn(this: Node, config: CpaasInDef) {
    RED.nodes.createNode(this, config);
    const node = config.cpaas ? (RED.nodes.getNode(config.cpaas) as KandyCpaasNode | null) : null;
    const account = node?.account;
    const destination = (config.destination ?? '').trim() || account?.from || '';
    if (account && !destination) {
      this.status({ fill: 'red', shape: 'ring', text: t('cpaas-in.status.noDestination') });
      return;
    }
    const out = clusterSource(
      this,
      clusterStore(RED, config.cluster),
      node?.identity ?? '',
      (msg: { payload?: unknown }) => this.send(msg),
      t,
    );
    const source = new CpaasSource(
      { status: (s) => out.status(s), send: (msg) => out.emit(msg) },
      destination,
      parseEvents(config.events),
      t,
    );
    attachSource(this, account?.connection, source, t, RED.hooks);
  }
  RED.nodes.registerType('cpaas in', CpaasIn);

  /** `cpaas out`: the shared SMS pipeline, one CPaaS request per recipient. */
  function CpaasOut(this: Node, config: CpaasOutDef) {
    RED.nodes.createNode(this, config);
    const node = config.cpaas ? (RED.nodes.getNode(config.cpaas) as KandyCpaasNode | null) : null;
    const factory = node ? () => node.account.provider() : undefined;
    const cluster = () => clusterSink(this, clusterStore(RED, config.cluster), t);
    attachSink(this, config, factory, t, sinkOptions(RED), cluster);
  }
  RED.nodes.registerType('cpaas out', CpaasOut);
};
