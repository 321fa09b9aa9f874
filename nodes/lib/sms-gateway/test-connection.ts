/**
 * "Test connection" for the `sms-gateway` config node: ask for a WebSocket token with the key
 * (`POST /v1/ws/token`). Harmless: it sends nothing and the token just expires after 60 s. A rejected
 * key counts towards the auth guard like any other attempt.
 */
import { baseUrl, GatewayHttpError, hostOf, isAuthRejection, requestWsToken } from './api';
import { AuthGuard, AuthRefusedError } from './auth-guard';
import { gatewayGuard } from './connection';
import { ConnectionError } from '../connection';
import { defaultNetwork, Network } from '../proxy';

export class GatewayTestError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'GatewayTestError';
  }
}

export async function testGateway(
  config: Record<string, unknown>,
  credentials: Record<string, string>,
  signal: AbortSignal,
  guardFor: (base: string) => AuthGuard = (base) => gatewayGuard(base),
  network: Network = defaultNetwork,
): Promise<string> {
  let base: string;
  try {
    base = baseUrl(typeof config.url === 'string' ? config.url : undefined);
  } catch (err) {
    throw new GatewayTestError((err as Error).message, 'CONFIG');
  }
  const apiKey = credentials.apiKey;
  if (!apiKey) throw new GatewayTestError('no API key', 'CONFIG');
  const guard = guardFor(base);
  let ticket;
  try {
    ticket = await guard.begin(apiKey, signal);
  } catch (err) {
    if (err instanceof AuthRefusedError) throw new GatewayTestError(err.message, err.code);
    throw err;
  }
  try {
    await requestWsToken(base, apiKey, signal, network.fetch);
    ticket.succeeded();
    return `API key accepted by ${hostOf(base)}${network.describe(base)}`;
  } catch (err) {
    if (err instanceof GatewayHttpError) {
      if (isAuthRejection(err.status)) {
        ticket.failed();
        throw new GatewayTestError(`${err.serverMessage} (HTTP ${err.status})`, 'AUTH');
      }
      ticket.settled();
      throw new GatewayTestError(
        `${err.serverMessage} (HTTP ${err.status})`,
        err.status === 429 ? 'RATE_LIMITED' : 'HTTP',
      );
    }
    ticket.settled();
    if (err instanceof ConnectionError) throw new GatewayTestError(err.message, err.code);
    const e = err as { name?: string; cause?: { code?: string } };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
      throw new GatewayTestError(`${hostOf(base)}: no answer`, 'TIMEOUT');
    throw new GatewayTestError(
      `cannot reach ${hostOf(base)}${e?.cause?.code ? ` (${e.cause.code})` : ''}`,
      'NETWORK',
    );
  }
}
