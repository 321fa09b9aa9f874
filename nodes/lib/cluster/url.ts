/**
 * The Redis URL of an `sms-cluster` node, as the node uses it (trimmed). Only `redis://` and
 * `rediss://` are accepted; anything else throws, so it never matches a deployed destination.
 */
export function redisUrl(raw: unknown): string {
  const url = typeof raw === 'string' ? raw.trim() : '';
  if (!/^rediss?:\/\/\S+$/i.test(url)) throw new Error('the URL must start with redis:// or rediss://');
  return url;
}
