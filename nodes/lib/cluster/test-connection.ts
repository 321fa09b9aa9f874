import { redis } from './redis';
import { redisUrl } from './url';

/** The editor's "Test connection": PING and the server's version, over a client of its own. */
export async function testCluster(
  config: Record<string, unknown>,
  credentials: Record<string, string>,
  signal: AbortSignal,
): Promise<string> {
  let url: string;
  try {
    url = redisUrl(config.url);
  } catch (err) {
    throw Object.assign(err as Error, { code: 'SMS_CONFIG' });
  }
  const client = redis().createClient({
    url,
    ...(credentials.username ? { username: credentials.username } : {}),
    ...(credentials.password ? { password: credentials.password } : {}),
    disableOfflineQueue: true,
    socket: { connectTimeout: 5_000, reconnectStrategy: false },
  });
  let lastError: unknown;
  client.on('error', (err: unknown) => (lastError = err));
  const abort = () => client.destroy();
  signal.addEventListener('abort', abort, { once: true });
  try {
    await client.connect();
    const pong = await client.sendCommand<string>(['PING']);
    const info = await client.sendCommand<string>(['INFO', 'server']);
    const version = /redis_version:([^\r\n]+)/.exec(String(info))?.[1] ?? '?';
    return `${String(pong)} · Redis ${version}`;
  } catch (err) {
    const e = (lastError ?? err) as { code?: string; message?: string };
    const reason = (e?.code || e?.message || String(e)).replace(/\/\/[^@/\s]*@/g, '//');
    throw Object.assign(new Error(`Redis: ${reason}`), { code: 'SMS_CLUSTER_DOWN' });
  } finally {
    signal.removeEventListener('abort', abort);
    if (client.isOpen) {
      try {
        await client.close();
      } catch {
        client.destroy();
      }
    }
  }
}
