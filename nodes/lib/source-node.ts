import type { ConnectionUser, ManagedConnection } from './connection';
import { RuntimeHooks, watchRuntime } from './session/pressure';
import { COMMON, connectionStatus, NodeStatus, Translate } from './status';

/** The part of a Node-RED node a source needs (structural, so nodes/lib imports no Node-RED). */
export interface SourceHost {
  status(status: NodeStatus | Record<string, never>): void;
  on(event: 'close', handler: (removed: boolean, done: () => void) => void): void;
}

/**
 * Wire a source node to its config node's connection: show every state as a status dot, register now
 * (which connects lazily), deregister on close (which disconnects when it was the last user).
 */
export function attachSource<U extends ConnectionUser>(
  host: SourceHost,
  connection: ManagedConnection<U> | undefined,
  user: U,
  t: Translate,
  /** Node-RED's hooks: the flow's backlog pauses the socket (see session/pressure.ts) */
  hooks?: RuntimeHooks,
): void {
  watchRuntime(hooks);
  if (!connection) {
    host.status({ fill: 'red', shape: 'ring', text: t(COMMON + 'status.noConfig') });
    return;
  }
  connection.register(user);
  host.on('close', (_removed, done) => {
    connection.deregister(user).then(done, done);
  });
}

/** The status for a state; source users call this from onConnectionState. */
export function showState(
  host: Pick<SourceHost, 'status'>,
  state: Parameters<ConnectionUser['onConnectionState']>[0],
  t: Translate,
): void {
  host.status(connectionStatus(state, t));
}
