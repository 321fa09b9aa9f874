/**
 * Secrets never leave the credentials: with a distinctive value in every credential, the suite runs
 * events, garbage, dropped links, provider failures, wrong credentials, unreachable servers and the
 * "Test connection" endpoints, then scans everything observable for each value (raw, URL-encoded,
 * base64): log lines, status texts, warn/error calls, every msg and Catch msg, the exported flow
 * JSON and the endpoints' answers. Tokens the fake servers issued are scanned too.
 */
import assert from 'assert';
import http from 'http';
import type { AddressInfo } from 'net';
import { resetTuning } from '../../nodes/lib/tuning';
import { makeJwt } from '../fakes/esms';
import {
  Deployment,
  ID_CASES,
  idFor,
  runRedirects,
  runTable,
  runUserinfo,
  TYPES,
  verdict,
} from '../secrets-table';
import { AllFakes, NODE_MODULES, type Secrets, SECRETS, SINKS, SOURCES } from './all-nodes';
import {
  closedPort,
  collect,
  countInputs,
  countLeaks,
  dump,
  exportedFlows,
  helper,
  logText,
  type Msg,
  nodeCallsText,
  note,
  record,
  redeploy,
  until,
} from './util';

const WRONG: Secrets = {
  bridgeKeyId: 'bridge-key-id-Wr0ngA',
  bridgeSecret: 'bridge-Wr0ng-Secr3t-Pd2',
  gatewayKey: 'sgw_bad0bad0bad0bad0bad0bad0bad0bad0',
  esmsApiKey: 'esms_live_WR0NGK3YXX71',
  smsapiToken: 'smsapi-Wr0ng-T0ken-Fv8',
  pbxKey: 'pbx-Wr0ng-K3y-Tt5',
  cpaasSecret: 'cpaas-Wr0ng-Secr3t-Hh3',
  cpaasEmail: 'mallory.wrong.user@example.com',
  cpaasPassword: 'cpaas-Wr0ng-Passw0rd-Qq9',
};

const TO = '+48500000101';

function variants(value: string): string[] {
  return [...new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')])];
}

describe('faults: secrets never leave the credentials', function () {
  const fakes = new AllFakes();
  let admin: http.Server;
  let adminUrl = '';
  const answers: unknown[] = [];
  const issued = new Set<string>();

  before(async () => {
    await fakes.start();
    fakes.tune();
    // the admin endpoints ("Test connection") on loopback only
    admin = http.createServer((req, res) =>
      (helper as unknown as { _httpAdmin: http.RequestListener })._httpAdmin(req, res),
    );
    await new Promise<void>((resolve) => admin.listen(0, '127.0.0.1', resolve));
    adminUrl = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;
  });

  after(async () => {
    await helper.unload().catch(() => undefined);
    await new Promise<void>((resolve) => admin.close(() => resolve()));
    await fakes.close();
    resetTuning();
  });

  /** tokens the fakes handed out so far (they are secrets too) */
  function gatherIssued(): void {
    const sessions = (
      fakes.bridge as unknown as { sessions: { accessToken: string; refreshToken: string }[] }
    ).sessions;
    for (const s of sessions) issued.add(s.accessToken).add(s.refreshToken);
    for (const t of fakes.cpaas.tokens.keys()) issued.add(t);
    for (const t of fakes.gateway.tokensIssued) issued.add(t);
  }

  const connected = () =>
    fakes.serversReady() &&
    ['pb', 'gw', 'es'].every((id) => helper.getNode(id).connection.state.phase === 'subscribed') &&
    helper.getNode('cp').account.connection.state.phase === 'subscribed';

  async function testEndpoints(secrets: Secrets, esmsToken: string): Promise<void> {
    const calls: [string, Record<string, unknown>, Record<string, string>][] = [
      [
        'privmx-bridge',
        { url: fakes.bridge.url },
        { apiKeyId: secrets.bridgeKeyId, apiKeySecret: secrets.bridgeSecret },
      ],
      ['sms-gateway', { url: fakes.gateway.url, wsAuth: 'token' }, { apiKey: secrets.gatewayKey }],
      ['esms-africa', { url: fakes.esms.url }, { accessToken: esmsToken, apiKey: secrets.esmsApiKey }],
      ['smsapi-account', { url: fakes.smsapi.url, test: false }, { token: secrets.smsapiToken }],
      [
        'pbxware-server',
        { url: fakes.pbx.url, tenant: fakes.pbx.tenant, api: 'action' },
        { apiKey: secrets.pbxKey },
      ],
      [
        'kandy-cpaas',
        { url: fakes.cpaas.url, clientId: fakes.cpaas.clientId, auth: 'user' },
        { email: secrets.cpaasEmail, password: secrets.cpaasPassword },
      ],
      [
        'kandy-cpaas',
        { url: fakes.cpaas.url, clientId: fakes.cpaas.clientId, auth: 'project' },
        { clientSecret: secrets.cpaasSecret },
      ],
    ];
    for (const [type, config, credentials] of calls) {
      const res = await fetch(`${adminUrl}/sms-notify/test/${type}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ config, credentials }),
      });
      answers.push({ type, status: res.status, body: await res.json() });
    }
  }

  it('no credential value appears in logs, statuses, errors, messages, the exported flow or endpoint answers', async function () {
    this.timeout(120_000);
    const observed: Msg[] = [];
    const watch = () => {
      for (const id of ['h-pin', 'h-gin', 'h-ein', 'h-cin', 'h-out', 'h-err']) {
        const msgs = collect(id);
        observed.push(msgs as unknown as Msg);
      }
    };
    const arrived = () => (observed as unknown as Msg[][]).flat();
    const sinkOutcomes = () =>
      (observed as unknown as Msg[][]).slice(4).reduce((n, list) => n + list.length, 0);

    // 1. good credentials: events, SMS, garbage, dropped links, provider failures
    await helper.load(NODE_MODULES, fakes.flow(), fakes.credentials());
    watch();
    await until(connected, 'every source subscribed');
    fakes.emitAll('s1');
    await until(() => SOURCES.every((id) => arrived().some((m) => m.event?.id === `s1-${id}`)), 'events');
    for (const id of SINKS) helper.getNode(id).receive({ payload: 'secret test', to: TO });
    await until(() => sinkOutcomes() === 4, 'four SMS');
    fakes.bridge.sendRaw('garbage {');
    fakes.gateway.pushRaw('garbage {');
    fakes.esms.pushRaw('garbage {');
    fakes.cpaas.pushRaw('garbage {');
    fakes.bridge.dropAll();
    fakes.gateway.dropSockets();
    fakes.esms.drop();
    fakes.cpaas.dropSockets();
    await until(connected, 'every source subscribed again');
    fakes.smsapi.failNext(2, { kind: 'http', status: 503 });
    fakes.gateway.failNext(500, 'Internal server error', 2);
    fakes.pbx.failNext.push(503, 503);
    fakes.cpaas.scriptSend({ status: 503 }, { status: 503 });
    for (const id of SINKS) helper.getNode(id).receive({ payload: 'secret test, failing', to: TO });
    await until(() => sinkOutcomes() === 8, 'four provider failures');
    gatherIssued();
    await testEndpoints(SECRETS, fakes.esmsToken);

    // 2. wrong credentials everywhere: auth failures in statuses, logs and errors
    const wrongToken = makeJwt(
      { sub: 'x', iat: 1, exp: Math.floor(Date.now() / 1000) + 3600 },
      'not-the-key',
    );
    const wrongCredentials = {
      ...fakes.credentials(WRONG),
      es: { accessToken: wrongToken, apiKey: WRONG.esmsApiKey },
    };
    await redeploy(fakes.flow(), wrongCredentials);
    watch();
    await until(
      () =>
        ['pb', 'gw', 'es'].every((id) => helper.getNode(id).connection.state.phase === 'error') &&
        helper.getNode('cp').account.connection.state.phase === 'error',
      'every source refused',
    );
    for (const id of SINKS) helper.getNode(id).receive({ payload: 'secret test, refused', to: TO });
    await until(() => sinkOutcomes() === 12, 'four refused SMS');
    await testEndpoints(WRONG, wrongToken);

    // 3. unreachable servers (the PBXware action API carries its key in the URL)
    const refused = await closedPort();
    const urls = {
      pb: refused,
      gw: refused,
      es: refused,
      sa: refused,
      px: refused,
      cp: refused,
      cpu: refused,
    };
    await redeploy(fakes.flow(urls), fakes.credentials());
    watch();
    for (const id of SINKS) helper.getNode(id).receive({ payload: 'secret test, unreachable', to: TO });
    await until(() => sinkOutcomes() === 16, 'four unreachable SMS');
    await until(
      () =>
        ['pb', 'gw', 'es'].every((id) => helper.getNode(id).connection.state.phase === 'backoff') &&
        helper.getNode('cp').account.connection.state.phase === 'backoff',
      'every source backing off',
    );
    gatherIssued();

    // scan
    const places: Record<string, string> = {
      'log lines': logText(),
      'status, warn, error, send calls': nodeCallsText(),
      'messages and Catch messages': dump(arrived()),
      'exported flow JSON': dump(exportedFlows()),
      '"Test connection" answers': dump(answers),
    };
    const values: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(SECRETS)) values[`${name} (right)`] = [value];
    for (const [name, value] of Object.entries(WRONG)) values[`${name} (wrong)`] = [value];
    values['esmsAccessToken (right / wrong JWT)'] = [fakes.esmsToken, wrongToken];
    values['tokens the servers issued'] = [...issued];
    assert.ok(issued.size >= 4, `issued tokens gathered: ${issued.size}`);
    const hits: string[] = [];
    let scans = 0;
    for (const [name, list] of Object.entries(values)) {
      let found = 0;
      let mine = 0;
      for (const value of list)
        for (const v of variants(value))
          for (const [place, text] of Object.entries(places)) {
            scans++;
            mine++;
            if (text.includes(v)) {
              found++;
              hits.push(`${name} in ${place}`);
            }
          }
      record('secrets', {
        value: name,
        'distinct values': list.length,
        'forms (raw, URL-encoded, base64) × places scanned': mine,
        hits: found,
      });
    }
    note(
      'secrets',
      'Scanned: ' +
        Object.entries(places)
          .map(([place, text]) => `${place} (${Math.round(text.length / 1024)} KB)`)
          .join(', ') +
        `; ${scans} scans, ${hits.length} hits.`,
    );
    countInputs(scans);
    countLeaks(hits.length);
    // the scan saw the real thing: the failures are there, with their reasons
    assert.ok(
      /invalid API key secret|Invalid API key|401|invalid_client/.test(
        places['status, warn, error, send calls'],
      ),
    );
    assert.strictEqual(arrived().filter((m) => m.error).length, 12, 'twelve Catch messages');
    assert.deepStrictEqual(hits, []);
  });
});

describe('faults: "Test connection" never sends a stored secret anywhere else', function () {
  const d = new Deployment();

  before(async () => {
    await d.start();
    await d.load();
  });

  after(async () => {
    await helper.unload().catch(() => undefined);
    await d.close();
  });

  it('endpoint × node id × URL × body shape: a stored secret goes only to its own deployed address', async function () {
    this.timeout(60_000);
    const table = await runTable(d);
    const redirects = await runRedirects(d);
    const userinfo = await runUserinfo(d);
    const cell = (type: string, id: string, url: string, body: string) =>
      verdict(table.find((o) => o.type === type && o.id === id && o.url === url && o.body === body)!);
    for (const type of TYPES)
      for (const id of ID_CASES) {
        const rows = table.filter((o) => o.type === type && o.id === id);
        const leaks = rows.reduce((n, o) => n + o.leaks.length, 0);
        record('testEndpoints', {
          endpoint: type,
          'node id': `${id} (\`${idFor(type, id)}\`)`,
          'deployed URL, JSON': cell(type, id, 'deployed', 'JSON'),
          'deployed URL, form': cell(type, id, 'deployed', 'form'),
          'other URL, JSON': cell(type, id, 'other', 'JSON'),
          'other URL, form': cell(type, id, 'other', 'form'),
          'stored secret leaked': leaks ? `YES (${leaks})` : 'no',
        });
      }
    const followed = redirects.filter((r) => r.followed).length;
    const echoed = userinfo.filter((u) => u.echoed).length;
    note(
      'testEndpoints',
      `Also: a typed secret posted to a server that answers \`307\` to another origin, for each endpoint: ` +
        `followed with the secret ${followed} of ${redirects.length} times; a URL with \`user:pass@\` ` +
        `(answering, redirecting, unreachable) for each endpoint: echoed in the answer ${echoed} of ` +
        `${userinfo.length} times.`,
    );
    const leaks = table.flatMap((o) =>
      o.leaks.map((l) => `${o.type} × ${o.id} × ${o.url} × ${o.body}: ${l}`),
    );
    countInputs(table.length + redirects.length + userinfo.length);
    countLeaks(leaks.length + followed + echoed);
    assert.deepStrictEqual(leaks, []);
    assert.strictEqual(followed, 0);
    assert.strictEqual(echoed, 0);
    const own = table.filter((o) => o.id === 'own' && o.url === 'deployed' && o.body === 'JSON');
    assert.ok(
      own.every((o) => o.answer.ok === true && o.delivered),
      'the own node tests fine at its deployed URL',
    );
  });
});
