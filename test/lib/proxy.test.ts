/**
 * nodes/lib/proxy.ts without Node-RED: which proxy a target gets (proxy node, noproxy, environment,
 * ws like http), that TLS is verified end to end through a CONNECT tunnel, and that nothing
 * process-wide changes. The TLS server uses a test-only self-signed certificate for `secure.invalid`
 * (test/fakes/tls/), a name only the fake proxy resolves.
 */
import assert from 'assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { ConnectionError } from '../../nodes/lib/connection';
import { bypassesProxy, Network, proxyChoice, proxySettingsOf } from '../../nodes/lib/proxy';
import { FakeForwardProxy } from '../fakes/forward-proxy';

const TLS_DIR = path.join(__dirname, '..', 'fakes', 'tls');
const CERT = fs.readFileSync(path.join(TLS_DIR, 'secure-invalid.cert.pem'));
const KEY = fs.readFileSync(path.join(TLS_DIR, 'secure-invalid.key.pem'));

const ENV_NAMES = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap((n) => [n, n.toLowerCase()]);

function withEnv(values: Record<string, string>, fn: () => void) {
  const saved = Object.fromEntries(ENV_NAMES.map((n) => [n, process.env[n]]));
  for (const n of ENV_NAMES) delete process.env[n];
  Object.assign(process.env, values);
  try {
    fn();
  } finally {
    for (const n of ENV_NAMES) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  }
}

const nodeChoice = (settings: Record<string, unknown> | undefined) =>
  proxyChoice('p1', (id) => (id === 'p1' && settings ? { type: 'http proxy', ...settings } : null));

describe('lib/proxy', () => {
  describe('choosing the proxy', () => {
    it('noproxy follows the NO_PROXY rules: exact, .suffix, *.suffix, host:port, *', () => {
      const url = (u: string) => new URL(u);
      assert.ok(bypassesProxy(url('http://api.example.com/x'), ['api.example.com']));
      assert.ok(!bypassesProxy(url('http://example.com/x'), ['api.example.com']));
      assert.ok(bypassesProxy(url('https://a.b.example.com'), ['.example.com']));
      assert.ok(bypassesProxy(url('https://a.example.com'), ['*.example.com']));
      assert.ok(bypassesProxy(url('https://h.lan:8443'), ['h.lan:8443']));
      assert.ok(!bypassesProxy(url('https://h.lan'), ['h.lan:8443']), 'the port must match');
      assert.ok(bypassesProxy(url('http://anything'), ['*']));
      assert.ok(bypassesProxy(url('http://Host.LAN'), ['other, host.lan']), 'case and comma lists');
      assert.ok(!bypassesProxy(url('http://host.lan'), []));
    });

    it('a proxy node: its URL and credentials (never shown), its noproxy list; ws like http', () => {
      const net = new Network(
        nodeChoice({
          url: 'http://proxy.lan:3128',
          noproxy: ['.internal'],
          credentials: { username: 'u', password: 's3cret' },
        }),
      );
      const route = net.routeFor('wss://api.example.com/ws')!;
      assert.strictEqual(route.uri, 'http://proxy.lan:3128');
      assert.strictEqual(route.authorization, `Basic ${Buffer.from('u:s3cret').toString('base64')}`);
      assert.ok(!route.display.includes('s3cret'));
      assert.strictEqual(net.routeFor('ws://bridge.internal/api'), undefined);
      assert.strictEqual(net.describe('https://api.example.com'), ' (through proxy http://proxy.lan:3128)');
    });

    it('user:pass@ in the proxy URL works and stays out of the display', () => {
      const net = new Network(nodeChoice({ url: 'http://me:p%40ss@proxy.lan:3128' }));
      const route = net.routeFor('https://x.example')!;
      assert.strictEqual(route.uri, 'http://proxy.lan:3128');
      assert.strictEqual(route.authorization, `Basic ${Buffer.from('me:p@ss').toString('base64')}`);
      assert.ok(!net.describe('https://x.example').includes('p%40ss'));
    });

    it('a proxy node that is not deployed is a configuration error, not a silent direct connection', () => {
      const net = new Network(nodeChoice(undefined));
      assert.throws(
        () => net.routeFor('https://x.example'),
        (err: unknown) => err instanceof ConnectionError && err.config && /not deployed/.test(err.message),
      );
      assert.strictEqual(proxySettingsOf({ type: 'mqtt-broker', url: 'http://x' }), undefined);
      assert.deepStrictEqual(
        proxyChoice('_ADD_', () => null),
        { kind: 'env' },
      );
      assert.deepStrictEqual(
        proxyChoice('', () => null),
        { kind: 'env' },
      );
    });

    it('without a proxy node: HTTP_PROXY for http and ws, HTTPS_PROXY for https and wss, NO_PROXY', () => {
      withEnv(
        {
          HTTP_PROXY: 'http://plain.proxy:8080',
          https_proxy: 'http://tls.proxy:8443',
          NO_PROXY: 'localhost,.corp',
        },
        () => {
          const net = new Network();
          assert.strictEqual(net.routeFor('http://a.example')?.uri, 'http://plain.proxy:8080');
          assert.strictEqual(net.routeFor('ws://a.example')?.uri, 'http://plain.proxy:8080');
          assert.strictEqual(net.routeFor('https://a.example')?.uri, 'http://tls.proxy:8443');
          assert.strictEqual(net.routeFor('wss://a.example')?.uri, 'http://tls.proxy:8443');
          assert.strictEqual(net.routeFor('wss://bridge.corp'), undefined);
          assert.strictEqual(net.routeFor('http://localhost:9111'), undefined);
        },
      );
      withEnv({}, () => assert.strictEqual(new Network().routeFor('https://a.example'), undefined));
    });
  });

  describe('through a real proxy', () => {
    let proxy: FakeForwardProxy;
    let server: https.Server;
    let wss: WebSocketServer;
    let target: string;

    before(async () => {
      proxy = await FakeForwardProxy.start({ username: 'u', password: 'pw', hosts: ['secure.invalid'] });
      server = https.createServer({ cert: CERT, key: KEY }, (_req, res) => res.end('{"ok":true}'));
      wss = new WebSocketServer({ server });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      target = `secure.invalid:${(server.address() as AddressInfo).port}`;
    });

    after(async () => {
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await proxy.close();
    });

    const network = (password = 'pw') =>
      new Network(nodeChoice({ url: proxy.url, credentials: { username: 'u', password } }));

    it('https through the tunnel verifies the server certificate (a self-signed one is refused)', async () => {
      const net = network();
      try {
        await assert.rejects(net.fetch(`https://${target}/`), (err: Error & { cause?: { code?: string } }) =>
          /CERT|certificate/i.test(`${err.cause?.code} ${err.cause}`),
        );
        assert.strictEqual(proxy.count(target), 1, 'it went through the proxy');
      } finally {
        await net.close();
      }
    });

    it('wss through the tunnel: verified against the CA and the host name, refused without the CA', async () => {
      const net = network();
      const open = (ca?: Buffer, servername?: string) =>
        new Promise<void>((resolve, reject) => {
          const url = `wss://${target}/`;
          const ws = new WebSocket(url, {
            agent: net.wsAgent(url),
            ...(ca ? { ca } : {}),
            ...(servername ? { servername } : {}),
          });
          ws.once('open', () => {
            ws.close();
            resolve();
          });
          ws.once('error', reject);
        });
      const before = proxy.count(target);
      await open(CERT);
      await assert.rejects(open(), /self-signed|certificate/i);
      await assert.rejects(open(CERT, 'other.invalid'), /altnames|does not match/i);
      assert.strictEqual(proxy.count(target) - before, 3, 'every attempt went through the proxy');
    });

    it('a 407 is a permanent PROXY_AUTH error on both paths', async () => {
      const net = network('wrong');
      try {
        await assert.rejects(
          net.fetch(`https://${target}/`),
          (err: unknown) => err instanceof ConnectionError && err.code === 'PROXY_AUTH' && err.permanent,
        );
        const url = `wss://${target}/`;
        const wsError = await new Promise<Error>((resolve) => {
          const ws = new WebSocket(url, { agent: net.wsAgent(url), ca: CERT });
          ws.once('error', resolve);
        });
        assert.ok(wsError instanceof ConnectionError && wsError.code === 'PROXY_AUTH');
        assert.ok(!`${wsError.message}`.includes('wrong'));
      } finally {
        await net.close();
      }
    });

    it('changes nothing process-wide: no global dispatcher, no default agent', async () => {
      const key = Symbol.for('undici.globalDispatcher.1');
      const before = (globalThis as Record<symbol, unknown>)[key];
      const agentBefore = https.globalAgent;
      const net = network();
      await net.fetch(`https://${target}/`).catch(() => undefined);
      await net.close();
      assert.strictEqual((globalThis as Record<symbol, unknown>)[key], before);
      assert.strictEqual(https.globalAgent, agentBefore);
    });

    it('loads undici only for a request through a proxy, and loading it leaves Node fetch its own dispatcher', () => {
      // a fresh process: here undici may already be loaded by other tests
      const script = `
        const key = Symbol.for('undici.globalDispatcher.1');
        const { Network } = require(${JSON.stringify(path.join(__dirname, '../../nodes/lib/proxy'))});
        const loaded = () => Object.keys(require.cache).some((f) => /[\\/]node_modules[\\/]undici[\\/]/.test(f));
        const out = { atLoad: loaded(), direct: null, proxied: null, foreign: null };
        const net = new Network({ kind: 'env' });
        (async () => {
          await net.fetch('http://127.0.0.1:9/').catch(() => undefined);
          out.direct = loaded();
          process.env.HTTP_PROXY = 'http://127.0.0.1:9';
          await net.fetch('http://127.0.0.1:9/').catch(() => undefined);
          out.proxied = loaded();
          out.foreign = globalThis[key] instanceof require('undici').Agent;
          await net.close();
          process.stdout.write(JSON.stringify(out));
        })();`;
      const env = { ...process.env };
      for (const n of ENV_NAMES) delete env[n];
      const res = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
        env,
        encoding: 'utf8',
      });
      assert.strictEqual(res.status, 0, res.stderr);
      assert.deepStrictEqual(JSON.parse(res.stdout), {
        atLoad: false,
        direct: false,
        proxied: true,
        foreign: false,
      });
    });
  });
});
