/**
 * nodes/lib/lean-fetch.ts: the package's own requests without a proxy go through undici's `request`
 * on the network's connection pool instead of fetch. Callers must not see a difference: the same
 * request on the wire, the same answer, the same errors; what is not simple goes to fetch itself.
 */
import assert from 'assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sinon from 'sinon';
import { isLean } from '../../nodes/lib/lean-fetch';
import { Network } from '../../nodes/lib/proxy';

interface Seen {
  method?: string;
  url?: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('lib/lean-fetch', () => {
  let server: http.Server;
  let base: string;
  const seen: Seen[] = [];
  // a proxy node whose noproxy covers the test server: direct, whatever the environment says
  const net = new Network({
    kind: 'node',
    id: 'proxy',
    lookup: () => ({ url: 'http://127.0.0.1:1', noproxy: ['127.0.0.1'] }),
  });

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        if (req.url === '/moved') return res.writeHead(307, { location: '/elsewhere' }).end('moved');
        if (req.url === '/empty') return res.writeHead(204).end();
        if (req.url === '/slow') return; // never answers
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, got: body }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await net.close();
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => (seen.length = 0));

  it('takes only simple requests: a string, bytes or form body, redirects not followed', () => {
    assert.ok(isLean('http://x/', { redirect: 'manual' }));
    assert.ok(isLean(new URL('http://x/'), { redirect: 'error', body: 'x' }));
    assert.ok(isLean('http://x/', { redirect: 'manual', body: new URLSearchParams({ a: '1' }) }));
    assert.ok(isLean('http://x/', { redirect: 'manual', body: Buffer.from('x') }));
    assert.ok(!isLean('http://x/', undefined), 'fetch follows redirects by default');
    assert.ok(!isLean('http://x/', { redirect: 'follow' }));
    assert.ok(!isLean('http://x/', { redirect: 'manual', body: new FormData() }));
    assert.ok(!isLean(new Request('http://x/'), { redirect: 'manual' }));
  });

  it('sends what fetch sends and answers as fetch does (without calling fetch)', async () => {
    const global = sinon.spy(globalThis, 'fetch');
    const res = await net.fetch(`${base}/sms?x=1`, {
      method: 'post',
      redirect: 'manual',
      headers: new Headers({ Authorization: 'Bearer t', 'Content-Type': 'application/json' }),
      body: JSON.stringify({ to: '+48500100200' }),
    });
    assert.strictEqual(res.status, 200);
    assert.strictEqual(res.ok, true);
    assert.strictEqual(res.statusText, 'OK');
    assert.strictEqual(res.headers.get('content-type'), 'application/json');
    assert.strictEqual(res.headers.get('set-cookie'), 'a=1, b=2');
    assert.deepStrictEqual(await res.json(), { ok: true, got: '{"to":"+48500100200"}' });
    const [req] = seen;
    assert.strictEqual(req.method, 'POST');
    assert.strictEqual(req.url, '/sms?x=1');
    assert.strictEqual(req.headers.authorization, 'Bearer t');
    assert.strictEqual(req.headers['content-type'], 'application/json');
    assert.strictEqual(req.headers['content-length'], '21');
    assert.strictEqual(global.callCount, 0, 'the lean way');
    // not simple (fetch would follow the redirect): fetch itself
    await net.fetch(`${base}/plain`);
    global.restore();
    assert.strictEqual(global.callCount, 1);
  });

  it('a form body gets its content type; an error status is an answer, not a failure', async () => {
    const res = await net.fetch(`${base}/missing`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ a: '1', b: 'ż' }),
    });
    assert.strictEqual(res.status, 404);
    assert.strictEqual(res.ok, false);
    assert.strictEqual(res.statusText, 'Not Found');
    assert.strictEqual(seen[0].headers['content-type'], 'application/x-www-form-urlencoded;charset=UTF-8');
    assert.strictEqual(seen[0].body, 'a=1&b=%C5%BC');
    const empty = await net.fetch(`${base}/empty`, { redirect: 'manual' });
    assert.strictEqual(empty.status, 204);
    assert.strictEqual(await empty.text(), '');
  });

  it("a redirect: returned as it is ('manual'), refused as fetch refuses it ('error'); never followed", async () => {
    const manual = await net.fetch(`${base}/moved`, { redirect: 'manual' });
    assert.strictEqual(manual.status, 307);
    assert.strictEqual(manual.headers.get('location'), '/elsewhere');
    await assert.rejects(
      net.fetch(`${base}/moved`, { redirect: 'error' }),
      (e: Error & { cause?: Error }) =>
        e instanceof TypeError && e.message === 'fetch failed' && /redirect/.test(String(e.cause?.message)),
    );
    assert.deepStrictEqual(
      seen.map((s) => s.url),
      ['/moved', '/moved'],
    );
  });

  it("errors are fetch's: 'fetch failed' with the network error as its cause; the signal's reason on abort", async () => {
    await assert.rejects(
      net.fetch('http://127.0.0.1:9/', { redirect: 'manual' }),
      (e: Error & { cause?: { code?: string } }) =>
        e instanceof TypeError && e.message === 'fetch failed' && e.cause?.code === 'ECONNREFUSED',
    );
    const controller = new AbortController();
    const reason = new Error('closing');
    const pending = net.fetch(`${base}/slow`, { redirect: 'manual', signal: controller.signal });
    await waitUntil(() => seen.some((s) => s.url === '/slow'));
    controller.abort(reason);
    await assert.rejects(pending, (e: unknown) => e === reason);
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}
