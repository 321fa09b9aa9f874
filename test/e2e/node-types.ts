/**
 * The package's node types, as the README lists them (a public contract), with the node set (the key in
 * package.json `node-red.nodes`) each one lives in. Config nodes are reached through a parent node's
 * config field, as a user reaches them.
 */
export const PACKAGE_NAME = 'node-red-contrib-sms-notify';
export const CATEGORY = 'SMS notify';
/** Node-RED's escapeCategory('SMS notify'): the palette category's DOM id suffix. */
export const CATEGORY_ID = 'SMS_notify';

export interface NodeTypeInfo {
  type: string;
  /** node set name: package.json `node-red.nodes` key, i.e. `dist/nodes/<set>.js` */
  set: string;
  config: boolean;
  /** for config nodes: the node and property whose config field opens this config node's dialog */
  via?: { type: string; property: string };
}

export const NODE_TYPES: NodeTypeInfo[] = [
  { type: 'privmx-bridge', set: 'privmx', config: true, via: { type: 'privmx in', property: 'bridge' } },
  { type: 'privmx in', set: 'privmx', config: false },
  { type: 'event filter', set: 'event-filter', config: false },
  { type: 'smsapi-account', set: 'smsapi', config: true, via: { type: 'smsapi out', property: 'account' } },
  { type: 'smsapi out', set: 'smsapi', config: false },
  {
    type: 'sms-gateway',
    set: 'sms-gateway',
    config: true,
    via: { type: 'sms-gateway out', property: 'gateway' },
  },
  { type: 'sms-gateway in', set: 'sms-gateway', config: false },
  { type: 'sms-gateway out', set: 'sms-gateway', config: false },
  { type: 'esms-africa', set: 'esms', config: true, via: { type: 'esms in', property: 'esms' } },
  { type: 'esms in', set: 'esms', config: false },
  { type: 'pbxware-server', set: 'pbxware', config: true, via: { type: 'pbxware out', property: 'server' } },
  { type: 'pbxware out', set: 'pbxware', config: false },
  { type: 'kandy-cpaas', set: 'cpaas', config: true, via: { type: 'cpaas out', property: 'cpaas' } },
  { type: 'cpaas in', set: 'cpaas', config: false },
  { type: 'cpaas out', set: 'cpaas', config: false },
  { type: 'sms-cluster', set: 'cluster', config: true, via: { type: 'smsapi out', property: 'cluster' } },
  { type: 'delivery watch', set: 'delivery-watch', config: false },
];

export const NODE_SETS = [...new Set(NODE_TYPES.map((n) => n.set))];
export const FLOW_NODE_TYPES = NODE_TYPES.filter((n) => !n.config);
export const CONFIG_NODE_TYPES = NODE_TYPES.filter((n) => n.config);
