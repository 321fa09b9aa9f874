/**
 * The eSMS Africa portal access token (the `esms_access_token` cookie) is a JWT valid for 7 days.
 * We never verify it (only the server can); we only read its `exp` claim to say "expired" before
 * knocking on the server's door with a token that cannot work.
 */

/** Accept what users paste: the bare JWT, `esms_access_token=<JWT>`, or either with spaces/quotes. */
export function cleanAccessToken(raw: string | undefined): string {
  let token = (raw ?? '').trim();
  const prefix = 'esms_access_token=';
  if (token.toLowerCase().startsWith(prefix)) token = token.slice(prefix.length);
  const semicolon = token.indexOf(';');
  if (semicolon >= 0) token = token.slice(0, semicolon);
  token = token.trim();
  if (token.length >= 2 && token.startsWith('"') && token.endsWith('"')) token = token.slice(1, -1);
  return token;
}

/** The JWT's payload claims, decoded WITHOUT verifying the signature; undefined when not a JWT. */
export function decodeJwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const json = Buffer.from(parts[1].replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    const claims: unknown = JSON.parse(json);
    return claims && typeof claims === 'object' && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The token's expiry in epoch ms (from `exp`, seconds), when it says. */
export function tokenExpiry(token: string): number | undefined {
  const exp = decodeJwtClaims(token)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
}

/** true when the token's `exp` claim is in the past (tokens without `exp` are not judged here). */
export function isTokenExpired(token: string, now: number = Date.now()): boolean {
  const expiry = tokenExpiry(token);
  return expiry !== undefined && expiry <= now;
}

/** The cookie header value for the WebSocket upgrade. */
export function accessTokenCookie(token: string): string {
  return `esms_access_token=${token}`;
}
