/**
 * Two rules for every request that carries a secret and every text that names an address:
 * - a URL's `user:pass@` is a secret too: redactUrl() removes it from any text before it is shown
 *   (error, status, "Test connection" answer);
 * - a secret is only ever sent to the configured origin: such requests use `redirect: 'manual'`
 *   (NO_REDIRECTS) and a 3xx answer becomes redirectRefused()'s clear error instead of a second request.
 */

/** `scheme://user:pass@host` → `scheme://***@host`, anywhere in a text. */
export function redactUrl(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]*@/gi, '$1***@');
}

/** fetch options for a request that carries a secret: a redirect is answered, never followed */
export const NO_REDIRECTS = { redirect: 'manual' } as const satisfies RequestInit;

export function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/** "the server redirects to https://other.example (HTTP 307): …" — the target's origin only, redacted. */
export function redirectRefused(service: string, status: number, location: string | null): string {
  let target = '';
  try {
    if (location) target = ` to ${redactUrl(new URL(location).origin)}`;
  } catch {
    // a relative or broken Location: the status says enough
  }
  return (
    `${service}: the server redirects${target} (HTTP ${status}); a request carrying a secret never ` +
    'follows a redirect: set the URL to the final address'
  );
}
