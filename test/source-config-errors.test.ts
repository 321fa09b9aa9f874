/**
 * A configuration that cannot work (a URL without a scheme or with another one, a missing key, secret
 * or token) is a red "fix the configuration and deploy" status with the reason, for every source: no
 * connection attempt, no retry countdown, no timer, and a clean close.
 */
import assert from 'assert';
import fs from 'fs';
import net from 'net';
import path from 'path';
import cpaasNodes from '../nodes/cpaas';
import esmsNodes from '../nodes/esms';
import privmxNodes from '../nodes/privmx';
import gatewayNodes from '../nodes/sms-gateway';
import type { ConnectionState } from '../nodes/lib/connection';
import { resetAuthGuards } from '../nodes/lib/sms-gateway/auth-guard';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import {
  activeResources,
  helper,
  lastStatus,
  waitFor,
  withParams,
  type NodeModule,
  type Status,
} from './helpers';
import { CountingClock } from './clock';

/** What the status of a source shows for a configuration error with `reason`. */
function fixConfig(reason: string): Status {
  return { fill: 'red', shape: 'dot', text: `common.status.fixConfig ${JSON.stringify({ reason })}` };
}

interface Source {
  name: string;
  module: NodeModule;
  /** tuning key of the protocol (its clock counts our timers) */
  protocol: string;
  config(url: string): Record<string, unknown>;
  /** the source node, wired to the config node `cfg` */
  source: Record<string, unknown>;
  /** credentials that would work if the URL did */
  credentials: Record<string, string>;
  /** the same with the secret left out, and the reason it gives */
  missing: { credentials: Record<string, string>; reason: string };
  /** the name the URL messages give the server */
  what: string;
  example: string;
  connection(): { state: ConnectionState };
}

const node = (id: string) => helper.getNode(id) as unknown as Record<string, unknown>;

const SOURCES: Source[] = [
  {
    name: 'privmx-bridge / privmx in',
    module: privmxNodes,
    protocol: 'privmx',
    config: (url) => ({ id: 'cfg', type: 'privmx-bridge', url, solutionId: '' }),
    source: { type: 'privmx in', bridge: 'cfg', channels: ['thread'], types: [] },
    credentials: { apiKeyId: 'key-id', apiKeySecret: 'Br1dge-S3cret' },
    missing: { credentials: { apiKeyId: 'key-id' }, reason: 'API key id and secret are not set' },
    what: 'Bridge',
    example: 'http://localhost:9111',
    connection: () => node('cfg').connection as { state: ConnectionState },
  },
  {
    name: 'sms-gateway / sms-gateway in',
    module: gatewayNodes,
    protocol: 'sms-gateway',
    config: (url) => ({ id: 'cfg', type: 'sms-gateway', url, from: '+15559876543', wsAuth: 'token' }),
    source: { type: 'sms-gateway in', gateway: 'cfg', events: [] },
    credentials: { apiKey: 'sgw_G4tew4yK3y' },
    missing: { credentials: {}, reason: 'no API key configured' },
    what: 'gateway',
    example: 'https://smsgateway-api.onrender.com',
    connection: () => node('cfg').connection as { state: ConnectionState },
  },
  {
    name: 'esms-africa / esms in',
    module: esmsNodes,
    protocol: 'esms',
    config: (url) => ({ id: 'cfg', type: 'esms-africa', url }),
    source: { type: 'esms in', esms: 'cfg', events: [] },
    credentials: { accessToken: 'eyJhbGciOiJub25lIn0.e30.' },
    missing: {
      credentials: {},
      reason: 'no access token configured — paste the esms_access_token cookie value',
    },
    what: 'eSMS',
    example: 'https://sms.esmsafrica.io',
    connection: () => node('cfg').connection as { state: ConnectionState },
  },
  {
    name: 'kandy-cpaas / cpaas in',
    module: cpaasNodes,
    protocol: 'cpaas',
    config: (url) => ({
      id: 'cfg',
      type: 'kandy-cpaas',
      url,
      clientId: 'client-1',
      auth: 'project',
      from: '+16135550100',
    }),
    source: { type: 'cpaas in', cpaas: 'cfg', destination: '+16135550101', events: [] },
    credentials: { clientSecret: 'Pr0j-S3cret' },
    missing: { credentials: {}, reason: 'CPaaS: the project secret is missing' },
    what: 'CPaaS',
    example: 'https://oauth-cpaas.att.com',
    connection: () =>
      (node('cfg').account as { connection: { state: ConnectionState } }).connection as {
        state: ConnectionState;
      },
  },
];

describe('sources: a configuration error is red "fix the configuration and deploy", never a retry loop', function () {
  /** a loopback port that counts every TCP connection made to it: a config error must make none */
  let tripwire: net.Server;
  let attempts: number;
  let port: number;
  let clock: CountingClock;

  beforeEach(async () => {
    attempts = 0;
    tripwire = net.createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => tripwire.listen(0, '127.0.0.1', resolve));
    port = (tripwire.address() as net.AddressInfo).port;
    clock = new CountingClock();
  });

  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((resolve) => tripwire.close(() => resolve()));
    resetTuning();
    resetAuthGuards();
  });

  for (const source of SOURCES) {
    const cases = [
      {
        what: 'a URL without a scheme',
        url: () => `localhost:${port}`,
        credentials: source.credentials,
        reason: `invalid ${source.what} URL: no scheme, add http:// or https:// (e.g. ${source.example})`,
      },
      {
        what: 'an unsupported scheme',
        url: () => `ftp://127.0.0.1:${port}`,
        credentials: source.credentials,
        reason: `invalid ${source.what} URL: unsupported scheme ftp:, use http:// or https:// (e.g. ${source.example})`,
      },
      {
        what: 'a missing secret',
        url: () => `http://127.0.0.1:${port}`,
        credentials: source.missing.credentials,
        reason: source.missing.reason,
      },
    ];
    for (const c of cases) {
      it(`${source.name}: ${c.what}`, async () => {
        tuning[source.protocol] = { clock };
        const sockets = activeResources().TCPSocketWrap ?? 0;
        const flow = [
          { id: 't1', type: 'tab', label: 'config errors' },
          source.config(c.url()),
          { id: 'src', z: 't1', wires: [[]], ...source.source },
        ];
        await helper.load(withParams(source.module), flow, { cfg: c.credentials });
        const connection = source.connection();
        await waitFor(() => connection.state.phase === 'error', 3000, 'red');
        const state = connection.state;
        assert.strictEqual(state.reason, c.reason);
        assert.strictEqual(state.config, true);
        assert.strictEqual(state.retryAt, undefined, 'no countdown');
        assert.deepStrictEqual(lastStatus('src'), fixConfig(c.reason));
        assert.strictEqual(clock.pending.size, 0, 'no timer of ours is running');
        assert.strictEqual(attempts, 0, 'no connection attempt');
        for (const secret of Object.values(source.credentials))
          assert.ok(!JSON.stringify(lastStatus('src')).includes(secret), 'no secret in the status');

        await helper.unload();
        assert.strictEqual(connection.state.phase, 'closed');
        assert.strictEqual(clock.pending.size, 0);
        assert.strictEqual(activeResources().TCPSocketWrap ?? 0, sockets, 'no socket left');
        assert.strictEqual(attempts, 0);
      });
    }
  }

  it('the status is translated: en-US and pl both have it, with the reason', () => {
    for (const lang of ['en-US', 'pl']) {
      const file = path.join(__dirname, '..', 'nodes', 'locales', lang, 'common.json');
      const text = JSON.parse(fs.readFileSync(file, 'utf8')).status.fixConfig as string;
      assert.match(text, /__reason__/, lang);
    }
  });
});
