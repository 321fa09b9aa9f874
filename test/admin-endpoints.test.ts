/**
 * "Test connection" endpoints through Node-RED: a stored secret is used only for the deployed node of
 * the endpoint's own type at the address it was deployed with; anything else needs the secret typed
 * in the request and sends nothing. Checked against recording servers on loopback (test/secrets-table.ts).
 */
import assert from 'node:assert/strict';
import {
  carries,
  Deployment,
  editorCredentials,
  runRedirects,
  runUserinfo,
  typedSecrets,
  type Outcome,
  OWN_ID,
  postTest,
  runTable,
  TYPES,
} from './secrets-table';
import { helper } from './helpers';

describe('Test connection endpoints: stored secrets stay with their deployed node', function () {
  this.timeout(30_000);
  const d = new Deployment();
  let table: Outcome[] = [];

  before(async () => {
    await d.start();
    await d.load();
    table = await runTable(d);
  });

  after(async () => {
    await helper.unload();
    await d.close();
  });

  it('the table covers 7 endpoints × 4 node ids × 2 URLs × 2 body shapes', () => {
    assert.equal(table.length, 112);
    assert.deepEqual([...new Set(table.map((o) => o.type))], [...TYPES]);
    // the ids are what they claim: stored credentials, deployed or not
    const red = helper as unknown as { _redNodes: { getCredentials(id: string): unknown } };
    for (const id of ['mq', ...TYPES.map((t) => `off-${OWN_ID[t]}`)])
      assert.deepEqual(red._redNodes.getCredentials(id), d.credentials()[id], `${id} has stored credentials`);
    for (const type of TYPES) {
      assert.equal(helper.getNode(`off-${OWN_ID[type]}`), null, `off-${OWN_ID[type]} is not deployed`);
      assert.equal(helper.getNode(OWN_ID[type])?.type, type);
    }
    assert.equal(helper.getNode('mq')?.type, 'mqtt-broker');
  });

  it('no stored secret reaches any server, except the own node’s at its deployed URL', () => {
    const leaks = table.flatMap((o) =>
      o.leaks.map((l) => `${o.type} × ${o.id} × ${o.url} URL × ${o.body}: ${l}`),
    );
    assert.deepEqual(leaks, []);
  });

  it('own id + deployed URL + JSON: the deployed server receives the stored secret and the test succeeds', () => {
    for (const o of table.filter((t) => t.id === 'own' && t.url === 'deployed' && t.body === 'JSON')) {
      assert.equal(o.status, 200, o.type);
      assert.equal(o.answer.ok, true, `${o.type}: ${JSON.stringify(o.answer)}`);
      assert.ok(o.delivered, `${o.type}: the stored secret reached the deployed server`);
    }
  });

  it('every other JSON case answers CREDENTIALS_REQUIRED, translated, and sends nothing at all', () => {
    const others = table.filter((t) => t.body === 'JSON' && !(t.id === 'own' && t.url === 'deployed'));
    assert.equal(others.length, 49);
    for (const o of others) {
      const where = `${o.type} × ${o.id} × ${o.url}`;
      assert.equal(o.status, 200, where);
      assert.deepEqual([o.answer.ok, o.answer.code], [false, 'CREDENTIALS_REQUIRED'], where);
      assert.equal(o.answer.error, 'common.test.credentialsRequired', where);
      assert.equal(o.recorded, 0, `${where}: nothing sent`);
    }
  });

  it('form-encoded bodies get 415 and send nothing, whatever the id and URL', () => {
    const forms = table.filter((t) => t.body === 'form');
    assert.equal(forms.length, 56);
    for (const o of forms) {
      assert.equal(o.status, 415, `${o.type} × ${o.id} × ${o.url}`);
      assert.equal(o.answer.code, 'BAD_REQUEST');
      assert.equal(o.recorded, 0);
    }
  });

  it('a new dialog with no secret typed is asked for one, and nothing is sent', async () => {
    for (const type of TYPES) {
      const from = d.recording.log.length;
      const empty = Object.fromEntries(Object.keys(typedSecrets(d, type)).map((k) => [k, '']));
      const { answer } = await postTest(type, {
        config: d.config(type, d.otherUrl(type)),
        credentials: empty,
      });
      assert.deepEqual(
        [answer.ok, answer.code, answer.error],
        [false, 'CREDENTIALS_REQUIRED', 'common.test.credentialsMissing'],
        type,
      );
      assert.equal(d.recording.log.length, from, `${type}: nothing sent`);
    }
  });

  it('a typed secret can be tested against another address (own id, recorder URL)', async () => {
    for (const type of TYPES) {
      const typed = typedSecrets(d, type);
      const from = d.recording.log.length;
      await postTest(type, {
        id: OWN_ID[type],
        config: d.config(type, d.otherUrl(type)),
        credentials: typed,
      });
      const seen = d.recording.log.slice(from).filter((r) => r.where === 'recorder');
      assert.ok(
        seen.some((r) => carries(r.what, Object.values(typed))),
        `${type}: the typed secret reached the other address`,
      );
      assert.deepEqual(d.leaksSince(from), [], `${type}: no stored secret went with it`);
    }
  });

  it('a redirect to another origin is never followed with the secret', async () => {
    for (const o of await runRedirects(d)) {
      assert.equal(o.answer.ok, false, `${o.type}: ${JSON.stringify(o.answer)}`);
      assert.equal(o.followed, false, `${o.type}: the secret followed the redirect`);
      // every request that carries a secret refuses the redirect with a clear reason
      assert.match(
        String(o.answer.error),
        o.type === 'smsapi-account' ? /SMSAPI answered with a redirect/ : /redirects .*HTTP 307/,
        `${o.type}: ${JSON.stringify(o.answer)}`,
      );
    }
  });

  it("a URL's user:pass@ never appears in a test answer", async () => {
    const outcomes = await runUserinfo(d);
    assert.equal(outcomes.length, 21);
    for (const o of outcomes)
      assert.equal(o.echoed, false, `${o.type} ${o.url}: ${JSON.stringify(o.answer)}`);
  });

  it('hostile bodies get a clear 400/415 and never crash the runtime', async () => {
    const type = 'sms-gateway';
    const raw = async (contentType: string, body: string) => {
      const res = await helper
        .request()
        .post(`/sms-notify/test/${type}`)
        .set('content-type', contentType)
        .send(body);
      return { status: res.status, body: res.body as { code?: string; error?: string } };
    };
    const from = d.recording.log.length;
    const cases: [string, string, number][] = [
      ['text/plain', '{"id":"gw"}', 415],
      ['application/json', '[1,2]', 400],
      ['application/json', JSON.stringify({ id: 'gw', config: 'https://x' }), 400],
      ['application/json', JSON.stringify({ id: 'gw', config: [d.recorderUrl] }), 400],
      ['application/json', JSON.stringify({ id: 'gw', config: { url: { nested: true } } }), 400],
      ['application/json', JSON.stringify({ id: 'gw', config: { url: 'x'.repeat(100_000) } }), 400],
      ['application/json', '{"id":"gw","config":{"__proto__":{"url":"http://127.0.0.1:1"}}}', 400],
      ['application/json', '{"__proto__":{"id":"gw"},"config":{}}', 400],
      ['application/json', JSON.stringify({ id: { $ne: 1 }, config: {} }), 400],
      ['application/json', JSON.stringify({ id: 'gw', credentials: { apiKey: ['__PWRD__'] } }), 400],
    ];
    for (const [contentType, body, status] of cases) {
      const res = await raw(contentType, body);
      assert.equal(res.status, status, `${contentType} ${body.slice(0, 80)}`);
      assert.equal(res.body.code, 'BAD_REQUEST');
      assert.match(String(res.body.error), /^common\.test\.(badRequest|jsonOnly)$/);
    }
    assert.equal(d.recording.log.length, from, 'nothing sent');
    assert.equal(({} as Record<string, unknown>).url, undefined, 'no prototype pollution');
    // still serving: the own node at its deployed URL
    const ok = await postTest(type, {
      id: 'gw',
      config: d.config(type, d.deployedUrl[type]),
      credentials: editorCredentials(d, type),
    });
    assert.equal(ok.answer.ok, true, JSON.stringify(ok.answer));
  });
});
