/**
 * What a `kandy-cpaas` config node owns: the token manager, the REST client, the notification channel
 * (created on first use, connecting only while a `cpaas in` is registered) and the SMS provider.
 * Timings come from tuned('cpaas', …) so tests can shorten lifetimes and heartbeats.
 */
import type { Network } from '../proxy';
import { sourceTiming } from '../session/timing';
import { CpaasApi } from './api';
import { CpaasAuth, CpaasAuthMode, defaultAuthOptions } from './auth';
import { CPAAS_TIMING, CpaasChannelConnection } from './channel';
import { CpaasSmsProvider } from './provider';

export interface CpaasAccountConfig {
  url?: string;
  clientId?: string;
  auth?: string;
  /** default sender number (E.164) */
  from?: string;
}

export interface CpaasAccountCredentials {
  clientSecret?: string;
  email?: string;
  password?: string;
}

export const CPAAS_CREDENTIAL_KEYS = ['clientSecret', 'email', 'password'] as const;

export function cpaasTiming() {
  return sourceTiming('cpaas', {
    ...CPAAS_TIMING,
    minRefreshMs: defaultAuthOptions.minRefreshMs,
    authFailureCooldownMs: defaultAuthOptions.authFailureCooldownMs,
    defaultLifetimeMs: defaultAuthOptions.defaultLifetimeMs,
  });
}

export function authMode(value: unknown): CpaasAuthMode {
  return value === 'user' ? 'user' : 'project';
}

export function createAuth(
  config: CpaasAccountConfig,
  credentials: CpaasAccountCredentials = {},
  network?: Network,
): CpaasAuth {
  const timing = cpaasTiming();
  const mode = authMode(config.auth);
  return new CpaasAuth(
    {
      url: String(config.url ?? ''),
      clientId: String(config.clientId ?? '').trim(),
      auth: mode,
      // only the chosen mode's credentials are used
      clientSecret: mode === 'project' ? credentials.clientSecret : undefined,
      email: mode === 'user' ? credentials.email?.trim() : undefined,
      password: mode === 'user' ? credentials.password : undefined,
    },
    {
      clock: timing.clock,
      requestTimeoutMs: timing.requestTimeoutMs,
      minRefreshMs: timing.minRefreshMs,
      authFailureCooldownMs: timing.authFailureCooldownMs,
      defaultLifetimeMs: timing.defaultLifetimeMs,
      fetch: network?.fetch,
    },
  );
}

export class CpaasAccount {
  readonly auth: CpaasAuth;
  readonly api: CpaasApi;
  readonly from?: string;
  private channel?: CpaasChannelConnection;

  constructor(
    config: CpaasAccountConfig,
    credentials: CpaasAccountCredentials = {},
    private readonly log: (message: string) => void = () => {},
    private readonly network?: Network,
  ) {
    this.auth = createAuth(config, credentials, network);
    this.api = new CpaasApi(this.auth, cpaasTiming().requestTimeoutMs, network);
    this.from = config.from?.trim() || undefined;
  }

  /** The shared notification channel (connects only while a `cpaas in` is registered). */
  get connection(): CpaasChannelConnection {
    this.channel ??= new CpaasChannelConnection(this.api, cpaasTiming(), this.log);
    return this.channel;
  }

  /** The SMS provider for a `cpaas out` (sender: the node's, else this account's, else `default`). */
  provider(): CpaasSmsProvider {
    return new CpaasSmsProvider(this.api, this.from);
  }

  /** For the config node's close handler: unsubscribe, delete the channel, close the socket, stop timers. */
  async close(): Promise<void> {
    await this.channel?.close();
    this.auth.close();
    await this.network?.close();
  }
}

/** The test-connection check: log in and report the user id (throws SmsError with the exact reason). */
export async function testLogin(
  config: CpaasAccountConfig,
  credentials: CpaasAccountCredentials,
  signal: AbortSignal,
  network?: Network,
): Promise<string> {
  const auth = createAuth(config, credentials, network);
  try {
    return (await auth.getToken(signal)).userId;
  } finally {
    auth.close();
  }
}
