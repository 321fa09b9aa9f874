import { ConnectionError } from '../connection';
import { HTTP_AND_WS_SCHEMES, parseConfigUrl } from '../config-url';
import { JsonRpcError, RpcCode, RpcTransportError } from './jsonrpc';

/** Where a Bridge is reached, which scopes it needs, and its failures in words safe to show. */

export interface PrivmxEndpoints {
  httpUrl: string;
  wsUrl: string;
  /** for messages: origin + path, never user info */
  display: string;
}

/** `http://host:9111` → POST `http://host:9111/api` and `ws://host:9111/api` (path ends with /api, no query). */
export function privmxEndpoints(raw: string): PrivmxEndpoints {
  let u: URL;
  try {
    u = parseConfigUrl(raw, 'Bridge', 'http://localhost:9111', HTTP_AND_WS_SCHEMES);
  } catch (err) {
    throw new ConnectionError((err as Error).message, { config: true });
  }
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  let path = u.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/api')) path += '/api';
  const hostPart = u.host;
  const httpUrl = `${secure ? 'https' : 'http'}://${hostPart}${path}`;
  const auth = u.username ? `${u.username}${u.password ? ':' + u.password : ''}@` : '';
  return {
    httpUrl: auth ? `${secure ? 'https' : 'http'}://${auth}${hostPart}${path}` : httpUrl,
    wsUrl: `${secure ? 'wss' : 'ws'}://${auth}${hostPart}${path}`,
    display: httpUrl,
  };
}

export function solutionScope(solutionId: string | undefined): string {
  const id = (solutionId ?? '').trim();
  return id ? `solution:${id}` : 'solution:*';
}

/** Does a granted scope list let events of the configured solution through? */
export function coversSolution(scope: readonly string[], solutionId: string | undefined): boolean {
  const id = (solutionId ?? '').trim();
  if (id) return scope.includes('solution:*') || scope.includes(`solution:${id}`);
  return scope.some((s) => s.startsWith('solution:'));
}

/** The scope named by a 24878 error: `data` is the channel on subscribe, "Cannot use X" on auth. */
export function missingScope(data: unknown): string | undefined {
  if (typeof data !== 'string' || !data) return undefined;
  const m = /^Cannot use (?:solution=(.+)|(\S+))$/.exec(data);
  if (m) return m[1] !== undefined ? `solution:${m[1]}` : m[2];
  return data.slice(0, 100);
}

/** Turn any failure into a ConnectionError whose message is safe to show. */
export function toConnectionError(err: unknown, during = ''): ConnectionError {
  if (err instanceof ConnectionError) return err;
  const at = during ? `${during}: ` : '';
  if (err instanceof JsonRpcError) {
    const tag = `(Bridge error ${err.code})`;
    switch (err.code) {
      case RpcCode.API_KEY_DOES_NOT_EXIST:
        return new ConnectionError(`API key does not exist ${tag}`, { permanent: true, code: 'AUTH' });
      case RpcCode.INVALID_CREDENTIALS:
        return new ConnectionError(`invalid API key secret ${tag}`, { permanent: true, code: 'AUTH' });
      case RpcCode.INVALID_SIGNATURE:
        return new ConnectionError(`invalid signature ${tag}`, { permanent: true, code: 'AUTH' });
      case RpcCode.INSUFFICIENT_SCOPE: {
        const scope = missingScope(err.data);
        return new ConnectionError(
          scope ? `API key lacks the scope "${scope}" ${tag}` : `insufficient scope ${tag}`,
          { permanent: true, code: 'SCOPE' },
        );
      }
      case RpcCode.METHOD_NOT_FOUND:
        return new ConnectionError(`${at}method not found: is the URL a PrivMX Bridge? ${tag}`, {
          permanent: true,
          code: 'PROTOCOL',
        });
      case RpcCode.INVALID_PARAMS:
        return new ConnectionError(
          `${at}invalid parameters${typeof err.data === 'string' ? ': ' + err.data.slice(0, 200) : ''} ${tag}`,
          { permanent: true, code: 'CONFIG' },
        );
      case RpcCode.INVALID_TOKEN:
      case RpcCode.UNAUTHORIZED:
        return new ConnectionError(`${at}${err.message} ${tag}`, { code: 'TOKEN' });
      default:
        return new ConnectionError(`${at}${err.message.slice(0, 200)} ${tag}`, { code: 'BRIDGE' });
    }
  }
  if (err instanceof RpcTransportError) return new ConnectionError(`${at}${err.message}`, { code: err.code });
  const message = err instanceof Error ? err.message || err.name : String(err);
  return new ConnectionError(`${at}${message}`, { code: 'NETWORK' });
}
