import { createHash } from 'crypto';
import { ConnectionError } from '../connection';

export interface TokenPair {
  accessToken: string;
  accessTokenExpiry: number;
  refreshToken: string;
  refreshTokenExpiry: number;
  /** granted scopes, when the server told them */
  scope?: string[];
}

interface AuthResult {
  accessToken?: unknown;
  accessTokenExpiry?: unknown;
  refreshToken?: unknown;
  refreshTokenExpiry?: unknown;
  scope?: unknown;
}

/** The token pair of a `manager/auth` answer (a protocol error when it has none). */
export function toTokens(result: unknown): TokenPair {
  const r = (result ?? {}) as AuthResult;
  if (
    typeof r.accessToken !== 'string' ||
    typeof r.refreshToken !== 'string' ||
    typeof r.accessTokenExpiry !== 'number' ||
    typeof r.refreshTokenExpiry !== 'number'
  ) {
    throw new ConnectionError('manager/auth answered without a token pair', { code: 'PROTOCOL' });
  }
  return {
    accessToken: r.accessToken,
    accessTokenExpiry: r.accessTokenExpiry,
    refreshToken: r.refreshToken,
    refreshTokenExpiry: r.refreshTokenExpiry,
    scope: Array.isArray(r.scope) ? r.scope.filter((s): s is string => typeof s === 'string') : undefined,
  };
}

/**
 * Token pairs that outlive a connection. A redeploy (or a restart of the config node) creates a new
 * PrivmxConnection; starting it with a credentials auth would open one more server session every time,
 * and once the key has 16 the Bridge evicts the oldest, which may be another client's. So the last pair
 * of each URL + key + secret + solution is kept here and the next connection starts with its refresh
 * token (falling back to the credentials when it no longer works). Keyed by a hash: no secret is kept.
 */
const savedTokens = new Map<string, TokenPair>();

export interface TokenKeyParts {
  url: string;
  apiKeyId?: string;
  apiKeySecret?: string;
  solutionId?: string;
}

function savedTokensKey(settings: TokenKeyParts): string | undefined {
  if (!settings.apiKeyId || !settings.apiKeySecret) return undefined;
  const parts = [String(settings.url ?? '').trim(), settings.apiKeyId, settings.apiKeySecret];
  parts.push((settings.solutionId ?? '').trim());
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}

/** The token pair of one connection, remembered for the next one with the same settings. */
export class TokenStore {
  /** credentials auths so far (each opens a server session; there are at most 16) */
  credentialAuths = 0;
  private pair: TokenPair | undefined;
  private readonly key: string | undefined;

  constructor(settings: TokenKeyParts) {
    this.key = savedTokensKey(settings);
    if (this.key) this.pair = savedTokens.get(this.key);
  }

  get current(): TokenPair | undefined {
    return this.pair;
  }

  set current(pair: TokenPair | undefined) {
    this.pair = pair;
    if (!this.key) return;
    if (pair) savedTokens.set(this.key, pair);
    else savedTokens.delete(this.key);
  }

  /** a refresh token that is still worth trying at `now` */
  refreshable(now: number, skewMs: number): boolean {
    const t = this.pair;
    return !!t && t.refreshTokenExpiry - skewMs > now;
  }
}
