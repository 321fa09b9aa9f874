/**
 * The check of a server URL typed into a config node, with messages that name the fix. A URL typed
 * without its scheme ("localhost:9111") parses as the scheme "localhost:", so it is reported as a
 * missing scheme, not as an odd one. Messages never echo the URL: it may carry user:pass@.
 */

export const HTTP_SCHEMES: readonly string[] = ['http:', 'https:'];
export const HTTP_AND_WS_SCHEMES: readonly string[] = ['http:', 'https:', 'ws:', 'wss:'];

/** A configured URL that cannot work: fixing the configuration is the only cure. */
export class ConfigUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigUrlError';
  }
}

/**
 * Parse `raw` (trimmed) as a URL of one of `schemes`; throws ConfigUrlError saying what to change.
 * `what` names the server in the message ("Bridge", "gateway", "CPaaS", "eSMS"), `example` is a URL
 * that shows the expected shape.
 */
export function parseConfigUrl(
  raw: unknown,
  what: string,
  example: string,
  schemes: readonly string[] = HTTP_SCHEMES,
): URL {
  const text = typeof raw === 'string' ? raw.trim() : '';
  const prefix = `invalid ${what} URL`;
  if (!text) throw new ConfigUrlError(`${prefix}: it is empty (expected e.g. ${example})`);
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url && schemes.includes(url.protocol)) return url;
  if (!text.includes('://'))
    throw new ConfigUrlError(`${prefix}: no scheme, add http:// or https:// (e.g. ${example})`);
  if (!url) throw new ConfigUrlError(`${prefix} (expected e.g. ${example})`);
  throw new ConfigUrlError(
    `${prefix}: unsupported scheme ${url.protocol.slice(0, 20)}, use http:// or https:// (e.g. ${example})`,
  );
}
