import assert from 'node:assert/strict';
import cpaasNodes from '../nodes/cpaas';
import pbxwareNodes from '../nodes/pbxware';
import gatewayNodes from '../nodes/sms-gateway';
import smsapiNode from '../nodes/smsapi';
import { resetTuning, tuning } from '../nodes/lib/tuning';
import { FakeCpaas } from './fakes/cpaas';
import { startFakePbxware, type FakePbxware } from './fakes/pbxware';
import { FakeSmsGateway } from './fakes/sms-gateway';
import { FakeSmsapi } from './fakes/smsapi';
import { collect, delay, helper, waitFor } from './helpers';

/**
 * Per-message provider options, through Node-RED against each provider's fake: node properties,
 * msg.sms.options over them, and SMS_BAD_OPTION (nothing sent) for anything off the whitelist.
 */
type Msg = Record<string, unknown>;
interface Caught {
  error: { message: string; code?: string };
}

const TAB = { id: 't1', type: 'tab', label: 'options' };
const CATCH = [
  { id: 'c', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['hc']] },
  { id: 'hc', type: 'helper', z: 't1' },
];
const HOUR = 3_600_000;

// one describe around them all: hooks at the root would run around every test of the whole suite
describe('sink options (through Node-RED)', function () {
  beforeEach(() => {
    tuning.sink = { retryBackoff: { initialDelayMs: 5, maxDelayMs: 20, factor: 2, jitter: 0 } };
  });
  afterEach(async () => {
    await helper.unload();
    resetTuning();
  });

  describe('sink options: smsapi out', function () {
    let fake: FakeSmsapi;
    let sent: Msg[];
    let caught: Caught[];
    beforeEach(async () => {
      fake = await FakeSmsapi.start({ token: 'tok-opt' });
    });
    afterEach(() => fake.close());

    async function load(out: Record<string, unknown> = {}): Promise<void> {
      await helper.load(
        smsapiNode,
        [
          TAB,
          { id: 'acc', type: 'smsapi-account', url: fake.url, from: 'Alert' },
          {
            id: 's',
            type: 'smsapi out',
            z: 't1',
            account: 'acc',
            to: '+48500000000',
            message: '',
            rateLimit: 0,
            dedupeWindow: 0,
            wires: [['out']],
            ...out,
          },
          { id: 'out', type: 'helper', z: 't1' },
          ...CATCH,
        ],
        { acc: { token: 'tok-opt' } },
      );
      sent = collect('out');
      caught = collect('hc') as unknown as Caught[];
    }

    it('node properties reach SMSAPI: fast, flash, expiration, encoding, nounicode', async () => {
      await load({ fast: true, flash: 'true', expiration: '30', encoding: 'utf-8', noUnicode: true });
      helper.getNode('s').receive({ payload: 'plain text' });
      await waitFor(() => sent.length === 1, 5000, 'sent');
      const body = fake.smsRequests[0].body!;
      assert.equal(body.fast, true);
      assert.equal(body.flash, true);
      assert.equal(body.encoding, 'utf-8');
      assert.equal(body.nounicode, true);
      assert.equal(typeof body.expiration_date, 'string');
      assert.equal(body.date, undefined, 'no schedule unless a message asks');
      assert.equal(caught.length, 0);
    });

    it('msg.sms.options overrides the node per message: a scheduled date with its expiration', async () => {
      await load({ fast: true, expiration: 30 });
      const at = new Date(Date.now() + 2 * HOUR);
      helper.getNode('s').receive({
        payload: 'later',
        sms: {
          options: {
            fast: false,
            flash: true,
            date: at.toISOString(),
            expiration: 60,
            encoding: 'iso-8859-2',
          },
        },
      });
      helper.getNode('s').receive({ payload: 'now' });
      await waitFor(() => sent.length === 2, 5000, 'both sent');
      const [scheduled, plain] = fake.smsRequests.map((r) => r.body!);
      assert.equal(scheduled.fast, undefined, 'fast turned off for this message');
      assert.equal(scheduled.flash, true);
      assert.equal(scheduled.encoding, 'iso-8859-2');
      assert.equal(scheduled.date, at.toISOString());
      assert.equal(scheduled.date_validate, true);
      assert.equal(Date.parse(String(scheduled.expiration_date)) - at.getTime(), 60 * 60_000);
      // the next message has the node's values again
      assert.equal(plain.fast, true);
      assert.equal(plain.flash, undefined);
      assert.equal(plain.date, undefined);
      // what the sink outputs in msg.sms carries no options (a second sink downstream is not affected)
      assert.equal((sent[0].sms as Msg).options, undefined);
    });

    it('a msg.sms from an earlier sink (no options) is fine', async () => {
      await load();
      helper
        .getNode('s')
        .receive({ payload: 'again', sms: { provider: 'cpaas', to: '+1', ids: ['x'], status: 'queued' } });
      await waitFor(() => sent.length === 1, 5000, 'sent');
      assert.equal(caught.length, 0);
    });

    for (const [what, options] of [
      ['an unknown key', { priority: 'high' }],
      ['a wrong type', { fast: 'yes' }],
      ['a date in the past', { date: '2020-01-01T00:00:00Z' }],
      ['an unparseable date', { date: 'tomorrow' }],
      ['a date without a time zone', { date: '2099-01-01T10:00:00' }],
      ['an expiration out of range', { expiration: 5 }],
      ['an encoding SMSAPI does not know', { encoding: 'ebcdic' }],
      ['options that are not an object', 'fast'],
    ] as const) {
      it(`${what} is SMS_BAD_OPTION and nothing is sent`, async () => {
        await load();
        helper.getNode('s').receive({ payload: 'x', sms: { options } });
        await waitFor(() => caught.length === 1, 5000, 'caught');
        assert.equal(caught[0].error.code, 'SMS_BAD_OPTION');
        assert.match(caught[0].error.message, /msg\.sms\.options/);
        await delay(30);
        assert.equal(fake.smsRequests.length, 0);
        assert.equal(sent.length, 0);
      });
    }

    it('noUnicode: a text that needs Unicode is refused by SMSAPI (error 11), not sent', async () => {
      await load();
      helper.getNode('s').receive({ payload: 'zażółć', sms: { options: { noUnicode: true } } });
      await waitFor(() => caught.length === 1, 5000, 'caught');
      assert.equal(fake.smsRequests[0].body!.nounicode, true);
      assert.equal(caught[0].error.code, 'SMS_TOO_LONG');
      assert.equal(fake.accepted.length, 0);
    });

    it('a bad node property is reported at deploy and every message fails with it', async () => {
      await load({ expiration: 'soon' });
      helper.getNode('s').receive({ payload: 'x' });
      await waitFor(() => caught.length === 1, 5000, 'caught');
      assert.equal(caught[0].error.code, 'SMS_BAD_OPTION');
      assert.equal(fake.smsRequests.length, 0);
    });
  });

  describe('sink options: sms-gateway out', function () {
    const KEY = 'sgw_0123456789abcdef0123456789abcdef';
    let fake: FakeSmsGateway;
    beforeEach(async () => {
      fake = await new FakeSmsGateway({ pingIntervalMs: 0 }).start();
    });
    afterEach(() => fake.close());

    async function load(out: Record<string, unknown> = {}) {
      await helper.load(
        gatewayNodes,
        [
          TAB,
          { id: 'gw', type: 'sms-gateway', url: fake.url, from: '+15559876543', wsAuth: 'token' },
          {
            id: 'out',
            type: 'sms-gateway out',
            z: 't1',
            gateway: 'gw',
            to: '+14155552671',
            rateLimit: 0,
            dedupeWindow: 0,
            wires: [['h']],
            ...out,
          },
          { id: 'h', type: 'helper', z: 't1' },
          ...CATCH,
        ],
        { gw: { apiKey: KEY } },
      );
      return { ok: collect('h'), caught: collect('hc') as unknown as Caught[] };
    }

    it('userId: the node property, overridden by msg.sms.options.userId', async () => {
      const { ok } = await load({ userId: 'ops-team' });
      helper.getNode('out').receive({ payload: 'a' });
      helper.getNode('out').receive({ payload: 'b', sms: { options: { userId: 'customer-42' } } });
      await waitFor(() => ok.length === 2, 5000, 'both sent');
      assert.deepEqual(
        fake.sent.map((s) => [s.body, s.userId]),
        [
          ['a', 'ops-team'],
          ['b', 'customer-42'],
        ],
      );
    });

    it('a key the gateway does not take is SMS_BAD_OPTION, nothing sent', async () => {
      const { caught } = await load();
      helper.getNode('out').receive({ payload: 'a', sms: { options: { fast: true } } });
      await waitFor(() => caught.length === 1, 5000, 'caught');
      assert.equal(caught[0].error.code, 'SMS_BAD_OPTION');
      assert.match(caught[0].error.message, /only userId/);
      assert.equal(fake.sent.length, 0);
    });
  });

  describe('sink options: cpaas out', function () {
    const SECRET = 'Pr0j-S3cr3t-opt';
    let fake: FakeCpaas;
    beforeEach(async () => {
      fake = await new FakeCpaas({ clientSecret: SECRET }).start();
    });
    afterEach(() => fake.close());

    async function load(out: Record<string, unknown> = {}) {
      await helper.load(
        cpaasNodes,
        [
          TAB,
          {
            id: 'cp',
            type: 'kandy-cpaas',
            url: fake.url,
            clientId: fake.clientId,
            auth: 'project',
            from: '+16135550100',
          },
          {
            id: 'out',
            type: 'cpaas out',
            z: 't1',
            cpaas: 'cp',
            to: '+16135550201',
            rateLimit: 0,
            dedupeWindow: 0,
            wires: [['h']],
            ...out,
          },
          { id: 'h', type: 'helper', z: 't1' },
          ...CATCH,
        ],
        { cp: { clientSecret: SECRET } },
      );
      return { ok: collect('h'), caught: collect('hc') as unknown as Caught[] };
    }

    it("msg.sms.options.clientCorrelator is the SMS's key: sent again with it, CPaaS sends once", async () => {
      const { ok } = await load();
      const msg = { payload: 'once', sms: { options: { clientCorrelator: 'order-1234' } } };
      helper.getNode('out').receive(msg);
      await waitFor(() => ok.length === 1, 5000, 'first');
      helper.getNode('out').receive(msg);
      await waitFor(() => ok.length === 2, 5000, 'second answered');
      assert.equal(fake.sent.length, 1, 'one SMS');
      assert.equal(fake.sent[0].clientCorrelator, 'order-1234');
      assert.equal(fake.counts.sendRepeated, 1);
    });

    it('a clientCorrelator with several recipients, or a bad one, is SMS_BAD_OPTION, nothing sent', async () => {
      const { caught } = await load({ to: '' });
      helper.getNode('out').receive({
        payload: 'x',
        to: '+16135550201,+16135550202',
        sms: { options: { clientCorrelator: 'k1' } },
      });
      helper
        .getNode('out')
        .receive({ payload: 'x', to: '+16135550201', sms: { options: { clientCorrelator: 'a b' } } });
      await waitFor(() => caught.length === 2, 5000, 'caught');
      assert.deepEqual(
        caught.map((c) => c.error.code),
        ['SMS_BAD_OPTION', 'SMS_BAD_OPTION'],
      );
      assert.match(caught[0].error.message, /2 recipients/);
      assert.equal(fake.counts.send, 0);
    });
  });

  describe('sink options: pbxware out', function () {
    let fake: FakePbxware;
    beforeEach(async () => {
      fake = await startFakePbxware();
    });
    afterEach(() => fake.close());

    it('takes no options: any msg.sms.options key is SMS_BAD_OPTION, nothing sent', async () => {
      await helper.load(
        pbxwareNodes,
        [
          TAB,
          { id: 'pbx', type: 'pbxware-server', url: fake.url, tenant: fake.tenant, api: 'action' },
          {
            id: 'out',
            type: 'pbxware out',
            z: 't1',
            server: 'pbx',
            mode: 'sms',
            to: '+14165551234',
            rateLimit: 0,
            dedupeWindow: 0,
            wires: [['h']],
          },
          { id: 'h', type: 'helper', z: 't1' },
          ...CATCH,
        ],
        { pbx: { apiKey: fake.apiKey } },
      );
      const ok = collect('h');
      const caught = collect('hc') as unknown as Caught[];
      helper.getNode('out').receive({ payload: 'x', sms: { options: { mode: 'voicemail' } } });
      helper.getNode('out').receive({ payload: 'y', sms: { provider: 'smsapi', status: 'QUEUE' } });
      await waitFor(() => caught.length === 1 && ok.length === 1, 5000, 'one caught, one sent');
      assert.equal(caught[0].error.code, 'SMS_BAD_OPTION');
      assert.match(caught[0].error.message, /takes no options/);
      assert.equal(fake.requests.length, 1);
      assert.equal(fake.requests[0].text, 'y');
    });
  });
});
