import type * as Redis from 'redis';

let loaded: typeof Redis | undefined;

/**
 * The official Redis client, loaded when a cluster first connects (or is tested): a flow without an
 * `sms-cluster` keeps none of its ~4 MB in memory.
 */
export function redis(): typeof Redis {
  // a require on first use (an import would load it with this file)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('redis') as typeof Redis;
  return loaded;
}
