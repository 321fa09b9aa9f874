import type { ClusterStore } from './store';

/** The part of RED a node needs to find its `sms-cluster` config node. */
export interface NodeLookup {
  nodes: { getNode(id: string): unknown };
}

/** The store of the `sms-cluster` node `id` names (empty id or no such node = no cluster). */
export function clusterStore(RED: NodeLookup, id: unknown): ClusterStore | undefined {
  if (typeof id !== 'string' || id === '') return undefined;
  const node = RED.nodes.getNode(id) as { store?: ClusterStore } | null;
  return node?.store;
}
