import { nameConfigNode } from './lib/node-red';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerTestEndpoint } from './lib/admin';
import { ClusterStore, type OnError } from './lib/cluster/store';
import { testCluster } from './lib/cluster/test-connection';
import { DESTINATIONS } from './lib/destinations';

interface ClusterCredentials {
  username?: string;
  password?: string;
}

interface ClusterDef extends NodeDef {
  url?: string;
  prefix?: string;
  onError?: OnError;
}

interface ClusterNode extends Node<ClusterCredentials> {
  store: ClusterStore;
}

export = function (RED: NodeAPI) {
  // PING + the server's version, over a client of the test's own; a stored password is used only for
  // the deployed node at its deployed URL
  const testEndpoint = registerTestEndpoint(RED, {
    type: 'sms-cluster',
    credentialKeys: ['username', 'password'],
    destination: DESTINATIONS['sms-cluster'],
    test: testCluster,
  });

  /**
   * sms-cluster: the Redis that Node-RED instances running the same flows share, for event claims,
   * dedupe and rate limits. Connects when the first node uses it, closes when the last one stops.
   */
  function SmsCluster(this: ClusterNode, config: ClusterDef) {
    RED.nodes.createNode(this, config);
    nameConfigNode(this, config.url);
    testEndpoint.deployed(this, config);
    const credentials = this.credentials ?? {};
    this.store = new ClusterStore(
      {
        url: (config.url || '').trim(),
        prefix: config.prefix,
        onError: config.onError,
        username: credentials.username,
        password: credentials.password,
      },
      (message) => this.warn(message),
    );
    this.on('close', (_removed: boolean, done: () => void) => {
      this.store.close().then(done, done);
    });
  }
  RED.nodes.registerType<ClusterNode, ClusterDef, unknown, ClusterCredentials>('sms-cluster', SmsCluster, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });
};
