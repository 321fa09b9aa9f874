import type { ConnectionState } from './connection';
import { redactUrl } from './safe-url';

/** Node-RED's status object, typed here so nodes/lib needs no Node-RED import. */
export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export type Translate = (key: string, params?: Record<string, unknown>) => string;

/**
 * Shared keys live in nodes/locales/<lang>/common.json; the build merges that file into every node
 * set's catalog under "common", so each node's own RED._ finds them.
 */
export const COMMON = 'common.';

/** The status dot a source node shows for its connection's state. */
export function connectionStatus(state: ConnectionState, t: Translate, now: number = Date.now()): NodeStatus {
  const retryIn = state.retryAt ? Math.max(0, Math.ceil((state.retryAt - now) / 1000)) : undefined;
  // a reason may quote an address: its user:pass@ never reaches the editor
  const reason = redactUrl(state.reason ?? '');
  switch (state.phase) {
    case 'connecting':
      return { fill: 'yellow', shape: 'ring', text: t(COMMON + 'status.connecting') };
    case 'authenticating':
      return { fill: 'yellow', shape: 'ring', text: t(COMMON + 'status.authenticating') };
    case 'subscribed':
      if (state.paused) return { fill: 'yellow', shape: 'dot', text: t(COMMON + 'status.paused') };
      return { fill: 'green', shape: 'dot', text: t(COMMON + 'status.subscribed') };
    case 'backoff':
      return {
        fill: 'yellow',
        shape: 'ring',
        text: t(COMMON + 'status.reconnecting', { seconds: retryIn ?? 0, reason }),
      };
    case 'error':
      if (state.config)
        return {
          fill: 'red',
          shape: 'dot',
          text: t(COMMON + 'status.fixConfig', { reason: state.reason ?? '' }),
        };
      return {
        fill: 'red',
        shape: 'ring',
        text:
          retryIn !== undefined
            ? t(COMMON + 'status.errorRetry', { reason, seconds: retryIn })
            : t(COMMON + 'status.error', { reason }),
      };
    case 'closed':
    case 'idle':
    default:
      return { fill: 'grey', shape: 'ring', text: t(COMMON + 'status.idle') };
  }
}
