import { ConnectionError } from '../connection';
import { coversSolution, privmxEndpoints, solutionScope, toConnectionError, TokenPair } from './connection';
import { CHANNELS } from './envelope';
import { httpRpc } from './jsonrpc';
import { Network } from '../proxy';

/**
 * "Test connection" for a `privmx-bridge` config node: one `manager/auth` over HTTP POST {url}/api
 * with the API key credentials and no scope (so the answer lists every scope the key has). Reports the
 * channel scopes and whether a solution scope lets events through, or the exact failure. Never echoes
 * the secret. Note: like any credentials auth this opens one server-side session (of at most 16).
 */
export async function testPrivmxBridge(
  config: Record<string, unknown>,
  credentials: Record<string, string>,
  signal: AbortSignal,
  network: Network = new Network(),
): Promise<string> {
  const endpoints = privmxEndpoints(String(config.url ?? ''));
  const solutionId = typeof config.solutionId === 'string' ? config.solutionId.trim() : '';
  const { apiKeyId, apiKeySecret } = credentials;
  if (!apiKeyId || !apiKeySecret) {
    throw new ConnectionError('API key id and secret are not set', { permanent: true, code: 'CONFIG' });
  }
  let result: Partial<TokenPair>;
  try {
    result = await httpRpc<Partial<TokenPair>>(
      endpoints.httpUrl,
      'manager/auth',
      { grantType: 'api_key_credentials', apiKeyId, apiKeySecret },
      signal,
      network.fetch,
    );
  } catch (err) {
    throw toConnectionError(err);
  }
  const scope = Array.isArray(result?.scope)
    ? result.scope.filter((s): s is string => typeof s === 'string')
    : [];
  if (typeof result?.accessToken !== 'string') {
    throw new ConnectionError(`${endpoints.display} answered manager/auth without a token`, {
      code: 'PROTOCOL',
    });
  }
  const channels = CHANNELS.filter((c) => scope.includes(c));
  if (scope.length && !coversSolution(scope, solutionId)) {
    throw new ConnectionError(
      `authenticated, but the API key has no "${solutionScope(solutionId)}" scope: the Bridge would deliver no events`,
      { permanent: true, code: 'SCOPE' },
    );
  }
  const solutions = scope.filter((s) => s.startsWith('solution:')).join(', ');
  return (
    `authenticated at ${endpoints.display}${network.describe(endpoints.httpUrl)}; channels: ${channels.join(', ') || 'none'}` +
    (solutions ? `; ${solutions}` : '')
  );
}
