import type { Node, NodeAPI, NodeDef } from 'node-red';
import { attachWatch, type WatchConfig } from './lib/delivery/watch-node';
import type { WatchTable } from './lib/delivery/watch-table';
import { translator } from './lib/node-red';

interface DeliveryWatchDef extends NodeDef, WatchConfig {}

interface DeliveryWatchNode extends Node {
  /** the open watches (tests read its counters) */
  watches: WatchTable<Record<string, unknown>>;
}

export = function (RED: NodeAPI) {
  const t = translator(RED);

  /** delivery watch: sent SMS (msg.sms) joined with the providers' delivery statuses. */
  function DeliveryWatch(this: DeliveryWatchNode, config: DeliveryWatchDef) {
    RED.nodes.createNode(this, config);
    this.watches = attachWatch(this, config, t);
  }
  RED.nodes.registerType('delivery watch', DeliveryWatch);
};
