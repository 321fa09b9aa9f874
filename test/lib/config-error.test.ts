import assert from 'assert';
import { ConfigUrlError, HTTP_AND_WS_SCHEMES, parseConfigUrl } from '../../nodes/lib/config-url';
import {
  ConnectionError,
  ConnectionState,
  ManagedConnection,
  SessionContext,
} from '../../nodes/lib/connection';
import { connectionStatus } from '../../nodes/lib/status';
import { waitFor } from '../helpers';
import { CountingClock } from '../clock';

const EXAMPLE = 'http://localhost:9111';

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigUrlError, String(err));
    return err.message;
  }
  throw new Error('expected a ConfigUrlError');
}

describe('lib/config-url parseConfigUrl', () => {
  it('accepts http(s) (and ws(s) where allowed), trimmed', () => {
    assert.strictEqual(parseConfigUrl(' https://h:1/x ', 'Bridge', EXAMPLE).host, 'h:1');
    assert.strictEqual(parseConfigUrl('wss://h', 'Bridge', EXAMPLE, HTTP_AND_WS_SCHEMES).protocol, 'wss:');
  });

  it('a URL typed without its scheme says to add http:// or https://, not "unsupported scheme localhost:"', () => {
    const message = reason(() => parseConfigUrl('localhost:9111', 'Bridge', EXAMPLE));
    assert.strictEqual(
      message,
      'invalid Bridge URL: no scheme, add http:// or https:// (e.g. http://localhost:9111)',
    );
    assert.match(
      reason(() => parseConfigUrl('example.com', 'gateway', EXAMPLE)),
      /add http:\/\/ or https:\/\//,
    );
  });

  it('names an unsupported scheme, an empty URL and an unparsable one', () => {
    assert.match(
      reason(() => parseConfigUrl('ftp://h', 'CPaaS', EXAMPLE)),
      /unsupported scheme ftp:/,
    );
    assert.match(
      reason(() => parseConfigUrl('ws://h', 'CPaaS', EXAMPLE)),
      /unsupported scheme ws:/,
    );
    assert.match(
      reason(() => parseConfigUrl('  ', 'eSMS', EXAMPLE)),
      /invalid eSMS URL: it is empty/,
    );
    assert.match(
      reason(() => parseConfigUrl('http://[::1', 'eSMS', EXAMPLE)),
      /invalid eSMS URL \(expected/,
    );
  });

  it('never echoes the URL (it may carry a password)', () => {
    for (const raw of ['user:S3cr3tPw@host', 'ftp://user:S3cr3tPw@host', 'http://user:S3cr3tPw@[::1'])
      assert.ok(!reason(() => parseConfigUrl(raw, 'Bridge', EXAMPLE)).includes('S3cr3tPw'), raw);
  });
});

class Scripted extends ManagedConnection {
  sessions = 0;
  constructor(
    private readonly script: (ctx: SessionContext) => Promise<void>,
    clock: CountingClock,
  ) {
    super({ clock, deadAfterMs: 1_000 });
  }
  protected async runSession(ctx: SessionContext): Promise<void> {
    this.sessions++;
    await this.script(ctx);
  }
}

describe('lib/connection a configuration error', () => {
  it('stops the loop: red "fix the configuration and deploy" with the reason, no retry, no timer', async () => {
    const clock = new CountingClock();
    const conn = new Scripted(async () => {
      throw new ConnectionError('invalid Bridge URL: no scheme, add http:// or https://', { config: true });
    }, clock);
    const states: ConnectionState[] = [];
    conn.register({ onConnectionState: (s) => states.push(s) });
    await waitFor(() => conn.state.phase === 'error');
    assert.deepStrictEqual(conn.state, {
      phase: 'error',
      reason: 'invalid Bridge URL: no scheme, add http:// or https://',
      code: 'CONFIG',
      permanent: true,
      config: true,
    });
    assert.strictEqual(conn.state.retryAt, undefined, 'no countdown');
    assert.strictEqual(clock.pending.size, 0, 'no timer of ours: the watchdog is cleared, no backoff sleep');
    assert.strictEqual(conn.sessions, 1);
    assert.deepStrictEqual(
      states.map((s) => s.phase),
      ['idle', 'connecting', 'error'],
    );

    const t = (key: string, params?: Record<string, unknown>) => `${key} ${JSON.stringify(params ?? {})}`;
    assert.deepStrictEqual(connectionStatus(conn.state, t), {
      fill: 'red',
      shape: 'dot',
      text: 'common.status.fixConfig {"reason":"invalid Bridge URL: no scheme, add http:// or https://"}',
    });

    // a node added by a partial deploy is told at once; nothing is tried again
    const late: ConnectionState[] = [];
    conn.register({ onConnectionState: (s) => late.push(s) });
    assert.strictEqual(late[0]?.config, true);
    assert.strictEqual(conn.sessions, 1);

    await conn.close();
    assert.strictEqual(conn.state.phase, 'closed');
    assert.strictEqual(clock.pending.size, 0);
  });

  it('a config error keeps its own code and is permanent and fatal', () => {
    const err = new ConnectionError('access token expired', { config: true, code: 'AUTH' });
    assert.deepStrictEqual([err.config, err.fatal, err.permanent, err.code], [true, true, true, 'AUTH']);
    const plain = new ConnectionError('HTTP 404', { permanent: true, code: 'CONFIG' });
    assert.strictEqual(plain.config, false, 'a server answer is not a configuration error: it retries');
  });
});
