/**
 * A flow using every node of the package, against all six fakes: for the redeploy (leak) test and
 * the secrets test.
 */
import type { NodeAPI } from 'node-red';
import cpaasNodes from '../../nodes/cpaas';
import esmsNodes from '../../nodes/esms';
import eventFilterNodes from '../../nodes/event-filter';
import pbxwareNodes from '../../nodes/pbxware';
import privmxNodes from '../../nodes/privmx';
import gatewayNodes from '../../nodes/sms-gateway';
import smsapiNodes from '../../nodes/smsapi';
import { resetAuthGuards } from '../../nodes/lib/sms-gateway/auth-guard';
import { tuning } from '../../nodes/lib/tuning';
import { FakeCpaas } from '../fakes/cpaas';
import { FakeEsms, startFakeEsms } from '../fakes/esms';
import { FakePbxware, startFakePbxware } from '../fakes/pbxware';
import { FakePrivmxBridge } from '../fakes/privmx-bridge';
import { FakeSmsapi } from '../fakes/smsapi';
import { FakeSmsGateway } from '../fakes/sms-gateway';
import { CPAAS_FROM, CPAAS_NUMBER, faultTimings } from './sources';
import { CountingClock, withParams } from './util';

export interface Secrets {
  bridgeKeyId: string;
  bridgeSecret: string;
  gatewayKey: string;
  esmsApiKey: string;
  smsapiToken: string;
  pbxKey: string;
  cpaasSecret: string;
  cpaasEmail: string;
  cpaasPassword: string;
}

/** distinctive values: nothing else in the suite contains them */
export const SECRETS: Secrets = {
  bridgeKeyId: 'bridge-key-id-Q7wX2',
  bridgeSecret: 'bridge-Secr3t-Zq81vK',
  gatewayKey: 'sgw_5ec7e75ec7e75ec7e75ec7e75ec7e75e',
  esmsApiKey: 'esms_live_S3CR3TK3YZZ9',
  smsapiToken: 'smsapi-T0ken-Hq5rW3',
  pbxKey: 'pbx-Secr3t-K3y-Lm4N',
  cpaasSecret: 'cpaas-Pr0j-Secr3t-Vb6T',
  cpaasEmail: 'carol.secret.user@example.com',
  cpaasPassword: 'cpaas-Us3r-Passw0rd-Jk2',
};

export const NODE_MODULES = [
  privmxNodes,
  eventFilterNodes,
  smsapiNodes,
  gatewayNodes,
  esmsNodes,
  pbxwareNodes,
  cpaasNodes,
].map((m) => withParams(m as (RED: NodeAPI) => void));

/** the ids of the sources' and sinks' nodes */
export const SOURCES = ['pin', 'gin', 'ein', 'cin'] as const;
export const SINKS = ['sout', 'gout', 'pout', 'cout'] as const;

export class AllFakes {
  bridge!: FakePrivmxBridge;
  gateway!: FakeSmsGateway;
  esms!: FakeEsms;
  smsapi!: FakeSmsapi;
  pbx!: FakePbxware;
  cpaas!: FakeCpaas;
  esmsToken = '';
  readonly clock = new CountingClock();

  constructor(readonly secrets: Secrets = SECRETS) {}

  async start(): Promise<void> {
    const s = this.secrets;
    this.bridge = await FakePrivmxBridge.start({
      pingIntervalMs: 200,
      apiKeys: [{ id: s.bridgeKeyId, secret: s.bridgeSecret }],
    });
    this.gateway = await new FakeSmsGateway({
      pingIntervalMs: 200,
      rateLimit: { max: 100_000, windowMs: 60_000 },
    }).start();
    this.gateway.addKey(s.gatewayKey);
    this.esms = await startFakeEsms();
    this.esms.apiKeys.add(s.esmsApiKey);
    this.esmsToken = this.esms.token();
    this.smsapi = await FakeSmsapi.start({ token: s.smsapiToken });
    this.pbx = await startFakePbxware();
    this.pbx.apiKey = s.pbxKey;
    this.cpaas = await new FakeCpaas({
      clientSecret: s.cpaasSecret,
      users: [{ email: s.cpaasEmail, password: s.cpaasPassword, userId: 'carol' }],
    }).start();
  }

  async close(): Promise<void> {
    await Promise.all([
      this.bridge?.close(),
      this.gateway?.close(),
      this.esms?.close(),
      this.smsapi?.close(),
      this.pbx?.close(),
      this.cpaas?.close(),
    ]);
    resetAuthGuards();
  }

  /** short timings for every protocol and the sink pipeline, all on the counting clock */
  tune(): void {
    Object.assign(tuning, faultTimings(this.clock));
    tuning.sink = {
      clock: this.clock,
      retryBackoff: { initialDelayMs: 5, maxDelayMs: 20, factor: 2, jitter: 0 },
      maxRetryAfterMs: 5_000,
    };
  }

  /** every node type of the package in one flow; `urls` overrides a config node's URL */
  flow(
    urls: Partial<Record<'pb' | 'gw' | 'es' | 'sa' | 'px' | 'cp' | 'cpu', string>> = {},
  ): Record<string, unknown>[] {
    const sink = { to: '', message: '', rateLimit: 0, dedupeWindow: 0, maxParts: 3, retries: 1, timeout: 2 };
    return [
      { id: 't1', type: 'tab', label: 'every node' },
      { id: 'pb', type: 'privmx-bridge', name: 'bridge', url: urls.pb ?? this.bridge.url, solutionId: '' },
      {
        id: 'gw',
        type: 'sms-gateway',
        name: 'gateway',
        url: urls.gw ?? this.gateway.url,
        from: '+15559876543',
        wsAuth: 'token',
      },
      { id: 'es', type: 'esms-africa', name: 'esms', url: urls.es ?? this.esms.url },
      {
        id: 'sa',
        type: 'smsapi-account',
        name: 'smsapi',
        url: urls.sa ?? this.smsapi.url,
        from: 'Alert',
        test: false,
      },
      {
        id: 'px',
        type: 'pbxware-server',
        name: 'pbx',
        url: urls.px ?? this.pbx.url,
        tenant: this.pbx.tenant,
        api: 'action',
      },
      {
        id: 'cp',
        type: 'kandy-cpaas',
        name: 'cpaas (project)',
        url: urls.cp ?? this.cpaas.url,
        clientId: this.cpaas.clientId,
        auth: 'project',
        from: CPAAS_FROM,
      },
      {
        id: 'cpu',
        type: 'kandy-cpaas',
        name: 'cpaas (user)',
        url: urls.cpu ?? this.cpaas.url,
        clientId: this.cpaas.clientId,
        auth: 'user',
        from: CPAAS_FROM,
      },
      {
        id: 'pin',
        type: 'privmx in',
        z: 't1',
        bridge: 'pb',
        channels: ['thread'],
        types: [],
        containerIds: '',
        wires: [['ef']],
      },
      {
        id: 'ef',
        type: 'event filter',
        z: 't1',
        rules: [{ property: 'event.channel', op: 'eq', value: 'thread' }],
        combine: 'all',
        outputs: 1,
        wires: [['h-pin']],
      },
      { id: 'gin', type: 'sms-gateway in', z: 't1', gateway: 'gw', events: [], wires: [['h-gin']] },
      { id: 'ein', type: 'esms in', z: 't1', esms: 'es', events: [], wires: [['h-ein']] },
      {
        id: 'cin',
        type: 'cpaas in',
        z: 't1',
        cpaas: 'cp',
        destination: CPAAS_NUMBER,
        events: [],
        wires: [['h-cin']],
      },
      { id: 'sout', type: 'smsapi out', z: 't1', account: 'sa', ...sink, wires: [['h-out']] },
      { id: 'gout', type: 'sms-gateway out', z: 't1', gateway: 'gw', from: '', ...sink, wires: [['h-out']] },
      {
        id: 'pout',
        type: 'pbxware out',
        z: 't1',
        server: 'px',
        mode: 'sms',
        extension: '',
        ...sink,
        wires: [['h-out']],
      },
      { id: 'cout', type: 'cpaas out', z: 't1', cpaas: 'cpu', from: '', ...sink, wires: [['h-out']] },
      { id: 'c', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['h-err']] },
      ...['h-pin', 'h-gin', 'h-ein', 'h-cin', 'h-out', 'h-err'].map((id) => ({
        id,
        type: 'helper',
        z: 't1',
      })),
    ];
  }

  credentials(s: Secrets = this.secrets): Record<string, Record<string, string>> {
    return {
      pb: { apiKeyId: s.bridgeKeyId, apiKeySecret: s.bridgeSecret },
      gw: { apiKey: s.gatewayKey },
      es: { accessToken: this.esmsToken, apiKey: s.esmsApiKey },
      sa: { token: s.smsapiToken },
      px: { apiKey: s.pbxKey },
      cp: { clientSecret: s.cpaasSecret },
      cpu: { email: s.cpaasEmail, password: s.cpaasPassword },
    };
  }

  /** server side: every source subscribed exactly once */
  serversReady(): boolean {
    const live = [...this.cpaas.channels.values()].filter((c) => c.sockets.size > 0);
    return (
      this.bridge.subscriptions().length === 1 &&
      this.bridge.subscriptions()[0].join() === 'thread' &&
      this.gateway.authedSockets === 1 &&
      this.esms.openSockets === 1 &&
      live.length === 1 &&
      this.cpaas.subscriptionsFor(CPAAS_NUMBER).filter((s) => s.notifyURL === live[0].callbackURL).length ===
        1
    );
  }

  /** one event per source, tagged */
  emitAll(tag: string): void {
    this.bridge.emit({
      channel: 'thread',
      type: 'threadNewMessage',
      data: { id: `${tag}-pin`, threadId: 't1', contextId: 'c1', author: 'janek', createDate: 1, keyId: 'k' },
    });
    this.gateway.pushInbound({ messageId: `${tag}-gin` });
    this.esms.messageStatus({ message_id: `${tag}-ein` });
    this.cpaas.push('inboundSMSMessageNotification', CPAAS_NUMBER, { messageId: `${tag}-cin` });
  }

  /**
   * Drop what the fakes recorded (requests, frames, accepted SMS): that memory is the test's, and it
   * would show up as heap growth of the package under test.
   */
  forget(): void {
    this.bridge.requests.length = 0;
    // keep only the close codes that were not a clean 1000 (those are what the test looks for)
    this.bridge.stats.closeCodes = this.bridge.stats.closeCodes.filter((c) => c !== 1000);
    for (const list of [
      this.gateway.requests,
      this.gateway.authAttempts,
      this.gateway.tokensIssued,
      this.gateway.pushed,
      this.gateway.sent,
    ])
      list.length = 0;
    for (const list of [this.esms.upgrades, this.esms.requests, this.esms.received]) list.length = 0;
    this.smsapi.reset();
    this.pbx.requests.length = 0;
    for (const list of [this.cpaas.requests, this.cpaas.received, this.cpaas.sent]) list.length = 0;
    // the newest tokens belong to the deployed config nodes: keep those
    for (const token of [...this.cpaas.tokens.keys()].slice(0, -4)) this.cpaas.tokens.delete(token);
  }

  /** sockets the fakes still hold open (server side) */
  serverSockets(): Record<string, number> {
    return {
      bridge: this.bridge.socketCount,
      gateway: this.gateway.openSockets,
      esms: this.esms.openSockets,
      cpaas: this.cpaas.openSockets,
    };
  }
}
