import type { ConnectionState } from '../connection';
import { connectionStatus, NodeStatus, Translate } from '../status';

/** Message catalog prefix of the sms-gateway node set (nodes/locales/<lang>/sms-gateway.json). */
export const GW = 'sms-gateway.';

/**
 * The status of `sms-gateway in`: the shared connection status, except when the connection has given up
 * after repeated authentication failures — then say so and what to do.
 */
export function gatewayStatus(state: ConnectionState, t: Translate, now: number = Date.now()): NodeStatus {
  if (
    state.phase === 'error' &&
    state.permanent &&
    state.retryAt === undefined &&
    (state.code === 'AUTH' || state.code === 'AUTH_GUARD') &&
    state.failures !== undefined
  ) {
    return {
      fill: 'red',
      shape: 'ring',
      text: t(GW + 'status.stopped', { count: state.failures, reason: state.reason ?? '' }),
    };
  }
  return connectionStatus(state, t, now);
}
