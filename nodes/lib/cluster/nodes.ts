import type { SmsGuards } from '../sms/guards';
import type { NodeStatus, Translate } from '../status';
import { ClusterGuards } from './guards';
import type { ClaimableEvent } from './keys';
import { ClaimGate } from './source-gate';
import { withCluster } from './status';
import type { ClusterState, ClusterStore, ClusterUser } from './store';

/**
 * The glue between a source or sink node and its `sms-cluster` config node. Without a cluster both
 * helpers hand back the node's own functions unchanged: nothing changes for a flow without one.
 */

type Status = NodeStatus | Record<string, never>;

export interface ClusterHost {
  id: string;
  status(status: Status): void;
  on(event: 'close', handler: (removed: boolean, done: () => void) => void): void;
}

export interface ClusterSource<M> {
  /** emit through the claim gate */
  emit(msg: M): void;
  /** show the source's own status with the cluster's state appended */
  status(status: Status): void;
}

/** A source with a cluster: every event claimed before it is emitted; the status shows the cluster. */
export function clusterSource<M extends ClaimableEvent>(
  host: ClusterHost,
  store: ClusterStore | undefined,
  /** the config node's identity (configIdentity(url, account)) */
  config: string,
  emit: (msg: M) => void,
  t: Translate,
): ClusterSource<M> {
  if (!store) return { emit, status: (s) => host.status(s) };
  let base: Status = {};
  let state: ClusterState = store.state;
  const gate = new ClaimGate<M>(store, host.id, config, emit, () => redraw());
  const redraw = () => {
    const c = gate.counts;
    host.status(withCluster(base, state, store.onError, t, c.unclaimed));
  };
  const user: ClusterUser = {
    onClusterState: (next) => {
      state = next;
      redraw();
    },
  };
  store.register(user);
  host.on('close', (_removed, done) => {
    gate.close();
    store.deregister(user).then(done, done);
  });
  return {
    emit: (msg) => gate.offer(msg),
    status: (s) => {
      base = s;
      redraw();
    },
  };
}

/** What a sink needs from a cluster (see attachSink). */
export interface SinkShared {
  guards(local: SmsGuards, opts: { rateLimit: number; dedupeWindowMs: number }): SmsGuards;
  status(base: Status): Status;
  /** `redraw` is called when the cluster's state changes */
  watch(redraw: () => void): void;
  close(): Promise<void>;
}

/** A sink with a cluster: shared dedupe and rate limit; the status shows the cluster. */
export function clusterSink(
  host: ClusterHost,
  store: ClusterStore | undefined,
  t: Translate,
): SinkShared | undefined {
  if (!store) return undefined;
  let redraw = () => {};
  let local = 0;
  const user: ClusterUser = { onClusterState: () => redraw() };
  store.register(user);
  return {
    guards: (own, opts) =>
      new ClusterGuards(store, own, {
        nodeId: host.id,
        rateLimit: opts.rateLimit,
        dedupeWindowMs: opts.dedupeWindowMs,
        onLocal: () => {
          local++;
        },
      }),
    status: (base) => withCluster(base, store.state, store.onError, t, local),
    watch: (fn) => {
      redraw = fn;
    },
    close: () => store.deregister(user),
  };
}
