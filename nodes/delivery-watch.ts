import type { Node, NodeAPI, NodeDef } from 'node-red';
import { attachWatch, type WatchConfig, type WatchHost } from './lib/delivery/watch-node';
import type { WatchTable } from './lib/delivery/watch-table';
import type { Translate } from './lib/status';

interface DeliveryWatchDef extends NodeDef, WatchConfig {}

interface DeliveryWatchNode extends Node {
  /** the open watches (tests read its counters) */
  watches: WatchTable<Record<string, unknown>>;
}

export = function (RED: NodeAPI) {
  const t: Translate = (key, params) => RED._(key, params as Record<string, string | number> | undefined);

  /** delivery watch: sent SMS (msg.sms) joined with the providers' delivery statuses. */
  function DeliveryWatch(this: DeliveryWatchNode, config: DeliveryWatchDef) {
    RED.nodes.createNode(this, config);
    this.watches = attachWatch(this as unknown as WatchHost, config, t);
  }
  RED.nodes.registerType('delivery watch', DeliveryWatch);
};
