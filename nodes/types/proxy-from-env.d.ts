// proxy-from-env ships no types: its one function, as documented.
declare module 'proxy-from-env' {
  /** The proxy URL for a URL from *_PROXY / NO_PROXY (either case); '' = connect directly. */
  export function getProxyForUrl(url: string | URL): string;
}
