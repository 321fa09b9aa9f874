import assert from 'node:assert/strict';
import eventFilterNode from '../nodes/event-filter';
import smsapiNode from '../nodes/smsapi';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { FakeSmsapi } from './fakes/smsapi';
import { delay, helper, waitFor } from './helpers';

const THREAD = '66f76cdc06848d6a6494f783';
const CONTEXT = '6757b81daafe67cb6e19180e';

/** The envelope `privmx in` emits for a new thread message (README, "Events"). */
function threadMessage(
  threadId = THREAD,
  author = 'janek',
  id = '66715bd6ef3efd9ecfe7a1cd',
): Record<string, unknown> {
  const data = {
    id,
    contextId: CONTEXT,
    threadId,
    createDate: 1718705110454,
    author,
    keyId: 'my-key',
    publicMeta: null,
  };
  return {
    topic: 'privmx/thread/threadNewMessage',
    payload: { channel: 'thread', type: 'threadNewMessage', data, timestamp: 1795344357527 },
    event: {
      source: 'privmx',
      channel: 'thread',
      type: 'threadNewMessage',
      id,
      containerId: threadId,
      contextId: CONTEXT,
      author,
      timestamp: 1795344357527,
    },
  };
}

interface Caught {
  error: { message: string; code?: string; source: { id: string } };
  sms?: Record<string, unknown>;
}

describe('smsapi out (event filter → smsapi out → fake SMSAPI)', function () {
  let fake: FakeSmsapi;
  let sent: Record<string, unknown>[];
  let caught: Caught[];

  beforeEach(async () => {
    fake = await FakeSmsapi.start({ token: 'tok-123' });
    tuning.sink = { retryBackoff: { initialDelayMs: 10, maxDelayMs: 40, factor: 2, jitter: 0.5 } };
  });
  afterEach(async () => {
    await helper.unload();
    await fake.close();
    resetTuning();
  });

  async function load(
    out: Record<string, unknown> = {},
    account: Record<string, unknown> = {},
    token = 'tok-123',
  ): Promise<void> {
    const flow = [
      { id: 't1', type: 'tab' },
      { id: 'acc', type: 'smsapi-account', url: fake.url, from: 'Alert', test: false, ...account },
      {
        id: 'f',
        type: 'event filter',
        z: 't1',
        rules: [
          { property: 'event.channel', op: 'eq', value: 'thread' },
          { property: 'event.type', op: 'eq', value: 'threadNewMessage' },
          { property: 'event.containerId', op: 'eq', value: THREAD },
        ],
        combine: 'all',
        outputs: 1,
        wires: [['s']],
      },
      {
        id: 's',
        type: 'smsapi out',
        z: 't1',
        account: 'acc',
        to: '500 000 000',
        defaultCountry: 'PL',
        message: 'New message in thread {{event.containerId}} by {{event.author}}',
        rateLimit: 0,
        dedupeWindow: 0,
        maxParts: 3,
        wires: [['out']],
        ...out,
      },
      { id: 'out', type: 'helper', z: 't1' },
      { id: 'c', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 't1' },
    ];
    await helper.load([eventFilterNode, smsapiNode], flow, { acc: { token } });
    sent = [];
    caught = [];
    helper.getNode('out').on('input', (msg: Record<string, unknown>) => sent.push(msg));
    helper.getNode('caught').on('input', (msg: Caught) => caught.push(msg));
  }

  const inject = (msg: Record<string, unknown>) => helper.getNode('f').receive(msg);
  const sms = (m: Record<string, unknown>) => m.sms as Record<string, unknown>;

  it('thread to SMS: one SMS with the rendered text to the E.164 number, msg.sms filled', async () => {
    await load();
    inject(threadMessage());
    await waitFor(() => sent.length === 1, 3000, 'msg.sms on the output');
    assert.equal(fake.smsRequests.length, 1);
    const req = fake.smsRequests[0];
    assert.equal(req.headers.authorization, 'Bearer tok-123');
    assert.match(String(req.headers['content-type']), /application\/json/);
    assert.equal(req.body?.to, '+48500000000');
    assert.equal(req.body?.message, `New message in thread ${THREAD} by janek`);
    assert.equal(req.body?.from, 'Alert');
    assert.equal(req.body?.format, 'json');
    assert.equal(req.body?.max_parts, 3);
    assert.equal(req.body?.check_idx, true);
    assert.equal(typeof req.body?.idx, 'string');
    assert.equal(req.body?.test, undefined);
    assert.equal(fake.accepted.length, 1);
    const s = sms(sent[0]);
    assert.equal(s.provider, 'smsapi');
    assert.equal(s.to, '+48500000000');
    assert.deepEqual(s.ids, [fake.accepted[0].id]);
    assert.equal(s.status, 'QUEUE');
    assert.equal(s.parts, 1);
    assert.equal(s.encoding, 'GSM-7');
    assert.equal(s.test, false);
    assert.equal(s.attempts, 1);
    assert.equal((s.details as { points: number }).points, 0.165);
    assert.equal((sent[0].event as { containerId: string }).containerId, THREAD);
    await delay(50);
    assert.equal(fake.smsRequests.length, 1, 'exactly one SMS');
    assert.equal(caught.length, 0);
  });

  it('events that do not match send nothing', async () => {
    await load();
    inject(threadMessage('66f76cdc06848d6a6494f784'));
    const other = threadMessage();
    (other.event as Record<string, unknown>).type = 'threadUpdatedMessage';
    inject(other);
    inject({ payload: 'no envelope' });
    // a matching marker: messages are handled in order, so an SMS for the others would come first
    inject(threadMessage(THREAD, 'marker'));
    await waitFor(() => sent.length === 1, 5000, 'the marker SMS');
    assert.equal(fake.requests.length, 1);
    assert.match(String(fake.smsRequests[0].body!.message), /marker/);
    assert.equal(sent.length, 1);
    assert.equal(caught.length, 0);
  });

  it('msg.to is used when the node has no recipients (string list and array)', async () => {
    await load({ to: '', defaultCountry: '' });
    inject({ ...threadMessage(), to: '+48500000001, +48 500 000 002' });
    await waitFor(() => sent.length === 2);
    inject({ ...threadMessage(), to: ['+48500000003'] });
    await waitFor(() => sent.length === 3);
    assert.deepEqual(
      fake.smsRequests.map((r) => r.body?.to),
      ['+48500000001', '+48500000002', '+48500000003'],
    );
    assert.deepEqual(
      sent.map((m) => sms(m).to),
      ['+48500000001', '+48500000002', '+48500000003'],
    );
  });

  it('an invalid number reaches a Catch node with SMS_INVALID_NUMBER naming it', async () => {
    await load({ to: '', defaultCountry: '' });
    inject({ ...threadMessage(), to: '12345' });
    await waitFor(() => caught.length === 1);
    assert.equal(caught[0].error.code, 'SMS_INVALID_NUMBER');
    assert.match(caught[0].error.message, /12345/);
    assert.equal(caught[0].error.source.id, 's');
    assert.equal(fake.requests.length, 0);
  });

  it('SMSAPI error 13 (no valid numbers) → SMS_INVALID_NUMBER with the server text', async () => {
    await load();
    fake.script({ kind: 'error', code: 13, invalidNumbers: ['48500000000'] });
    inject(threadMessage());
    await waitFor(() => caught.length === 1);
    assert.equal(caught[0].error.code, 'SMS_INVALID_NUMBER');
    assert.match(caught[0].error.message, /Lack of valid phone numbers/);
    assert.equal(fake.smsRequests.length, 1);
  });

  it('auth failure (MessageError 101, wrong token) reaches Catch as SMS_AUTH, no retry, no token in the text', async () => {
    await load({}, {}, 'wrong-token');
    inject(threadMessage());
    await waitFor(() => caught.length === 1);
    assert.equal(caught[0].error.code, 'SMS_AUTH');
    assert.match(caught[0].error.message, /101/);
    assert.doesNotMatch(JSON.stringify(caught[0]), /wrong-token/);
    await delay(80);
    assert.equal(fake.smsRequests.length, 1);
  });

  it('auth failure as HTTP 401 → SMS_AUTH', async () => {
    await load();
    fake.script({
      kind: 'http',
      status: 401,
      body: { message: 'Authorization failed', error: 'invalid_token' },
    });
    inject(threadMessage());
    await waitFor(() => caught.length === 1);
    assert.equal(caught[0].error.code, 'SMS_AUTH');
    assert.match(caught[0].error.message, /401/);
  });

  it('insufficient funds → SMS_INSUFFICIENT_FUNDS', async () => {
    await fake.close();
    fake = await FakeSmsapi.start({ token: 'tok-123', points: 0.1 });
    await load();
    inject(threadMessage());
    await waitFor(() => caught.length === 1);
    assert.equal(caught[0].error.code, 'SMS_INSUFFICIENT_FUNDS');
    assert.equal(fake.accepted.length, 0);
  });

  it('too-long text is refused before sending (SMS_TOO_LONG) and SMSAPI 12 maps to it too', async () => {
    await load({ message: '{{payload.long}}', maxParts: 1 });
    inject({ ...threadMessage(), payload: { long: 'x'.repeat(200) } });
    await waitFor(() => caught.length === 1);
    assert.equal(caught[0].error.code, 'SMS_TOO_LONG');
    assert.equal(fake.requests.length, 0);
    fake.script({ kind: 'error', code: 12 });
    inject({ ...threadMessage(), payload: { long: 'short' } });
    await waitFor(() => caught.length === 2);
    assert.equal(caught[1].error.code, 'SMS_TOO_LONG');
  });

  it('bad sender name → SMS_BAD_SENDER', async () => {
    await load({ from: 'A sender name far too long' });
    inject(threadMessage());
    await waitFor(() => caught.length === 1);
    assert.equal(caught[0].error.code, 'SMS_BAD_SENDER');
  });

  it('a 5xx then success retries and sends exactly once', async () => {
    await load();
    fake.failNext(2, { kind: 'http', status: 503 });
    inject(threadMessage());
    await waitFor(() => sent.length === 1);
    assert.equal(fake.smsRequests.length, 3);
    assert.equal(fake.accepted.length, 1);
    assert.equal(sms(sent[0]).attempts, 3);
    // the same idx on every attempt: SMSAPI would refuse a second copy
    const idx = new Set(fake.smsRequests.map((r) => r.body?.idx));
    assert.equal(idx.size, 1);
    assert.equal(caught.length, 0);
  });

  it('transient codes 202/201, 429 and malformed JSON are retried; the retries are bounded', async () => {
    await load({ retries: 2 });
    fake.script(
      { kind: 'error', code: 202 },
      { kind: 'http', status: 429, headers: { 'Retry-After': '0' } },
      { kind: 'malformed' },
    );
    inject(threadMessage());
    await waitFor(() => caught.length === 1, 3000);
    assert.equal(fake.smsRequests.length, 3);
    // the last answer was unreadable: SMSAPI may have taken the SMS, and no retry is left
    assert.equal(caught[0].error.code, 'SMS_UNCERTAIN');
    assert.match(caught[0].error.message, /may have been sent/);
    fake.script({ kind: 'error', code: 201 });
    inject(threadMessage(THREAD, 'ola'));
    await waitFor(() => sent.length === 1);
    assert.equal(sms(sent[0]).attempts, 2);
  });

  it('a lost answer (timeout after SMSAPI accepted) is retried with the same idx and never sends twice', async () => {
    // the timeout also bounds the retry, which is answered: long enough for a busy machine
    await load({ timeout: 1 });
    fake.script({ kind: 'hang', accept: true });
    inject(threadMessage());
    await waitFor(() => sent.length === 1, 4000);
    assert.equal(fake.smsRequests.length, 2);
    assert.equal(fake.accepted.length, 1, 'one SMS only');
    assert.equal(sms(sent[0]).status, 'ACCEPTED');
    assert.equal(sms(sent[0]).attempts, 2);
    assert.equal(caught.length, 0);
  });

  it('a burst of 200 matching events with 10/min sends 10 and reports 190 as SMS_RATE_LIMITED', async () => {
    await load({ rateLimit: 10 });
    const node = helper.getNode('s');
    const statuses: { text?: string }[] = [];
    node.on('call:status', (call: { args: [{ text?: string }] }) => statuses.push(call.args[0]));
    for (let i = 0; i < 200; i++) inject(threadMessage(THREAD, `user${i}`, `m${i}`));
    await waitFor(() => sent.length === 10 && caught.length === 190, 8000, '10 sent + 190 caught');
    assert.equal(fake.accepted.length, 10);
    assert.ok(caught.every((c) => c.error.code === 'SMS_RATE_LIMITED'));
    assert.ok(caught.every((c) => (c.sms as { status?: string })?.status === 'failed'));
    await delay(50);
    assert.equal(fake.smsRequests.length, 10);
    const last = String(statuses.at(-1)?.text);
    assert.match(last, /common\.status\.sent/);
    assert.match(last, /common\.sink\.limited/);
  });

  it('duplicates inside the window are suppressed (warned once, counted, nothing sent)', async () => {
    await load({ dedupeWindow: 60 });
    const node = helper.getNode('s');
    const warnings: unknown[] = [];
    node.on('call:warn', (call: { args: unknown[] }) => warnings.push(call.args[0]));
    inject(threadMessage());
    await waitFor(() => sent.length === 1);
    inject(threadMessage());
    inject(threadMessage());
    inject(threadMessage(THREAD, 'someone else'));
    await waitFor(() => sent.length === 2);
    assert.equal(fake.smsRequests.length, 2);
    assert.equal(caught.length, 0);
    // one warning for the window, not one per suppressed SMS
    assert.deepEqual(warnings, ['common.sink.duplicateWarn']);
  });

  it('test mode sets SMSAPI test on every request, msg.sms.test and the status', async () => {
    await load({}, { test: true });
    const node = helper.getNode('s');
    const statuses: { text?: string }[] = [];
    node.on('call:status', (call: { args: [{ text?: string }] }) => statuses.push(call.args[0]));
    inject(threadMessage());
    inject(threadMessage(THREAD, 'ola'));
    await waitFor(() => sent.length === 2);
    assert.equal(fake.smsRequests.length, 2);
    assert.ok(fake.smsRequests.every((r) => r.body?.test === true));
    assert.equal(fake.accepted.length, 0);
    assert.equal(fake.tested.length, 2);
    assert.ok(sent.every((m) => sms(m).test === true));
    assert.match(String(statuses.at(-1)?.text), /common\.status\.test/);
  });

  it('no account → red status and SMS_CONFIG on input', async () => {
    await load({ account: '' });
    inject(threadMessage());
    await waitFor(() => caught.length === 1);
    assert.equal(caught[0].error.code, 'SMS_CONFIG');
  });

  it('an account whose service URL is not http(s): every input fails with SMS_CONFIG, nothing is sent', async () => {
    await load({}, { url: 'ftp://127.0.0.1/' });
    inject(threadMessage());
    await waitFor(() => caught.length === 1);
    assert.equal(caught[0].error.code, 'SMS_CONFIG');
    assert.match(String(caught[0].error.message), /must be http\(s\)/);
    assert.equal(fake.requests.length, 0);
    assert.equal(sent.length, 0);
  });

  it('closing with a send that never answers waits for its timeout (never aborts it), then reports SMS_UNCERTAIN without a retry', async () => {
    // a timeout long enough that the shutdown surely starts while the request is in flight
    await load({ timeout: 2 });
    fake.script({ kind: 'hang' });
    const out = helper.getNode('s');
    const errors: string[] = [];
    const nodeError = out.error.bind(out);
    out.error = (e: Error & { code?: string }, m?: unknown) => {
      errors.push(String(e.code));
      nodeError(e, m);
    };
    inject(threadMessage());
    await waitFor(() => fake.smsRequests.length === 1);
    await helper.unload();
    assert.deepEqual(errors, ['SMS_UNCERTAIN'], 'the outcome is reported during the close');
    assert.equal(fake.smsRequests.length, 1, 'no retry after close');
    assert.equal(sent.length, 0);
  });
});

describe('smsapi-account test connection', function () {
  let fake: FakeSmsapi;
  beforeEach(async () => {
    fake = await FakeSmsapi.start({ token: 'tok-123', points: 12.5 });
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    await fake.close();
  });

  async function post(body: Record<string, unknown>) {
    const res = await helper.request().post('/sms-notify/test/smsapi-account').send(body).expect(200);
    return res.body as { ok: boolean; message?: string; error?: string; code?: string };
  }

  it('answers with the profile for a good token, SMS_AUTH for a bad one, and uses stored credentials', async () => {
    await helper.startServer();
    await helper.load(smsapiNode, [{ id: 'acc', type: 'smsapi-account', url: fake.url }], {
      acc: { token: 'tok-123' },
    });
    const ok = await post({ config: { url: fake.url }, credentials: { token: 'tok-123' } });
    assert.equal(ok.ok, true);
    assert.match(String(ok.message), /demo/);
    assert.match(String(ok.message), /12\.5 points/);
    const bad = await post({ config: { url: fake.url }, credentials: { token: 'nope' } });
    assert.equal(bad.ok, false);
    assert.equal(bad.code, 'SMS_AUTH');
    assert.doesNotMatch(JSON.stringify(bad), /nope/);
    const stored = await post({ id: 'acc', config: { url: fake.url }, credentials: { token: '__PWRD__' } });
    assert.equal(stored.ok, true);
    assert.ok(fake.requests.every((r) => r.path === '/profile' && r.method === 'GET'));
    assert.equal(fake.smsRequests.length, 0, 'the test sends no SMS');
  });
});
