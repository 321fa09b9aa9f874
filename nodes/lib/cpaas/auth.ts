/**
 * CPaaS token manager. `POST {base}/cpaas/auth/v1/token` (form-encoded, client-credentials grant for a
 * project, password grant for a user); both JWTs are decoded without verification, as the SDK does: the
 * user id is the id_token's `preferred_username`, the lifetime comes from the access_token's exp/iat (or
 * `expires_in`). The token is re-fetched at half its lifetime; concurrent callers share one request; a
 * rejected login is remembered for a while so a wrong secret never hammers the server.
 */
import { Clock, realClock, sleep } from '../clock';
import { fromFetchFailure, parseRetryAfter, SmsError } from '../sms/errors';
import { isRedirect, NO_REDIRECTS, redirectRefused } from '../safe-url';
import { deadline, isRecord, normaliseBase, raced, readBody, redact } from './http';
import { decodeJwt } from './jwt';

export type CpaasAuthMode = 'project' | 'user';

export interface CpaasAuthConfig {
  url: string;
  clientId: string;
  /** 'project' = client_credentials with clientSecret; 'user' = password grant with email + password */
  auth: CpaasAuthMode;
  clientSecret?: string;
  email?: string;
  password?: string;
}

export interface CpaasAuthOptions {
  clock: Clock;
  requestTimeoutMs: number;
  /** never re-authenticate more often than this, whatever the token's lifetime says */
  minRefreshMs: number;
  /** after a rejected login, answer with the same error this long without asking the server */
  authFailureCooldownMs: number;
  /** lifetime assumed when the token states none */
  defaultLifetimeMs: number;
  fetch?: typeof fetch;
}

export const defaultAuthOptions: CpaasAuthOptions = {
  clock: realClock,
  requestTimeoutMs: 15_000,
  minRefreshMs: 5_000,
  authFailureCooldownMs: 60_000,
  defaultLifetimeMs: 3_600_000,
};

export interface CpaasToken {
  accessToken: string;
  /** the id_token's preferred_username: the {userId} of every API path */
  userId: string;
  obtainedAt: number;
  /** re-authenticate from here on (half the lifetime) */
  refreshAt: number;
  expiresAt: number;
}

export class CpaasAuth {
  readonly base: string;
  /** token requests sent (for tests and diagnostics) */
  requests = 0;
  private token?: CpaasToken;
  private pending?: Promise<CpaasToken>;
  private failure?: { error: SmsError; until: number };
  private readonly urlProblem?: string;
  private readonly closing = new AbortController();
  private readonly opts: CpaasAuthOptions;

  constructor(
    private readonly config: CpaasAuthConfig,
    opts: Partial<CpaasAuthOptions> = {},
  ) {
    this.opts = { ...defaultAuthOptions, ...opts };
    let base = '';
    try {
      base = normaliseBase(config.url);
    } catch (err) {
      // reported by login() as a configuration error
      this.urlProblem = (err as Error).message;
    }
    this.base = base;
  }

  get clock(): Clock {
    return this.opts.clock;
  }

  /** The credential values, for redaction of anything shown to a user. */
  get secrets(): string[] {
    return [this.config.clientSecret, this.config.password, this.token?.accessToken].filter(
      (s): s is string => !!s,
    );
  }

  /** A valid token (cached until half its lifetime). Throws SmsError. */
  async getToken(signal?: AbortSignal): Promise<CpaasToken> {
    const now = this.opts.clock.now();
    if (this.token && now < this.token.refreshAt) return this.token;
    if (this.failure && now < this.failure.until) throw this.failure.error;
    if (!this.pending) {
      this.pending = this.login().finally(() => {
        this.pending = undefined;
      });
    }
    try {
      return await raced(this.pending, signal);
    } catch (err) {
      // a refresh that failed for a passing reason: the old token is still good until it expires
      const old = this.token;
      if (err instanceof SmsError && err.transient && old && this.opts.clock.now() < old.expiresAt)
        return old;
      throw err;
    }
  }

  /** The server rejected `accessToken` (401): the next getToken() logs in again. */
  invalidate(accessToken: string): void {
    if (this.token?.accessToken === accessToken) this.token = undefined;
  }

  /**
   * Keep a fresh token until `signal` aborts: re-authenticate at half-life. Resolves on abort, rejects
   * on a permanent failure (wrong credentials); passing failures are retried while the token lasts.
   */
  async keepFresh(signal: AbortSignal): Promise<void> {
    const clock = this.opts.clock;
    while (!signal.aborted) {
      let wait: number;
      try {
        const token = await this.getToken(signal);
        wait = token.refreshAt - clock.now();
        // a stale token came back (refresh failed for a passing reason): try again a little later
        if (wait <= 0) wait = this.retryDelay(token);
      } catch (err) {
        if (signal.aborted) return;
        if (!(err instanceof SmsError) || !err.transient) throw err;
        wait = this.opts.minRefreshMs;
      }
      if (!(await sleep(clock, wait, signal))) return;
    }
  }

  /** Abort a login in flight; the manager is not used again. */
  close(): void {
    this.closing.abort(new Error('closed'));
    this.token = undefined;
  }

  private retryDelay(token: CpaasToken): number {
    const left = token.expiresAt - this.opts.clock.now();
    return Math.max(this.opts.minRefreshMs, Math.min(30_000, left / 4));
  }

  /** What is missing or wrong in the configuration (no request can succeed without a fix), if anything. */
  configProblem(): SmsError | undefined {
    const c = this.config;
    if (!this.base) return new SmsError('SMS_CONFIG', this.urlProblem ?? 'invalid CPaaS URL');
    if (!c.clientId) return new SmsError('SMS_CONFIG', 'CPaaS: the client id is missing');
    if (c.auth === 'user') {
      if (!c.email || !c.password)
        return new SmsError('SMS_CONFIG', 'CPaaS: the user e-mail or password is missing');
    } else if (!c.clientSecret) return new SmsError('SMS_CONFIG', 'CPaaS: the project secret is missing');
    return undefined;
  }

  private async login(): Promise<CpaasToken> {
    const invalid = this.configProblem();
    if (invalid) throw invalid;
    const c = this.config;
    const form = new URLSearchParams({ client_id: c.clientId, scope: 'openid' });
    if (c.auth === 'user') {
      form.set('grant_type', 'password');
      form.set('username', c.email ?? '');
      form.set('password', c.password ?? '');
    } else {
      form.set('grant_type', 'client_credentials');
      form.set('client_secret', c.clientSecret ?? '');
    }
    const clock = this.opts.clock;
    const timeout = deadline(clock, this.opts.requestTimeoutMs, this.closing.signal);
    let status: number;
    let body: unknown;
    let retryAfter: string | null;
    try {
      this.requests++;
      const res = await (this.opts.fetch ?? fetch)(`${this.base}/cpaas/auth/v1/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        // the form carries the client secret or the password: never re-sent to a redirect's target
        ...NO_REDIRECTS,
        signal: timeout.signal,
      });
      status = res.status;
      if (isRedirect(status)) {
        await res.body?.cancel();
        throw this.remember(
          new SmsError('SMS_CONFIG', redirectRefused('CPaaS login', status, res.headers.get('location')), {
            status,
          }),
        );
      }
      retryAfter = res.headers.get('retry-after');
      body = await readBody(res);
    } catch (err) {
      if (err instanceof SmsError) throw err;
      throw fromFetchFailure(err, 'CPaaS login');
    } finally {
      timeout.dispose();
    }
    if (status < 200 || status >= 300) throw this.remember(this.loginError(status, body, retryAfter));
    const token = this.parseToken(body);
    this.failure = undefined;
    this.token = token;
    return token;
  }

  private loginError(status: number, body: unknown, retryAfter: string | null): SmsError {
    const error = isRecord(body) && typeof body.error === 'string' ? body.error : undefined;
    const description =
      isRecord(body) && typeof body.error_description === 'string' ? body.error_description : undefined;
    const detail = redact(
      [error, description && `(${description})`].filter(Boolean).join(' ').slice(0, 200),
      [this.config.clientSecret, this.config.password, this.config.email],
    );
    if (status >= 500)
      return new SmsError('SMS_PROVIDER', `CPaaS login: server error (${status})`, {
        status,
        transient: true,
      });
    if (status === 429)
      return new SmsError('SMS_RATE_LIMITED', 'CPaaS login: too many requests (429)', {
        status,
        transient: true,
        retryAfterMs: parseRetryAfter(retryAfter),
      });
    if (status === 404)
      return new SmsError('SMS_CONFIG', 'CPaaS login: not found (404), check the URL', { status });
    return new SmsError('SMS_AUTH', `CPaaS login failed (${status}${detail ? ' ' + detail : ''})`, {
      status,
      providerCode: error,
    });
  }

  private remember(error: SmsError): SmsError {
    if (!error.transient)
      this.failure = { error, until: this.opts.clock.now() + this.opts.authFailureCooldownMs };
    return error;
  }

  private parseToken(body: unknown): CpaasToken {
    const bad = (why: string) => this.remember(new SmsError('SMS_PROVIDER', `CPaaS login: ${why}`));
    if (!isRecord(body) || typeof body.access_token !== 'string') throw bad('no access_token in the answer');
    const access = decodeJwt(body.access_token);
    const id = decodeJwt(body.id_token);
    if (!access) throw bad('the access_token is not a JWT');
    const userId = id && typeof id.preferred_username === 'string' ? id.preferred_username : undefined;
    if (!userId) throw bad('no user id (id_token preferred_username) in the answer');
    let lifetimeMs = this.opts.defaultLifetimeMs;
    if (typeof access.exp === 'number' && typeof access.iat === 'number')
      lifetimeMs = (access.exp - access.iat) * 1000;
    else if (typeof body.expires_in === 'number') lifetimeMs = body.expires_in * 1000;
    else if (typeof access.exp === 'number') lifetimeMs = access.exp * 1000 - Date.now();
    if (!(lifetimeMs > 0)) lifetimeMs = 2 * this.opts.minRefreshMs;
    const now = this.opts.clock.now();
    return {
      accessToken: body.access_token,
      userId,
      obtainedAt: now,
      refreshAt: now + Math.max(lifetimeMs / 2, this.opts.minRefreshMs),
      expiresAt: now + lifetimeMs,
    };
  }
}
