import { COMMON, type NodeStatus, type Translate } from '../status';
import type { ClusterState, OnError } from './store';

const CLUSTER = COMMON + 'cluster.';

/**
 * A node's status with its cluster's state appended: "subscribed · cluster · 2 instances"; while
 * Redis is down, yellow "cluster down: local guards" (onError local) or red "cluster down: holding".
 */
export function withCluster(
  base: NodeStatus | Record<string, never>,
  state: ClusterState,
  onError: OnError,
  t: Translate,
  /** events or SMS that went without the cluster while it was down */
  local = 0,
): NodeStatus {
  const b = base as NodeStatus;
  const join = (text: string) => (b.text ? `${b.text} · ${text}` : text);
  switch (state.phase) {
    case 'up':
      return {
        fill: b.fill ?? 'green',
        shape: b.shape ?? 'dot',
        text: join(t(CLUSTER + 'instances', { count: state.instances })),
      };
    case 'connecting':
      return { fill: b.fill ?? 'yellow', shape: b.shape ?? 'ring', text: join(t(CLUSTER + 'connecting')) };
    case 'down':
      if (onError === 'hold') return { fill: 'red', shape: 'ring', text: join(t(CLUSTER + 'downHold')) };
      return {
        fill: 'yellow',
        shape: 'dot',
        text: join(local > 0 ? t(CLUSTER + 'downLocalCount', { count: local }) : t(CLUSTER + 'downLocal')),
      };
    case 'closed':
    default:
      return b;
  }
}
